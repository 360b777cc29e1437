import pg from 'pg';
import { BrokerError } from '../errors.js';
import type { SecretProvider } from '../broker/ports.js';
import type { ConnectionConfig } from '../policy/schema.js';
import { createEnvSecretProvider } from '../secrets/env.js';

/** Where to connect and as whom; never the password. */
export interface ConnectionTarget {
  host: string;
  port: number;
  database: string;
  user: string;
  ssl: boolean;
}

/**
 * The credentials of one connection. Pools pass `password` as node-postgres's async password
 * function, so every NEW connection asks for the current password and rotation needs no rebuild.
 */
export interface ConnectionCredentials {
  /** connection target without password (from the policy's connection, or the URL in the environment) */
  target(): Promise<ConnectionTarget>;
  /** the current password: a cached Key Vault secret, the Entra token for `entra: true`, or the URL's password */
  password(): Promise<string>;
  /** PostgreSQL rejected the password (SQLSTATE 28P01): drop caches so the next password() fetches again */
  invalidate(): void;
}

/** Managed identity tokens for `entra: true` (see createEntraTokenSource); `invalidate` is optional. */
export interface EntraTokenFunction {
  (): Promise<string>;
  invalidate?(): void;
}

export interface ConnectionCredentialsDeps {
  secrets: SecretProvider;
  entraToken?: EntraTokenFunction;
  /** where `credentials.env` URLs are read; default process.env */
  env?: NodeJS.ProcessEnv;
  /** the connection's name in the policy, for error messages */
  name?: string;
}

/**
 * Build the credentials of a policy connection. Target fields given explicitly in the policy win;
 * otherwise they come from `url` (a URL without password) or, with `credentials.env`, from the
 * URL in that environment variable (which also holds the password, for local runs).
 */
export function createConnectionCredentials(conn: ConnectionConfig, deps: ConnectionCredentialsDeps): ConnectionCredentials {
  const label = deps.name === undefined ? 'the connection' : `the connection "${deps.name}"`;
  const configUrl = conn.url === undefined ? undefined : new URL(conn.url);
  const { env: envVariable, keyVaultSecret, entra } = conn.credentials;

  if (envVariable !== undefined) {
    const envSecrets = createEnvSecretProvider(deps.env ?? process.env);
    const readUrl = async (): Promise<URL> => parseSecretUrl(await envSecrets.getSecret(envVariable), envVariable, conn.engine);
    return {
      async target() {
        const url = await readUrl();
        // The password belongs to the URL's user, so the URL's user wins over `url:`'s.
        return resolveTarget(conn, url, configUrl, conn.user ?? decodeURIComponent(url.username), label);
      },
      async password() {
        const password = decodeURIComponent((await readUrl()).password);
        if (password === '') {
          throw new BrokerError('dependency_unavailable', `The URL in the environment variable ${envVariable} has no password.`);
        }
        return password;
      },
      invalidate() {},
    };
  }

  const user = conn.user ?? (configUrl === undefined ? '' : decodeURIComponent(configUrl.username));
  const target = resolveTarget(conn, undefined, configUrl, user, label);
  if (keyVaultSecret !== undefined) {
    return {
      target: async () => target,
      password: () => deps.secrets.getSecret(keyVaultSecret),
      invalidate: () => deps.secrets.invalidate(keyVaultSecret),
    };
  }
  if (entra === true) {
    const entraToken = deps.entraToken;
    if (entraToken === undefined) {
      throw new BrokerError('internal_error', `${label} uses \`entra: true\` but the host provides no managed identity token source.`);
    }
    return {
      target: async () => target,
      password: () => entraToken(),
      invalidate: () => entraToken.invalidate?.(),
    };
  }
  throw new BrokerError('internal_error', `${label} names no credentials.`);
}

