import { parseArgs, type ParseArgsConfig } from 'node:util';
import { usageError } from './exit.js';
import type { CliIo } from './io.js';

export const DEFAULT_URL = 'http://localhost:7071';

/** Options every command takes (flags win over the environment). */
export const COMMON_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export const COMMON_HELP = `Common options:
  --url URL      broker base URL (env QB_URL, default ${DEFAULT_URL})
  --token TOKEN  bearer token (env QB_TOKEN; get a local one with \`qb token\`)
  --json         machine-readable output
  -h, --help     this help`;

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs, strict, with the common options; a bad command line is a usage error (exit 2). */
export function parseCommand<const O extends Options>(args: string[], options: O) {
  try {
    return parseArgs({ args, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (e) {
    throw usageError(e instanceof Error ? e.message.replace(/\. To specify a positional argument.*$/s, '.') : String(e));
  }
}

export function brokerUrl(flag: string | undefined, io: CliIo): string {
  const raw = flag ?? io.env.QB_URL ?? DEFAULT_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usageError(`--url / QB_URL is not a URL: ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`--url / QB_URL must be http(s): ${raw}`);
  return url.href.replace(/\/+$/, '');
}

export function bearerToken(flag: string | undefined, io: CliIo): string {
  const token = flag ?? io.env.QB_TOKEN;
  if (!token) {
    throw usageError('No token: pass --token or set QB_TOKEN (locally: export QB_TOKEN=$(npx qb token --role Query.Read --sub me)).');
  }
  return token.replace(/^Bearer\s+/i, '').trim();
}

/** Exactly `n` positionals, or a usage error naming what is missing. */
export function positionals(values: string[], names: string[]): string[] {
  if (values.length < names.length) throw usageError(`Missing ${names.slice(values.length).join(' and ')}.`);
  if (values.length > names.length) throw usageError(`Unexpected argument: ${JSON.stringify(values[names.length])}. Quote the SQL as one argument.`);
  return values;
}

export function positiveNumber(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw usageError(`--${name} must be a positive number, not ${JSON.stringify(raw)}.`);
  return n;
}
