/**
 * The guardrail corpus: hostile and benign statements sent through the HTTP API of a real broker
 * against real PostgreSQL. Each case asserts what the agent sees AND what happened in the
 * database: the canary tables are unchanged, no object appeared, sequences did not move, a
 * bystander session is alive, no file was written by the server, no lock or large object was
 * left behind, the session settings of later requests are intact, and the request ended in time.
 *
 * To make the effect checks able to fail, the agent's database role here is deliberately
 * over-privileged (it may signal other backends, read and write server files, run programs, create
 * in `public`): whatever stops these statements is the broker, not a missing grant.
 */
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import pg from 'pg';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';

const READ = ['Query.Read'];
const WRITE = ['Query.Write'];
const STATEMENT_TIMEOUT_MS = 1500;

type Outcome =
  | { status: 200 }
  | { status: 400; code: 'sql_parse_error' | 'multiple_statements' | 'invalid_request' }
  | { status: 403; reason: string }
  | { status: 'approval'; reason: string }
  | { status: 408 }
  | { status: 422; reason: string };

interface Case {
  name: string;
  /** a function when the text depends on setup (e.g. the bystander's pid) */
  sql: string | (() => string);
  params?: unknown[];
  roles?: string[];
  expect: Outcome;
  /** expected effect on the scratch table (benign writes); everything else must be untouched */
  scratchRows?: number;
  /**
   * The masking stage refuses catalog views in predicates on its own (their lineage is unknown) and
   * may answer before the guardrail reason is added; either refusal is accepted for these cases.
   */
  maskingMayAnswerFirst?: boolean;
  /** extra assertion on the response or the database */
  check?: (res: { status: number; body: any }) => Promise<void> | void;
}

let broker: TestBroker;
let admin: pg.Client;
let bystander: pg.Client;
let bystanderPid: number;
let corpusRole: string;
/** Where a COPY TO file/PROGRAM would write; world-writable so that the server could, if let. */
const fileDir = mkdtempSync(join(tmpdir(), 'qb-corpus-'));
chmodSync(fileDir, 0o777);
const files = (name: string): string => join(fileDir, name);

const allow: Outcome = { status: 200 };
const deny = (reason: string): Outcome => ({ status: 403, reason });
const approval = (reason: string): Outcome => ({ status: 'approval', reason });
const parseError: Outcome = { status: 400, code: 'sql_parse_error' };
const multiple: Outcome = { status: 400, code: 'multiple_statements' };
const RO = deny('write_on_read_only_profile');