/** Explicit policy fields > `url:` > the environment's URL; host and port travel together. */
function resolveTarget(conn: ConnectionConfig, envUrl: URL | undefined, configUrl: URL | undefined, user: string, label: string): ConnectionTarget {
  const fromUrl = configUrl ?? envUrl;
  const host = conn.host ?? (fromUrl === undefined ? '' : fromUrl.hostname.replace(/^\[(.*)\]$/, '$1'));
  const port = conn.host !== undefined || fromUrl === undefined || fromUrl.port === '' ? conn.port : Number(fromUrl.port);
  if (host === '') throw new BrokerError('internal_error', `${label} has no host; set \`host\` or \`url\` in the policy file.`);
  if (user === '') throw new BrokerError('internal_error', `${label} has no user; set \`user\` in the policy file.`);
  const path = fromUrl === undefined ? '' : decodeURIComponent(fromUrl.pathname.replace(/^\//, ''));
  const database = conn.database ?? (path === '' ? user : path);
  const sslmode = fromUrl?.searchParams.get('sslmode') ?? '';
  const ssl = conn.ssl || ['require', 'verify-ca', 'verify-full'].includes(sslmode) || fromUrl?.searchParams.get('ssl') === 'true';
  return { host, port, database, user, ssl };
}

/** The URL schemes of each engine's connection URLs. */
const URL_SCHEMES: Record<ConnectionConfig['engine'], { protocols: string[]; example: string; label: string }> = {
  postgres: { protocols: ['postgres:', 'postgresql:'], example: 'postgres://', label: 'PostgreSQL' },
  mysql: { protocols: ['mysql:', 'mariadb:'], example: 'mysql://', label: 'MySQL' },
};

/** Parse a connection URL held in a secret; the error never repeats the URL (it holds a password). */
function parseSecretUrl(value: string, variable: string, engine: ConnectionConfig['engine'] = 'postgres'): URL {
  const scheme = URL_SCHEMES[engine];
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new BrokerError('internal_error', `The environment variable ${variable} does not hold a valid ${scheme.label} URL.`);
  }
  if (!scheme.protocols.includes(url.protocol)) {
    throw new BrokerError('internal_error', `The environment variable ${variable} must hold a ${scheme.example} URL.`);
  }
  return url;
}

/** PostgreSQL's SQLSTATE for "password authentication failed". */
export const INVALID_PASSWORD = '28P01';

export function isPasswordRejected(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === INVALID_PASSWORD;
}

/**
 * Run `run` (which opens connections with `creds`); if PostgreSQL rejects the password, the
 * secret was probably rotated: drop the cached one and try exactly once more.
 */
export async function withPasswordRetry<T>(creds: ConnectionCredentials, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (!isPasswordRejected(e)) throw e;
    creds.invalidate();
    return await run();
  }
}

/**
 * The `password` option for a pg Pool or Client: node-postgres calls it for every new connection.
 * When the lookup fails (Key Vault down), node-postgres reports the error but leaves the socket
 * open, and the server keeps a backend waiting in authentication until authentication_timeout
 * (1 min) — during an outage every attempt would hold a connection slot (brianc/node-postgres#2907).
 * So on failure the half-open connection is closed, the way pg-pool closes a timed-out one.
 */
export function pgPassword(creds: ConnectionCredentials): () => Promise<string> {
  return async function password(this: unknown): Promise<string> {
    try {
      return await creds.password();
    } catch (e) {
      // node-postgres calls this as a method of the connecting Client.
      const stream = (this as { connection?: { stream?: { destroy?: () => void } } } | undefined)?.connection?.stream;
      // After node-postgres has taken our error as the reason the connect failed.
      setImmediate(() => stream?.destroy?.());
      throw e;
    }
  };
}

/**
 * One connected client with these credentials (for short-lived admin work such as JIT role
 * management), retried once after a rejected password. The caller ends it.
 */
export async function connectWithCredentials(
  creds: ConnectionCredentials,
  options: { applicationName?: string; connectionTimeoutMillis?: number } = {},
): Promise<pg.Client> {
  const target = await creds.target();
  return await withPasswordRetry(creds, async () => {
    const client = new pg.Client({
      host: target.host,
      port: target.port,
      database: target.database,
      user: target.user,
      ssl: target.ssl,
      password: pgPassword(creds),
      application_name: options.applicationName ?? 'query-broker',
      connectionTimeoutMillis: options.connectionTimeoutMillis ?? 10_000,
    });
    // A connection killed later (server restart) must not crash the process with an unhandled 'error'.
    client.on('error', () => {});
    await client.connect();
    return client;
  });
}
