/**
 * The MySQL analysis judged by the same decide() as PostgreSQL: every attack below must be refused
 * with the code the agent would see, for a read profile and (where PostgreSQL refuses the
 * equivalent for everyone) for write and admin profiles too; ordinary reads and writes must be
 * classified as the policy expects.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { analyzeMysql, checkMysqlParams, clearMysqlAnalysisCache } from '../../../src/engine/mysql/analyze.js';
import { disallowedMysqlCalls } from '../../../src/engine/mysql/functions.js';
import { decide, type Decision } from '../../../src/policy/decide.js';
import { PolicyConfig } from '../../../src/policy/schema.js';
import { isBrokerError } from '../../../src/errors.js';
import type { QualifiedName } from '../../../src/sql/types.js';

const policy = PolicyConfig.parse({
  audience: 'api://qb-test',
  connections: { shop: { credentials: { env: 'X' } } },
  profiles: {
    read: { match: { roles: ['R'] }, connections: ['shop'], access: 'read', allowVolatile: ['rand', 'shop.tax_rate'] },
    write: { match: { roles: ['W'] }, connections: ['shop'], access: 'write', approval: { approvers: { roles: ['A'] }, estimatedRowsOver: 100 } },
    admin: { match: { roles: ['D'] }, connections: ['shop'], access: 'admin', approval: { approvers: { roles: ['A'] } } },
  },
});
type ProfileName = 'read' | 'write' | 'admin';

/** What the agent would hear: the error code (and its reason) for a 400, else the decision. */
function judge(sql: string, profileName: ProfileName): { error?: string; decision?: Decision } {
  let analysis;
  try {
    analysis = analyzeMysql(sql);
  } catch (e) {
    if (!isBrokerError(e)) throw e;
    return { error: e.reasons[0] === undefined ? e.code : `${e.code}:${e.reasons[0].code}` };
  }
  const profile = policy.profiles[profileName]!;
  const allow = [...policy.functions.allowVolatile, ...profile.allowVolatile];
  return { decision: decide({ analysis, profile, policy, volatileFunctions: disallowedMysqlCalls(analysis, allow), estimatedRows: 1 }) };
}

/** The refusal code for a profile: a 400's code, or a denial's reason codes (an approval is not a refusal). */
function refusalCodes(sql: string, profileName: ProfileName): string[] {
  const j = judge(sql, profileName);
  if (j.error !== undefined) return [j.error];
  if (j.decision!.outcome !== 'deny') return [];
  return j.decision!.reasons.map((r) => r.code);
}

interface Attack {
  sql: string;
  /** the code a read profile is refused with (its first reason) */
  code: string;
  /** further reasons the refusal must give */
  also?: string[];
  /** also refused (with this code) for write and admin profiles, as PostgreSQL refuses the equivalent */
  everyone?: boolean;
}