function cases(): Case[] {
  return [
    // ── benign reads that look dangerous ──────────────────────────────────────────────────
    { name: 'a plain read', sql: 'select id, name from customers order by id', expect: allow, check: (r) => expect(r.body.rowCount).toBe(5) },
    { name: 'a parameterised read', sql: 'select name from customers where id = $1', params: [2], expect: allow, check: (r) => expect(r.body.rows).toEqual([['Alan Turing']]) },
    { name: 'a string that contains a DROP', sql: "select '; DROP TABLE customers' as s", expect: allow, check: (r) => expect(r.body.rows).toEqual([['; DROP TABLE customers']]) },
    { name: 'COMMIT and ROLLBACK inside literals', sql: "select 'COMMIT', $$ROLLBACK; DROP TABLE orders$$, $x$ END; $$ $x$", expect: allow },
    { name: 'a doubled quote that closes nothing', sql: "select count(*) from customers where name = 'x'';DROP TABLE customers;--'", expect: allow, check: (r) => expect(r.body.rows).toEqual([['0']]) },
    { name: 'an escape string with a quote', sql: "select E'\\'; drop table customers; --' as s", expect: allow },
    { name: 'a line comment that hides a DROP', sql: 'select 1 -- ; drop table customers', expect: allow },
    { name: 'a block comment that hides a DROP', sql: 'select 1 /* ; drop table customers */', expect: allow },
    { name: 'nested block comments', sql: '/* a /* nested */ ; drop table customers */ select 1', expect: allow },
    { name: 'a trailing semicolon and comment', sql: 'select 1; -- done', expect: allow },
    { name: 'keywords as quoted aliases', sql: 'select 1 as "commit", 2 as "drop table orders"', expect: allow },
    { name: 'a U&-escaped table name', sql: 'select count(*) from U&"cust\\006Fmers"', expect: allow, check: (r) => expect(r.body.rows).toEqual([['5']]) },
    { name: 'a join with aggregation', sql: 'select c.name, count(o.id) from customers c join orders o on o.customer_id = c.id group by c.name order by 2 desc limit 3', expect: allow },
    { name: 'a read-only CTE', sql: 'with big as (select * from orders where amount_cents > 2000) select count(*) from big', expect: allow },
    { name: 'a bounded recursive CTE', sql: 'with recursive r(n) as (select 1 union all select n + 1 from r where n < 10) select sum(n) from r', expect: allow, check: (r) => expect(r.body.rows).toEqual([['55']]) },
    { name: 'allow-listed volatile functions', sql: 'select random() < 2, gen_random_uuid() is not null, now() <= clock_timestamp()', expect: allow },
    { name: 'current_setting reads a setting', sql: "select current_setting('default_transaction_read_only')", expect: allow, check: (r) => expect(r.body.rows).toEqual([['on']]) },
    { name: 'SHOW', sql: 'show statement_timeout', expect: allow },
    { name: 'EXPLAIN of a read', sql: 'explain select * from orders where id = 1', expect: allow },
    { name: 'EXPLAIN ANALYZE of a read', sql: 'explain analyze select count(*) from orders', expect: allow },
    { name: 'EXPLAIN (no ANALYZE) of a DELETE only plans it', sql: 'explain delete from orders', expect: allow },
    { name: 'a huge generate_series in the select list streams and is cut at the row cap', sql: 'select generate_series(1, 1000000000000) as g', expect: allow, check: (r) => expect(r.body.truncated).toBe(true) },
    { name: '8000 redundant parentheses collapse', sql: `select ${'('.repeat(8000)}1${')'.repeat(8000)} as one`, expect: allow },

    // ── one statement per request ───────────────────────────────────────────────────────
    { name: 'COMMIT smuggled after a SELECT', sql: 'select 1; commit', expect: multiple },
    { name: 'COMMIT then DROP', sql: 'COMMIT; DROP TABLE customers', expect: multiple },
    { name: 'ROLLBACK then DELETE', sql: 'rollback; delete from customers', roles: WRITE, expect: multiple },
    { name: 'END then a write', sql: "END; update customers set name = 'pwned'", roles: WRITE, expect: multiple },
    { name: 'END then turning read-only off', sql: 'END; SET default_transaction_read_only = off; DELETE FROM orders', expect: multiple },
    { name: 'a whole transaction', sql: 'begin; delete from orders; commit', roles: WRITE, expect: multiple },
    { name: 'a statement after a dollar-quoted string', sql: 'select $$a$$; drop table customers', expect: multiple },
    { name: 'an unterminated dollar quote', sql: 'select $$; drop table customers', expect: parseError },
    { name: 'a psql-style escaped semicolon', sql: 'select 1 \\; drop table customers', expect: parseError },
    { name: 'DML in FROM is not SQL', sql: 'select * from (delete from customers returning *) d', roles: WRITE, expect: parseError },
    { name: 'only comments', sql: '-- nothing here', expect: parseError },
    { name: '8000-deep nested sub-selects are refused cleanly', sql: `select ${'(select '.repeat(8000)}1${')'.repeat(8000)}`, expect: parseError },
    { name: '8000-deep nested NOT is refused cleanly', sql: `select ${'not '.repeat(8000)}true`, expect: parseError },
    { name: '8000-deep function nesting is refused cleanly', sql: `select ${'abs('.repeat(8000)}1${')'.repeat(8000)}`, expect: parseError },

    // ── transaction control ─────────────────────────────────────────────────────────────
    { name: 'COMMIT', sql: 'COMMIT', expect: deny('transaction_control') },
    { name: 'ROLLBACK', sql: 'ROLLBACK', roles: WRITE, expect: deny('transaction_control') },
    { name: 'END', sql: 'END', expect: deny('transaction_control') },
    { name: 'ABORT', sql: 'abort', expect: deny('transaction_control') },
    { name: 'BEGIN READ WRITE', sql: 'begin read write', expect: deny('transaction_control') },
    { name: 'START TRANSACTION', sql: 'start transaction isolation level serializable', roles: WRITE, expect: deny('transaction_control') },
    { name: 'SAVEPOINT', sql: 'savepoint s1', expect: deny('transaction_control') },
    { name: 'PREPARE TRANSACTION', sql: "prepare transaction 'qb_evil'", roles: WRITE, expect: deny('transaction_control') },

    // ── session state ───────────────────────────────────────────────────────────────────
    { name: 'SET ROLE', sql: 'SET ROLE postgres', expect: deny('session_state_change') },
    { name: 'SET ROLE on a write profile', sql: 'set role qb_agent_write', roles: WRITE, expect: deny('session_state_change') },
    { name: 'RESET ROLE', sql: 'reset role', expect: deny('session_state_change') },
    { name: 'SET SESSION AUTHORIZATION', sql: 'set session authorization postgres', expect: deny('session_state_change') },
    { name: 'SET TRANSACTION READ WRITE', sql: 'set transaction read write', expect: deny('session_state_change') },
    { name: 'SET SESSION CHARACTERISTICS', sql: 'set session characteristics as transaction read write', expect: deny('session_state_change') },
    { name: 'turning default read-only off', sql: 'set default_transaction_read_only = off', expect: deny('session_state_change') },
    { name: 'disabling the statement timeout', sql: 'set statement_timeout = 0', expect: deny('session_state_change') },
    { name: 'search_path hijack', sql: 'set search_path = pg_temp, public', expect: deny('session_state_change') },
    { name: 'RESET ALL', sql: 'reset all', expect: deny('session_state_change') },
    { name: 'DISCARD ALL', sql: 'discard all', expect: deny('session_state_change') },
    { name: 'set_config() turning read-only off', sql: "select set_config('default_transaction_read_only', 'off', false)", expect: deny('session_state_change') },
    { name: 'set_config() of the role, schema-qualified', sql: "select pg_catalog.set_config('role', 'postgres', false)", roles: WRITE, expect: deny('session_state_change') },
    { name: 'set_config() in FROM', sql: "select * from set_config('statement_timeout', '0', false)", expect: deny('session_state_change') },
    { name: 'UPDATE pg_settings (set_config in disguise)', sql: "update pg_settings set setting = 'off' where name = 'default_transaction_read_only'", roles: WRITE, expect: deny('session_state_change'), maskingMayAnswerFirst: true },
    { name: 'UPDATE pg_settings of the statement timeout', sql: "update pg_catalog.pg_settings set setting = '0' where name = 'statement_timeout'", roles: WRITE, expect: deny('session_state_change'), maskingMayAnswerFirst: true },
    { name: 'UPDATE pg_settings without WHERE', sql: "update pg_settings set setting = reset_val", roles: WRITE, expect: deny('session_state_change') },
    { name: 'PREPARE', sql: 'prepare p as delete from orders', roles: WRITE, expect: deny('session_state_change') },
    { name: 'EXECUTE', sql: 'execute p', roles: WRITE, expect: deny('session_state_change') },
    { name: 'DECLARE a cursor WITH HOLD', sql: 'declare c cursor with hold for select * from customers', expect: deny('session_state_change') },
    { name: 'FETCH', sql: 'fetch all from c', expect: deny('session_state_change') },
    { name: 'LISTEN', sql: 'listen qb_channel', expect: deny('session_state_change') },

    // ── other sessions and the server ─────────────────────────────────────────────────
    { name: 'pg_terminate_backend of a bystander', sql: () => `select pg_terminate_backend(${bystanderPid})`, expect: deny('server_control_function') },
    { name: 'pg_terminate_backend of everyone', sql: 'select pg_terminate_backend(pid) from pg_stat_activity', expect: deny('server_control_function') },
    { name: 'pg_terminate_backend via a quoted, qualified name', sql: 'select pg_catalog."pg_terminate_backend"(pid) from pg_stat_activity', expect: deny('server_control_function') },
    { name: 'pg_terminate_backend via U& escapes', sql: 'select U&"\\0070g_terminate_backend"(pid) from pg_stat_activity', expect: deny('server_control_function') },
    { name: 'pg_terminate_backend in a write', sql: () => `update orders set status = pg_terminate_backend(${bystanderPid})::text where id = 1`, roles: WRITE, expect: deny('server_control_function') },
    { name: 'pg_cancel_backend', sql: 'select pg_cancel_backend(pid) from pg_stat_activity', expect: deny('server_control_function') },
    { name: 'pg_reload_conf', sql: 'select pg_reload_conf()', expect: deny('server_control_function') },
    { name: 'pg_sleep', sql: 'select pg_sleep(20)', expect: deny('volatile_function') },
    { name: 'pg_sleep in ORDER BY', sql: 'select * from orders order by pg_sleep(1)', expect: deny('volatile_function') },
    { name: 'pg_sleep_for in a sub-select', sql: "select (select pg_sleep_for('20 seconds'))", expect: deny('volatile_function') },
    { name: 'an advisory lock', sql: 'select pg_advisory_lock(4242)', expect: deny('advisory_lock') },
    { name: 'a try-advisory lock on a write profile', sql: 'select pg_try_advisory_lock(4242)', roles: WRITE, expect: deny('advisory_lock') },
    { name: 'an advisory lock inside an UPDATE', sql: 'update orders set status = status where id = 1 and pg_advisory_lock(4242) is not null', roles: WRITE, expect: deny('advisory_lock') },
    { name: 'pg_notify', sql: "select pg_notify('qb', 'x')", expect: deny('notification') },
    { name: 'NOTIFY', sql: "notify qb, 'x'", roles: WRITE, expect: deny('notification') },

    // ── files and programs on the server ──────────────────────────────────────────────
    { name: 'pg_read_file in FROM', sql: "select * from pg_read_file('/etc/passwd')", expect: deny('server_file_access') },
    { name: 'pg_read_file in a sub-select', sql: "select (select pg_read_file('postgresql.conf'))", expect: deny('server_file_access') },
    { name: 'pg_ls_dir in ROWS FROM', sql: "select * from rows from (generate_series(1, 2), pg_ls_dir('.')) x", expect: deny('server_file_access') },
    { name: 'lo_import', sql: "select lo_import('/etc/passwd')", expect: deny('server_file_access') },
    { name: 'lo_import on a write profile', sql: "select lo_import('/etc/hostname')", roles: WRITE, expect: deny('server_file_access') },
    { name: 'lo_from_bytea', sql: "select lo_from_bytea(0, 'x')", roles: WRITE, expect: deny('large_object_function') },
    { name: 'COPY TO PROGRAM', sql: `copy customers to program 'touch ${files('program-ran')}'`, expect: deny('server_file_access') },
    { name: 'COPY (query) TO PROGRAM on a write profile', sql: `copy (select 1) to program 'touch ${files('program-ran-2')}'`, roles: WRITE, expect: deny('server_file_access') },
    { name: 'COPY TO a file', sql: `copy customers to '${files('stolen.csv')}'`, expect: deny('server_file_access') },
    { name: 'COPY FROM a file', sql: "copy orders from '/etc/hostname'", roles: WRITE, expect: deny('server_file_access') },
    { name: 'COPY TO STDOUT', sql: 'copy customers to stdout', expect: deny('copy_statement') },
    { name: 'COPY FROM STDIN', sql: 'copy orders from stdin', roles: WRITE, expect: deny('copy_statement') },

    // ── SQL given as text ───────────────────────────────────────────────────────────────
    { name: 'query_to_xml', sql: "select query_to_xml('select * from customers', true, true, '')", expect: deny('sql_string_function') },
    { name: 'query_to_xml running a write', sql: "select query_to_xml('delete from orders returning 1', true, true, '')", roles: WRITE, expect: deny('sql_string_function') },
    { name: 'table_to_xml', sql: "select table_to_xml('customers', true, true, '')", expect: deny('sql_string_function') },
    { name: 'database_to_xml', sql: "select database_to_xml(true, true, '')", expect: deny('sql_string_function') },
    { name: 'dblink_exec', sql: "select dblink_exec('dbname=postgres', 'drop table customers')", expect: deny('sql_string_function') },
    { name: 'ts_stat', sql: "select ts_stat('select to_tsvector(name) from customers')", expect: deny('sql_string_function') },

    // ── sequences and volatile functions ───────────────────────────────────────────────
    { name: 'nextval', sql: "select nextval('orders_id_seq')", expect: deny('volatile_function') },
    { name: 'nextval on a write profile, as a read', sql: "select nextval('customers_id_seq')", roles: WRITE, expect: deny('volatile_function') },
    { name: 'setval', sql: "select setval('orders_id_seq', 1)", expect: deny('volatile_function') },
    { name: 'setval in FROM', sql: "select * from setval('orders_id_seq', 100000)", roles: WRITE, expect: deny('volatile_function') },
    { name: 'setseed changes session state', sql: 'select setseed(0.5)', expect: deny('volatile_function') },
    { name: 'an unknown function is refused as not existing', sql: 'select no_such_function(1)', expect: { status: 422, reason: 'unknown_function' } },

    // ── writes hiding in reads ──────────────────────────────────────────────────────────
    { name: 'a DELETE in a CTE', sql: 'with d as (delete from orders returning *) select count(*) from d', expect: RO },
    { name: 'an UPDATE in a CTE', sql: "with u as (update customers set name = 'pwned' returning 1) select * from u", expect: RO },
    { name: 'an INSERT in a second CTE', sql: 'with a as (select 1), b as (insert into orders (customer_id, amount_cents) values (1, 1) returning id) select * from a', expect: RO },
    { name: 'SELECT FOR UPDATE', sql: 'select * from customers for update', expect: RO },
    { name: 'SELECT FOR SHARE in a sub-select', sql: 'select * from (select * from customers for share) s', expect: RO },
    { name: 'SELECT INTO', sql: 'select id, name into stolen from customers', expect: RO },
    { name: 'CREATE TABLE AS', sql: 'create table stolen as select id, name from customers', expect: RO },
    { name: 'EXPLAIN ANALYZE of a DELETE', sql: 'explain analyze delete from orders', expect: RO },
    { name: 'EXPLAIN (ANALYZE) of an UPDATE', sql: "explain (analyze, costs off) update customers set name = 'pwned'", expect: RO },
    { name: 'EXPLAIN (ANALYZE 1) of an INSERT', sql: 'explain (analyze 1) insert into orders select * from orders', expect: RO },

    // ── plain writes, DDL and privileges on a read profile ──────────────────────────────
    { name: 'DELETE on a read profile', sql: 'delete from orders where id = 1', expect: RO },
    { name: 'UPDATE on a read profile', sql: "update customers set name = 'x' where id = 1", expect: RO },
    { name: 'INSERT on a read profile', sql: 'insert into orders (customer_id, amount_cents) values (1, 1)', expect: RO },
    { name: 'MERGE on a read profile', sql: 'merge into orders o using customers c on o.customer_id = c.id when matched then delete', expect: RO },
    { name: 'TRUNCATE on a read profile', sql: 'truncate orders', expect: RO },
    { name: 'DROP TABLE on a read profile', sql: 'drop table customers', expect: RO },
    { name: 'ALTER TABLE on a read profile', sql: 'alter table customers add column pwned int', expect: RO },
    { name: 'CREATE FUNCTION on a read profile', sql: "create function evil() returns int language sql as 'select 1'", expect: RO },
    { name: 'GRANT on a read profile', sql: 'grant all on customers to public', expect: RO },
    { name: 'CREATE ROLE on a read profile', sql: 'create role qb_evil superuser', expect: RO },
    { name: 'CREATE EXTENSION on a read profile', sql: 'create extension dblink', expect: RO },
    { name: 'VACUUM on a read profile', sql: 'vacuum customers', expect: RO },
    { name: 'CALL on a read profile', sql: 'call evil()', expect: RO },
    { name: 'DO', sql: 'do $$ begin delete from orders; end $$', expect: deny('procedural_code') },
    { name: 'DO on a write profile', sql: "do $$ begin execute 'drop table customers'; end $$", roles: WRITE, expect: deny('procedural_code') },
    { name: 'LOCK TABLE', sql: 'lock table customers in access exclusive mode', roles: WRITE, expect: deny('lock_statement') },
    { name: 'ALTER SYSTEM', sql: "alter system set log_statement = 'none'", roles: WRITE, expect: deny('server_level_command') },
    { name: 'LOAD', sql: "load '/tmp/evil.so'", roles: WRITE, expect: deny('server_level_command') },
    { name: 'CREATE SUBSCRIPTION', sql: "create subscription s connection 'host=evil' publication p", roles: WRITE, expect: deny('server_level_command') },
    { name: 'CREATE DATABASE', sql: 'create database qb_evil_db', roles: WRITE, expect: deny('server_level_command') },

    // ── write profile: what needs a human ──────────────────────────────────────────────
    { name: 'DELETE without WHERE', sql: 'delete from orders', roles: WRITE, expect: approval('delete_without_where') },
    { name: 'UPDATE without WHERE', sql: "update customers set name = 'pwned'", roles: WRITE, expect: approval('update_without_where') },
    { name: 'DELETE with a WHERE that bounds nothing', sql: 'delete from orders where 1 = 1', roles: WRITE, expect: approval('delete_without_where') },
    { name: 'a DELETE over the row threshold', sql: "delete from orders where status = 'open'", roles: WRITE, expect: approval('estimated_rows_over_threshold') },
    { name: 'an UPDATE over the row threshold', sql: 'update orders set amount_cents = amount_cents where amount_cents > $1', params: [0], roles: WRITE, expect: approval('estimated_rows_over_threshold') },
    { name: 'a data-modifying CTE without WHERE', sql: 'with d as (delete from orders returning id) select count(*) from d', roles: WRITE, expect: approval('delete_without_where') },
    { name: 'TRUNCATE', sql: 'truncate orders', roles: WRITE, expect: approval('truncate') },
    { name: 'DROP TABLE', sql: 'drop table customers', roles: WRITE, expect: approval('ddl_requires_approval') },
    { name: 'SELECT INTO on a write profile', sql: 'select id, name into stolen from customers', roles: WRITE, expect: approval('ddl_requires_approval') },
    { name: 'GRANT', sql: 'grant all on customers to public', roles: WRITE, expect: approval('privilege_change') },
    { name: 'CREATE ROLE needs an admin profile', sql: 'create role qb_evil superuser', roles: WRITE, expect: deny('admin_command_requires_admin_profile') },

    // ── write profile: bounded writes run (on the scratch table) ─────────────────────────
    { name: 'a keyed INSERT runs', sql: 'insert into scratch (id, note) values ($1, $2)', params: [1, 'hello'], roles: WRITE, expect: allow, scratchRows: 1 },
    { name: 'a keyed UPDATE runs', sql: 'update scratch set note = $1 where id = $2', params: ['changed', 1], roles: WRITE, expect: allow, scratchRows: 1 },
    { name: 'a keyed DELETE runs', sql: 'delete from scratch where id = $1', params: [1], roles: WRITE, expect: allow, scratchRows: 0 },
    { name: 'a read on a write profile runs read-only', sql: "select current_setting('transaction_read_only')", roles: WRITE, expect: allow, check: (r) => expect(r.body.rows).toEqual([['on']]) },

    // ── statements that must end within the timeout ─────────────────────────────────────
    { name: 'an infinite recursive CTE is cancelled by the timeout', sql: 'with recursive r(n) as (select 1 union all select n + 1 from r) select count(*) from r', expect: { status: 408 } },
    { name: 'a huge generate_series in FROM is cancelled by the timeout', sql: 'select g from generate_series(1, 1000000000000) g', expect: { status: 408 } },
    { name: 'counting a huge generate_series is cancelled by the timeout', sql: 'select count(*) from generate_series(1, 1000000000000)', expect: { status: 408 } },
    { name: 'a cross join explosion is cancelled by the timeout', sql: 'select count(*) from generate_series(1, 100000) a, generate_series(1, 100000) b', expect: { status: 408 } },
  ];
}

