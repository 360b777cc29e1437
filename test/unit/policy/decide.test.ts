import { beforeAll, describe, expect, it } from 'vitest';
import { decide } from '../../../src/policy/decide.js';
import { PolicyConfig } from '../../../src/policy/schema.js';
import { analyzeSql } from '../../../src/sql/analyze.js';
import { loadSqlParser } from '../../../src/sql/parser.js';
import type { Analysis } from '../../../src/sql/types.js';

const policy = PolicyConfig.parse({
  audience: 'api://qb-test',
  connections: { sales: { credentials: { env: 'X' } } },
  profiles: {
    read: { match: { roles: ['R'] }, connections: ['sales'], access: 'read', allowVolatile: ['txid_current', 'util.audit_stamp'] },
    write: { match: { roles: ['W'] }, connections: ['sales'], access: 'write', approval: { approvers: { roles: ['A'] }, estimatedRowsOver: 100 } },
    'write-unapproved': { match: { roles: ['U'] }, connections: ['sales'], access: 'write' },
    admin: { match: { roles: ['D'] }, connections: ['sales'], access: 'admin', approval: { approvers: { roles: ['A'] } } },
  },
});
const profile = (name: string) => policy.profiles[name]!;

beforeAll(async () => {
  await loadSqlParser();
});

