import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPolicyFile, validatePolicy, PolicyFileError } from '../../../src/policy/load.js';
import { demoPolicy } from '../../../src/local/demo.js';

function withFile(text: string, run: (path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'qb-policy-'));
  try {
    const path = join(dir, 'qb.yaml');
    writeFileSync(path, text);
    run(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const MINIMAL = `
audience: api://query-broker
connections:
  sales:
    host: db.example.com
    database: sales
    user: qb_broker
    credentials: { keyVaultSecret: sales-agent }
profiles:
  agent-read:
    match: { roles: [Query.Read] }
    connections: [sales]
    access: read
`;

describe('policy file', () => {
  it('loads a short file and fills every knob with its safe default', () => {
    withFile(MINIMAL, (path) => {
      const p = loadPolicyFile(path);
      expect(p.profiles['agent-read']).toMatchObject({ maxRows: 1000, statementTimeoutMs: 5000, lockTimeoutMs: 2000 });
      expect(p.connections.sales).toMatchObject({ port: 5432, engine: 'postgres', poolSize: 10 });
      expect(p.masking.detectors).toEqual(['pan', 'email', 'ssn', 'secrets']);
      expect(p.limits.maxSqlLength).toBe(100_000);
    });
  });

  it('names the path of a bad key', () => {
    withFile(MINIMAL.replace('access: read', 'access: everything'), (path) => {
      expect(() => loadPolicyFile(path)).toThrow(/profiles\.agent-read\.access/);
    });
  });

  it('refuses a profile naming an unknown connection', () => {
    withFile(MINIMAL.replace('connections: [sales]', 'connections: [sales, hr]'), (path) => {
      expect(() => loadPolicyFile(path)).toThrow(/profiles\.agent-read\.connections\.1: unknown connection "hr"/);
    });
  });

  it('refuses a password inside a connection url, and two credential sources at once', () => {
    const raw = demoPolicy() as Record<string, any>;
    raw.connections.sales = { url: 'postgres://u:secret@db/x', credentials: { env: 'X' } };
    expect(() => validatePolicy(raw)).toThrow(PolicyFileError);
    raw.connections.sales = { host: 'db', credentials: { env: 'X', keyVaultSecret: 'y' } };
    expect(() => validatePolicy(raw)).toThrow(/exactly one of keyVaultSecret, env or entra/);
  });

  it('requires the HMAC key secret when a rule uses the hash masker', () => {
    const raw = demoPolicy() as Record<string, any>;
    raw.masking.rules.push({ column: 'public.customers.name', with: 'hash' });
    expect(() => validatePolicy(raw)).toThrow(/masking\.hashKeySecret/);
    raw.masking.hashKeySecret = 'masking-hash-key';
    expect(validatePolicy(raw).masking.hashKeySecret).toBe('masking-hash-key');
  });

  it('reports YAML syntax errors and a missing file with the path', () => {
    withFile('audience: [unclosed', (path) => expect(() => loadPolicyFile(path)).toThrow(/not valid YAML/));
    expect(() => loadPolicyFile('/nonexistent/qb.yaml')).toThrow(/Cannot read policy file \/nonexistent\/qb.yaml/);
  });
});
