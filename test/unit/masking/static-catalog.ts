/**
 * An in-memory ColumnCatalog with the demo schema (customers, orders) and two views, so lineage can
 * be unit-tested without a server. The integration tests run the same walker on the real catalog.
 */
import type { MaskingPolicyInput } from '../../../src/masking/types.js';
import { functionNameKey, relationNameKey, type ColumnCatalog, type FunctionFacts, type OperatorFacts, type RelationInfo } from '../../../src/db/catalog/relations.js';

function table(oid: number, name: string, columns: string[], kind = 'r', definition?: string): RelationInfo {
  const info: RelationInfo = {
    oid,
    schema: 'public',
    name,
    kind,
    columns: columns.map((c, i) => ({ attnum: i + 1, name: c, keys: [`public.${name}.${c}`] })),
  };
  if (definition !== undefined) info.definition = definition;
  return info;
}

export const RELATIONS: RelationInfo[] = [
  table(16001, 'customers', ['id', 'name', 'email', 'card_number', 'ssn', 'country', 'created_at']),
  table(16002, 'orders', ['id', 'customer_id', 'amount_cents', 'status', 'created_at']),
  table(16003, 'customer_contacts', ['id', 'name', 'contact'], 'v', ' SELECT c.id, c.name, c.email AS contact FROM customers c'),
  table(16004, 'customer_digest', ['id', 'digest'], 'v', ' SELECT id, lower(ssn) || card_number AS digest FROM customers WHERE ssn IS NOT NULL'),
  { oid: 12001, schema: 'pg_catalog', name: 'pg_stats', kind: 'v', columns: ['schemaname', 'tablename', 'attname', 'most_common_vals'].map((c, i) => ({ attnum: i + 1, name: c, keys: [`pg_catalog.pg_stats.${c}`] })), definition: ' SELECT 1' },
];

const SET_RETURNING = new Set(['unnest', 'generate_series', 'regexp_split_to_table', 'regexp_matches', 'json_each', 'jsonb_array_elements', 'string_to_table']);
const USER_FUNCTIONS = new Set(['my_func']);
/** operator names that (also) have a user-defined operator, as an extension or a DBA might add */
const USER_OPERATORS = new Set(['===', '##']);

export function staticCatalog(): ColumnCatalog & { lookups: number } {
  const byName = new Map<string, RelationInfo>();
  for (const r of RELATIONS) {
    byName.set(relationNameKey({ name: r.name }), r);
    byName.set(relationNameKey({ schema: r.schema, name: r.name }), r);
  }
  const catalog = {
    lookups: 0,
    async relationsByName(names: readonly { schema?: string; name: string }[]) {
      catalog.lookups++;
      return new Map(names.map((n) => [relationNameKey(n), byName.get(relationNameKey(n)) ?? null]));
    },
    async relationsByOid(oids: readonly number[]) {
      return new Map(oids.map((o) => [o, RELATIONS.find((r) => r.oid === o) ?? null]));
    },
    peekRelation(oid: number) {
      return RELATIONS.find((r) => r.oid === oid) ?? null;
    },
    async functions(names: readonly { schema?: string; name: string }[]) {
      return new Map<string, FunctionFacts>(names.map((n) => [functionNameKey(n), { builtin: !USER_FUNCTIONS.has(n.name), setReturning: SET_RETURNING.has(n.name) || USER_FUNCTIONS.has(n.name) }]));
    },
    async operators(names: readonly { schema?: string; name: string }[]) {
      return new Map<string, OperatorFacts>(names.map((n) => [functionNameKey(n), { builtin: !USER_OPERATORS.has(n.name) && n.schema !== 'public' }]));
    },
    async typeNames() {
      return new Map<number, string>();
    },
    async userImplicitCasts() {
      return false;
    },
    generation: 0,
    invalidate() {
      catalog.generation++;
    },
  };
  return catalog;
}

/** The demo policy's masking rules with every detector: what the masking tests plan against. */
export const DEMO_MASKING: MaskingPolicyInput = Object.freeze<MaskingPolicyInput>({
  rules: [
    { column: 'public.customers.email', with: 'email' },
    { column: 'public.customers.card_number', with: 'last4' },
    { column: 'public.customers.ssn', with: 'redact' },
  ],
  detectors: ['pan', 'email', 'ssn', 'secrets'],
  exempt: false,
});