const ATTACKS: Attack[] = [
  // stacked statements, and tricks that hide the `;` from a naive reader
  { sql: 'select 1; drop table customers', code: 'multiple_statements', everyone: true },
  { sql: 'select 1;drop table customers;', code: 'multiple_statements', everyone: true },
  { sql: "select 'a'; delete from customers", code: 'multiple_statements', everyone: true },
  { sql: "select 'a\\\\'; drop table customers; -- '", code: 'multiple_statements', everyone: true },
  { sql: 'select 1 /* c */ ; /* c */ commit', code: 'multiple_statements', everyone: true },
  { sql: 'select 1; -- \nselect 2', code: 'multiple_statements', everyone: true },
  { sql: 'select 1 #x\n; drop table t', code: 'multiple_statements', everyone: true },
  { sql: 'select 1 --\t\n; drop table t', code: 'multiple_statements', everyone: true },
  { sql: 'commit; drop table customers', code: 'multiple_statements', everyone: true },
  { sql: ';select 1', code: 'sql_parse_error', everyone: true },
  // backslash escapes read differently under NO_BACKSLASH_ESCAPES / ANSI_QUOTES
  { sql: "select 'a\\';drop table customers; -- '", code: 'sql_parse_error:ambiguous_backslash_escape', everyone: true },
  { sql: "select * from customers where name = 'x\\' or 1=1 -- '", code: 'sql_parse_error:ambiguous_backslash_escape', everyone: true },
  { sql: 'select "a\\";select sleep(5) -- "', code: 'sql_parse_error:ambiguous_backslash_escape', everyone: true },
  // comments the parser and the server read differently
  { sql: 'select 1 --1, sleep(5)', code: 'sql_parse_error:double_dash', everyone: true },
  { sql: 'select id from customers where id = 1 --x\n or sleep(5)', code: 'sql_parse_error:double_dash', everyone: true },
  { sql: 'select 5--2', code: 'sql_parse_error:double_dash', everyone: true },
  // executable comments and optimizer hints
  // Words beginning with a digit: 0X1 / 0x1g / 0x are names to the server, hex literals to the parser; 1e3 / 0b1 the other way round.
  { sql: 'select 0X1 from (select ssn as `0X1` from customers) as d', code: 'sql_parse_error:ambiguous_number', everyone: true },
  { sql: 'select 0x1g from (select ssn as `0x1g` from customers) as d', code: 'sql_parse_error:ambiguous_number', everyone: true },
  { sql: 'select 0x from (select ssn as `0x` from customers) as d', code: 'sql_parse_error:ambiguous_number', everyone: true },
  { sql: 'delete from customers where id > (select 0e0 from (select 1000 as `0e0`) as d)', code: 'sql_parse_error:ambiguous_number', everyone: true },
  { sql: 'select id from customers where id = 0b1', code: 'sql_parse_error:ambiguous_number', everyone: true },
  { sql: 'select 1 /*!50000 , sleep(5) */', code: 'sql_parse_error:executable_comment', everyone: true },
  { sql: '/*!50000 DROP TABLE t*/', code: 'sql_parse_error:executable_comment', everyone: true },
  { sql: 'select 1 /*!; drop table t */', code: 'sql_parse_error:executable_comment', everyone: true },
  { sql: 'select 1 /*M!100000 , load_file(0x2f6574632f706173737764) */', code: 'sql_parse_error:executable_comment', everyone: true },
  { sql: 'select /*+ MAX_EXECUTION_TIME(0) */ * from customers', code: 'sql_parse_error:optimizer_hint', everyone: true },
  { sql: "select /*+ SET_VAR(sql_mode='NO_BACKSLASH_ESCAPES') */ 1", code: 'sql_parse_error:optimizer_hint', everyone: true },
  // malformed text
  { sql: 'select 1\u0000; drop table t', code: 'invalid_request:nul_character', everyone: true },
  { sql: "select 'abc", code: 'sql_parse_error:unterminated_string', everyone: true },
  { sql: 'select `abc from t', code: 'sql_parse_error:unterminated_string', everyone: true },
  { sql: 'select 1 /* drop table t', code: 'sql_parse_error:unterminated_comment', everyone: true },
  { sql: 'DELIMITER //', code: 'sql_parse_error:client_command', everyone: true },
  { sql: '   ', code: 'sql_parse_error', everyone: true },
  // transaction control
  { sql: 'commit', code: 'transaction_control', everyone: true },
  { sql: 'start transaction read write', code: 'transaction_control', everyone: true },
  { sql: 'begin', code: 'transaction_control', everyone: true },
  { sql: 'rollback', code: 'transaction_control', everyone: true },
  { sql: 'savepoint s1', code: 'transaction_control', everyone: true },
  { sql: "xa start 'x'", code: 'transaction_control', everyone: true },
  { sql: 'lock tables customers write', code: 'lock_statement', everyone: true },
  { sql: 'unlock tables', code: 'lock_statement', everyone: true },
  // session state
  { sql: "set @@session.sql_mode = ''", code: 'session_state_change', everyone: true },
  { sql: 'set global max_connections = 1', code: 'session_state_change', everyone: true },
  { sql: 'set persist read_only = 0', code: 'session_state_change', also: ['server_level_command'], everyone: true },
  { sql: 'set transaction read write', code: 'session_state_change', everyone: true },
  { sql: 'set session transaction read write', code: 'session_state_change', everyone: true },
  { sql: 'set autocommit = 1', code: 'session_state_change', everyone: true },
  { sql: 'set names latin1', code: 'session_state_change', everyone: true },
  { sql: 'set @x = 1', code: 'session_state_change', everyone: true },
  { sql: "set password = 'owned'", code: 'session_state_change', everyone: true },
  { sql: 'set role all', code: 'session_state_change', everyone: true },
  { sql: 'set statement max_statement_time = 0 for select sleep(100)', code: 'session_state_change', everyone: true },
  { sql: 'use mysql', code: 'session_state_change', everyone: true },
  { sql: "prepare s from 'drop table customers'", code: 'session_state_change', everyone: true },
  { sql: 'execute s', code: 'session_state_change', everyone: true },
  { sql: 'deallocate prepare s', code: 'session_state_change', everyone: true },
  { sql: 'handler customers open', code: 'session_state_change', everyone: true },
  { sql: 'handler customers read first', code: 'session_state_change', everyone: true },
  { sql: 'select @x := 1', code: 'session_state_change', everyone: true },
  { sql: 'select id, @total := @total + amount from orders', code: 'session_state_change', everyone: true },
  { sql: 'select * from customers where (@x := email) is not null', code: 'session_state_change', everyone: true },
  { sql: 'select email into @stolen from customers limit 1', code: 'session_state_change', everyone: true },
  // files on the server
  { sql: "select * from customers into outfile '/tmp/dump.csv'", code: 'server_file_access', everyone: true },
  { sql: "select email from customers into dumpfile '/var/lib/mysql-files/x'", code: 'server_file_access', everyone: true },
  { sql: "select load_file('/etc/passwd')", code: 'server_file_access', everyone: true },
  { sql: 'select id from customers where id = (select length(LOAD_FILE(0x2f6574632f706173737764)))', code: 'server_file_access', everyone: true },
  { sql: "load data infile '/etc/passwd' into table customers", code: 'copy_statement', everyone: true },
  { sql: "load data local infile '/home/broker/.ssh/id_rsa' into table customers", code: 'copy_statement', also: ['server_file_access'], everyone: true },
  { sql: "load xml infile '/etc/passwd' into table customers", code: 'copy_statement', everyone: true },
  // server control
  { sql: 'flush privileges', code: 'server_level_command', everyone: true },
  { sql: 'flush tables with read lock', code: 'server_level_command', everyone: true },
  { sql: 'kill 42', code: 'server_level_command', everyone: true },
  { sql: 'kill query 42', code: 'server_level_command', everyone: true },
  { sql: 'shutdown', code: 'server_level_command', everyone: true },
  { sql: "install plugin evil soname 'evil.so'", code: 'server_level_command', everyone: true },
  { sql: "create function sys_exec returns integer soname 'lib_mysqludf_sys.so'", code: 'server_level_command', everyone: true },
  { sql: 'reset master', code: 'server_level_command', everyone: true },
  { sql: 'purge binary logs before now()', code: 'server_level_command', everyone: true },
  { sql: "select sys_exec('rm -rf /')", code: 'server_control_function', everyone: true },
  { sql: "select master_pos_wait('binlog.000001', 4)", code: 'server_control_function', everyone: true },
  // procedures and code
  { sql: 'do sleep(10)', code: 'procedural_code', everyone: true },
  { sql: "do get_lock('x', 10)", code: 'procedural_code', everyone: true },
  { sql: 'call drop_everything()', code: 'write_on_read_only_profile' },
  // named locks (advisory locks): refused for everyone, in any position
  { sql: "select get_lock('x', 10)", code: 'advisory_lock', everyone: true },
  { sql: "select * from customers where id in (select is_free_lock('x'))", code: 'advisory_lock', everyone: true },
  { sql: "select id from customers order by release_lock('x')", code: 'advisory_lock', everyone: true },
  { sql: 'select release_all_locks()', code: 'advisory_lock', everyone: true },
  // waiting and burning CPU in reads
  { sql: 'select sleep(10)', code: 'volatile_function' },
  { sql: 'select SLEEP (10)', code: 'volatile_function' },
  { sql: 'select id from customers where id = (select sleep(10))', code: 'volatile_function' },
  { sql: 'select id from customers order by sleep(1)', code: 'volatile_function' },
  { sql: "select benchmark(100000000, md5('x'))", code: 'volatile_function' },
  { sql: 'select id from customers group by id having max(benchmark(1000000000, 1)) > 0', code: 'volatile_function' },
  { sql: 'select uuid()', code: 'volatile_function' },
  { sql: 'select connection_id(), last_insert_id()', code: 'volatile_function' },
  { sql: 'select nextval(order_seq)', code: 'volatile_function' },
  { sql: 'select shop.exfiltrate(email) from customers', code: 'volatile_function' },
  { sql: 'select exfiltrate(email) from customers', code: 'volatile_function' },
  { sql: 'select `shop`.`sleep`(10)', code: 'volatile_function' },
  { sql: 'select a from orders group by a with rollup having sleep(1)', code: 'volatile_function' },
  { sql: 'select a from orders window w as (order by sleep(1))', code: 'volatile_function' },
  { sql: 'select id from orders where id = all (select sleep(1))', code: 'volatile_function' },
  { sql: 'select interval sleep(1) day + now()', code: 'volatile_function' },
  // MariaDB's own ways to run text as SQL or change limits
  { sql: "execute immediate 'drop table customers'", code: 'session_state_change', everyone: true },
  { sql: 'backup stage start', code: 'server_level_command', everyone: true },
  { sql: 'show explain for 42', code: 'unrecognised_statement', everyone: true },
  { sql: 'analyze select * from customers where sleep(1)', code: 'volatile_function' },
  { sql: 'analyze format=json delete from customers', code: 'write_on_read_only_profile' },
  { sql: 'explain analyze delete from customers', code: 'write_on_read_only_profile' },
  // locking reads
  { sql: 'select * from customers for update', code: 'write_on_read_only_profile' },
  { sql: 'select * from customers lock in share mode', code: 'write_on_read_only_profile' },
  { sql: 'select * from customers where id in (select id from orders for update)', code: 'write_on_read_only_profile' },
  // writes, DDL and administration on a read profile
  { sql: 'delete from customers', code: 'write_on_read_only_profile' },
  { sql: 'update customers set email = null where id = 1', code: 'write_on_read_only_profile' },
  { sql: 'replace into customers (id) values (1)', code: 'write_on_read_only_profile' },
  { sql: 'truncate table customers', code: 'write_on_read_only_profile' },
  { sql: 'drop table customers', code: 'write_on_read_only_profile' },
  { sql: "grant all on *.* to 'agent'@'%'", code: 'write_on_read_only_profile' },
  { sql: "create user 'x'@'%' identified by 'p'", code: 'write_on_read_only_profile' },
  { sql: 'analyze table customers', code: 'write_on_read_only_profile' },
  // the server's own databases
  { sql: "update mysql.user set authentication_string = '' where user = 'root'", code: 'system_catalog_write', everyone: true },
  { sql: "insert into mysql.db (host, db, user) values ('%', '%', 'agent')", code: 'system_catalog_write', everyone: true },
  { sql: "delete from performance_schema.setup_instruments where name = 'x'", code: 'system_catalog_write', everyone: true },
  { sql: 'create table mysql.evil (a int)', code: 'system_catalog_write', everyone: true },
  // a WITH clause in front of a write is still a write
  { sql: 'with x as (select id from orders) delete from orders where id in (select id from x)', code: 'write_on_read_only_profile' },
  // statements and clauses the broker does not recognise, or reads that show other sessions' data
  { sql: 'show processlist', code: 'unrecognised_statement', everyone: true },
  { sql: 'show engine innodb status', code: 'unrecognised_statement', everyone: true },
  { sql: 'show warnings', code: 'unrecognised_statement', everyone: true },
  { sql: "show create user 'root'@'localhost'", code: 'unrecognised_statement', everyone: true },
  { sql: 'show full processlist', code: 'unrecognised_statement', everyone: true },
  { sql: "show binlog events in 'binlog.000001'", code: 'unrecognised_statement', everyone: true },
  { sql: 'show tables where sleep(5)', code: 'unrecognised_construct', everyone: true },
  { sql: 'explain for connection 42', code: 'unrecognised_statement', everyone: true },
  { sql: 'help contents', code: 'unrecognised_statement', everyone: true },
  { sql: 'signal sqlstate "45000"', code: 'unrecognised_statement', everyone: true },
  { sql: 'select * from customers procedure analyse()', code: 'sql_parse_error', everyone: true },
];

