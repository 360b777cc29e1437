/**
 * The decision rules: a pure function of the analysis, the caller's profile, the policy, the
 * catalog's verdict on volatile functions and the row estimate. No I/O, no clock.
 *
 * Access levels:
 * - read:  reads only. Anything that writes, locks, changes the schema or acts as an administrator
 *          is denied (`write_on_read_only_profile`).
 * - write: reads; INSERT/UPDATE/DELETE/MERGE run directly when bounded (a WHERE clause, estimated
 *          rows within `approval.estimatedRowsOver`); DDL, TRUNCATE, GRANT/REVOKE, CALL, unbounded
 *          or large writes need approval. Other administrative commands are denied.
 * - admin: as write, and may also ask for administrative commands (roles, extensions, ownership,
 *          maintenance). Admin does NOT skip approval for DDL or admin commands: the profile says
 *          what an agent may ask for, a human still reviews every schema or privilege change,
 *          because the agent's text is the thing we do not trust.
 * For every profile: transaction control, session state changes (SET, set_config, UPDATE
 * pg_settings…), DO blocks, COPY, LOCK, NOTIFY, writes to system catalogs, server-level commands, functions that run SQL given as text or reach files, other sessions,
 * large objects, advisory locks or settings, and anything unrecognised, are denied.
 * Reads (for every profile) may not call volatile functions unless allow-listed.
 * "Needs approval" becomes a denial with the same reason codes when the profile has no
 * `approval` block: no one could approve it.
 */
import type { Reason } from '../errors.js';
import type { QualifiedName } from '../sql/types.js';
import type { EngineAnalysis as Analysis } from '../engine/types.js';
import type { PolicyConfig, ProfileConfig } from './schema.js';
import type { RiskCode } from '../sql/risks.js';

export type Outcome = 'allow' | 'deny' | 'needs_approval';

export interface Decision {
  outcome: Outcome;
  reasons: Reason[];
}

/** What decide() reads of an analysis: every engine's analysis has it (the parse tree is not read). */
export type DecidableAnalysis = Omit<Analysis, 'stmt' | 'root'>;

export interface DecideInput {
  analysis: DecidableAnalysis;
  profile: ProfileConfig;
  policy: PolicyConfig;
  /** the functions of `analysis.functions` the catalog found volatile (or could not find) */
  volatileFunctions: QualifiedName[];
  /** rows the statement would change, from EXPLAIN; expected when `analysis.needsRowEstimate` */
  estimatedRows?: number;
}

type Access = ProfileConfig['access'];
type Effect = 'deny' | 'approve' | 'info';

/** What each analyzer flag means for each access level. A flag missing here denies (fail closed). */
const RISK_EFFECTS: Record<RiskCode, Record<Access, Effect>> = {
  transaction_control: { read: 'deny', write: 'deny', admin: 'deny' },
  session_state_change: { read: 'deny', write: 'deny', admin: 'deny' },
  procedural_code: { read: 'deny', write: 'deny', admin: 'deny' },
  procedure_call: { read: 'info', write: 'approve', admin: 'approve' },
  copy_statement: { read: 'deny', write: 'deny', admin: 'deny' },
  server_file_access: { read: 'deny', write: 'deny', admin: 'deny' },
  sql_string_function: { read: 'deny', write: 'deny', admin: 'deny' },
  server_control_function: { read: 'deny', write: 'deny', admin: 'deny' },
  advisory_lock: { read: 'deny', write: 'deny', admin: 'deny' },
  large_object_function: { read: 'deny', write: 'deny', admin: 'deny' },
  notification: { read: 'deny', write: 'deny', admin: 'deny' },
  lock_statement: { read: 'deny', write: 'deny', admin: 'deny' },
  server_level_command: { read: 'deny', write: 'deny', admin: 'deny' },
  unrecognised_statement: { read: 'deny', write: 'deny', admin: 'deny' },
  unrecognised_construct: { read: 'deny', write: 'deny', admin: 'deny' },
  // For a read profile these come with a non-read kind, refused as `write_on_read_only_profile`.
  privilege_change: { read: 'info', write: 'approve', admin: 'approve' },
  truncate: { read: 'info', write: 'approve', admin: 'approve' },
  system_catalog_write: { read: 'deny', write: 'deny', admin: 'deny' },
  update_without_where: { read: 'info', write: 'approve', admin: 'approve' },
  delete_without_where: { read: 'info', write: 'approve', admin: 'approve' },
  replace_statement: { read: 'info', write: 'approve', admin: 'approve' },
  locking_clause: { read: 'info', write: 'info', admin: 'info' },
  select_into: { read: 'info', write: 'info', admin: 'info' },
  data_modifying_cte: { read: 'info', write: 'info', admin: 'info' },
  explain_analyze: { read: 'info', write: 'info', admin: 'info' },
};

