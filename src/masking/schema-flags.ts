/**
 * Which columns of a table or view are masked for a principal, for the schema endpoint
 * (`GET /api/connections/{name}/schema`). Views are traced to their base columns, exactly as a
 * query on them would be.
 */
import type { MaskerName } from '../policy/schema.js';
import type { ColumnCatalog } from '../db/catalog/relations.js';
import { chooseMasker } from './rules/index.js';
import { rulesMap, traceRelation } from './plan.js';
import type { MaskingPolicyInput } from './types.js';

export async function maskedColumnsOf(
  table: { schema: string; name: string },
  policy: MaskingPolicyInput,
  catalog: ColumnCatalog,
): Promise<{ name: string; masked: false | MaskerName }[]> {
  const rules = rulesMap(policy);
  const outputs = await traceRelation(table, catalog, rules);
  return (outputs ?? []).map((o) => {
    const maskers = [...o.lineage.sources].map((s) => rules.get(s)).filter((m): m is MaskerName => m !== undefined);
    return { name: o.name ?? '?column?', masked: policy.exempt || maskers.length === 0 ? false : chooseMasker(maskers, o.lineage.identity) };
  });
}
