import { z } from 'zod';

/** Claims a principal must match: any listed role, group or object id is enough. */
export const ClaimMatch = z
  .object({
    roles: z.array(z.string().min(1)).default([]),
    groups: z.array(z.string().min(1)).default([]),
    oids: z.array(z.string().min(1)).default([]),
  })
  .strict();
export type ClaimMatch = z.infer<typeof ClaimMatch>;

const Credentials = z
  .object({
    keyVaultSecret: z.string().min(1).optional(),
    env: z.string().min(1).optional(),
    entra: z.literal(true).optional(),
  })
  .strict()
  .refine((c) => [c.keyVaultSecret, c.env, c.entra].filter((v) => v !== undefined).length === 1, {
    message: 'exactly one of keyVaultSecret, env or entra must be set',
  });

export const ConnectionConfig = z
  .object({
    /** `mysql`: MySQL 8 or MariaDB (Azure Database for MySQL), see src/engine/mysql/ */
    engine: z.enum(['postgres', 'mysql']).default('postgres'),
    /** a URL without password, or host/port/database below */
    url: z.string().url().optional(),
    host: z.string().min(1).optional(),
    /** default: 5432 (postgres), 3306 (mysql) */
    port: z.number().int().positive().max(65535).optional(),
    database: z.string().min(1).optional(),
    /** login role the broker connects as (the password comes from `credentials`) */
    user: z.string().min(1).optional(),
    ssl: z.boolean().default(false),
    credentials: Credentials,
    /**
     * Optional credential of a role that may CREATE ROLE: used only to create and drop the
     * just-in-time roles that run approved statements, never to run agent SQL.
     */
    admin: z.object({ user: z.string().min(1).optional(), credentials: Credentials }).strict().optional(),
    /** pooled connections per profile */
    poolSize: z.number().int().positive().max(100).default(10),
  })
  .strict()
  .refine((c) => c.url !== undefined || c.host !== undefined || c.credentials.env !== undefined, {
    message: 'give `url`, `host`, or `credentials.env` naming a connection URL',
  })
  .refine((c) => c.url === undefined || !/:\/\/[^/@]*:[^/@]*@/.test(c.url), {
    message: 'the url must not contain a password; use `credentials`',
  })
  .transform((c) => ({ ...c, port: c.port ?? (c.engine === 'mysql' ? 3306 : 5432) }));
export type ConnectionConfig = z.infer<typeof ConnectionConfig>;

export const ApprovalConfig = z
  .object({
    approvers: ClaimMatch,
    /** UPDATE/DELETE whose estimated affected rows exceed this need approval */
    estimatedRowsOver: z.number().int().nonnegative().default(1000),
    expiresAfterMinutes: z.number().int().positive().max(7 * 24 * 60).default(60),
  })
  .strict();

export const ProfileConfig = z
  .object({
    match: ClaimMatch,
    connections: z.array(z.string().min(1)).min(1),
    access: z.enum(['read', 'write', 'admin']),
    /** database role the profile runs as (SET ROLE is never available to the agent) */
    dbRole: z.string().regex(/^[a-z_][a-z0-9_$]{0,62}$/, 'a plain lower-case PostgreSQL role name').optional(),
    maxRows: z.number().int().positive().max(1_000_000).default(1000),
    /** cap on the bytes of one result, measured on the wire values */
    maxResultBytes: z.number().int().positive().default(10 * 1024 * 1024),
    statementTimeoutMs: z.number().int().positive().max(600_000).default(5000),
    lockTimeoutMs: z.number().int().positive().max(600_000).default(2000),
    approval: ApprovalConfig.optional(),
    /** volatile functions allowed in reads, in addition to `functions.allowVolatile` */
    allowVolatile: z.array(z.string().min(1)).default([]),
    /** which requests must say why (`reason`): none (default), every statement that is not a read, or all */
    requireReason: z.enum(['never', 'writes', 'all']).optional(),
  })
  .strict();
export type ProfileConfig = z.infer<typeof ProfileConfig>;

export const MaskerName = z.enum(['redact', 'last4', 'email', 'hash', 'null']);
export type MaskerName = z.infer<typeof MaskerName>;

export const DetectorName = z.enum(['pan', 'email', 'ssn', 'secrets']);
export type DetectorName = z.infer<typeof DetectorName>;

export const MaskingConfig = z
  .object({
    rules: z
      .array(
        z
          .object({
            /** schema.table.column (views included) */
            column: z.string().regex(/^[^.]+\.[^.]+\.[^.]+$/, 'expected schema.table.column'),
            with: MaskerName,
          })
          .strict(),
      )
      .default([]),
    exempt: ClaimMatch.optional(),
    detectors: z.array(DetectorName).default(['pan', 'email', 'ssn', 'secrets']),
    /** Key Vault secret (or env var locally) holding the HMAC key of the `hash` masker */
    hashKeySecret: z.string().min(1).optional(),
  })
  .strict();
export type MaskingConfig = z.infer<typeof MaskingConfig>;

export const PolicyConfig = z
  .object({
    /** expected `aud`: one value, or a list (the identifier URI and the application id GUID) */
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(10)]),
    tenant: z.string().uuid().optional(),
    connections: z.record(z.string().regex(/^[a-zA-Z0-9_-]+$/, 'connection names: letters, digits, _ and -'), ConnectionConfig),
    profiles: z.record(z.string().min(1), ProfileConfig),
    masking: MaskingConfig.default({ rules: [], detectors: ['pan', 'email', 'ssn', 'secrets'] }),
    auditors: ClaimMatch.default({ roles: [], groups: [], oids: [] }),
    functions: z
      .object({
        /** volatile functions every read profile may call */
        allowVolatile: z.array(z.string().min(1)).default(['random', 'gen_random_uuid', 'clock_timestamp', 'timeofday', 'uuidv4', 'uuidv7', 'now', 'statement_timestamp']),
      })
      .strict()
      .default({ allowVolatile: ['random', 'gen_random_uuid', 'clock_timestamp', 'timeofday', 'uuidv4', 'uuidv7', 'now', 'statement_timestamp'] }),
    limits: z
      .object({
        maxSqlLength: z.number().int().positive().max(1_000_000).default(100_000),
        maxBodyBytes: z.number().int().positive().default(256 * 1024),
        requestsPerMinute: z.number().int().positive().default(600),
      })
      .strict()
      .default({ maxSqlLength: 100_000, maxBodyBytes: 256 * 1024, requestsPerMinute: 600 }),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.masking.rules.some((r) => r.with === 'hash') && !p.masking.hashKeySecret) {
      ctx.addIssue({ code: 'custom', path: ['masking', 'hashKeySecret'], message: 'a rule uses the `hash` masker: name the secret holding its HMAC key' });
    }
    for (const [name, profile] of Object.entries(p.profiles)) {
      profile.connections.forEach((c, i) => {
        if (!(c in p.connections)) {
          ctx.addIssue({ code: 'custom', path: ['profiles', name, 'connections', i], message: `unknown connection "${c}"` });
        }
      });
    }
  });
export type PolicyConfig = z.infer<typeof PolicyConfig>;
