/**
 * The MySQL demo of `npm start`: with `QB_MYSQL_URL` (mysql://user:password@host:port/database of
 * an existing MySQL 8 or MariaDB server) the demo policy gains a connection `shop` (engine mysql)
 * over that database, seeded with the same customers and orders as the PostgreSQL demo when the
 * tables are absent. PostgreSQL stays the default connection.
 */
import mysql from 'mysql2/promise';

/** The environment variable naming the demo server, and the connection it becomes. */
export const DEMO_MYSQL_ENV = 'QB_MYSQL_URL';
export const DEMO_MYSQL_CONNECTION = 'shop';

/** The PostgreSQL demo's customers (planted PII: Luhn-valid cards, SSNs, e-mails). */
const CUSTOMERS: readonly (readonly [string, string, string, string, string])[] = [
  ['Ada Lovelace', 'ada@example.com', '4111111111111111', '123-45-6789', 'GB'],
  ['Alan Turing', 'alan@example.org', '5500005555555559', '234-56-7890', 'GB'],
  ['Grace Hopper', 'grace@example.net', '340000000000009', '345-67-8901', 'US'],
  ['Edsger Dijkstra', 'edsger@example.nl', '6011000990139424', '456-78-9012', 'NL'],
  ['Barbara Liskov', 'barbara@example.com', '4012888888881881', '567-89-0123', 'US'],
];

/** Tables of the demo, in MySQL's dialect (MySQL 8 and MariaDB alike); created only when absent. */
const TABLES = [
  `create table if not exists customers (
    id int auto_increment primary key,
    name varchar(100) not null,
    email varchar(255) not null,
    card_number varchar(32) not null,
    ssn varchar(16) not null,
    country char(2) not null default 'US',
    created_at timestamp not null default current_timestamp
  ) engine=InnoDB`,
  `create table if not exists orders (
    id int auto_increment primary key,
    customer_id int not null,
    amount_cents int not null,
    status varchar(20) not null default 'open',
    created_at timestamp not null default current_timestamp,
    constraint orders_customer_fk foreign key (customer_id) references customers(id)
  ) engine=InnoDB`,
];

export interface MysqlDemo {
  /** the database the URL names (the masking rules' schema) */
  database: string;
  host: string;
  port: number;
  /** false when the tables already held rows (nothing was inserted) */
  seeded: boolean;
}

/** The database a mysql:// URL names; the demo needs one. The error never repeats the URL (it holds a password). */
export function mysqlDemoDatabase(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`${DEMO_MYSQL_ENV} is not a valid URL; expected mysql://user:password@host:3306/database.`);
  }
  if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:') throw new Error(`${DEMO_MYSQL_ENV} must be a mysql:// URL.`);
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (database === '') throw new Error(`${DEMO_MYSQL_ENV} must name a database (mysql://user:password@host:3306/database).`);
  return database;
}

/** Create the demo tables in the URL's database when absent, and fill them when empty. */
export async function seedMysqlDemo(url: string): Promise<MysqlDemo> {
  const database = mysqlDemoDatabase(url);
  const u = new URL(url);
  const c = await mysql.createConnection({ uri: url, multipleStatements: false });
  try {
    for (const sql of TABLES) await c.query(sql);
    const [rows] = await c.query<mysql.RowDataPacket[]>('select count(*) as n from customers');
    const empty = Number(rows[0]!.n) === 0;
    if (empty) {
      await c.beginTransaction();
      await c.query('insert into customers (name, email, card_number, ssn, country) values ?', [CUSTOMERS.map((r) => [...r])]);
      const [ids] = await c.query<mysql.RowDataPacket[]>('select id from customers order by id');
      const customerIds = ids.map((r) => Number(r.id));
      const orders: [number, number, string][] = [];
      for (let g = 1; g <= 50; g++) orders.push([customerIds[g % customerIds.length]!, 100 * g, g % 3 === 0 ? 'shipped' : 'open']);
      await c.query('insert into orders (customer_id, amount_cents, status) values ?', [orders]);
      await c.commit();
    }
    return { database, host: u.hostname, port: u.port === '' ? 3306 : Number(u.port), seeded: empty };
  } finally {
    await c.end();
  }
}

/** The parts of the raw (not yet validated) demo policy the MySQL demo edits. */
export interface RawDemoPolicy {
  connections: Record<string, unknown>;
  profiles: Record<string, { connections: string[]; dbRole?: string } | undefined>;
  masking: { rules: { column: string; with: string }[] };
}

/** What `addMysqlDemoConnection` gives the `shop` connection's profiles. */
export interface MysqlDemoOptions {
  /**
   * true: `shop` joins the demo's agent-read and agent-write profiles and runs with their `dbRole`s
   * (`SET ROLE qb_agent_read` …), which must exist on the server and be granted to the login user.
   * false (the default, `npm start`): `shop` has profiles of its own without a `dbRole`, so the demo
   * works with any account that may create tables: statements run as the URL's user, reads in READ
   * ONLY transactions. README "MySQL and MariaDB" shows the roles a deployment should use.
   */
  dbRoles?: boolean;
}

/**
 * Add the `shop` connection (credentials: the URL in `envName`) to a raw demo policy: the demo's
 * read and write identities may use it, and its customers' PII is masked as on PostgreSQL.
 */
export function addMysqlDemoConnection(policy: RawDemoPolicy, database: string, envName: string = DEMO_MYSQL_ENV, options: MysqlDemoOptions = {}): void {
  policy.connections[DEMO_MYSQL_CONNECTION] = { engine: 'mysql', credentials: { env: envName } };
  for (const [name, own] of [['agent-read', 'shop-read'], ['agent-write', 'shop-write']] as const) {
    const profile = policy.profiles[name];
    if (!profile) continue;
    if (options.dbRoles === true) {
      if (!profile.connections.includes(DEMO_MYSQL_CONNECTION)) profile.connections.push(DEMO_MYSQL_CONNECTION);
    } else {
      // The same identities and limits, without the PostgreSQL demo's role.
      const { dbRole: _role, ...rest } = profile;
      policy.profiles[own] = { ...rest, connections: [DEMO_MYSQL_CONNECTION] };
    }
  }
  policy.masking.rules.push(
    { column: `${database}.customers.email`, with: 'email' },
    { column: `${database}.customers.card_number`, with: 'last4' },
    { column: `${database}.customers.ssn`, with: 'redact' },
  );
}
