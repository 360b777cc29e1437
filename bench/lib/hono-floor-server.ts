/**
 * The floor of the HTTP path: a bare Hono app on @hono/node-server, in a child process as the broker
 * server is, that parses the JSON body of POST /api/query and answers the JSON the broker answered
 * to the same request (QB_FLOOR_REPLY), with nothing else: no auth, no validation, no pipeline.
 * Reports `{ type: 'ready', url }` over IPC; stops on `{ type: 'stop' }` or when the parent goes away;
 * `profile-start` / `profile-stop` take a CPU profile as the broker server's do.
 */
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import { reportReady, serveParent } from './child-server.js';

const reply = JSON.parse(process.env.QB_FLOOR_REPLY ?? '{}') as Record<string, unknown>;
const app = new Hono();
app.post('/api/query', async (c) => {
  const body = (await c.req.json()) as { sql?: unknown };
  if (typeof body.sql !== 'string') return c.json({ error: 'sql' }, 400);
  return c.json(reply, 200);
});

const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => reportReady(`http://127.0.0.1:${info.port}`));
serveParent({ stop: () => server.close(() => process.exit(0)) });
