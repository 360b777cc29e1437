import { describe, it, expect, afterAll, inject } from 'vitest';
import { createServer, request, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { createBlobAuditLog, createAuditContainerClient } from '../../../src/audit/blob-log.js';
import type { AuditEventInput } from '../../../src/broker/ports.js';

/**
 * A proxy in front of Azurite that, when armed, forwards one append to storage and then cuts the
 * connection before the reply reaches the client: the block is stored, but the writer cannot know.
 */
function lossyProxy(target: URL): { server: Server; armed: { drop: number }; ready: Promise<number> } {
  const armed = { drop: 0 };
  const server = createServer((req, res) => {
    const isAppend = req.method === 'PUT' && (req.url ?? '').includes('comp=appendblock');
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        if (isAppend && armed.drop > 0) {
          armed.drop--;
          up.resume();
          up.on('end', () => req.socket.destroy());
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    req.pipe(upstream);
  });
  const ready = new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
  return { server, armed, ready };
}

const proxies: Server[] = [];
afterAll(async () => {
  await Promise.all(proxies.map((p) => new Promise<void>((resolve) => p.close(() => resolve()))));
});

describe('blob audit log when a reply is lost', () => {
  it('recognises its own stored block after the SDK retried, and writes it only once', async () => {
    const direct = inject('blobConnectionString');
    const endpoint = new URL(/BlobEndpoint=([^;]+)/.exec(direct)![1]!);
    const proxy = lossyProxy(endpoint);
    proxies.push(proxy.server);
    const port = await proxy.ready;
    const viaProxy = direct.replace(/BlobEndpoint=http:\/\/[^/]+/, `BlobEndpoint=http://127.0.0.1:${port}`);
    const container = `audit-lost-reply-${randomBytes(4).toString('hex')}`;
    const log = createBlobAuditLog({ containerClient: createAuditContainerClient({ connectionString: viaProxy, container }) });

    const id = `s_${randomBytes(9).toString('base64url')}`;
    const ev = (i: number): AuditEventInput => ({ type: 'decision', requestId: `r_${i}`, actor: { oid: 'oid-a' }, data: { i } });
    await log.append(id, ev(0));
    proxy.armed.drop = 1;
    const second = await log.append(id, ev(1));
    expect(proxy.armed.drop).toBe(0); // the reply really was lost
    expect(second.seq).toBe(1);
    await log.append(id, ev(2));

    const stored = await createBlobAuditLog({ containerClient: createAuditContainerClient({ connectionString: direct, container }) }).read(id);
    expect(stored.map((r) => r.requestId)).toEqual(['r_0', 'r_1', 'r_2']);
    expect(await log.verify(id)).toEqual({ valid: true, events: 3, firstBadSeq: null });
    await createAuditContainerClient({ connectionString: direct, container }).deleteIfExists();
  });
});
