/**
 * `qb doctor`: every dependency the deployed broker needs, one line each with a fix. Checks that
 * need an Azure service the environment does not name say "skipped: not configured"; nothing here
 * changes data except one probe blob per run in the audit container (which WORM then keeps).
 */
import { randomBytes } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import type { SecretProvider } from '../broker/ports.js';
import type { ConnectionConfig, PolicyConfig } from '../policy/schema.js';
import { connectWithCredentials, createConnectionCredentials, type ConnectionCredentialsDeps, type EntraTokenFunction } from '../db/credentials.js';
import { openMysqlSession, type MysqlSession } from '../engine/mysql/session.js';

export type DoctorStatus = 'ok' | 'fail' | 'skipped';

export interface DoctorLine {
  check: string;
  status: DoctorStatus;
  detail: string;
  /** what to do when it is not ok */
  fix?: string;
}

export interface DoctorDeps {
  policy: PolicyConfig;
  /** the audit container (Azure: endpoint + identity; locally Azurite) */
  audit: ContainerClient;
  /** true when the audit container is Azure Storage proper (WORM is checked), false for Azurite */
  auditIsAzure: boolean;
  secrets: SecretProvider;
  entraToken?: EntraTokenFunction;
  /** QB_KEY_VAULT_URL */
  keyVaultUrl?: string;
  /** QB_TEAMS_WEBHOOK_SECRET */
  teamsWebhookSecret?: string;
  /** Service Bus: the namespace and a function that opens a sender link and closes it (Send permission) */
  serviceBus?: { namespace: string; probe: () => Promise<void> };
  /** the local dev issuer replaces Entra ID (func start / npm start) */
  devIssuer?: boolean;
  fetch?: typeof fetch;
  now?: () => number;
  /** where `credentials.env` connection URLs are read; default process.env */
  env?: NodeJS.ProcessEnv;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]?.slice(0, 300) ?? '';
const statusOf = (e: unknown): number | undefined => (typeof e === 'object' && e !== null && 'statusCode' in e ? Number((e as { statusCode: unknown }).statusCode) : undefined);

async function entra(deps: DoctorDeps, skew: { serverDate?: number }): Promise<DoctorLine[]> {
  if (deps.devIssuer || !deps.policy.tenant) {
    return [{ check: 'entra', status: 'skipped', detail: 'skipped: not configured (no tenant in the policy, or the local dev issuer)' }];
  }
  const f = deps.fetch ?? fetch;
  const base = `https://login.microsoftonline.com/${deps.policy.tenant}`;
  try {
    const meta = await f(`${base}/v2.0/.well-known/openid-configuration`, { signal: AbortSignal.timeout(10_000) });
    const date = meta.headers.get('date');
    if (date) skew.serverDate = Date.parse(date);
    if (!meta.ok) throw new Error(`metadata answered ${meta.status}`);
    const jwks = await f(`${base}/discovery/v2.0/keys`, { signal: AbortSignal.timeout(10_000) });
    const keys = jwks.ok ? ((await jwks.json()) as { keys?: unknown[] }).keys ?? [] : [];
    if (keys.length === 0) throw new Error(`JWKS answered ${jwks.status} with no keys`);
    return [{ check: 'entra', status: 'ok', detail: `metadata and JWKS of tenant ${deps.policy.tenant} reachable (${keys.length} signing keys)` }];
  } catch (e) {
    return [{ check: 'entra', status: 'fail', detail: message(e), fix: 'Allow outbound HTTPS to login.microsoftonline.com (NAT gateway / firewall), and check `tenant` in qb.yaml.' }];
  }
}

async function audit(deps: DoctorDeps, skew: { serverDate?: number }): Promise<DoctorLine[]> {
  const lines: DoctorLine[] = [];
  const blob = deps.audit.getAppendBlobClient(`doctor/${new Date().toISOString().slice(0, 10)}-${randomBytes(6).toString('hex')}`);
  try {
    await deps.audit.createIfNotExists();
    await blob.create();
    const appended = await blob.appendBlock('doctor probe\n', 13);
    if (appended.date) skew.serverDate ??= appended.date.getTime();
    lines.push({ check: 'audit.append', status: 'ok', detail: `created and appended ${deps.audit.containerName}/${blob.name}` });
  } catch (e) {
    return [{ check: 'audit.append', status: 'fail', detail: message(e), fix: 'Give the managed identity Storage Blob Data Contributor on the audit container; with version-level immutability an append blob refuses appends: use a container with a container-level retention policy (docs/deploy.md).' }];
  }
  if (!deps.auditIsAzure) {
    lines.push({ check: 'audit.worm', status: 'skipped', detail: 'skipped: not configured (Azurite has no immutability policies)' });
    await blob.deleteIfExists().catch(() => undefined);
    return lines;
  }
  const refused: string[] = [];
  const allowed: string[] = [];
  try {
    await deps.audit.getBlockBlobClient(blob.name).upload('overwritten', 11);
    allowed.push('overwrite');
  } catch (e) {
    refused.push(`overwrite (${statusOf(e) ?? 'refused'})`);
  }
  try {
    await blob.delete();
    allowed.push('delete');
  } catch (e) {
    refused.push(`delete (${statusOf(e) ?? 'refused'})`);
  }
  lines.push(
    allowed.length === 0
      ? { check: 'audit.worm', status: 'ok', detail: `WORM on: ${refused.join(', ')} refused` }
      : { check: 'audit.worm', status: 'fail', detail: `the audit container allowed ${allowed.join(' and ')}`, fix: 'Deploy infra/app/storage-audit.bicep (container-level time-based retention) and lock it (docs/deploy.md).' },
  );
  return lines;
}