describe('MySQL attacks are refused with the code the agent sees', () => {
  it('has a table of at least 60 attacks', () => {
    expect(ATTACKS.length).toBeGreaterThanOrEqual(60);
  });

  for (const attack of ATTACKS) {
    it(`refuses ${JSON.stringify(attack.sql)} with ${attack.code}`, () => {
      const codes = refusalCodes(attack.sql, 'read');
      expect(codes[0]).toBe(attack.code);
      for (const more of attack.also ?? []) expect(codes).toContain(more);
      if (attack.everyone === true) {
        expect(refusalCodes(attack.sql, 'write'), 'write profile').toContain(attack.code);
        expect(refusalCodes(attack.sql, 'admin'), 'admin profile').toContain(attack.code);
      }
    });
  }
});

interface Allowed {
  sql: string;
  kind: string;
  command?: string;
  read?: string[];
  written?: string[];
  functions?: string[];
  hasWhere?: boolean;
  needsRowEstimate?: boolean;
  /** risk codes the analysis carries */
  risks?: string[];
  /** the decision for a read profile (reads) or a write profile (the rest) */
  outcome: Decision['outcome'];
}

const show = (names: readonly QualifiedName[]): string[] => names.map((n) => (n.schema === undefined ? n.name : `${n.schema}.${n.name}`)).sort();

