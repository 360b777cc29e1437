/**
 * A local HTTPS stand-in for the Key Vault secrets REST API (`GET /secrets/{name}/{version}`),
 * with Key Vault's challenge-based auth: a request without the expected bearer token gets 401 and
 * `WWW-Authenticate: Bearer authorization="…", resource="…"`. The real SecretClient talks to it
 * over TLS, trusting the stub's CA; a DNS lookup override sends the vault's hostname to loopback.
 */
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import type { SecretClientOptions } from '@azure/keyvault-secrets';
import { createTestCertificate } from './test-certificate.js';

export const STUB_VAULT_HOST = 'qb-test.vault.azure.net';

export interface StubReply {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** wait this long before answering (a slow or hanging vault) */
  delayMs?: number;
}

export interface StubRequest {
  name: string;
  authorized: boolean;
}

/** The SDK's public extension point for identities: hands out one fixed token and records what was asked. */
export interface TestCredential extends TokenCredential {
  readonly token: string;
  readonly scopesRequested: string[];
}

export function createTestCredential(): TestCredential {
  const token = `kv-test-token-${Math.random().toString(36).slice(2)}`;
  const scopesRequested: string[] = [];
  return {
    token,
    scopesRequested,
    async getToken(scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken> {
      scopesRequested.push(...(Array.isArray(scopes) ? scopes : [scopes]));
      return { token, expiresOnTimestamp: Date.now() + 3600_000, tokenType: 'Bearer' };
    },
  };
}

export interface KeyVaultStub {
  /** https://qb-test.vault.azure.net:<port> */
  vaultUrl: string;
  /** transport for the SecretClient: trusts the stub's CA and resolves the vault host to loopback */
  clientOptions: SecretClientOptions;
  credential: TestCredential;
  /** the vault's contents; change them to rotate */
  secrets: Map<string, string>;
  requests: StubRequest[];
  /** how many requests for `name` carried the right token (i.e. reached the "vault") */
  authorizedRequests(name: string): number;
  /** `resource` named in the challenge; default https://vault.azure.net */
  challengeResource: string;
  /** answer the n-th authorized request for a secret (1-based) differently; undefined → normal reply */
  override: ((name: string, n: number) => StubReply | undefined) | undefined;
  close(): Promise<void>;
}

export async function startKeyVaultStub(): Promise<KeyVaultStub> {
  const tls = createTestCertificate(STUB_VAULT_HOST);
  const credential = createTestCredential();
  const secrets = new Map<string, string>();
  const requests: StubRequest[] = [];
  const authorizedCount = new Map<string, number>();
  let vaultUrl = '';

  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://stub');
    const match = /^\/secrets\/([^/]+)\/?([^/]*)$/.exec(url.pathname);
    const send = (reply: StubReply) => {
      const write = () => {
        if (res.destroyed) return;
        res.writeHead(reply.status, { 'content-type': 'application/json; charset=utf-8', ...reply.headers });
        res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
      };
      if (reply.delayMs) setTimeout(write, reply.delayMs).unref();
      else write();
    };
    if (req.method !== 'GET' || !match || !url.searchParams.get('api-version')) {
      send({ status: 400, body: { error: { code: 'BadParameter', message: 'Unsupported request' } } });
      return;
    }
    const name = decodeURIComponent(match[1] ?? '');
    const authorized = req.headers.authorization === `Bearer ${credential.token}`;
    requests.push({ name, authorized });
    if (!authorized) {
      send({
        status: 401,
        headers: {
          'www-authenticate': `Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="${stub.challengeResource}"`,
        },
        body: { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } },
      });
      return;
    }
    const n = (authorizedCount.get(name) ?? 0) + 1;
    authorizedCount.set(name, n);
    const special = stub.override?.(name, n);
    if (special) {
      send(special);
      return;
    }
    const value = secrets.get(name);
    if (value === undefined) {
      send({ status: 404, body: { error: { code: 'SecretNotFound', message: `A secret with (name/id) ${name} was not found in this key vault.` } } });
      return;
    }
    send({
      status: 200,
      body: {
        value,
        id: `${vaultUrl}/secrets/${name}/0123456789abcdef0123456789abcdef`,
        attributes: { enabled: true, created: 1_700_000_000, updated: 1_700_000_000, recoveryLevel: 'Recoverable+Purgeable', recoverableDays: 90 },
        tags: {},
      },
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  vaultUrl = `https://${STUB_VAULT_HOST}:${port}`;

  // Only the vault's hostname is redirected, to the stub on loopback.
  const lookup = ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (hostname !== STUB_VAULT_HOST) {
      callback(Object.assign(new Error(`stub DNS: unknown host ${hostname}`), { code: 'ENOTFOUND' }));
    } else if (options.all) {
      callback(null, [{ address: '127.0.0.1', family: 4 }]);
    } else {
      callback(null, '127.0.0.1', 4);
    }
  }) as unknown as LookupFunction;
  const agent = new https.Agent({ ca: tls.ca, lookup, keepAlive: true });

  const stub: KeyVaultStub = {
    vaultUrl,
    clientOptions: { agent },
    credential,
    secrets,
    requests,
    authorizedRequests: (name) => authorizedCount.get(name) ?? 0,
    challengeResource: 'https://vault.azure.net',
    override: undefined,
    async close() {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return stub;
}