/** Every secret name the policy and settings refer to, with who needs it. */
function secretNames(deps: DoctorDeps): Map<string, string> {
  const names = new Map<string, string>();
  for (const [name, c] of Object.entries(deps.policy.connections)) {
    if (c.credentials.keyVaultSecret) names.set(c.credentials.keyVaultSecret, `connection ${name}`);
    if (c.admin?.credentials.keyVaultSecret) names.set(c.admin.credentials.keyVaultSecret, `connection ${name} (admin)`);
  }
  if (deps.policy.masking.hashKeySecret) names.set(deps.policy.masking.hashKeySecret, 'masking hash key');
  if (deps.teamsWebhookSecret) names.set(deps.teamsWebhookSecret, 'Teams webhook');
  return names;
}

async function keyVault(deps: DoctorDeps): Promise<DoctorLine[]> {
  if (!deps.keyVaultUrl) return [{ check: 'keyvault', status: 'skipped', detail: 'skipped: not configured (QB_KEY_VAULT_URL empty; secrets come from environment variables)' }];
  const names = secretNames(deps);
  if (names.size === 0) return [{ check: 'keyvault', status: 'ok', detail: 'no secret referenced' }];
  const out: DoctorLine[] = [];
  for (const [name, user] of names) {
    try {
      await deps.secrets.getSecret(name);
      out.push({ check: `keyvault.${name}`, status: 'ok', detail: `readable (${user})` });
    } catch (e) {
      out.push({ check: `keyvault.${name}`, status: 'fail', detail: message(e), fix: `az keyvault secret set --vault-name <vault> --name ${name} --value ...; the identity needs Key Vault Secrets User.` });
    }
  }
  return out;
}