const ALLOWED: Allowed[] = [
  { sql: 'select id, email from customers where id = ?', kind: 'read', command: 'select', read: ['customers'], outcome: 'allow' },
  { sql: 'select c.id, o.total from shop.customers c join orders o on o.customer_id = c.id where o.total > 10', kind: 'read', read: ['orders', 'shop.customers'], outcome: 'allow' },
  { sql: 'select * from customers c left join orders o using (id) where o.id is null', kind: 'read', read: ['customers', 'orders'], outcome: 'allow' },
  { sql: 'select id from customers where id in (select customer_id from orders where total > 100)', kind: 'read', read: ['customers', 'orders'], outcome: 'allow' },
  { sql: 'select * from (select id, total from orders) x where x.total > (select avg(total) from orders)', kind: 'read', read: ['orders'], functions: ['avg'], outcome: 'allow' },
  { sql: 'with big as (select * from orders where total > 100) select count(*) from big', kind: 'read', read: ['orders'], functions: ['count'], outcome: 'allow' },
  { sql: 'with recursive n (i) as (select 1 union all select i + 1 from n where i < 10) select * from n', kind: 'read', read: [], outcome: 'allow' },
  { sql: 'select id from customers union select customer_id from orders', kind: 'read', read: ['customers', 'orders'], outcome: 'allow' },
  { sql: 'select id, row_number() over (partition by status order by total desc) from orders', kind: 'read', functions: ['row_number'], outcome: 'allow' },
  { sql: "select json_extract(doc, '$.name'), doc->'$.a', doc->>'$.b', json_object('k', id) from documents", kind: 'read', functions: ['json_extract', 'json_object'], outcome: 'allow' },
  { sql: 'select group_concat(distinct email order by email separator \';\') from customers', kind: 'read', functions: ['group_concat'], outcome: 'allow' },
  { sql: "select date_format(now(), '%Y-%m'), date_add(created_at, interval 1 day), cast(total as char) from orders", kind: 'read', outcome: 'allow' },
  { sql: 'select if(total > 10, 1, 0), ifnull(note, \'\'), coalesce(a, b), case when total > 1 then 1 else 0 end from orders', kind: 'read', outcome: 'allow' },
  { sql: "select 'it''s; -- not a comment', \"a;b\", `odd``name` from `odd``table`", kind: 'read', read: ['odd`table'], outcome: 'allow' },
  { sql: "select 'C:\\\\dir\\\\file', 'tab\\there' from dual", kind: 'read', outcome: 'allow' },
  { sql: 'select id from customers -- trailing comment; drop table t', kind: 'read', read: ['customers'], outcome: 'allow' },
  { sql: 'select id from customers # hash comment; drop table t', kind: 'read', outcome: 'allow' },
  { sql: 'select id /* ; drop table t */ from customers;', kind: 'read', outcome: 'allow' },
  { sql: 'select rand() from dual', kind: 'read', functions: ['rand'], outcome: 'allow' },
  { sql: 'select shop.tax_rate(total) from orders', kind: 'read', functions: ['shop.tax_rate'], outcome: 'allow' },
  { sql: 'select id from orders where id = all (select customer_id from orders) and not (total > 1) and (id, total) = (1, 2)', kind: 'read', outcome: 'allow' },
  { sql: 'select timestampdiff(day, created_at, now()), count(*) from orders group by 1 with rollup', kind: 'read', outcome: 'allow' },
  { sql: 'show tables', kind: 'read', command: 'show', outcome: 'allow' },
  { sql: 'show full columns from customers', kind: 'read', outcome: 'allow' },
  { sql: 'show create table customers', kind: 'read', outcome: 'allow' },
  { sql: "show variables like 'max_%'", kind: 'read', outcome: 'allow' },
  { sql: 'describe shop.customers', kind: 'read', read: ['shop.customers'], outcome: 'allow' },
  { sql: 'explain select * from customers where id = 1', kind: 'read', command: 'explain', read: ['customers'], outcome: 'allow' },
  { sql: 'explain delete from customers', kind: 'read', read: ['customers'], outcome: 'allow' },
  // writes (judged for a write profile; estimated rows: 1)
  { sql: 'insert into orders (customer_id, total) values (?, ?)', kind: 'write', command: 'insert', written: ['orders'], read: [], needsRowEstimate: false, outcome: 'allow' },
  { sql: 'insert into orders set customer_id = 1, total = 2', kind: 'write', written: ['orders'], outcome: 'allow' },
  { sql: 'insert into archive select * from orders where total < 1', kind: 'write', written: ['archive'], read: ['orders'], needsRowEstimate: true, outcome: 'allow' },
  { sql: 'replace into orders (id, total) values (1, 2)', kind: 'write', command: 'replace', written: ['orders'], needsRowEstimate: true, risks: ['replace_statement'], outcome: 'needs_approval' },
  { sql: 'replace into orders set id = 1, total = 2', kind: 'write', command: 'replace', risks: ['replace_statement'], outcome: 'needs_approval' },
  { sql: 'update orders set total = total + 1 where id = ?', kind: 'write', command: 'update', written: ['orders'], hasWhere: true, needsRowEstimate: true, outcome: 'allow' },
  { sql: 'update orders o join customers c on c.id = o.customer_id set o.total = 0 where c.id = 1', kind: 'write', hasWhere: true, outcome: 'allow' },
  { sql: 'delete from orders where id = ?', kind: 'write', command: 'delete', written: ['orders'], hasWhere: true, needsRowEstimate: true, outcome: 'allow' },
  { sql: 'insert into orders (total) values ((select max(total) from orders))', kind: 'write', needsRowEstimate: true, outcome: 'allow' },
  { sql: 'with old as (select id from orders where total < 1) delete from orders where id in (select id from old)', kind: 'write', command: 'delete', read: ['orders'], written: ['orders'], hasWhere: true, outcome: 'allow' },
  { sql: 'delete o from orders o join customers c on c.id = o.customer_id where c.id = 1', kind: 'write', read: ['customers', 'orders'], written: ['orders'], hasWhere: true, outcome: 'allow' },
  { sql: 'delete o, c from shop.orders o join customers c on c.id = o.customer_id where c.id = 1', kind: 'write', written: ['customers', 'shop.orders'], outcome: 'allow' },
  { sql: 'delete from orders where id = 1 returning total', kind: 'write', read: ['orders'], written: ['orders'], outcome: 'allow' },
  { sql: 'delete from orders', kind: 'write', hasWhere: false, needsRowEstimate: true, risks: ['delete_without_where'], outcome: 'needs_approval' },
  { sql: 'update orders set total = 0 where 1 = 1', kind: 'write', hasWhere: false, risks: ['update_without_where'], outcome: 'needs_approval' },
  { sql: 'select * from orders where id = 1 for update', kind: 'write', risks: ['locking_clause'], outcome: 'allow' },
  { sql: 'truncate table orders', kind: 'ddl', written: ['orders'], risks: ['truncate'], outcome: 'needs_approval' },
  { sql: 'drop table orders', kind: 'ddl', command: 'drop', written: ['orders'], outcome: 'needs_approval' },
  { sql: 'alter table shop.orders add column note text', kind: 'ddl', written: ['shop.orders'], outcome: 'needs_approval' },
  { sql: 'create table t2 as select * from orders', kind: 'ddl', written: ['t2'], read: ['orders'], outcome: 'needs_approval' },
  { sql: "grant select on shop.* to 'reporter'@'%'", kind: 'admin', risks: ['privilege_change'], outcome: 'needs_approval' },
  { sql: 'call close_month(2024, 1)', kind: 'procedural', risks: ['procedure_call'], outcome: 'needs_approval' },
];

