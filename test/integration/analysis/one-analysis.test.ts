/**
 * One analysis per statement: a request parses and hashes its SQL text once (and not at all when
 * the same text was analysed before), whatever stages it passes (masking plan, volatility check,
 * row estimate). Counted by wrapping the parser and the hash functions the broker calls.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { randomBytes } from 'node:crypto';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';

const counts = vi.hoisted(() => ({ parsed: [] as string[], hashed: [] as string[] }));

vi.mock('../../../src/sql/parser.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/sql/parser.js')>();
  return {
    ...real,
    parseStatements: (sql: string) => {
      counts.parsed.push(sql);
      return real.parseStatements(sql);
    },
  };
});

vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  const record = (data: unknown) => {
    if (typeof data === 'string') counts.hashed.push(data);
  };
  return {
    ...real,
    hash: ((algorithm: string, data: string, encoding?: string) => {
      record(data);
      return (real.hash as (...a: unknown[]) => string)(algorithm, data, encoding);
    }) as typeof real.hash,
    createHash: ((algorithm: string, options?: unknown) => {
      const h = real.createHash(algorithm, options as never);
      const update = h.update.bind(h);
      h.update = ((data: unknown, enc?: unknown) => {
        record(data);
        return update(data as never, enc as never);
      }) as typeof h.update;
      return h;
    }) as typeof real.createHash,
  };
});

let broker: TestBroker;

beforeAll(async () => {
  broker = await startTestBroker();
});

afterAll(async () => {
  await broker?.close();
});

/** A statement no earlier request sent (the comment defeats the analysis cache). */
function fresh(sql: string): string {
  return `${sql} /* ${randomBytes(6).toString('hex')} */`;
}

async function countsOf(sql: string, roles?: string[], extra: Record<string, unknown> = {}) {
  counts.parsed.length = 0;
  counts.hashed.length = 0;
  const res = await broker.query({ connection: 'sales', sql, ...extra }, roles);
  return {
    res,
    parsesOfText: counts.parsed.filter((s) => s === sql).length,
    parses: counts.parsed.length,
    hashesOfText: counts.hashed.filter((s) => s === sql).length,
  };
}

describe('one analysis per statement', () => {
  it('a read with masked columns and a function call: one parse, one hash; repeated: none', async () => {
    const sql = fresh('select id, email, upper(name) from customers where id = 1');
    const first = await countsOf(sql);
    expect(first.res.status).toBe(200);
    expect(first.res.body.columns.find((c: { name: string }) => c.name === 'email').masked).not.toBe(false);
    expect({ parsesOfText: first.parsesOfText, parses: first.parses, hashesOfText: first.hashesOfText }).toEqual({ parsesOfText: 1, parses: 1, hashesOfText: 1 });

    const again = await countsOf(sql);
    expect(again.res.status).toBe(200);
    expect({ parsesOfText: again.parsesOfText, hashesOfText: again.hashesOfText }).toEqual({ parsesOfText: 0, hashesOfText: 0 });
  });

  it('a bulk write with a row estimate: the text is parsed and hashed once (only the EXPLAIN text built for the planner is parsed besides)', async () => {
    const sql = fresh("update orders set status = 'open' where id <= 3");
    const r = await countsOf(sql, ['Query.Write'], { dryRun: true });
    expect(r.res.status).toBe(200);
    expect(r.res.body.estimatedRows).toBeGreaterThan(0);
    expect({ parsesOfText: r.parsesOfText, parses: r.parses, hashesOfText: r.hashesOfText }).toEqual({ parsesOfText: 1, parses: 2, hashesOfText: 1 });
  });

  it('EXPLAIN ANALYZE of a write: the explained statement is not parsed again', async () => {
    const sql = fresh("explain analyze update orders set status = 'open' where id <= 3");
    const r = await countsOf(sql, ['Query.Write'], { dryRun: true });
    expect(r.res.status).toBe(200);
    expect({ parsesOfText: r.parsesOfText, parses: r.parses, hashesOfText: r.hashesOfText }).toEqual({ parsesOfText: 1, parses: 2, hashesOfText: 1 });
  });

  it('a statement refused before analysis (syntax error) is hashed once for its record', async () => {
    const sql = fresh('selec 1');
    const r = await countsOf(sql);
    expect(r.res.status).toBe(400);
    expect(r.hashesOfText).toBe(1);
  });
});
