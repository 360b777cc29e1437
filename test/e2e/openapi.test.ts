import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

let b: TestBroker;
let doc: any;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

beforeAll(async () => {
  b = await startTestBroker();
  const res = await b.fetch('/api/openapi.json');
  expect(res.status).toBe(200);
  doc = await res.json();
});
afterAll(async () => b?.close());

/** Every operation of the document as [path, method, operation]. */
function operations(): [string, string, any][] {
  const out: [string, string, any][] = [];
  for (const [path, item] of Object.entries<any>(doc.paths ?? {})) {
    for (const m of METHODS) if (item[m]) out.push([path, m, item[m]]);
  }
  return out;
}

/** Follow a local JSON pointer such as `#/components/schemas/Error`. */
function resolvePointer(ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: any = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(key in node)) return undefined;
    node = node[key];
  }
  return node;
}

function collectRefs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) collectRefs(n, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else collectRefs(v, out);
    }
  }
  return out;
}

describe('GET /api/openapi.json', () => {
  it('is served without a token and is a structurally valid OpenAPI 3.1 document', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info).toEqual(expect.objectContaining({ title: expect.any(String), version: expect.any(String) }));
    expect(typeof doc.paths).toBe('object');
    const problems: string[] = [];
    const operationIds = new Set<string>();
    for (const [path, method, op] of operations()) {
      const where = `${method.toUpperCase()} ${path}`;
      if (!path.startsWith('/')) problems.push(`${where}: path must start with /`);
      if (/\/:/.test(path)) problems.push(`${where}: Hono-style :param instead of {param}`);
      const responses = Object.entries<any>(op.responses ?? {});
      if (responses.length === 0) problems.push(`${where}: no responses`);
      for (const [status, r] of responses) {
        if (!/^([1-5]\d\d|[1-5]XX|default)$/.test(status)) problems.push(`${where}: bad status key ${status}`);
        if (!r.$ref && typeof r.description !== 'string') problems.push(`${where} ${status}: response without description`);
      }
      const params = [...(doc.paths[path].parameters ?? []), ...(op.parameters ?? [])];
      for (const p of params) {
        if (!p.$ref && (!p.name || !['query', 'header', 'path', 'cookie'].includes(p.in))) problems.push(`${where}: malformed parameter ${JSON.stringify(p)}`);
      }
      for (const [, name] of path.matchAll(/\{([^}]+)\}/g)) {
        const declared = params.find((p: any) => p.in === 'path' && p.name === name);
        if (!declared) problems.push(`${where}: path parameter {${name}} not declared`);
        else if (declared.required !== true) problems.push(`${where}: path parameter {${name}} must be required`);
      }
      for (const requirement of op.security ?? []) {
        for (const scheme of Object.keys(requirement)) {
          if (!doc.components?.securitySchemes?.[scheme]) problems.push(`${where}: unknown security scheme ${scheme}`);
        }
      }
      if (op.operationId) {
        if (operationIds.has(op.operationId)) problems.push(`${where}: duplicate operationId ${op.operationId}`);
        operationIds.add(op.operationId);
      }
    }
    for (const ref of collectRefs(doc)) if (resolvePointer(ref) === undefined) problems.push(`unresolved $ref ${ref}`);
    expect(problems).toEqual([]);
  });

  it('describes every route the Hono app serves', () => {
    const documented = new Set(operations().map(([path, method]) => `${method.toUpperCase()} ${path}`));
    const served = b.runtime.app.routes
      // app.use() middleware shows up as method ALL on wildcard paths; it is not a route.
      .filter((r) => r.method !== 'ALL' && !r.path.includes('*'))
      // The document does not list itself.
      .filter((r) => r.path !== '/api/openapi.json')
      .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
    expect(served.length).toBeGreaterThan(5);
    const missing = [...new Set(served)].filter((route) => !documented.has(route));
    expect(missing).toEqual([]);
  });

  it('covers the contract’s routes, with the bearer scheme on the protected ones', () => {
    for (const route of [
      'GET /api/health',
      'POST /api/query',
      'GET /api/connections',
      'GET /api/connections/{name}/schema',
      'GET /api/sessions',
      'GET /api/sessions/{sessionId}',
      'GET /api/sessions/{sessionId}/verify',
      'POST /api/mcp',
      'GET /.well-known/oauth-protected-resource',
      'GET /api/.well-known/oauth-protected-resource',
    ]) {
      const [method, path] = route.split(' ') as [string, string];
      expect(doc.paths[path]?.[method.toLowerCase()], route).toBeDefined();
    }
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const route of ['POST /api/query', 'GET /api/connections', 'GET /api/connections/{name}/schema', 'GET /api/sessions/{sessionId}', 'POST /api/mcp']) {
      const [method, path] = route.split(' ') as [string, string];
      const op = doc.paths[path][method.toLowerCase()];
      expect(op.security, route).toEqual([{ bearer: [] }]);
      expect(op.responses['401'], route).toBeDefined();
    }
  });

  it('describes request bodies with the same schemas that validate them', async () => {
    const query = doc.paths['/api/query'].post.requestBody.content['application/json'].schema;
    const schema: any = query.$ref ? resolvePointer(query.$ref) : query;
    expect(schema.required).toEqual(expect.arrayContaining(['connection', 'sql']));
    // What the document says is required is what the validator enforces.
    const token = await b.token({ sub: 'openapi', roles: ['Query.Read'] });
    const res = await b.fetch('/api/query', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ sql: 'select 1' }) });
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe('invalid_request');
  });
});
