/**
 * Runs the approval orchestrator generator in this process, for the local host (no Functions
 * host, no task hub): the same generator, with the handful of `context.df` calls it makes
 * implemented directly. Activities are awaited in order, timers are real timers, external events
 * wait in a mailbox until asked for. Nothing survives a restart: a request held when the local
 * broker stops stays pending and reads as expired once its time has passed.
 */
import type { Task, TimerTask } from 'durable-functions';
import type { Clock } from '../../broker/ports.js';
import type { Logger } from '../../log.js';
import type { ApprovalOrchestrationContext } from './orchestrator.js';

export type ActivityFunctions = Record<string, (input: never) => Promise<unknown>>;
export type OrchestratorFunction = (context: ApprovalOrchestrationContext) => Generator<Task, unknown, unknown>;

/** A task of this runner: settles once; the orchestrator reads isCompleted/isFaulted/result like a Durable task. */
class LocalTask implements Task {
  isCompleted = false;
  isFaulted = false;
  result?: unknown;
  error?: Error;
  private readonly waiters: (() => void)[] = [];

  complete(result: unknown): void {
    if (this.isCompleted) return;
    this.isCompleted = true;
    this.result = result;
    this.flush();
  }

  fail(error: Error): void {
    if (this.isCompleted) return;
    this.isCompleted = true;
    this.isFaulted = true;
    this.error = error;
    this.flush();
  }

  whenDone(): Promise<void> {
    return this.isCompleted ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }

  private flush(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

class LocalTimerTask extends LocalTask implements TimerTask {
  isCanceled = false;
  constructor(private readonly handle: { cancel(): void }) {
    super();
  }
  cancel(): void {
    if (this.isCompleted) return;
    this.isCanceled = true;
    this.handle.cancel();
  }
}

interface Instance {
  mailbox: Map<string, unknown[]>;
  waiting: Map<string, LocalTask[]>;
  timers: Set<LocalTimerTask>;
  done: Promise<unknown>;
}

export interface InProcessRunner {
  start(instanceId: string, input: unknown): void;
  raiseEvent(instanceId: string, name: string, data: unknown): void;
  /** resolves with the orchestrator's return value (tests, orderly shutdown) */
  completion(instanceId: string): Promise<unknown> | undefined;
  /** stop every timer and let waiting orchestrations go (they never resume) */
  close(): Promise<void>;
}

export function createInProcessRunner(options: { orchestrator: OrchestratorFunction; activities: ActivityFunctions; clock: Clock; log: Logger }): InProcessRunner {
  const instances = new Map<string, Instance>();
  let closed = false;

  function runActivity(name: string, input: unknown): LocalTask {
    const task = new LocalTask();
    const fn = options.activities[name];
    if (!fn) {
      task.fail(new Error(`No activity named ${name}.`));
      return task;
    }
    // Inputs and outputs cross a serialization boundary under Durable Functions; keep that true here.
    const payload = input === undefined ? undefined : (JSON.parse(JSON.stringify(input)) as never);
    Promise.resolve()
      .then(() => fn(payload as never))
      .then(
        (out) => task.complete(out === undefined ? undefined : JSON.parse(JSON.stringify(out))),
        (e: unknown) => task.fail(e instanceof Error ? e : new Error(String(e))),
      );
    return task;
  }

  function createTimer(instance: Instance, fireAt: Date): LocalTimerTask {
    let timeout: NodeJS.Timeout | undefined;
    const task = new LocalTimerTask({ cancel: () => clearTimeout(timeout) });
    const delay = Math.max(0, fireAt.getTime() - options.clock.now().getTime());
    timeout = setTimeout(() => {
      instance.timers.delete(task);
      task.complete(undefined);
    }, delay);
    // A pending approval must not keep the process alive on its own.
    timeout.unref();
    instance.timers.add(task);
    return task;
  }

  function waitForEvent(instance: Instance, name: string): LocalTask {
    const task = new LocalTask();
    const queued = instance.mailbox.get(name);
    if (queued && queued.length > 0) {
      task.complete(queued.shift());
      return task;
    }
    const list = instance.waiting.get(name) ?? [];
    list.push(task);
    instance.waiting.set(name, list);
    return task;
  }

  function any(tasks: Task[]): LocalTask {
    const task = new LocalTask();
    const locals = tasks as LocalTask[];
    const first = locals.find((t) => t.isCompleted);
    if (first) task.complete(first);
    else for (const t of locals) void t.whenDone().then(() => task.complete(t));
    return task;
  }

  function all(tasks: Task[]): LocalTask {
    const task = new LocalTask();
    const locals = tasks as LocalTask[];
    void Promise.all(locals.map((t) => t.whenDone())).then(() => {
      const failed = locals.find((t) => t.isFaulted);
      if (failed) task.fail(failed.error ?? new Error('A task failed.'));
      else task.complete(locals.map((t) => t.result));
    });
    return task;
  }

  async function drive(instanceId: string, instance: Instance, input: unknown): Promise<unknown> {
    const df = {
      getInput: <T>() => input as T,
      currentUtcDateTime: options.clock.now(),
      callActivity: (name: string, activityInput?: unknown) => runActivity(name, activityInput),
      createTimer: (fireAt: Date) => createTimer(instance, fireAt),
      waitForExternalEvent: (name: string) => waitForEvent(instance, name),
      Task: { any, all },
    };
    const generator = options.orchestrator({ df } as unknown as ApprovalOrchestrationContext);
    let step = generator.next();
    while (!step.done) {
      const task = step.value as LocalTask;
      await task.whenDone();
      if (closed) return undefined;
      df.currentUtcDateTime = options.clock.now();
      step = task.isFaulted ? generator.throw(task.error ?? new Error('A task failed.')) : generator.next(task.result);
    }
    for (const t of instance.timers) t.cancel();
    return step.value;
  }

  return {
    start(instanceId, input) {
      if (closed) throw new Error('The approval runner is closed.');
      if (instances.has(instanceId)) throw new Error(`An orchestration ${instanceId} exists already.`);
      const instance: Instance = { mailbox: new Map(), waiting: new Map(), timers: new Set(), done: Promise.resolve() };
      instance.done = drive(instanceId, instance, JSON.parse(JSON.stringify(input))).catch((e: unknown) => {
        options.log.error('approval orchestration failed', { requestId: instanceId, error: e instanceof Error ? e.message : String(e) });
        return undefined;
      });
      instances.set(instanceId, instance);
    },

    raiseEvent(instanceId, name, data) {
      const instance = instances.get(instanceId);
      if (!instance) throw new Error(`No orchestration ${instanceId}.`);
      const payload = data === undefined ? undefined : JSON.parse(JSON.stringify(data));
      const waiter = instance.waiting.get(name)?.shift();
      if (waiter) waiter.complete(payload);
      else {
        // Durable Functions keeps events that arrive before anyone waits for them.
        const queued = instance.mailbox.get(name) ?? [];
        queued.push(payload);
        instance.mailbox.set(name, queued);
      }
    },

    completion(instanceId) {
      return instances.get(instanceId)?.done;
    },

    async close() {
      closed = true;
      for (const instance of instances.values()) {
        for (const t of instance.timers) t.cancel();
        // Release every waiter so each driver loop sees `closed` and ends.
        for (const list of instance.waiting.values()) for (const t of list) t.complete(undefined);
        for (const t of instance.timers) t.complete(undefined);
      }
      await Promise.allSettled([...instances.values()].map((i) => i.done));
    },
  };
}
