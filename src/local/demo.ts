import pg from 'pg';
import type { PolicyConfig } from '../policy/schema.js';

/** Name of the login role the broker uses for the demo connection, and where its URL lives. */
export const DEMO_BROKER_ROLE = 'qb_broker';
export const DEMO_CONNECTION_ENV = 'QB_SALES_DATABASE_URL';

/**
 * Demo schema and data: customers with planted PII (emails, card numbers that pass Luhn, SSNs),
 * orders, and the least-privilege roles README recommends (qb_agent_read, qb_agent_write) behind a
 * NOINHERIT login role that holds no privilege of its own.
 */
export function demoSeedSql(brokerPassword: string, brokerRole: string = DEMO_BROKER_ROLE): string {
  const pw = brokerPassword.replace(/'/g, "''");
  const role = pg.escapeIdentifier(brokerRole);
  return `
create table customers (
  id serial primary key,
  name text not null,
  email text not null,
  card_number text not null,
  ssn text not null,
  country text not null default 'US',
  created_at timestamptz not null default now()
);
create table orders (
  id serial primary key,
  customer_id int not null references customers(id),
  amount_cents int not null,
  status text not null default 'open',
  created_at timestamptz not null default now()
);
insert into customers (name, email, card_number, ssn, country) values
  ('Ada Lovelace',  'ada@example.com',   '4111111111111111', '123-45-6789', 'GB'),
  ('Alan Turing',   'alan@example.org',  '5500005555555559', '234-56-7890', 'GB'),
  ('Grace Hopper',  'grace@example.net', '340000000000009',  '345-67-8901', 'US'),
  ('Edsger Dijkstra','edsger@example.nl','6011000990139424', '456-78-9012', 'NL'),
  ('Barbara Liskov','barbara@example.com','4012888888881881','567-89-0123', 'US');
insert into orders (customer_id, amount_cents, status)
  select 1 + (g % 5), 100 * g, case when g % 3 = 0 then 'shipped' else 'open' end
  from generate_series(1, 50) g;

do $$ begin
  if not exists (select 1 from pg_roles where rolname = 'qb_agent_read') then create role qb_agent_read nologin; end if;
  if not exists (select 1 from pg_roles where rolname = 'qb_agent_write') then create role qb_agent_write nologin; end if;
  if not exists (select 1 from pg_roles where rolname = ${pg.escapeLiteral(brokerRole)}) then
    create role ${role} login noinherit password '${pw}';
  else
    alter role ${role} login noinherit password '${pw}';
  end if;
end $$;
grant usage on schema public to qb_agent_read, qb_agent_write;
grant select on all tables in schema public to qb_agent_read, qb_agent_write;
grant insert, update, delete on all tables in schema public to qb_agent_write;
grant usage on all sequences in schema public to qb_agent_write;
grant qb_agent_read, qb_agent_write to ${role};
revoke create on schema public from public;
analyze;
`;
}

/** The shared, cluster-wide agent roles (created once, before any database is seeded). */
export async function ensureDemoRoles(adminUrl: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`do $$ begin
      if not exists (select 1 from pg_roles where rolname = 'qb_agent_read') then create role qb_agent_read nologin; end if;
      if not exists (select 1 from pg_roles where rolname = 'qb_agent_write') then create role qb_agent_write nologin; end if;
    end $$`);
  } finally {
    await admin.end();
  }
}

/** Create `database` on the server at `adminUrl` and seed it; returns the broker's connection URL. */
export async function seedDemoDatabase(adminUrl: string, database: string, brokerPassword: string, brokerRole: string = DEMO_BROKER_ROLE): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${pg.escapeIdentifier(database)}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  const db = new pg.Client({ connectionString: url.toString() });
  await db.connect();
  try {
    await db.query(demoSeedSql(brokerPassword, brokerRole));
  } finally {
    await db.end();
  }
  const broker = new URL(url.toString());
  broker.username = brokerRole;
  broker.password = brokerPassword;
  return broker.toString();
}

/** The built-in demo policy used by `npm start` without `QB_CONFIG`. */
export function demoPolicy(): unknown {
  return {
    audience: 'api://query-broker',
    connections: {
      sales: { engine: 'postgres', credentials: { env: DEMO_CONNECTION_ENV } },
    },
    profiles: {
      'agent-read': {
        match: { roles: ['Query.Read'] },
        connections: ['sales'],
        access: 'read',
        dbRole: 'qb_agent_read',
        maxRows: 1000,
        statementTimeoutMs: 5000,
      },
      'agent-write': {
        match: { roles: ['Query.Write'] },
        connections: ['sales'],
        access: 'write',
        dbRole: 'qb_agent_write',
        approval: { approvers: { roles: ['Query.Approve'] }, estimatedRowsOver: 10, expiresAfterMinutes: 60 },
      },
    },
    masking: {
      rules: [
        { column: 'public.customers.email', with: 'email' },
        { column: 'public.customers.card_number', with: 'last4' },
        { column: 'public.customers.ssn', with: 'redact' },
      ],
      exempt: { roles: ['PII.Read'] },
      detectors: ['pan', 'email', 'ssn', 'secrets'],
    },
    auditors: { roles: ['Audit.Read'] },
  } satisfies Record<string, unknown> as unknown as PolicyConfig;
}
