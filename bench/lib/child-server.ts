/**
 * The child side of a bench server (broker-server.ts, glue-server.ts, hono-floor-server.ts): the
 * parent (http.ts) talks to it over IPC. The child reports `{ type: 'ready', url }` once it listens;
 * it stops on `{ type: 'stop' }`, when the parent goes away, or on a signal; `profile-start` /
 * `profile-stop` take a CPU profile of the window between them (answered with `profile-started` /
 * `profile-written`).
 */
import { startCpuProfile } from './profiler.js';

export interface ParentMessage {
  type?: string;
  file?: string;
}

export interface ChildServerOptions {
  /** close the server and exit the process */
  stop: () => void;
  /** the signals that stop it too (default SIGTERM) */
  signals?: readonly NodeJS.Signals[];
  /** messages of the server's own, besides stop and the profile pair */
  onMessage?: (m: ParentMessage) => void;
}

/** Answer the parent's messages and stop with it. Call once, when the process starts. */
export function serveParent(o: ChildServerOptions): void {
  let stopProfile: ((file: string) => Promise<void>) | undefined;
  process.on('message', (m: ParentMessage) => {
    if (m?.type === 'stop') o.stop();
    o.onMessage?.(m);
    if (m?.type === 'profile-start') {
      void startCpuProfile().then((s) => {
        stopProfile = s;
        process.send?.({ type: 'profile-started' });
      });
    }
    if (m?.type === 'profile-stop' && m.file && stopProfile) {
      const file = m.file;
      void stopProfile(file).then(() => process.send?.({ type: 'profile-written', file }));
      stopProfile = undefined;
    }
  });
  process.on('disconnect', o.stop);
  for (const signal of o.signals ?? ['SIGTERM']) process.on(signal, o.stop);
}

/** Tell the parent the server listens at `url`. */
export function reportReady(url: string): void {
  process.send?.({ type: 'ready', url });
}

/** Write why the server failed to stderr (the parent shows the tail of it). */
export function reportFailure(what: string, e: unknown): void {
  process.stderr.write(`${what} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
}
