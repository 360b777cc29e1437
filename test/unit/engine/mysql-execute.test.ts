import { describe, it, expect } from 'vitest';
import { bindMysqlParams, mysqlResultFields, mysqlTypeName, placeholderPositions } from '../../../src/engine/mysql/execute.js';
import { clearPasswordOverTls, sessionSettingsSql } from '../../../src/engine/mysql/pools.js';
import { mysqlErrorInfo, isMysqlUnavailable, toMysqlFailure } from '../../../src/engine/mysql/errors.js';
import { DatabaseFailure } from '../../../src/db/execute.js';
import { BrokerError } from '../../../src/errors.js';

describe('MySQL placeholders', () => {
  it('finds ? outside strings, quoted identifiers and comments', () => {
    const sql = "select ?, '?', \"?\", `?`, 'it''s ?', 'a\\'?', ? # ?\n -- ?\n /* ? */ , ?";
    const found = placeholderPositions(sql);
    expect(found).toEqual([sql.indexOf('?'), sql.indexOf("?', ? #") + 4, sql.lastIndexOf('?')]);
    expect(found.map((i) => sql[i])).toEqual(['?', '?', '?']);
  });

  it('lexes the inside of executable comments as code, as the server does', () => {
    expect(placeholderPositions('select 1 /*! , ? */')).toHaveLength(1);
    expect(placeholderPositions('select 1 /*M!100000 , ? */')).toHaveLength(1);
    expect(placeholderPositions('select 1 /* , ? */')).toHaveLength(0);
  });

  it('treats -- as a comment only when a space follows', () => {
    expect(placeholderPositions('select 1--?')).toHaveLength(1);
    expect(placeholderPositions('select 1-- ?')).toHaveLength(0);
  });
});

describe('MySQL parameter binding', () => {
  it('binds each value as one literal set off by spaces', () => {
    expect(bindMysqlParams('select x?, ?, ?, ?', ['ff', 1.5, null, true])).toBe("select x 'ff' ,  1.5 ,  NULL ,  TRUE ");
  });

  it('escapes quotes and backslashes so a value cannot end its string', () => {
    expect(bindMysqlParams('select ?', ["a' or 1=1 -- \\"])).toBe("select  'a\\' or 1=1 -- \\\\' ");
  });

  it('never binds an identifier (??) or expands lists and objects', () => {
    expect(bindMysqlParams('select ??', ['a', 'b'])).toBe("select  'a'  'b' ");
    expect(() => bindMysqlParams('select ?', [[1, 2]])).toThrow(BrokerError);
    expect(() => bindMysqlParams('select ?', [{ a: 1 }])).toThrow(BrokerError);
    expect(() => bindMysqlParams('select ?', [Number.NaN])).toThrow(BrokerError);
  });

  it('refuses a parameter count that does not match the placeholders', () => {
    expect(() => bindMysqlParams("select '?'", ['x'])).toThrow(/0 \? placeholder/);
  });
});

describe('MySQL result metadata', () => {
  const f = (columnType: number, extra: Partial<{ characterSet: number; flags: number; orgTable: string; orgName: string; schema: string; name: string }> = {}) => ({
    name: extra.name ?? 'c',
    orgTable: extra.orgTable ?? '',
    orgName: extra.orgName ?? '',
    schema: extra.schema ?? '',
    columnType,
    characterSet: extra.characterSet ?? 224,
    flags: extra.flags ?? 0,
  });

  it('names MySQL types and tells text from binary by the character set', () => {
    expect(mysqlTypeName(f(252))).toBe('text');
    expect(mysqlTypeName(f(252, { characterSet: 63 }))).toBe('blob');
    expect(mysqlTypeName(f(253, { characterSet: 63 }))).toBe('varbinary');
    expect(mysqlTypeName(f(254, { flags: 256 }))).toBe('enum');
    expect(mysqlTypeName(f(8, { flags: 32 }))).toBe('bigint unsigned');
  });

  it('keys origins by table and column, local to the result', () => {
    const fields = mysqlResultFields([
      f(3, { orgTable: 'a', orgName: 'id', schema: 's' }),
      f(3, { orgTable: 'b', orgName: 'id', schema: 's' }),
      f(3, { orgTable: 'a', orgName: 'id', schema: 's', name: 'again' }),
      f(3),
    ]);
    expect(fields.map((x) => [x.tableID, x.columnID])).toEqual([[1, 1], [2, 2], [1, 1], [0, 0]]);
    expect(fields[3]!.origin).toBeUndefined();
  });
});

describe('MySQL session settings', () => {
  it('sets the time limit the way each server names it, and read-only access for reads', () => {
    const limits = { statementTimeoutMs: 1500, lockTimeoutMs: 200 };
    expect(sessionSettingsSql('mariadb', limits, 'read', 11)).toMatch(/max_statement_time = 1\.500.*innodb_lock_wait_timeout = 1.*tx_read_only = 1.*sql_select_limit = 11/);
    expect(sessionSettingsSql('mysql', limits, 'write')).toMatch(/max_execution_time = 1500.*transaction_read_only = 0.*sql_select_limit = DEFAULT/);
  });
});

describe('MySQL errors', () => {
  const err = (errno: number, sqlState: string, extra: Record<string, unknown> = {}) => Object.assign(new Error('m'), { errno, sqlState, sqlMessage: 'm', ...extra });

  it('marks time limits and read-only refusals', () => {
    expect(mysqlErrorInfo(err(1969, '70100'))).toEqual({ sqlstate: '70100', message: 'm', vendorCode: '1969', kind: 'timeout' });
    expect(mysqlErrorInfo(err(3024, 'HY000'))).toMatchObject({ kind: 'timeout' });
    expect(mysqlErrorInfo(err(1792, '25006'))).toMatchObject({ kind: 'read_only' });
    expect(mysqlErrorInfo(new Error('plain'))).toBeUndefined();
  });

  it('answers 503 for connection refusals and socket failures, a refusal otherwise', () => {
    expect(isMysqlUnavailable(mysqlErrorInfo(err(1040, '08004'))!)).toBe(true);
    expect(isMysqlUnavailable(mysqlErrorInfo(err(1045, '28000'))!)).toBe(true);
    expect(toMysqlFailure(err(1054, '42S22'))).toBeInstanceOf(DatabaseFailure);
    expect(toMysqlFailure(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toMatchObject({ code: 'dependency_unavailable' });
    expect(toMysqlFailure(err(2013, 'HY000', { fatal: true }))).toMatchObject({ code: 'dependency_unavailable' });
  });
});

describe('Entra tokens on MySQL', () => {
  it('sends the token as a clear password only on a TLS socket', async () => {
    const { Socket } = await import('node:net');
    const { TLSSocket } = await import('node:tls');
    const plain = new Socket();
    expect(() => clearPasswordOverTls({ connection: { config: { password: 'token' }, stream: plain } })()).toThrow(/without TLS/);
    const tls = new TLSSocket(new Socket());
    Object.defineProperty(tls, 'encrypted', { value: true });
    expect(clearPasswordOverTls({ connection: { config: { password: 'token' }, stream: tls } })().toString()).toBe('token\0');
    plain.destroy();
    tls.destroy();
  });
});