/** Everything the agent must not be able to change, in one comparable value. */
async function snapshot(): Promise<Record<string, unknown>> {
  const q = async (sql: string): Promise<unknown> => (await admin.query(sql)).rows;
  return {
    canary: await q(`select md5(string_agg(c::text, ',' order by c.id)) as customers, (select md5(string_agg(o::text, ',' order by o.id)) from orders o) as orders from customers c`),
    objects: await q(`select (select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')) as relations,
                             (select count(*) from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname not in ('pg_catalog', 'information_schema')) as functions,
                             (select count(*) from pg_namespace) as schemas, (select count(*) from pg_extension) as extensions,
                             (select count(*) from pg_largeobject_metadata) as large_objects, (select count(*) from pg_prepared_xacts) as prepared,
                             (select count(*) from pg_roles where rolname like 'qb_evil%') as evil_roles,
                             (select count(*) from pg_database where datname like 'qb_evil%') as evil_databases,
                             (select count(*) from pg_subscription) as subscriptions,
                             (select md5(string_agg(coalesce(relacl::text, ''), ',' order by oid)) from pg_class where relnamespace = 'public'::regnamespace) as acls`),
    sequences: await q(`select (select last_value from customers_id_seq) as customers, (select is_called from customers_id_seq) as c_called,
                               (select last_value from orders_id_seq) as orders, (select is_called from orders_id_seq) as o_called`),
    locks: await q(`select count(*) as advisory from pg_locks where locktype = 'advisory'`),
  };
}