describe('MySQL reads and writes are classified as the policy expects', () => {
  it('has at least 20 allowed statements', () => {
    expect(ALLOWED.length).toBeGreaterThanOrEqual(20);
  });

  for (const a of ALLOWED) {
    it(`classifies ${JSON.stringify(a.sql)} as ${a.kind}`, () => {
      const analysis = analyzeMysql(a.sql);
      expect(analysis.engine).toBe('mysql');
      expect(analysis.kind).toBe(a.kind);
      expect(analysis.operators).toEqual([]);
      if (a.command !== undefined) expect(analysis.command).toBe(a.command);
      if (a.read !== undefined) expect(show(analysis.tablesRead)).toEqual([...a.read].sort());
      if (a.written !== undefined) expect(show(analysis.tablesWritten)).toEqual([...a.written].sort());
      if (a.functions !== undefined) for (const f of a.functions) expect(show(analysis.functions)).toContain(f);
      if (a.hasWhere !== undefined) expect(analysis.hasWhere).toBe(a.hasWhere);
      if (a.needsRowEstimate !== undefined) expect(analysis.needsRowEstimate ?? false).toBe(a.needsRowEstimate);
      expect(analysis.risks.map((r) => r.code).sort()).toEqual([...(a.risks ?? [])].sort());
      const j = judge(a.sql, a.kind === 'read' ? 'read' : 'write');
      expect(j.decision?.outcome, JSON.stringify(j)).toBe(a.outcome);
    });
  }

  it('reaches every relation it reads or writes, and the functions it calls', () => {
    const a = analyzeMysql('insert into archive select id, upper(note) from orders');
    expect(show(a.reach.relations)).toEqual(['archive', 'orders']);
    expect(show(a.reach.functions)).toEqual(['upper']);
  });
});