/** Reason codes decide() itself produces (besides the analyzer's risk codes). */
export type DecisionCode =
  | RiskCode
  | 'write_on_read_only_profile'
  | 'ddl_requires_approval'
  | 'admin_command_requires_approval'
  | 'admin_command_requires_admin_profile'
  | 'estimated_rows_over_threshold'
  | 'estimated_rows_unknown'
  | 'volatile_function';

/** Used when a profile without an `approval` block still needs a threshold to deny against. */
const DEFAULT_ROWS_THRESHOLD = 1000;

export function decide(input: DecideInput): Decision {
  const { analysis, profile, policy } = input;
  const access = profile.access;
  const deny: Reason[] = [];
  const approve: Reason[] = [];
  const push = (list: Reason[], r: Reason): void => {
    if (!list.some((x) => x.code === r.code && x.message === r.message)) list.push(r);
  };

  // 1. Analyzer flags.
  for (const r of analysis.risks) {
    const effect = (RISK_EFFECTS as Record<string, Record<Access, Effect> | undefined>)[r.code]?.[access] ?? 'deny';
    if (effect === 'deny') push(deny, r);
    else if (effect === 'approve') push(approve, r);
  }

  // 2. The statement's kind against the access level.
  switch (analysis.kind) {
    case 'read':
      break;
    case 'write':
    case 'ddl':
    case 'admin':
    case 'procedural':
      if (access === 'read') {
        push(deny, readOnlyReason(analysis));
      } else if (analysis.kind === 'ddl') {
        push(approve, {
          code: 'ddl_requires_approval',
          message: 'This statement changes the schema; schema changes run only after a human approves the exact SQL. Wait for approval, or use a non-DDL statement.',
        });
      } else if (analysis.kind === 'admin' && !hasRisk(analysis, 'privilege_change') && !hasRisk(analysis, 'server_level_command')) {
        if (access === 'admin') {
          push(approve, {
            code: 'admin_command_requires_approval',
            message: 'Administrative commands (roles, extensions, ownership, maintenance) run only after a human approves the exact SQL.',
          });
        } else {
          push(deny, {
            code: 'admin_command_requires_admin_profile',
            message: 'Administrative commands (roles, extensions, ownership, maintenance) need an admin profile. Ask a database administrator, or use a profile with admin access.',
          });
        }
      }
      break;
    case 'transaction':
      if (!hasRisk(analysis, 'transaction_control')) {
        push(deny, { code: 'transaction_control', message: 'Transaction control is refused: each request runs as one statement in its own transaction.' });
      }
      break;
    case 'session':
      if (!hasRisk(analysis, 'session_state_change')) {
        push(deny, { code: 'session_state_change', message: 'Session state changes are refused: they would carry over to later requests on a pooled connection.' });
      }
      break;
    case 'utility':
    default:
      // Utilities are only ever allowed through a flag that says what they are.
      if (deny.length === 0 && approve.length === 0) {
        push(deny, { code: 'unrecognised_statement', message: 'The broker does not recognise this kind of statement, so it refuses it (fail closed).' });
      }
  }

  // 3. Volatile functions in reads (a volatile function can change state even inside a SELECT).
  if (analysis.kind === 'read') {
    const allowed = [...policy.functions.allowVolatile, ...profile.allowVolatile];
    const refused = input.volatileFunctions.filter((fn) => !allowed.some((entry) => allowListed(entry, fn)));
    if (refused.length > 0) {
      const names = refused.map((f) => `${f.schema === undefined ? '' : `${f.schema}.`}${f.name}()`).join(', ');
      push(deny, {
        code: 'volatile_function',
        message: `${names} ${refused.length === 1 ? 'is' : 'are'} volatile (may change state or not be known to the catalog) and not allow-listed for reads. Remove the call, use a stable alternative, or ask an operator to allow-list it.`,
      });
    }
  }

  // 4. How many rows a write would change.
  if (access !== 'read' && analysis.kind === 'write' && analysis.needsRowEstimate === true) {
    const threshold = profile.approval?.estimatedRowsOver ?? DEFAULT_ROWS_THRESHOLD;
    if (input.estimatedRows === undefined) {
      // Only worth saying when nothing else already sends the statement to a human.
      if (approve.length === 0) {
        push(approve, {
          code: 'estimated_rows_unknown',
          message: 'The number of rows this statement would change could not be estimated, so a human must approve it. Narrow the WHERE clause or wait for approval.',
        });
      }
    } else if (input.estimatedRows > threshold) {
      push(approve, {
        code: 'estimated_rows_over_threshold',
        message: `The planner estimates this statement changes about ${Math.round(input.estimatedRows)} rows, over this profile's limit of ${threshold} without approval. Narrow the WHERE clause, split the change into smaller batches, or wait for approval.`,
      });
    }
  }

  if (deny.length > 0) return { outcome: 'deny', reasons: deny };
  if (approve.length > 0) {
    if (profile.approval === undefined) {
      // Nobody can approve for this profile: the same reasons, as a refusal.
      return {
        outcome: 'deny',
        reasons: approve.map((r) => ({ code: r.code, message: `${r.message} This profile has no approvers configured, so it is refused.` })),
      };
    }
    return { outcome: 'needs_approval', reasons: approve };
  }
  return { outcome: 'allow', reasons: [] };
}

