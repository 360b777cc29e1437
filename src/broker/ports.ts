/**
 * The ports the pipeline depends on. Azure adapters and local adapters implement them; one
 * composition root (src/compose.ts, called by functions/ and src/local/) wires them.
 */
import type { Principal } from '../identity/principal.js';
import type { Reason } from '../errors.js';
export interface IdentityVerifier {
  /** Verify an `Authorization` header value; throws BrokerError('invalid_token') when it is not acceptable. */
  verify(authorization: string | undefined): Promise<Principal>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export interface SecretProvider {
  /** The secret's current value; throws BrokerError('dependency_unavailable') when it cannot be had. */
  getSecret(name: string): Promise<string>;
  /** Forget a cached value (e.g. after the database rejected it) so the next get fetches it again. */
  invalidate(name: string): void;
}

/** Identity fields recorded with every audit event. */
export interface AuditActor {
  oid: string;
  tid?: string;
  appId?: string;
  name?: string;
}

export type AuditEventType =
  | 'request.received'
  | 'decision'
  | 'approval.requested'
  | 'approval.decided'
  | 'approval.attempt_refused'
  | 'executed'
  | 'failed';

export interface AuditEventInput {
  type: AuditEventType;
  requestId: string;
  actor: AuditActor;
  /** event-specific body; must never contain unmasked values or secrets */
  data: Record<string, unknown>;
}

export interface AuditRecord extends AuditEventInput {
  /** schema version of the event */
  v: 1;
  sessionId: string;
  /** 0-based position in the session chain */
  seq: number;
  time: string;
  prevHash: string;
  hash: string;
}

export interface VerifyResult {
  valid: boolean;
  events: number;
  firstBadSeq: number | null;
}

export interface SessionSummary {
  sessionId: string;
  ownerOid: string;
  day: string;
  path: string;
}

/** What a storage request of the audit log did; one HTTP request to storage each. */
export type AuditStorageRequestKind = 'append' | 'create' | 'read' | 'properties' | 'list' | 'container';

/** Counters of an audit log that writes to storage, since it was created. */
export interface AuditLogStats {
  /** events stored */
  appends: number;
  /** blocks written (group commit puts several events in one) */
  blocks: number;
  /** storage requests of any kind (the sum of `storageRequestsByKind`) */
  storageRequests: number;
  /**
   * append: an append block; create: a session's index entry or blob created; read: a download
   * (index entry, the chain's tail, a session read); properties: blob or container properties;
   * list: one page of a listing; container: the container created on first need
   */
  storageRequestsByKind: Record<AuditStorageRequestKind, number>;
  /** appends refused with 412 because another writer got there first */
  conflicts: number;
}

export interface AppendOptions {
  allowForeignActor?: boolean;
  newSession?: boolean;
}

export interface AuditLog {
  /**
   * Durably append one event to the session's chain; resolves only when it is stored.
   * The first event of a session makes `event.actor.oid` its owner; an event from another
   * identity for an existing session is refused (BrokerError 'forbidden'), except the
   * approval events written on behalf of an approver (`allowForeignActor`).
   * Store unreachable → BrokerError('dependency_unavailable').
   * `newSession`: the caller generated this session id itself a moment ago, so no record of it can
   * exist yet and the store may create it without looking first (a hint: an existing session is
   * still found and its owner still checked).
   */
  append(sessionId: string, event: AuditEventInput, options?: AppendOptions): Promise<AuditRecord>;
  read(sessionId: string): Promise<AuditRecord[]>;
  verify(sessionId: string): Promise<VerifyResult>;
  list(filter: { day?: string; oid?: string }): Promise<SessionSummary[]>;
  /** whether the store answers (for /api/health) */
  ping(): Promise<boolean>;
  /**
   * Storage counters, for benchmarks and tests; absent on a log that makes no storage requests
   * (in memory), so that "nothing measured" is never read as "zero requests".
   */
  stats?(): AuditLogStats;
}

export interface BrokerEvent {
  type: string;
  time: string;
  data: Record<string, unknown>;
}

export interface EventPublisher {
  /** Best effort: a failure is logged by the caller and never loses the audit record. */
  publish(event: BrokerEvent): Promise<void>;
}

export type { Principal, Reason };
