/**
 * Evasion queries against the demo policy (customers.email → email, card_number → last4,
 * ssn → redact). Each either comes back with the listed columns masked (index → masker; every other
 * column clear) or is refused before it runs (`refused`, with the reason code).
 *
 * Shared by the lineage unit tests, the integration tests on real PostgreSQL and the HTTP tests.
 * `MASKING_TEST_SETUP` creates what some cases need (views, a user function) in a demo database.
 */
export type EvasionCase =
  | { sql: string; masked: Record<number, string>; why: string }
  | { sql: string; refused: 'masked_column_in_predicate' | 'masked_column_in_write' | 'masked_column_in_fallible_expression'; why: string };

export const MASKING_TEST_SETUP = `
create view customer_contacts as select c.id, c.name, c.email as contact from customers c;
create view customer_digest as select id, lower(ssn) || card_number as digest from customers where ssn is not null;
create function my_func(i int) returns text language sql stable as 'select ssn from customers where id = i';
grant select on customer_contacts, customer_digest to qb_agent_read, qb_agent_write;
analyze customers;
`;

const CUSTOMER_STAR = { 2: 'email', 3: 'last4', 4: 'redact' };

export const MASKED_CASES: EvasionCase[] = [
  { sql: 'select email from customers', masked: { 0: 'email' }, why: 'plain column' },
  { sql: 'select email as e from customers', masked: { 0: 'email' }, why: 'alias' },
  { sql: 'select c.email as contact, c.name from customers c', masked: { 0: 'email' }, why: 'table alias and column alias' },
  { sql: 'select "EMAIL" from (select email as "EMAIL" from customers) x', masked: { 0: 'email' }, why: 'quoted alias through a sub-query' },
  { sql: 'select upper(email) from customers', masked: { 0: 'redact' }, why: 'function' },
  { sql: 'select reverse(card_number) from customers', masked: { 0: 'redact' }, why: 'reversal (last4 would show the first digits)' },
  { sql: "select 'x' || ssn from customers", masked: { 0: 'redact' }, why: 'concatenation operator' },
  { sql: 'select card_number::text from customers', masked: { 0: 'last4' }, why: 'cast to text keeps the value' },
  { sql: 'select cast(card_number as varchar(40)) from customers', masked: { 0: 'redact' }, why: 'cast with a length' },
  { sql: "select encode(convert_to(card_number, 'UTF8'), 'hex') from customers", masked: { 0: 'redact' }, why: 'hex encoding' },
  { sql: 'select md5(ssn) from customers', masked: { 0: 'redact' }, why: 'hash function' },
  { sql: 'select case when id = 1 then email else name end from customers', masked: { 0: 'redact' }, why: 'CASE result' },
  { sql: 'select max(card_number) from customers', masked: { 0: 'redact' }, why: 'aggregate' },
  { sql: "select string_agg(email, ',') from customers", masked: { 0: 'redact' }, why: 'string_agg' },
  { sql: 'select array_agg(ssn) from customers', masked: { 0: 'redact' }, why: 'array_agg' },
  { sql: 'select (select email from customers order by id limit 1)', masked: { 0: 'email' }, why: 'scalar sub-query' },
  { sql: 'select x from (select ssn as x from customers) s', masked: { 0: 'redact' }, why: 'sub-query in FROM' },
  { sql: 'with c as (select card_number from customers) select * from c', masked: { 0: 'last4' }, why: 'CTE' },
  { sql: 'select l.v from customers c, lateral (select c.ssn as v) l', masked: { 0: 'redact' }, why: 'LATERAL' },
  { sql: 'select name from customers union all select email from customers', masked: { 0: 'email' }, why: 'UNION ALL arm' },
  { sql: 'select email from customers union all select ssn from customers', masked: { 0: 'redact' }, why: 'UNION ALL of two masked columns' },
  { sql: 'select t from customers t', masked: { 0: 'redact' }, why: 'whole-row reference' },
  { sql: 'select row_to_json(t) from customers t', masked: { 0: 'redact' }, why: 'row_to_json(t)' },
  { sql: 'select to_jsonb(t) from customers t', masked: { 0: 'redact' }, why: 'to_jsonb(t)' },
  { sql: 'select json_agg(t) from customers t', masked: { 0: 'redact' }, why: 'json_agg(t)' },
  { sql: 'select to_json(t.*) from customers t', masked: { 0: 'redact' }, why: 't.* inside a function' },
  { sql: 'table customers', masked: CUSTOMER_STAR, why: 'TABLE t' },
  { sql: 'select * from customers', masked: CUSTOMER_STAR, why: 'SELECT *' },
  { sql: 'select c.* from customers c join orders o on o.customer_id = c.id', masked: CUSTOMER_STAR, why: 'c.* over a join' },
  { sql: 'select (t).ssn from customers t', masked: { 0: 'redact' }, why: 'field of a whole row' },
  { sql: 'select * from customer_contacts', masked: { 2: 'email' }, why: 'view column renamed' },
  { sql: 'select digest from customer_digest', masked: { 0: 'redact' }, why: 'view column computed from masked columns' },
  { sql: 'select row(email, name) from customers', masked: { 0: 'redact' }, why: 'ROW constructor' },
  { sql: 'select array[card_number] from customers', masked: { 0: 'redact' }, why: 'ARRAY constructor' },
  { sql: "select coalesce(ssn, 'none') from customers", masked: { 0: 'redact' }, why: 'COALESCE' },
  { sql: "select greatest(ssn, '0') from customers", masked: { 0: 'redact' }, why: 'GREATEST' },
  { sql: "select format('%s', email) from customers", masked: { 0: 'redact' }, why: 'format()' },
  { sql: 'select substr(card_number, 1, 6) from customers', masked: { 0: 'redact' }, why: 'substring' },
  { sql: "select translate(ssn, '0123456789', 'abcdefghij') from customers", masked: { 0: 'redact' }, why: 'character substitution' },
  { sql: 'select ssn is null from customers', masked: { 0: 'redact' }, why: 'NULL test' },
  { sql: 'select length(ssn) from customers', masked: { 0: 'redact' }, why: 'non-text derived value' },
  { sql: 'select lag(email) over (order by id) from customers', masked: { 0: 'redact' }, why: 'window function' },
  { sql: "select jsonb_build_object('e', email) from customers", masked: { 0: 'redact' }, why: 'JSON constructor' },
  { sql: 'select x.e from (select email from customers) x(e)', masked: { 0: 'email' }, why: 'alias column list' },
  { sql: 'select s.ssn from (values (1)) v(a), lateral (select ssn from customers where id = v.a) s', masked: { 0: 'redact' }, why: 'VALUES with LATERAL' },
  { sql: 'with recursive r(n, s) as (select 1, ssn from customers where id = 1 union all select n + 1, s from r where n < 2) select s from r', masked: { 0: 'redact' }, why: 'recursive CTE' },
  { sql: 'select xmlelement(name x, email) from customers', masked: { 0: 'redact' }, why: 'XML constructor' },
  { sql: "select (select string_agg(ssn, '') from customers c2 where c2.id = c.id) from customers c", masked: { 0: 'redact' }, why: 'correlated sub-query' },
  { sql: 'select my_func(id) from customers', masked: { 0: 'redact' }, why: 'user function (lineage unknown: fail closed)' },
  { sql: 'select histogram_bounds::text from pg_stats', masked: { 0: 'redact' }, why: 'statistics views hold column values' },
  { sql: 'select name, country from customers', masked: {}, why: 'clear columns stay clear' },
  { sql: 'select email from customers order by id', masked: { 0: 'email' }, why: 'ordering by a clear column' },
  { sql: 'select count(ssn), count(*), count(card_number) from customers', masked: {}, why: 'counting a column\'s own values reveals none' },
  { sql: 'select ssn collate "C" from customers', masked: { 0: 'redact' }, why: 'COLLATE' },
  { sql: 'select (array[ssn])[1] from customers', masked: { 0: 'redact' }, why: 'array subscript' },
  { sql: "select ssn, 'a' as ssn2 from customers", masked: { 0: 'redact' }, why: 'constant column beside a masked one' },
  { sql: 'select s from customers c(i, n, e, k, s)', masked: { 0: 'redact' }, why: 'table alias with a column list' },
  { sql: 'select o.id, x.email from orders o join lateral (select email from customers c where c.id = o.customer_id) x on true', masked: { 1: 'email' }, why: 'JOIN LATERAL' },
  { sql: 'select * from customers c join orders o using (id)', masked: CUSTOMER_STAR, why: 'JOIN USING column order' },
  // count() of a derived value: NULL iff a guess fails, so the count is masked (F2)
  { sql: "select count(x) from (select substring(ssn from '^123-45') x from customers where id = 1) s", masked: { 0: 'redact' }, why: 'count of a derived sub-query column' },
  { sql: 'select count(upper(email)) from customers', masked: { 0: 'redact' }, why: 'count of a function of the value' },
  // total functions and comparisons: allowed, masked as outputs (F4)
  { sql: "select regexp_match(card_number, '^4') from customers", masked: { 0: 'redact' }, why: 'regexp_match with the value as the string' },
  { sql: 'select ascii(substr(card_number, 1, 1)) from customers', masked: { 0: 'redact' }, why: 'total functions chained' },
  { sql: 'select length(ssn) > 5, ssn like \'1%\', ssn ~ \'^1\' from customers', masked: { 0: 'redact', 1: 'redact', 2: 'redact' }, why: 'comparisons and patterns in the select list' },
  { sql: "select jsonb_build_object('e', email), to_jsonb(t) ->> 'ssn' from customers t", masked: { 0: 'redact', 1: 'redact' }, why: 'JSON values and field access' },
  { sql: "select concat_ws('-', ssn, name), lpad(ssn, 20, '*'), split_part(email, '@', 2) from customers", masked: { 0: 'redact', 1: 'redact', 2: 'redact' }, why: 'text functions on the string argument' },
  { sql: 'select id, name, email, card_number from customers', masked: { 2: 'email', 3: 'last4' }, why: 'an ordinary read' },
  { sql: "select c.name, sum(o.amount_cents) * 2, max(o.amount_cents) - 1 from customers c join orders o on o.customer_id = c.id where c.country = 'GB' group by c.name", masked: {}, why: 'arithmetic, joins and aggregates on clear columns' },
];

