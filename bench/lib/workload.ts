/** The statements the benchmarks send: fixed texts, so every run measures the same work. */

/** One row, four columns, no masked column selected (masked columns are in reach: the table has some). */
export const ONE_ROW_SQL = 'select id, name, country, amount from bench_wide where id = 42';

/** 1,000 rows, five columns: one masked by rule (email), two scanned by the detectors. */
export const THOUSAND_ROWS_SQL = 'select id, name, email, amount, status from bench_wide where id <= 1000 order by id';

/** Every column of the wide table: 100,000 rows × 10 columns (the masking-at-scale figure). */
export const WIDE_SQL = 'select * from bench_wide order by id';

/** A mix of what coding agents typically send (schema look-ups, filters, joins, aggregates, CTEs, windows). */
export const AGENT_QUERY_MIX: readonly string[] = [
  'select id, name, country from customers where id = $1',
  "select count(*) from orders where status = 'open'",
  'select c.name, sum(o.amount_cents) as total from customers c join orders o on o.customer_id = c.id group by c.name order by total desc limit 10',
  "select table_name, column_name, data_type from information_schema.columns where table_schema = 'public' order by table_name, ordinal_position",
  "with recent as (select * from orders where created_at > now() - interval '7 days') select status, count(*) as n from recent group by status",
  'select id, amount_cents, rank() over (partition by customer_id order by amount_cents desc) as r from orders',
  "select * from orders where customer_id in (select id from customers where country = 'GB') limit 50",
  "select date_trunc('day', created_at) as day, count(*) from orders group by 1 order by 1",
  "select o.id, c.email from orders o left join customers c on c.id = o.customer_id where o.status = 'shipped' and o.amount_cents > 1000 order by o.id desc limit 20",
  'select coalesce(max(amount_cents), 0) as max_cents, avg(amount_cents)::numeric(10,2) as avg_cents from orders',
  'select id, name, email, amount, status from bench_wide where id between 100 and 150 order by id',
  "select status, count(*) filter (where amount > 500) as big, count(*) as all_rows from bench_wide where country = 'NL' group by status",
];

export type LoadCategory = 'read' | 'write_refused' | 'parse_error' | 'volatile_refused';

export interface LoadStatement {
  category: LoadCategory;
  sql: string;
  params: unknown[];
}

/** Reads an agent with a read profile may run (a masked column in one of them). */
const READS: ((r: () => number) => LoadStatement)[] = [
  (r) => ({ category: 'read', sql: 'select id, name, country from customers where id = $1', params: [1 + Math.floor(r() * 5)] }),
  () => ({ category: 'read', sql: 'select count(*)::int as n from orders where status = $1', params: ['open'] }),
  () => ({ category: 'read', sql: 'select id, name, card_number from customers order by id', params: [] }),
  (r) => {
    const from = 1 + Math.floor(r() * 99_000);
    return { category: 'read', sql: 'select id, amount, status from bench_wide where id >= $1 and id < $2 order by id', params: [from, from + 20] };
  },
  () => ({ category: 'read', sql: 'select c.country, count(*)::int as orders from customers c join orders o on o.customer_id = c.id group by c.country order by 1', params: [] }),
];

const WRITES: string[] = [
  "update orders set status = 'hacked' where id = 1",
  'delete from orders where id = 2',
  'insert into orders (customer_id, amount_cents) values (1, 1)',
];

const PARSE_ERRORS: string[] = ['selec id from orders', 'select from where', "select 'unterminated from orders"];

const VOLATILE: string[] = ["select nextval('orders_id_seq')", 'select pg_sleep(1)', "select setval('orders_id_seq', 1)"];

function pick<T>(items: readonly T[], r: () => number): T {
  return items[Math.floor(r() * items.length)]!;
}

/** 70 % reads, 10 % each of writes on a read profile, parse errors and volatile functions. */
export function nextLoadStatement(r: () => number): LoadStatement {
  const x = r();
  if (x < 0.7) return pick(READS, r)(r);
  if (x < 0.8) return { category: 'write_refused', sql: pick(WRITES, r), params: [] };
  if (x < 0.9) return { category: 'parse_error', sql: pick(PARSE_ERRORS, r), params: [] };
  return { category: 'volatile_refused', sql: pick(VOLATILE, r), params: [] };
}

/** The HTTP status and reason codes a category must get, and the audit events it must leave. */
export const EXPECTED: Record<LoadCategory, { status: number; codes: string[]; events: number }> = {
  read: { status: 200, codes: [], events: 3 },
  write_refused: { status: 403, codes: ['write_on_read_only_profile'], events: 2 },
  parse_error: { status: 400, codes: ['sql_parse_error'], events: 2 },
  volatile_refused: { status: 403, codes: ['volatile_function'], events: 2 },
};