async function connections(deps: DoctorDeps): Promise<DoctorLine[]> {
  const out: DoctorLine[] = [];
  const names = Object.keys(deps.policy.connections);
  if (names.length === 0) return [{ check: 'connections', status: 'fail', detail: 'the policy has no connection', fix: 'Add a connection and profiles to qb.yaml (README: "Configuration: the policy file"), then azd deploy.' }];
  for (const name of names) {
    const conn = deps.policy.connections[name]!;
    const credentialDeps = { secrets: deps.secrets, name, ...(deps.env ? { env: deps.env } : {}), ...(deps.entraToken ? { entraToken: deps.entraToken } : {}) };
    if (conn.engine === 'mysql') {
      out.push(...(await mysqlConnection(deps, name, conn, credentialDeps)));
      continue;
    }
    const creds = createConnectionCredentials(conn, credentialDeps);
    let client;
    try {
      client = await connectWithCredentials(creds, { applicationName: 'qb-doctor', connectionTimeoutMillis: 10_000 });
      const who = (await client.query<{ u: string }>('select current_user as u')).rows[0]?.u ?? '?';
      out.push({ check: `connection.${name}`, status: 'ok', detail: `reachable as ${who}` });
    } catch (e) {
      out.push({ check: `connection.${name}`, status: 'fail', detail: message(e), fix: 'Check host, firewall / private networking, and the login role\'s password (Key Vault secret) or Entra role.' });
      continue;
    }
    try {
      for (const [profileName, profile] of Object.entries(deps.policy.profiles)) {
        if (!profile.connections.includes(name) || !profile.dbRole) continue;
        try {
          await client.query('begin');
          await client.query(`set local role ${client.escapeIdentifier(profile.dbRole)}`);
          out.push({ check: `connection.${name}.${profileName}`, status: 'ok', detail: `SET ROLE ${profile.dbRole} works` });
        } catch (e) {
          out.push({ check: `connection.${name}.${profileName}`, status: 'fail', detail: message(e), fix: `GRANT ${profile.dbRole} TO <login role>; (README: "Least-privilege database roles")` });
        } finally {
          await client.query('rollback').catch(() => undefined);
        }
      }
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return out;
}

/** A MySQL / MariaDB connection: log in with its credentials, then `SET ROLE` each profile's dbRole. */
async function mysqlConnection(deps: DoctorDeps, name: string, conn: ConnectionConfig, credentialDeps: ConnectionCredentialsDeps): Promise<DoctorLine[]> {
  const out: DoctorLine[] = [];
  let session: MysqlSession;
  let who: string;
  try {
    session = await openMysqlSession(conn, credentialDeps, `the login user of the connection "${name}"`);
  } catch (e) {
    return [{ check: `connection.${name}`, status: 'fail', detail: message(e), fix: "Check host, firewall / private networking, and the login user's password (Key Vault secret) or Entra user." }];
  }
  try {
    who = String((await session.query('SELECT CURRENT_USER() AS u'))[0]?.u ?? '?');
    out.push({ check: `connection.${name}`, status: 'ok', detail: `reachable as ${who}` });
    // CURRENT_USER() is user@host; the GRANT names the account with each part quoted.
    const at = who.lastIndexOf('@');
    const account = at < 0 ? `'${who}'` : `'${who.slice(0, at)}'@'${who.slice(at + 1)}'`;
    for (const [profileName, profile] of Object.entries(deps.policy.profiles)) {
      if (!profile.connections.includes(name) || !profile.dbRole) continue;
      try {
        await session.query(`SET ROLE \`${profile.dbRole.replaceAll('`', '``')}\``);
        out.push({ check: `connection.${name}.${profileName}`, status: 'ok', detail: `SET ROLE ${profile.dbRole} works` });
      } catch (e) {
        out.push({ check: `connection.${name}.${profileName}`, status: 'fail', detail: message(e), fix: `GRANT ${profile.dbRole} TO ${account}; (README: "MySQL and MariaDB")` });
      }
    }
  } catch (e) {
    out.push({ check: `connection.${name}`, status: 'fail', detail: message(e), fix: "Check the login user's privileges on the server." });
  } finally {
    await session.close().catch(() => undefined);
  }
  return out;
}

async function serviceBus(deps: DoctorDeps): Promise<DoctorLine[]> {
  if (!deps.serviceBus) return [{ check: 'servicebus', status: 'skipped', detail: 'skipped: not configured (QB_SERVICE_BUS_NAMESPACE empty; events stay in process)' }];
  try {
    await deps.serviceBus.probe();
    return [{ check: 'servicebus', status: 'ok', detail: `can send to ${deps.serviceBus.namespace}` }];
  } catch (e) {
    return [{ check: 'servicebus', status: 'fail', detail: message(e), fix: 'Give the identity Azure Service Bus Data Sender on the namespace; with the VNet on, run from inside it.' }];
  }
}

function teams(deps: DoctorDeps): DoctorLine[] {
  if (!deps.teamsWebhookSecret) return [{ check: 'teams', status: 'skipped', detail: 'skipped: not configured (QB_TEAMS_WEBHOOK_SECRET empty: approvers get no card)', fix: 'azd env set QB_TEAMS_WEBHOOK_URL <Workflows webhook URL>; azd provision' }];
  return [{ check: 'teams', status: 'ok', detail: `webhook URL in secret ${deps.teamsWebhookSecret} (see keyvault line)` }];
}

function clock(deps: DoctorDeps, skew: { serverDate?: number }): DoctorLine[] {
  if (skew.serverDate === undefined || Number.isNaN(skew.serverDate)) return [{ check: 'clock', status: 'skipped', detail: 'skipped: no server answered with a Date header' }];
  const diffSec = Math.round(((deps.now ?? Date.now)() - skew.serverDate) / 1000);
  // Date headers have one-second resolution; tokens are accepted with 60 s of skew.
  return Math.abs(diffSec) <= 30
    ? [{ check: 'clock', status: 'ok', detail: `skew ${diffSec} s` }]
    : [{ check: 'clock', status: 'fail', detail: `skew ${diffSec} s`, fix: 'Synchronise this machine\'s clock (NTP): tokens are checked with 60 s tolerance.' }];
}

export async function runDoctor(deps: DoctorDeps): Promise<DoctorLine[]> {
  const skew: { serverDate?: number } = {};
  const lines = [...(await entra(deps, skew)), ...(await audit(deps, skew)), ...(await keyVault(deps)), ...(await connections(deps)), ...(await serviceBus(deps)), ...teams(deps)];
  return [...lines, ...clock(deps, skew)];
}

export function formatDoctorLine(l: DoctorLine): string {
  const mark = l.status === 'ok' ? 'ok  ' : l.status === 'fail' ? 'FAIL' : 'skip';
  return `${mark} ${l.check}: ${l.detail}${l.status !== 'ok' && l.fix ? `\n     fix: ${l.fix}` : ''}`;
}