export const REFUSED_CASES: EvasionCase[] = [
  { sql: "select id from customers where ssn like '9%'", refused: 'masked_column_in_predicate', why: 'WHERE' },
  { sql: "select id from customers where 1/(case when ssn like '9%' then 0 else 1 end) = 1", refused: 'masked_column_in_predicate', why: 'error oracle in WHERE' },
  { sql: "select 1/(case when ssn like '9%' then 0 else 1 end) from customers", refused: 'masked_column_in_predicate', why: 'error oracle in the select list' },
  { sql: 'select id from customers order by ssn', refused: 'masked_column_in_predicate', why: 'ORDER BY' },
  { sql: 'select ssn from customers order by 1', refused: 'masked_column_in_predicate', why: 'ORDER BY position' },
  { sql: 'select ssn as s from customers order by s', refused: 'masked_column_in_predicate', why: 'ORDER BY output alias' },
  { sql: 'select count(*) from customers group by email', refused: 'masked_column_in_predicate', why: 'GROUP BY' },
  { sql: 'select card_number, count(*) from customers group by 1', refused: 'masked_column_in_predicate', why: 'GROUP BY position' },
  { sql: "select count(*) from customers having max(ssn) > '5'", refused: 'masked_column_in_predicate', why: 'HAVING' },
  { sql: 'select c.id from customers c join customers d on c.ssn = d.ssn', refused: 'masked_column_in_predicate', why: 'JOIN ON' },
  { sql: 'select c.id from customers c join customers d using (email)', refused: 'masked_column_in_predicate', why: 'JOIN USING' },
  { sql: "select count(*) filter (where ssn like '1%') from customers", refused: 'masked_column_in_predicate', why: 'aggregate FILTER' },
  { sql: 'select row_number() over (order by card_number) from customers', refused: 'masked_column_in_predicate', why: 'window ORDER BY' },
  { sql: "select string_agg(name, ',' order by ssn) from customers", refused: 'masked_column_in_predicate', why: 'ORDER BY inside an aggregate' },
  { sql: 'select distinct ssn from customers', refused: 'masked_column_in_predicate', why: 'DISTINCT' },
  { sql: "select ssn from customers union select '123-45-6789'", refused: 'masked_column_in_predicate', why: 'UNION compares rows' },
  { sql: "select email from customers intersect select 'ada@example.com'", refused: 'masked_column_in_predicate', why: 'INTERSECT' },
  { sql: "select nullif(ssn, '123-45-6789') from customers", refused: 'masked_column_in_predicate', why: 'NULLIF' },
  { sql: 'select card_number::bigint from customers', refused: 'masked_column_in_predicate', why: 'failing cast' },
  { sql: "select id from customers where exists (select 1 from customers c2 where c2.ssn = '123-45-6789')", refused: 'masked_column_in_predicate', why: 'WHERE inside EXISTS' },
  { sql: 'select id from customers where id in (select id from customers order by ssn limit 1)', refused: 'masked_column_in_predicate', why: 'ORDER BY in a sub-query' },
  { sql: "select id from customers where (select ssn from customers limit 1) > '5'", refused: 'masked_column_in_predicate', why: 'scalar sub-query in WHERE' },
  { sql: "select unnest(string_to_array(ssn, '-')) from customers", refused: 'masked_column_in_predicate', why: 'set-returning function in the select list' },
  { sql: "select p from customers, lateral regexp_split_to_table(ssn, '-') p", refused: 'masked_column_in_predicate', why: 'set-returning function in FROM' },
  { sql: 'select id from customers limit (select length(ssn) from customers limit 1)', refused: 'masked_column_in_predicate', why: 'LIMIT' },
  { sql: 'select 1/(ascii(ssn) - 49) from customers', refused: 'masked_column_in_predicate', why: 'division by zero oracle' },
  { sql: "select ssn like '1%' and 1/(id - id) = 1 from customers", refused: 'masked_column_in_predicate', why: 'AND short-circuit oracle' },
  { sql: "select id from (select id, ssn from customers) s where s.ssn > '5'", refused: 'masked_column_in_predicate', why: 'WHERE on a sub-query column' },
  { sql: "with x as (select ssn from customers) select 1 from x where ssn > '5'", refused: 'masked_column_in_predicate', why: 'WHERE on a CTE column' },
  { sql: "select id from customer_contacts where contact like 'a%'", refused: 'masked_column_in_predicate', why: 'WHERE on a view column' },
  { sql: "select count(*) from customers t where t::text like '%4111%'", refused: 'masked_column_in_predicate', why: 'WHERE on the whole row' },
  { sql: 'select int8(card_number) from customers', refused: 'masked_column_in_predicate', why: 'function-style cast' },
  { sql: "select id from customers where my_func(id) like '1%'", refused: 'masked_column_in_predicate', why: 'user function in WHERE (lineage unknown)' },
  { sql: 'select rank() over (partition by email order by id) from customers', refused: 'masked_column_in_predicate', why: 'PARTITION BY' },
  { sql: 'select distinct on (ssn) id from customers', refused: 'masked_column_in_predicate', why: 'DISTINCT ON' },
  { sql: 'select * from customers c natural join customers d', refused: 'masked_column_in_predicate', why: 'NATURAL JOIN compares every column' },
  { sql: "select id from customers where row_to_json(customers)::text like '%ada%'", refused: 'masked_column_in_predicate', why: 'WHERE on row_to_json' },
  { sql: "select email from customers except select 'ada@example.com'", refused: 'masked_column_in_predicate', why: 'EXCEPT' },
  { sql: 'update customers set name = ssn where id = 1', refused: 'masked_column_in_write', why: 'copying a masked value into a clear column' },
  { sql: 'insert into orders (customer_id, amount_cents, status) select id, 1, email from customers', refused: 'masked_column_in_write', why: 'INSERT … SELECT of a masked value' },
  { sql: "delete from customers where ssn = '123-45-6789'", refused: 'masked_column_in_predicate', why: 'DELETE … WHERE (affected rows reveal it)' },
  // DISTINCT inside an aggregate compares values (F2)
  { sql: 'select count(distinct email) from customers', refused: 'masked_column_in_predicate', why: 'count(DISTINCT) of a masked column' },
  { sql: "select count(distinct x) from (select ssn x from customers where id = 1 union all select '123-45-6789') s", refused: 'masked_column_in_predicate', why: 'count(DISTINCT) of a UNION ALL with a guess' },
  // anything that can fail on a value derived from a masked column (F4)
  { sql: 'select sqrt(ascii(substr(card_number, 1, 1)) - 52) from customers where id = 1', refused: 'masked_column_in_fallible_expression', why: 'sqrt of a negative' },
  { sql: 'select (ascii(substr(card_number, 1, 1)) - 48) * 1000000000 from customers where id = 1', refused: 'masked_column_in_fallible_expression', why: 'integer overflow' },
  { sql: 'select length(ssn) + 1 from customers', refused: 'masked_column_in_fallible_expression', why: 'any arithmetic on a derived value' },
  { sql: 'select -ascii(ssn) from customers', refused: 'masked_column_in_fallible_expression', why: 'prefix operator' },
  { sql: "select email operator(public.||) 'x' from customers", refused: 'masked_column_in_fallible_expression', why: 'a concatenation operator that is not the server’s own' },
  { sql: "select card_number operator(public.=) any (select 'x') from customers", refused: 'masked_column_in_fallible_expression', why: 'a sub-query comparison with an operator that is not the server’s own' },
  { sql: "select get_bit('\\x00'::bytea, ascii(substr(ssn, 1, 1))) from customers where id = 1", refused: 'masked_column_in_fallible_expression', why: 'get_bit index out of range' },
  { sql: 'select make_date(2000, 1, ascii(substr(card_number, 1, 1))) from customers where id = 1', refused: 'masked_column_in_fallible_expression', why: 'date constructor' },
  { sql: "select repeat('x', length(ssn)) from customers", refused: 'masked_column_in_fallible_expression', why: 'function off the allow-list' },
  { sql: "select lpad('x', ascii(ssn)) from customers", refused: 'masked_column_in_fallible_expression', why: 'masked length argument' },
  { sql: "select regexp_match('x', ssn) from customers", refused: 'masked_column_in_fallible_expression', why: 'masked regular expression pattern' },
  { sql: "select 'abc' ~ ssn, 'abc' like email from customers", refused: 'masked_column_in_fallible_expression', why: 'masked pattern operand' },
  { sql: "select format('%I', email) from customers", refused: 'masked_column_in_fallible_expression', why: 'format %I fails on NULL' },
  { sql: 'select json_build_object(email, 1) from customers', refused: 'masked_column_in_fallible_expression', why: 'masked JSON object key' },
  { sql: "select convert_to(email, 'LATIN1') from customers", refused: 'masked_column_in_fallible_expression', why: 'conversion to an encoding that can fail' },
  { sql: 'select xmlparse(content email) from customers', refused: 'masked_column_in_fallible_expression', why: 'XML parse' },
  { sql: 'select sum(length(ssn)) from customers', refused: 'masked_column_in_fallible_expression', why: 'arithmetic aggregate' },
  { sql: 'select percentile_cont(0.5) within group (order by length(ssn)) from customers', refused: 'masked_column_in_fallible_expression', why: 'interpolating ordered-set aggregate' },
  { sql: "select current_setting(replace(substr(ssn, 1, 1), '1', 'work_mem')) from customers where id = 1", refused: 'masked_column_in_fallible_expression', why: 'setting look-up of a derived name' },
  { sql: 'select my_func(length(ssn)) from customers', refused: 'masked_column_in_fallible_expression', why: 'user function given a masked value' },
];

export const EVASION_CASES: EvasionCase[] = [...MASKED_CASES, ...REFUSED_CASES];
