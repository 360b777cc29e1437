import { describe, it, expect } from 'vitest';
import { createInProcessRunner } from '../../../src/approval/workflow/in-process-runner.js';
import { approvalOrchestrator } from '../../../src/approval/workflow/orchestrator.js';
import { ACTIVITY, DECISION_EVENT, type RequestState, type SettleActivityInput } from '../../../src/approval/types.js';
import { systemClock } from '../../../src/broker/ports.js';
import { silentLogger } from '../../../src/log.js';

/** The local runner drives the real orchestrator; the activities here only record what they were asked. */
function setup(stored: { state: RequestState }) {
  const calls: [string, unknown][] = [];
  const activities = {
    [ACTIVITY.requested]: async (input: unknown) => {
      calls.push([ACTIVITY.requested, input]);
      return null;
    },
    [ACTIVITY.settle]: async (input: SettleActivityInput) => {
      calls.push([ACTIVITY.settle, input]);
      if (input.cause === 'timer' && stored.state === 'pending_approval') stored.state = 'expired';
      return stored.state;
    },
    [ACTIVITY.execute]: async (input: unknown) => {
      calls.push([ACTIVITY.execute, input]);
      return 'executed';
    },
  };
  const runner = createInProcessRunner({ orchestrator: approvalOrchestrator, activities, clock: systemClock, log: silentLogger });
  return { runner, calls };
}

describe('in-process approval runner', () => {
  it('keeps a decision raised before the orchestrator waits for it, then executes', async () => {
    const stored = { state: 'approved' as RequestState };
    const { runner, calls } = setup(stored);
    runner.start('r_runner000001', { requestId: 'r_runner000001', expiresAfterMs: 60_000 });
    runner.raiseEvent('r_runner000001', DECISION_EVENT, { outcome: 'approved' });
    expect(await runner.completion('r_runner000001')).toBe('executed');
    expect(calls.map(([name]) => name)).toEqual([ACTIVITY.requested, ACTIVITY.settle, ACTIVITY.execute]);
    expect(calls[1]![1]).toEqual({ requestId: 'r_runner000001', cause: 'decision' });
    await runner.close();
  });

  it('fires a real timer at the deadline and ends expired', async () => {
    const stored = { state: 'pending_approval' as RequestState };
    const { runner, calls } = setup(stored);
    const started = Date.now();
    runner.start('r_runner000002', { requestId: 'r_runner000002', expiresAfterMs: 150 });
    expect(await runner.completion('r_runner000002')).toBe('expired');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(calls.map(([name]) => name)).toEqual([ACTIVITY.requested, ACTIVITY.settle]);
    expect(calls[1]![1]).toEqual({ requestId: 'r_runner000002', cause: 'timer' });
    await runner.close();
  });

  it('close() releases waiting orchestrations without running anything more', async () => {
    const stored = { state: 'pending_approval' as RequestState };
    const { runner, calls } = setup(stored);
    runner.start('r_runner000003', { requestId: 'r_runner000003', expiresAfterMs: 60 * 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await runner.close();
    expect(await runner.completion('r_runner000003')).toBeUndefined();
    expect(calls.map(([name]) => name)).toEqual([ACTIVITY.requested]);
    expect(() => runner.start('r_runner000004', { requestId: 'r_runner000004', expiresAfterMs: 1 })).toThrow();
  });
});
