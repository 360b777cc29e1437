/**
 * What `az bicep build` would catch in wiring, checked without it: modules get exactly the
 * parameters they declare, module outputs that are read exist, every resource names a GA API
 * version, and main.parameters.json fits main.bicep.
 */
import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { BicepFile, INFRA, loadInfra, objectEntries, propertyAt } from './bicep.js';

const infra = loadInfra();
const byPath = new Map(infra.map((f) => [f.path, f]));

describe('Bicep wiring', () => {
  it('every module exists, receives only parameters it declares, and all it requires', () => {
    for (const caller of infra) {
      for (const m of caller.modules()) {
        const target = byPath.get(join(dirname(caller.path), m.path));
        expect(target, `${caller.name}: module ${m.symbol} '${m.path}'`).toBeDefined();
        if (!target) continue;
        const declared = target.params();
        const passed = [...objectEntries(propertyAt(m.body, 'params') ?? '').keys()];
        const unknown = passed.filter((p) => !declared.some((d) => d.name === p));
        const missing = declared.filter((d) => d.defaultValue === undefined && !passed.includes(d.name)).map((d) => d.name);
        expect(unknown, `${caller.name} → ${m.path}: unknown params`).toEqual([]);
        expect(missing, `${caller.name} → ${m.path}: missing params`).toEqual([]);
        expect(propertyAt(m.body, 'name'), `${caller.name}: module ${m.symbol} needs a literal deployment name`).toMatch(/^'[\w-]+'$/);
      }
    }
  });

  it('every module output that is read is declared by that module', () => {
    for (const caller of infra) {
      const modules = new Map(caller.modules().map((m) => [m.symbol, m]));
      for (const ref of caller.code.matchAll(/\b(\w+)\.outputs\.(\w+)/g)) {
        const m = modules.get(ref[1] ?? '');
        expect(m, `${caller.name}: ${ref[0]} reads an unknown module`).toBeDefined();
        const target = byPath.get(join(dirname(caller.path), m?.path ?? ''));
        expect(target?.outputs(), `${caller.name}: ${ref[0]}`).toContain(ref[2]);
      }
    }
  });

  it('every parameter is used (a typo would otherwise go unnoticed)', () => {
    for (const f of infra) {
      for (const p of f.params()) {
        const uses = f.code.match(new RegExp(`\\b${p.name}\\b`, 'g'))?.length ?? 0;
        expect(uses, `${f.name}: param ${p.name} is never used`).toBeGreaterThan(1);
      }
    }
  });

  it('nested references (parent::child) name declared child resources', () => {
    for (const f of infra) {
      const symbols = new Set(f.resources().map((r) => r.symbol));
      for (const ref of f.code.matchAll(/\b(\w+)((?:::\w+)+)/g)) {
        for (const part of [ref[1] ?? '', ...(ref[2] ?? '').split('::').filter(Boolean)]) {
          expect(symbols.has(part), `${f.name}: ${ref[0]}`).toBe(true);
        }
      }
    }
  });

  it('every top-level resource names a GA (non-preview) API version', () => {
    for (const f of infra) {
      for (const r of f.resources()) {
        if (!r.type.includes('/')) continue; // nested children inherit the parent's version
        expect(r.apiVersion, `${f.name}: ${r.symbol}`).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      }
    }
  });

  it('main.parameters.json fills main.bicep from the azd environment', () => {
    const main = new BicepFile(join(INFRA, 'main.bicep'));
    const file = JSON.parse(readFileSync(join(INFRA, 'main.parameters.json'), 'utf8')) as { parameters: Record<string, { value: unknown }> };
    const params = main.params();
    for (const [name, { value }] of Object.entries(file.parameters)) {
      expect(params.some((p) => p.name === name), `main.parameters.json: ${name} is not a parameter of main.bicep`).toBe(true);
      expect(String(value), name).toMatch(/^\$\{[A-Z_]+(=[^}]*)?\}$/);
    }
    for (const p of params.filter((x) => x.defaultValue === undefined)) {
      expect(file.parameters[p.name], `required parameter ${p.name}`).toBeDefined();
    }
    // azd passes '' for an unset variable: parameters fed that way must treat '' as "use the default".
    for (const name of ['tenantId', 'apiAudience']) {
      expect(main.code).toMatch(new RegExp(`empty\\(${name}\\)\\s*\\?`));
    }
    expect(main.code).toMatch(/^targetScope = 'subscription'$/m);
    expect(existsSync(join(INFRA, 'main.bicep'))).toBe(true);
  });
});
