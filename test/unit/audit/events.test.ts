import { describe, it, expect } from 'vitest';
import { createMemoryAuditLog } from '../../../src/audit/memory-log.js';
import {
  actorFromPrincipal,
  auditEvent,
  executedData,
  failedData,
  requestReceivedData,
  SAMPLE_ROWS,
} from '../../../src/audit/events.js';
import { digestOf, sha256Hex } from '../../../src/audit/canonical-json.js';

const actor = actorFromPrincipal({ oid: 'oid-1', tid: 'tid-1', appId: 'app-1', name: 'Agent' });

describe('audit event bodies', () => {
  it('records the SQL and its hash but only a digest of the params', async () => {
    const planted = 'planted.person@example.com';
    const data = requestReceivedData({ connection: 'sales', sql: 'select * from customers where email = $1', params: [planted], reason: 'debug' });
    expect(data.sqlHash).toBe(sha256Hex('select * from customers where email = $1'));
    expect(data.paramsCount).toBe(1);
    expect(data.paramsDigest).toBe(digestOf([planted]));
    const log = createMemoryAuditLog();
    await log.append('s_events_01', auditEvent('request.received', 'r_1', actor, data));
    expect(log.lines('s_events_01').join('\n')).not.toContain(planted);
  });

  it('digests every returned row and samples only the first few, as returned', () => {
    const rows = Array.from({ length: 12 }, (_, i) => [i, `***@example.com`, 'x'.repeat(i === 0 ? 1000 : 3)]);
    const data = executedData({
      columns: [
        { name: 'id', type: 'int4', masked: false },
        { name: 'email', type: 'text', masked: 'email' },
        { name: 'note', type: 'text', masked: false },
      ],
      rows,
      rowCount: 12,
      truncated: false,
    });
    expect(data.rowsDigest).toBe(digestOf(rows));
    expect(data.sample).toHaveLength(SAMPLE_ROWS);
    expect(data.sample[1]).toEqual([1, '***@example.com', 'xxx']);
    expect((data.sample[0]![2] as string).length).toBeLessThan(300);
    expect(data.maskedColumns).toEqual(['email']);
  });

  it('changes the rows digest when any returned cell changes', () => {
    const columns = [{ name: 'v', type: 'text', masked: false as const }];
    const a = executedData({ columns, rows: [['a'], ['b']], rowCount: 2, truncated: false });
    const b = executedData({ columns, rows: [['a'], ['c']], rowCount: 2, truncated: false });
    expect(a.rowsDigest).not.toBe(b.rowsDigest);
  });

  it('caps failure messages', () => {
    expect(failedData({ code: 'query_failed', message: 'm'.repeat(5000) }).message.length).toBeLessThanOrEqual(501);
  });

  it('keeps the identity fields of the principal and nothing else', () => {
    expect(actor).toEqual({ oid: 'oid-1', tid: 'tid-1', appId: 'app-1', name: 'Agent' });
  });
});
