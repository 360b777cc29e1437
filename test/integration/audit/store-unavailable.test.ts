import { describe, it, expect, afterAll } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { startAzurite, AZURITE_ACCOUNT, AZURITE_KEY, type LocalAzurite } from '../../../src/local/azurite.js';
import { createBlobAuditLog, createAuditContainerClient } from '../../../src/audit/blob-log.js';
import type { AuditEventInput } from '../../../src/broker/ports.js';

const agent = { oid: 'oid-agent-a' };
const ev = (i: number): AuditEventInput => ({ type: 'decision', requestId: `r_${i}`, actor: agent, data: { outcome: 'allowed' } });

let azurite: LocalAzurite | undefined;
let silent: Server | undefined;
const sockets: Socket[] = [];

afterAll(async () => {
  await azurite?.stop();
  sockets.forEach((s) => s.destroy());
  await new Promise<void>((resolve) => (silent ? silent.close(() => resolve()) : resolve()));
});

async function timed<T>(p: Promise<T>): Promise<{ error: unknown; ms: number }> {
  const start = performance.now();
  try {
    await p;
    return { error: undefined, ms: performance.now() - start };
  } catch (error) {
    return { error, ms: performance.now() - start };
  }
}

describe('audit store unavailable', () => {
  it('fails appends with dependency_unavailable within seconds once Azurite stops', async () => {
    azurite = await startAzurite();
    const log = createBlobAuditLog({ containerClient: createAuditContainerClient({ connectionString: azurite.connectionString, container: 'audit-down' }) });
    await log.append('s_down_session_1', ev(0));
    expect(await log.ping()).toBe(true);
    await azurite.stop();

    const warm = await timed(log.append('s_down_session_1', ev(1)));
    expect(warm.error).toMatchObject({ code: 'dependency_unavailable', status: 503, message: 'The audit store cannot be reached; nothing was executed. Retry later.' });
    expect(warm.ms).toBeLessThan(5_000);

    const cold = await timed(log.append('s_down_session_2', ev(2)));
    expect(cold.error).toMatchObject({ code: 'dependency_unavailable' });
    expect(cold.ms).toBeLessThan(5_000);

    expect(await log.ping()).toBe(false);
    await expect(log.verify('s_down_session_1')).rejects.toMatchObject({ code: 'dependency_unavailable' });
  });

  it('gives up on a store that accepts connections but never answers, within the append budget', async () => {
    silent = createServer((socket) => void sockets.push(socket)); // reads nothing, says nothing
    await new Promise<void>((resolve) => silent!.listen(0, '127.0.0.1', () => resolve()));
    const port = (silent.address() as { port: number }).port;
    const connectionString = `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=http://127.0.0.1:${port}/${AZURITE_ACCOUNT};`;
    const log = createBlobAuditLog({ containerClient: createAuditContainerClient({ connectionString, container: 'audit-hang' }), appendTimeoutMs: 1_500 });
    const result = await timed(log.append('s_hanging_store', ev(0)));
    expect(result.error).toMatchObject({ code: 'dependency_unavailable' });
    expect(result.ms).toBeGreaterThanOrEqual(1_400);
    expect(result.ms).toBeLessThan(3_000);
  });
});