async function bystanderAlive(): Promise<boolean> {
  try {
    await bystander.query('select 1');
  } catch {
    return false;
  }
  const { rows } = await admin.query('select count(*)::int as n from pg_stat_activity where pid = $1', [bystanderPid]);
  return rows[0]?.n === 1;
}

function reasonCodes(body: any): string[] {
  return ((body?.reasons ?? body?.error?.reasons ?? []) as { code: string }[]).map((r) => r.code);
}

beforeAll(async () => {
  corpusRole = `qb_corpus_${randomBytes(4).toString('hex')}`;
  broker = await startTestBroker({
    policyPatch: (p) => {
      p.profiles['agent-read'].dbRole = corpusRole;
      p.profiles['agent-read'].statementTimeoutMs = STATEMENT_TIMEOUT_MS;
      p.profiles['agent-write'].dbRole = corpusRole;
      p.profiles['agent-write'].statementTimeoutMs = STATEMENT_TIMEOUT_MS;
    },
  });
  admin = new pg.Client({ connectionString: broker.db.adminUrl });
  await admin.connect();
  // Over-privileged on purpose (see the file comment); roles are cluster-wide, so the name is unique.
  await admin.query(`create role ${corpusRole} nologin`);
  await admin.query(`grant ${corpusRole} to ${pg.escapeIdentifier(`qb_broker_${broker.db.name}`)}`);
  await admin.query(`grant pg_signal_backend, pg_read_server_files, pg_write_server_files, pg_execute_server_program to ${corpusRole}`);
  await admin.query(`grant usage, create on schema public to ${corpusRole}`);
  await admin.query(`grant select, insert, update, delete on all tables in schema public to ${corpusRole}`);
  await admin.query(`grant usage, select, update on all sequences in schema public to ${corpusRole}`);
  await admin.query(`create table scratch (id int primary key, note text)`);
  await admin.query(`grant select, insert, update, delete on scratch to ${corpusRole}`);
  await admin.query(`analyze`);
  await admin.query(`select setval('orders_id_seq', 50, true)`); // a known value to compare against
  // A bystander the agent's role could kill if the broker let it: same login role, not superuser.
  bystander = new pg.Client({ connectionString: broker.db.brokerUrl });
  await bystander.connect();
  bystanderPid = (await bystander.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
}, 60_000);

afterAll(async () => {
  await bystander?.end().catch(() => undefined);
  await admin?.end().catch(() => undefined);
  await broker?.close();
  const server = new pg.Client({ connectionString: inject('adminDatabaseUrl') });
  await server.connect();
  try {
    await server.query(`drop role if exists ${corpusRole}`);
  } finally {
    await server.end();
  }
  rmSync(fileDir, { recursive: true, force: true });
});

describe('guardrail corpus through the HTTP API', () => {
  it('has at least 80 hostile and benign cases', () => {
    expect(cases().length).toBeGreaterThanOrEqual(80);
  });

  let baseline: Record<string, unknown>;
  let scratchExpected = 0;
  let settings: unknown;
  beforeAll(async () => {
    baseline = await snapshot();
    settings = (await broker.query({ connection: 'sales', sql: "select current_user, current_setting('search_path'), current_setting('statement_timeout'), current_setting('default_transaction_read_only')" })).body.rows;
  });

  // Run in order on one broker: each case also proves the previous ones left nothing behind.
  for (const c of cases()) {
    const verb = c.expect.status === 200 ? 'allows' : c.expect.status === 408 ? 'stops' : 'refuses';
    it(`${verb}: ${c.name}`, async () => {
      const started = performance.now();
      const sql = typeof c.sql === 'function' ? c.sql() : c.sql;
      const res = await broker.query({ connection: 'sales', sql, ...(c.params ? { params: c.params } : {}) }, c.roles ?? READ);
      const elapsed = performance.now() - started;
      const detail = JSON.stringify(res.body).slice(0, 400);

      // 1. What the agent sees.
      switch (c.expect.status) {
        case 200:
          expect(res.status, detail).toBe(200);
          expect(res.body.decision).toBe('allowed');
          break;
        case 400:
          expect(res.status, detail).toBe(400);
          expect(res.body.error.code).toBe(c.expect.code);
          break;
        case 403:
          expect(res.status, detail).toBe(403);
          expect(res.body.decision).toBe('denied');
          expect(res.body.error.code).toBe('policy_denied');
          if (c.maskingMayAnswerFirst && !reasonCodes(res.body).includes(c.expect.reason)) {
            expect(reasonCodes(res.body).every((code) => code.startsWith('masked_column_')), detail).toBe(true);
          } else {
            expect(reasonCodes(res.body), detail).toContain(c.expect.reason);
          }
          for (const r of res.body.error.reasons) expect(r.message.length, r.code).toBeGreaterThan(30);
          break;
        case 'approval':
          // 202 once approvals are wired; until then 403 with approvalRequired. Never executed.
          expect([202, 403], detail).toContain(res.status);
          if (res.status === 202) expect(res.body.decision).toBe('pending_approval');
          else expect(res.body.error.code).toBe('approval_required');
          expect(reasonCodes(res.body), detail).toContain(c.expect.reason);
          break;
        case 408:
          expect(res.status, detail).toBe(408);
          expect(res.body.error.code).toBe('query_timeout');
          break;
        case 422:
          expect(res.status, detail).toBe(422);
          expect(res.body.error.code).toBe('query_failed');
          expect(reasonCodes(res.body), detail).toContain(c.expect.reason);
          break;
      }
      await c.check?.(res);

      // 2. What the database went through.
      expect(elapsed, 'the request ends within the statement timeout').toBeLessThan(STATEMENT_TIMEOUT_MS + 3000);
      expect(await snapshot()).toEqual(baseline);
      expect(await bystanderAlive(), 'the bystander session is alive').toBe(true);
      for (const f of ['program-ran', 'program-ran-2', 'stolen.csv']) expect(existsSync(files(f)), f).toBe(false);
      if (c.scratchRows !== undefined) scratchExpected = c.scratchRows;
      const scratch = (await admin.query<{ n: number }>('select count(*)::int as n from scratch')).rows[0]!.n;
      expect(scratch, 'rows in the scratch table').toBe(scratchExpected);
    });
  }

  it('the agent role really could do harm, so the effect checks above can fail', async () => {
    const victim = new pg.Client({ connectionString: broker.db.brokerUrl });
    victim.on('error', () => undefined);
    await victim.connect();
    const victimPid = (await victim.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    await admin.query(`set role ${corpusRole}`);
    try {
      await admin.query(`copy (select 1) to '${files('premise.csv')}'`);
      const killed = await admin.query<{ ok: boolean }>('select pg_terminate_backend($1) as ok', [victimPid]);
      expect(killed.rows[0]!.ok).toBe(true);
      await admin.query(`select * into premise_table from customers`);
    } finally {
      await admin.query('reset role');
    }
    expect(existsSync(files('premise.csv'))).toBe(true);
    await expect(victim.query('select 1')).rejects.toThrow();
    await victim.end().catch(() => undefined);
  });

  it('later requests still run with the profile role, settings and read-only mode', async () => {
    const after = (await broker.query({ connection: 'sales', sql: "select current_user, current_setting('search_path'), current_setting('statement_timeout'), current_setting('default_transaction_read_only')" })).body.rows;
    expect(after).toEqual(settings);
    expect((after as string[][])[0]![0]).toBe(corpusRole);
    expect((after as string[][])[0]![3]).toBe('on');
  });
});