function hasRisk(analysis: DecidableAnalysis, code: RiskCode): boolean {
  return analysis.risks.some((r) => r.code === code);
}

function readOnlyReason(analysis: DecidableAnalysis): Reason {
  const what = hasRisk(analysis, 'locking_clause')
    ? 'SELECT … FOR UPDATE/SHARE locks rows'
    : hasRisk(analysis, 'select_into')
      ? 'SELECT … INTO creates a table'
      : hasRisk(analysis, 'data_modifying_cte')
        ? 'this statement writes data inside a WITH clause'
        : hasRisk(analysis, 'explain_analyze')
          ? 'EXPLAIN ANALYZE executes the statement it explains, and that statement writes'
          : analysis.kind === 'ddl'
            ? 'this statement changes the schema'
            : analysis.kind === 'admin'
              ? 'this is an administrative command'
              : analysis.kind === 'procedural'
                ? 'this statement runs a procedure'
                : 'this statement changes data';
  return {
    code: 'write_on_read_only_profile',
    message: `This profile is read-only and ${what}. Send a plain SELECT, or use a profile with write access.`,
  };
}

/**
 * An allow-list entry `name` matches that function unqualified or in pg_catalog (where an
 * unqualified call resolves first); `schema.name` matches exactly that function.
 */
function allowListed(entry: string, fn: QualifiedName): boolean {
  const dot = entry.lastIndexOf('.');
  if (dot < 0) return entry === fn.name && (fn.schema === undefined || fn.schema === 'pg_catalog');
  return entry.slice(0, dot) === fn.schema && entry.slice(dot + 1) === fn.name;
}
