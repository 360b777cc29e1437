import Module from 'node:module';
import { createRequire } from 'node:module';

export interface CapturedFunction {
  name: string;
  bindings: Record<string, { type: string; direction: string; [k: string]: unknown }>;
  handler: (...args: unknown[]) => unknown;
}

/**
 * Stand in for the Functions host's worker: it offers the `@azure/functions-core` module through
 * which `@azure/functions` registers every function. We capture what the app registers, exactly as
 * the host would receive it, without running the host (it cannot be installed here).
 */
export function captureFunctionRegistrations(): CapturedFunction[] {
  const captured: CapturedFunction[] = [];
  const core = {
    setProgrammingModel() {},
    getProgrammingModel() {
      return undefined;
    },
    registerHook() {
      return { dispose() {} };
    },
    log() {},
    registerFunction(metadata: { name: string; bindings: CapturedFunction['bindings'] }, handler: CapturedFunction['handler']) {
      captured.push({ name: metadata.name, bindings: metadata.bindings, handler });
      return { dispose() {} };
    },
  };
  const require = createRequire(import.meta.url);
  const id = '\0@azure/functions-core';
  const m = new Module(id);
  m.exports = core;
  m.loaded = true;
  require.cache[id] = m;
  const internal = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const original = internal._resolveFilename;
  internal._resolveFilename = function (request: string, ...rest: unknown[]) {
    if (request === '@azure/functions-core') return id;
    return original.call(this, request, ...rest);
  };
  return captured;
}
