/**
 * Who a statement runs for, visible to the database: custom settings `qb.*` and the connection's
 * `application_name`, set transaction-locally (set_config(name, value, true)) by a preamble sent in
 * the same socket write as the statement, inside the same transaction. A DBA's row-level security
 * policies and triggers read them with current_setting('qb.principal_oid'); pg_stat_activity and
 * the server's log (%a in log_line_prefix) show the request while the statement runs.
 *
 * Transaction-local: the values end with the statement's transaction (commit, rollback or error),
 * and the session reset (DISCARD ALL, session-reset.ts) returns every setting to the connection's
 * start-up value on top of that. The start-up options define the `qb.*` settings as empty strings
 * (pools.ts), so current_setting('qb.principal_oid') is '' — matching no row — outside a request,
 * never an error. An agent cannot set them: SET, SET LOCAL, RESET, set_config() and UPDATE
 * pg_settings are refused for every profile as session state changes (classify.ts, function-rules.ts).
 */
import type { AuditActor } from '../broker/ports.js';

export interface DbIdentity {
  /** Entra object id of the requester (the agent or person whose request this is) */
  principalOid: string;
  principalName: string;
  /** client application id of the requester's token; '' when the token carries none */
  appId: string;
  requestId: string;
  sessionId: string;
  /** object id of the approver, for a statement run after a human approval; '' otherwise */
  approvedBy: string;
}

/** The settings, in the order of the preamble's parameters. */
export const IDENTITY_SETTINGS = ['qb.principal_oid', 'qb.principal_name', 'qb.app_id', 'qb.request_id', 'qb.session_id', 'qb.approved_by'] as const;

/** One statement, parameterised: values never become SQL text. Its single row is discarded. */
export const IDENTITY_SQL = `select ${[...IDENTITY_SETTINGS, 'application_name'].map((name, i) => `set_config('${name}', $${i + 1}, true)`).join(', ')}`;

/** The server keeps NAMEDATALEN - 1 bytes of application_name and replaces non-ASCII by '?'. */
const APPLICATION_NAME_BYTES = 63;

/** `qb <request id> <requester>`: the request id first, so a cut never loses it. */
export function applicationName(identity: DbIdentity): string {
  const who = (identity.principalName || identity.principalOid).replace(/[^\x20-\x7e]/g, '?');
  return `qb ${identity.requestId} ${who}`.slice(0, APPLICATION_NAME_BYTES);
}

export function identityValues(identity: DbIdentity): string[] {
  return [identity.principalOid, identity.principalName, identity.appId, identity.requestId, identity.sessionId, identity.approvedBy, applicationName(identity)];
}

export function identityOf(actor: AuditActor, requestId: string, sessionId: string, approvedBy?: string): DbIdentity {
  return { principalOid: actor.oid, principalName: actor.name ?? '', appId: actor.appId ?? '', requestId, sessionId, approvedBy: approvedBy ?? '' };
}

/** Start-up options that define the settings (empty) for the whole session, so reading one never fails. */
export function identityStartupOptions(): string[] {
  return IDENTITY_SETTINGS.map((name) => `${name}=`);
}
