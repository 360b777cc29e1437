import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { getAzureRuntime, durableClientScope } from './runtime.js';

app.setup({ enableHttpStream: true });

/** HttpRequest → web-standard Request → the Hono app → HttpResponseInit. Nothing else happens here. */
export async function brokerHttp(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const runtime = await getAzureRuntime();
  const init: RequestInit & { duplex?: 'half' } = { method: request.method, headers: request.headers };
  if (request.body && request.method !== 'GET' && request.method !== 'HEAD') {
    // Node's web stream and the DOM lib's ReadableStream are the same object under two type names.
    init.body = request.body as unknown as BodyInit;
    init.duplex = 'half';
  }
  const response = await durableClientScope.run(df.getClient(context), () => runtime.app.fetch(new Request(request.url, init)));
  return { status: response.status, headers: response.headers, body: (response.body ?? undefined) as HttpResponseInit['body'] };
}

app.http('broker', {
  route: '{*path}',
  methods: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
  // The broker verifies Entra ID bearer tokens itself; Functions keys would add a shared secret.
  authLevel: 'anonymous',
  extraInputs: [df.input.durableClient()],
  handler: brokerHttp,
});
