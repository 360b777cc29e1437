/**
 * The approval orchestration (Durable Functions human-interaction pattern): record and announce
 * the request, wait for a decision or the expiry timer, whichever comes first, then run exactly
 * the approved statement. Deterministic: time comes from `currentUtcDateTime`, every side effect
 * is an activity, and the stored request (not the event body) says what was decided. The same
 * generator runs under the Functions host and under the local in-process runner.
 */
import type { DurableOrchestrationContext, Task, TimerTask } from 'durable-functions';
import {
  ACTIVITY,
  DECISION_EVENT,
  type ApprovalOrchestrationInput,
  type ExecuteActivityInput,
  type RequestState,
  type RequestedActivityInput,
  type SettleActivityInput,
} from '../types.js';

/** The part of the Durable Functions context this orchestration uses (the local runner provides exactly this). */
export interface ApprovalOrchestrationContext {
  df: Pick<DurableOrchestrationContext, 'getInput' | 'currentUtcDateTime' | 'callActivity' | 'createTimer' | 'waitForExternalEvent' | 'Task'>;
}

function failureMessage(e: unknown): string {
  return e instanceof Error ? e.message.slice(0, 300) : 'an activity failed';
}

export function* approvalOrchestrator(context: ApprovalOrchestrationContext): Generator<Task, RequestState, unknown> {
  const df = context.df;
  const input = df.getInput<ApprovalOrchestrationInput>();
  const requestId = input.requestId;
  // Replays see the same currentUtcDateTime here, so the deadline never moves.
  const deadline = new Date(df.currentUtcDateTime.getTime() + input.expiresAfterMs);

  try {
    yield df.callActivity(ACTIVITY.requested, { requestId } satisfies RequestedActivityInput);
  } catch (e) {
    // Not recorded means not announced: nobody may approve what the audit log does not show.
    return (yield df.callActivity(ACTIVITY.settle, { requestId, cause: 'failure', message: failureMessage(e) } satisfies SettleActivityInput)) as RequestState;
  }

  let state: RequestState;
  for (;;) {
    const decision = df.waitForExternalEvent(DECISION_EVENT);
    const timer: TimerTask = df.createTimer(deadline);
    const winner = (yield df.Task.any([decision, timer])) as Task;
    const cause = winner === timer ? 'timer' : 'decision';
    // An orchestration does not complete while a timer is pending.
    if (cause === 'decision') timer.cancel();
    state = (yield df.callActivity(ACTIVITY.settle, { requestId, cause } satisfies SettleActivityInput)) as RequestState;
    // An event with no stored decision behind it changes nothing: wait again, for the same deadline.
    if (cause === 'timer' || state !== 'pending_approval') break;
  }

  if (state !== 'approved') return state;

  try {
    return (yield df.callActivity(ACTIVITY.execute, { requestId } satisfies ExecuteActivityInput)) as RequestState;
  } catch (e) {
    return (yield df.callActivity(ACTIVITY.settle, { requestId, cause: 'failure', message: failureMessage(e) } satisfies SettleActivityInput)) as RequestState;
  }
}
