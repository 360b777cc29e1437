import { describe, it, expect } from 'vitest';
import { createRequire } from 'node:module';
import * as df from 'durable-functions';
import { approvalOrchestrator } from '../../../src/approval/workflow/orchestrator.js';
import { ACTIVITY, DECISION_EVENT, type ApprovalOrchestrationInput } from '../../../src/approval/types.js';

/**
 * The orchestrator runs under the durable-functions replay engine itself (the Orchestrator class
 * the Functions worker uses, behind df.app.orchestration), with a DummyOrchestrationContext and
 * the history the Functions host would send: each test appends the events of one more episode
 * and checks the actions the orchestrator asks for next.
 */
const require = createRequire(import.meta.url);
const { Orchestrator } = require('durable-functions/lib/src/orchestrations/Orchestrator.js') as {
  Orchestrator: new (fn: unknown) => { listen(): (trigger: unknown, context: unknown) => Promise<OrchestratorState> };
};

interface Action {
  actionType: number;
  functionName?: string;
  input?: unknown;
  fireAt?: string;
  isCanceled?: boolean;
  externalEventName?: string;
}
interface OrchestratorState {
  isDone: boolean;
  actions: Action[][];
  output?: unknown;
}

const T0 = new Date('2026-03-01T09:00:00.000Z');
const input: ApprovalOrchestrationInput = { requestId: 'r_unit0000test', expiresAfterMs: 60_000 };
const at = (ms: number) => new Date(T0.getTime() + ms).toISOString();

/** Host history, built episode by episode; ids are the orchestrator's sequence numbers. */
class History {
  readonly events: Record<string, unknown>[] = [];
  constructor() {
    this.events.push({ EventType: 12, EventId: -1, IsPlayed: false, Timestamp: at(0) });
    this.events.push({ EventType: 0, EventId: -1, IsPlayed: false, Timestamp: at(0), Name: 'approval', Input: JSON.stringify(input) });
  }
  private push(e: Record<string, unknown>) {
    this.events.push({ EventId: -1, IsPlayed: false, ...e });
    return this;
  }
  scheduled(id: number, name: string) {
    return this.push({ EventType: 4, EventId: id, Timestamp: at(0), Name: name });
  }
  timerCreated(id: number, fireAt: string) {
    return this.push({ EventType: 10, EventId: id, Timestamp: at(0), FireAt: fireAt });
  }
  /** a new episode: the orchestrator ran, then something happened at `ms` */
  episode(ms: number) {
    this.push({ EventType: 13, Timestamp: at(ms) });
    return this.push({ EventType: 12, Timestamp: at(ms) });
  }
  completed(id: number, result: unknown) {
    return this.push({ EventType: 5, Timestamp: at(0), TaskScheduledId: id, Result: JSON.stringify(result) });
  }
  failed(id: number, reason: string) {
    return this.push({ EventType: 6, Timestamp: at(0), TaskScheduledId: id, Reason: reason, Details: reason });
  }
  timerFired(id: number, fireAt: string) {
    return this.push({ EventType: 11, Timestamp: fireAt, TimerId: id, FireAt: fireAt });
  }
  raised(name: string, data: unknown) {
    return this.push({ EventType: 15, Timestamp: at(0), Name: name, Input: JSON.stringify(data) });
  }
}

async function replay(history: History): Promise<OrchestratorState> {
  const context = new df.DummyOrchestrationContext('approval', 'unit', () => {});
  const handle = new Orchestrator(approvalOrchestrator).listen();
  return await handle({ history: history.events, input, instanceId: input.requestId, isReplaying: false, upperSchemaVersion: 0 }, context);
}

/** The actions of the latest episode. */
const latest = (s: OrchestratorState): Action[] => s.actions[s.actions.length - 1] ?? [];
const calls = (s: OrchestratorState) => s.actions.flat().filter((a) => a.functionName !== undefined).map((a) => [a.functionName, a.input]);
const DEADLINE = at(60_000);

/** History up to the wait: requested done at +2 s (a later episode time than the start). */
function waiting(): History {
  return new History().scheduled(0, ACTIVITY.requested).episode(2_000).completed(0, null);
}