describe('analyzeMysql', () => {
  it('hashes the exact SQL text with SHA-256', () => {
    const sql = 'select id from customers where id = ?  -- é';
    expect(analyzeMysql(sql).sqlHash).toBe(createHash('sha256').update(sql, 'utf8').digest('hex'));
    expect(analyzeMysql('select 1').sqlHash).not.toBe(analyzeMysql('select 1 ').sqlHash);
  });

  it('returns the same frozen analysis for the same text', () => {
    clearMysqlAnalysisCache();
    const a = analyzeMysql('select id from customers where id = 7');
    expect(analyzeMysql('select id from customers where id = 7')).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(Object.isFrozen(a.tablesRead)).toBe(true);
    expect(Object.isFrozen(a.root)).toBe(true);
    expect(() => (a.risks as unknown[]).push({ code: 'x', message: 'y' })).toThrow();
  });

  it('refuses SQL over the length limit before reading it', () => {
    const e = errorOf(() => analyzeMysql(`select '${'x'.repeat(200)}'`, { maxLength: 100 }));
    expect(e.code).toBe('sql_too_long');
  });

  it('reports the position of a parse error and tells the agent to simplify', () => {
    const e = errorOf(() => analyzeMysql('select id from customers where'));
    expect(e.code).toBe('sql_parse_error');
    expect(e.message).toMatch(/offset \d+/);
    expect(e.message).toMatch(/simplify/);
  });

  it('reads names decoded: quoted identifiers, stored functions with their database, built-ins lower-cased', () => {
    const a = analyzeMysql('select COUNT(*), `shop`.`Tax`(1), NOW() from `shop`.`my``orders`');
    expect(show(a.tablesRead)).toEqual(['shop.my`orders']);
    expect(show(a.functions)).toEqual(['count', 'now', 'shop.tax']);
  });

  it('does not take a CTE for a table', () => {
    const a = analyzeMysql('with customers as (select 1 as id) select * from customers join orders on orders.id = customers.id');
    expect(show(a.tablesRead)).toEqual(['orders']);
  });

  it('counts placeholders outside strings, identifiers and comments', () => {
    expect(analyzeMysql("select '?', `?`, ? /* ? */ from t where a = ? -- ?").placeholders).toBe(2);
  });
});

