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

/** A durable client input as the host hands it to a function: the Durable extension's HTTP API at `rpcBaseUrl`. */
export interface DurableClientInput {
  taskHubName: string;
  creationUrls: Record<string, string>;
  managementUrls: Record<string, string>;
  baseUrl: string;
  requiredQueryStringParameters: string;
  rpcBaseUrl: string;
}

export interface HostRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  /** sent as a stream in small chunks, as the host's HTTP proxy does with `enableHttpStream` */
  body?: string;
}

/**
 * Invoke a captured HTTP function the way the worker does with HTTP streaming on: a real
 * `HttpRequest` around a native streaming `Request`, and an `InvocationContext` whose extra
 * inputs carry the durable client data.
 */
export async function invokeHttpFunction(
  fn: CapturedFunction,
  request: HostRequest,
  durableClient?: DurableClientInput,
): Promise<{ status: number; headers: Headers; text: string }> {
  const { HttpRequest, InvocationContext } = await import('@azure/functions');
  const chunks = request.body === undefined ? [] : (request.body.match(/[\s\S]{1,7}/g) ?? []);
  const encoder = new TextEncoder();
  const init: RequestInit & { duplex?: 'half' } = { method: request.method, headers: request.headers ?? {} };
  if (request.body !== undefined) {
    init.body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(encoder.encode(next));
      },
    });
    init.duplex = 'half';
  }
  // The worker builds the request from the proxied stream the same way (createStreamRequest).
  const httpRequest = new HttpRequest({ nativeRequest: new Request(request.url, init), params: {} } as unknown as ConstructorParameters<typeof HttpRequest>[0]);
  const extraInputs = Object.entries(fn.bindings)
    .filter(([, b]) => b.direction === 'in' && !/trigger$/i.test(b.type))
    .map(([name, b]) => ({ ...b, name }));
  const trigger = Object.entries(fn.bindings).find(([, b]) => /trigger$/i.test(b.type));
  const context = new InvocationContext({
    invocationId: `inv-${Math.random().toString(36).slice(2)}`,
    functionName: fn.name,
    options: { trigger: { ...(trigger?.[1] ?? { type: 'httpTrigger' }), name: trigger?.[0] ?? 'req' } as never, extraInputs: extraInputs as never, extraOutputs: [] },
  });
  for (const input of extraInputs) {
    if (input.type === 'durableClient' && durableClient) context.extraInputs.set(input.name, durableClient);
  }
  const result = (await fn.handler(httpRequest, context)) as { status?: number; headers?: HeadersInit; body?: unknown };
  const headers = new Headers(result.headers);
  const body = result.body;
  let text = '';
  if (body instanceof ReadableStream) text = await new Response(body).text();
  else if (typeof body === 'string') text = body;
  else if (body !== undefined && body !== null) text = await new Response(body as BodyInit).text();
  return { status: result.status ?? 200, headers, text };
}