describe('approval orchestrator (durable-functions replay engine)', () => {
  it('first records and announces the request, and nothing else', async () => {
    const s = await replay(new History());
    expect(s.isDone).toBe(false);
    expect(latest(s)).toEqual([expect.objectContaining({ functionName: ACTIVITY.requested, input: { requestId: input.requestId } })]);
  });

  it('then waits for a decision against a timer set from the start time, not the current episode', async () => {
    const s = await replay(waiting());
    expect(s.isDone).toBe(false);
    const acts = latest(s);
    expect(acts).toContainEqual(expect.objectContaining({ externalEventName: DECISION_EVENT }));
    // Started at T0; this episode runs at T0+2s: the deadline is still T0 + expiresAfterMs.
    expect(acts).toContainEqual(expect.objectContaining({ fireAt: new Date(DEADLINE), isCanceled: false }));
    expect(acts.some((a) => a.functionName !== undefined)).toBe(false);
  });

  it('on an approval: cancels the timer, confirms the stored state, executes, returns executed', async () => {
    const h = waiting().timerCreated(1, DEADLINE).episode(10_000).raised(DECISION_EVENT, { outcome: 'approved' });
    let s = await replay(h);
    expect(latest(s)).toContainEqual(expect.objectContaining({ functionName: ACTIVITY.settle, input: { requestId: input.requestId, cause: 'decision' } }));

    h.scheduled(2, ACTIVITY.settle).episode(11_000).completed(2, 'approved');
    s = await replay(h);
    expect(latest(s)).toEqual([expect.objectContaining({ functionName: ACTIVITY.execute, input: { requestId: input.requestId } })]);
    // The timer was cancelled when the wait ended.
    expect(s.actions.flat().find((a) => a.fireAt !== undefined)?.isCanceled).toBe(true);

    h.scheduled(3, ACTIVITY.execute).episode(12_000).completed(3, 'executed');
    s = await replay(h);
    expect(s.isDone).toBe(true);
    expect(s.output).toBe('executed');
  });

  it('on a rejection: settles and ends without executing', async () => {
    const h = waiting().timerCreated(1, DEADLINE).episode(10_000).raised(DECISION_EVENT, { outcome: 'rejected' }).scheduled(2, ACTIVITY.settle).episode(11_000).completed(2, 'rejected');
    const s = await replay(h);
    expect(s.isDone).toBe(true);
    expect(s.output).toBe('rejected');
    expect(calls(s).map(([name]) => name)).not.toContain(ACTIVITY.execute);
  });

  it('when the timer fires first: settles as timed out and ends expired, never executing', async () => {
    const h = waiting().timerCreated(1, DEADLINE).episode(60_000).timerFired(1, DEADLINE);
    let s = await replay(h);
    expect(latest(s)).toContainEqual(expect.objectContaining({ functionName: ACTIVITY.settle, input: { requestId: input.requestId, cause: 'timer' } }));
    h.scheduled(2, ACTIVITY.settle).episode(61_000).completed(2, 'expired');
    s = await replay(h);
    expect(s.isDone).toBe(true);
    expect(s.output).toBe('expired');
    expect(calls(s).map(([name]) => name)).not.toContain(ACTIVITY.execute);
  });

  it('when the timer fires after a stored approval whose event is late: the stored approval stands and runs', async () => {
    const h = waiting().timerCreated(1, DEADLINE).episode(60_000).timerFired(1, DEADLINE).scheduled(2, ACTIVITY.settle).episode(61_000).completed(2, 'approved');
    const s = await replay(h);
    expect(latest(s)).toEqual([expect.objectContaining({ functionName: ACTIVITY.execute })]);
  });

  it('keeps waiting when an event arrives with no decision stored behind it', async () => {
    const h = waiting().timerCreated(1, DEADLINE).episode(10_000).raised(DECISION_EVENT, { outcome: 'approved' }).scheduled(2, ACTIVITY.settle).episode(11_000).completed(2, 'pending_approval');
    const s = await replay(h);
    expect(s.isDone).toBe(false);
    expect(latest(s)).toContainEqual(expect.objectContaining({ externalEventName: DECISION_EVENT }));
    expect(calls(s).map(([name]) => name)).not.toContain(ACTIVITY.execute);
    // A fresh timer for the same deadline (the first was cancelled): the deadline does not move.
    const timers = s.actions.flat().filter((a) => a.fireAt !== undefined);
    expect(timers.map((t) => [new Date(t.fireAt!).toISOString(), t.isCanceled])).toEqual([
      [DEADLINE, true],
      [DEADLINE, false],
    ]);
  });

  it('fails the request, without waiting or executing, when it cannot be recorded', async () => {
    const h = new History().scheduled(0, ACTIVITY.requested).episode(1_000).failed(0, 'audit store unavailable');
    let s = await replay(h);
    expect(latest(s)).toEqual([expect.objectContaining({ functionName: ACTIVITY.settle, input: expect.objectContaining({ cause: 'failure' }) })]);
    h.scheduled(1, ACTIVITY.settle).episode(2_000).completed(1, 'failed');
    s = await replay(h);
    expect(s.isDone).toBe(true);
    expect(s.output).toBe('failed');
    expect(s.actions.flat().some((a) => a.fireAt !== undefined || a.externalEventName !== undefined)).toBe(false);
  });

  it('settles as failed when the execute activity itself fails', async () => {
    const h = waiting()
      .timerCreated(1, DEADLINE)
      .episode(10_000)
      .raised(DECISION_EVENT, { outcome: 'approved' })
      .scheduled(2, ACTIVITY.settle)
      .episode(11_000)
      .completed(2, 'approved')
      .scheduled(3, ACTIVITY.execute)
      .episode(12_000)
      .failed(3, 'worker crashed');
    let s = await replay(h);
    expect(latest(s)).toEqual([expect.objectContaining({ functionName: ACTIVITY.settle, input: expect.objectContaining({ cause: 'failure' }) })]);
    h.scheduled(4, ACTIVITY.settle).episode(13_000).completed(4, 'failed');
    s = await replay(h);
    expect(s.output).toBe('failed');
  });
});