describe('checkMysqlParams', () => {
  it('accepts as many params as placeholders', () => {
    expect(() => checkMysqlParams('select * from t where a = ? and b = ?', [1, 2])).not.toThrow();
    expect(() => checkMysqlParams("select '?' from t", [])).not.toThrow();
  });

  it('refuses a mismatch with param_count_mismatch and says how many to send', () => {
    const e = errorOf(() => checkMysqlParams('select * from t where a = ? and b = ?', [1]));
    expect(e.code).toBe('invalid_request');
    expect(e.reasons.map((r) => r.code)).toEqual(['param_count_mismatch']);
    expect(e.message).toContain('exactly 2 values');
    expect(errorOf(() => checkMysqlParams('select 1 # ?', [1])).message).toContain('Remove "params"');
  });
});

describe('disallowedMysqlCalls', () => {
  const calls = (sql: string, allow: string[] = []): string[] => show(disallowedMysqlCalls(analyzeMysql(sql), allow));

  it('allows deterministic built-ins and refuses unknown names', () => {
    expect(calls('select upper(a), concat(a, b), round(x, 2), json_unquote(j), sum(x) from t')).toEqual([]);
    expect(calls('select mystery(a) from t')).toEqual(['mystery']);
  });

  it('allows volatile built-ins and stored functions only when listed', () => {
    expect(calls('select rand(), uuid()')).toEqual(['rand', 'uuid']);
    expect(calls('select rand(), uuid()', ['rand'])).toEqual(['uuid']);
    expect(calls('select shop.f(1), f(2)', ['shop.f'])).toEqual(['f']);
    expect(calls('select shop.f(1), f(2)', ['f'])).toEqual(['shop.f']);
  });

  it('never allows waits, named locks or file reads, whatever the list says', () => {
    expect(calls("select sleep(1), benchmark(1, 1), get_lock('x', 1), load_file('/x')", ['sleep', 'benchmark', 'get_lock', 'load_file'])).toEqual([
      'benchmark',
      'get_lock',
      'load_file',
      'sleep',
    ]);
  });
});

describe('writes and functions (as on PostgreSQL)', () => {
  it('lets a write call a function a read may not, but never one refused for everyone', () => {
    expect(judge('update orders set token = uuid() where id = 1', 'write').decision?.outcome).toBe('allow');
    expect(refusalCodes("update orders set note = load_file('/etc/passwd') where id = 1", 'write')).toContain('server_file_access');
    expect(refusalCodes("insert into orders (note) values (get_lock('x', 1))", 'admin')).toContain('advisory_lock');
  });
});

function errorOf(fn: () => unknown): { code: string; message: string; reasons: { code: string }[] } {
  try {
    fn();
  } catch (e) {
    if (isBrokerError(e)) return { code: e.code, message: e.message, reasons: e.reasons };
    throw e;
  }
  throw new Error('expected a BrokerError');
}