describe('decide', () => {
  it('allows a plain read for a read profile with no reasons', () => {
    expect(decide({ analysis: analyzeSql('select * from customers'), profile: profile('read'), policy, volatileFunctions: [] })).toEqual({ outcome: 'allow', reasons: [] });
  });

  it('refuses writes on a read profile and says what to do instead', () => {
    const d = decide({ analysis: analyzeSql('delete from orders where id = 1'), profile: profile('read'), policy, volatileFunctions: [], estimatedRows: 1 });
    expect(d.outcome).toBe('deny');
    expect(d.reasons).toHaveLength(1);
    expect(d.reasons[0]!.code).toBe('write_on_read_only_profile');
    expect(d.reasons[0]!.message).toMatch(/read-only.*SELECT/);
  });

  it('explains why a locking read is a write', () => {
    const d = decide({ analysis: analyzeSql('select * from orders for update'), profile: profile('read'), policy, volatileFunctions: [] });
    expect(d.reasons.map((r) => r.code)).toEqual(['write_on_read_only_profile']);
    expect(d.reasons[0]!.message).toContain('FOR UPDATE');
  });

  it('denies the same reasons when the profile has no approvers', () => {
    for (const sql of ['drop table orders', 'truncate orders', 'update orders set status = $1', 'grant select on orders to public']) {
      const withApproval = decide({ analysis: analyzeSql(sql), profile: profile('write'), policy, volatileFunctions: [], estimatedRows: 1 });
      const without = decide({ analysis: analyzeSql(sql), profile: profile('write-unapproved'), policy, volatileFunctions: [], estimatedRows: 1 });
      expect(withApproval.outcome, sql).toBe('needs_approval');
      expect(without.outcome, sql).toBe('deny');
      expect(without.reasons.map((r) => r.code)).toEqual(withApproval.reasons.map((r) => r.code));
      expect(without.reasons[0]!.message).toContain('no approvers');
    }
  });

  it('asks for approval above the row threshold and not at it', () => {
    const analysis = analyzeSql("update orders set status = 'x' where status = 'open'");
    expect(analysis.needsRowEstimate).toBe(true);
    expect(decide({ analysis, profile: profile('write'), policy, volatileFunctions: [], estimatedRows: 100 }).outcome).toBe('allow');
    const over = decide({ analysis, profile: profile('write'), policy, volatileFunctions: [], estimatedRows: 101 });
    expect(over.outcome).toBe('needs_approval');
    expect(over.reasons[0]!.code).toBe('estimated_rows_over_threshold');
    expect(over.reasons[0]!.message).toContain('101');
  });

  it('uses the default threshold of 1000 for a profile without an approval block', () => {
    const analysis = analyzeSql("update orders set status = 'x' where status = 'open'");
    expect(decide({ analysis, profile: profile('write-unapproved'), policy, volatileFunctions: [], estimatedRows: 1000 }).outcome).toBe('allow');
    expect(decide({ analysis, profile: profile('write-unapproved'), policy, volatileFunctions: [], estimatedRows: 1001 })).toMatchObject({ outcome: 'deny', reasons: [{ code: 'estimated_rows_over_threshold' }] });
  });

  it('does not guess when the estimate is missing for a bulk write', () => {
    const d = decide({ analysis: analyzeSql('delete from orders where id > 10'), profile: profile('write'), policy, volatileFunctions: [] });
    expect(d).toMatchObject({ outcome: 'needs_approval', reasons: [{ code: 'estimated_rows_unknown' }] });
  });

  it('does not need an estimate for INSERT … VALUES', () => {
    const analysis = analyzeSql('insert into orders (customer_id, amount_cents) values (1, 2)');
    expect(analysis.needsRowEstimate).toBe(false);
    expect(decide({ analysis, profile: profile('write'), policy, volatileFunctions: [] }).outcome).toBe('allow');
  });

  it('lets policy-wide and profile allow-lists admit volatile functions in reads', () => {
    const analysis = analyzeSql('select random(), txid_current(), util.audit_stamp(), pg_catalog.random()');
    const volatileFunctions = analysis.functions;
    expect(decide({ analysis, profile: profile('read'), policy, volatileFunctions }).outcome).toBe('allow');
    // txid_current is only on the read profile's list.
    const other = decide({ analysis, profile: profile('write'), policy, volatileFunctions });
    expect(other.outcome).toBe('deny');
    expect(other.reasons[0]!.message).toContain('txid_current()');
    expect(other.reasons[0]!.message).toContain('util.audit_stamp()');
    expect(other.reasons[0]!.message).not.toMatch(/\brandom\(\)/);
  });

  it('matches an unqualified allow-list entry only in pg_catalog, not a look-alike in another schema', () => {
    const analysis = analyzeSql('select evil.random()');
    const d = decide({ analysis, profile: profile('read'), policy, volatileFunctions: analysis.functions });
    expect(d).toMatchObject({ outcome: 'deny', reasons: [{ code: 'volatile_function' }] });
  });

  it('does not apply the volatile rule to writes', () => {
    const analysis = analyzeSql("insert into orders (customer_id, amount_cents) values (1, nextval('s'))");
    expect(decide({ analysis, profile: profile('write'), policy, volatileFunctions: [{ name: 'nextval' }] }).outcome).toBe('allow');
  });

  it('lists every denial reason, not only the first', () => {
    const analysis = analyzeSql("select pg_sleep(1), pg_read_file('x'), set_config('a', 'b', false)");
    const d = decide({ analysis, profile: profile('admin'), policy, volatileFunctions: analysis.functions });
    expect(d.outcome).toBe('deny');
    expect(d.reasons.map((r) => r.code).sort()).toEqual(['server_file_access', 'session_state_change', 'volatile_function']);
  });

  it('prefers denial over approval when both apply', () => {
    const analysis = analyzeSql("delete from orders where id = pg_advisory_lock(1)");
    const d = decide({ analysis, profile: profile('write'), policy, volatileFunctions: [], estimatedRows: 5000 });
    expect(d).toMatchObject({ outcome: 'deny', reasons: [{ code: 'advisory_lock' }] });
  });

  it('requires approval from admins for DDL too', () => {
    expect(decide({ analysis: analyzeSql('create table t (id int)'), profile: profile('admin'), policy, volatileFunctions: [] })).toMatchObject({
      outcome: 'needs_approval',
      reasons: [{ code: 'ddl_requires_approval' }],
    });
  });

  it('denies a risk code it does not know (fail closed)', () => {
    const base = analyzeSql('select 1');
    const analysis: Analysis = { ...base, risks: [{ code: 'something_new', message: 'A flag added to the analyzer after these rules were written.' }] };
    expect(decide({ analysis, profile: profile('admin'), policy, volatileFunctions: [] })).toMatchObject({ outcome: 'deny', reasons: [{ code: 'something_new' }] });
  });

  it('denies a utility statement that carries no flag (fail closed)', () => {
    const base = analyzeSql('select 1');
    const analysis: Analysis = { ...base, kind: 'utility', command: 'FutureStmt', risks: [] };
    expect(decide({ analysis, profile: profile('admin'), policy, volatileFunctions: [] })).toMatchObject({ outcome: 'deny', reasons: [{ code: 'unrecognised_statement' }] });
  });

  it('is pure: the same input gives the same decision and is not modified', () => {
    const analysis = analyzeSql('update orders set status = $1');
    const input = { analysis, profile: profile('write'), policy, volatileFunctions: [], estimatedRows: 5 };
    const snapshot = JSON.stringify(input);
    const a = decide(input);
    const b = decide(input);
    expect(a).toEqual(b);
    expect(JSON.stringify(input)).toBe(snapshot);
  });
});
