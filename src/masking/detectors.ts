/**
 * Content detectors: the last net over every text cell of every result (and over error texts).
 * They catch sensitive values that no rule names: card numbers (PAN, Luhn-checked), e-mail
 * addresses, US social security numbers, and secrets (JWTs, Azure storage keys, passwords in
 * connection strings and URLs).
 *
 * Speed matters (every cell of every result passes here): one cheap "sniff" regex rejects most
 * cells; only cells that might hold something run the precise detectors, and a cell nothing
 * matched is returned as the same string (no allocation).
 */
import type { DetectorName } from '../policy/schema.js';

/** Luhn (mod 10) check over a string of digits. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/** A PAN: 13–19 digits passing Luhn, alone or as a run of separated groups (`4111 1111 …`, `1 4111…`). */
function panIn(candidate: string): boolean {
  const groups = candidate.split(/[ -]/);
  for (let start = 0; start < groups.length; start++) {
    let digits = '';
    for (let end = start; end < groups.length; end++) {
      digits += groups[end]!;
      if (digits.length > 19) break;
      if (digits.length >= 13 && luhnValid(digits)) return true;
    }
  }
  return false;
}

// Not the digits of a decimal fraction or of the integer part of one (`0.3700…`, `12345….5`):
// long unscaled numerics are not card numbers.
const PAN_CANDIDATE = /(?<![\d.])\d+(?:[ -]\d+)*(?!\.?\d)/g;
function scrubPan(text: string): string {
  return text.replace(PAN_CANDIDATE, (m) => {
    if (m.length < 13) return m;
    if (!panIn(m)) return m;
    const digits = m.replace(/[ -]/g, '');
    return `****${digits.slice(-4)}`;
  });
}

const SSN = /(?<!\d)(\d{3})([- ])(\d{2})\2(\d{4})(?!\d)/g;
function scrubSsn(text: string): string {
  return text.replace(SSN, (m, area: string, _sep: string, group: string, serial: string) => {
    // Numbers the SSA never issues are not SSNs (keeps dates, phone fragments, ids mostly intact).
    if (area === '000' || area === '666' || area.startsWith('9') || group === '00' || serial === '0000') return m;
    return '***-**-****';
  });
}

const EMAIL = /[A-Za-z0-9._%+'-]+@((?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})/g;
function scrubEmail(text: string): string {
  return text.replace(EMAIL, '***@$1');
}

export const SECRET_REDACTED = '[redacted secret]';
const JWT = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;
const KEY_VALUE_SECRET = /\b(password|passwd|pwd|accountkey|sharedaccesskey|sharedaccesssignature|sig|secret|client_secret|apikey|api_key|access_token|token)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^;&\s"',]+)/gi;
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/]*:)([^\s@/]+)@/gi;
const STORAGE_KEY = /(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{86}==(?![A-Za-z0-9+/=])/g;
function scrubSecrets(text: string): string {
  return text
    .replace(JWT, SECRET_REDACTED)
    .replace(URL_CREDENTIALS, `$1${SECRET_REDACTED}@`)
    .replace(KEY_VALUE_SECRET, `$1$2${SECRET_REDACTED}`)
    .replace(STORAGE_KEY, SECRET_REDACTED);
}

interface DetectorDef {
  name: DetectorName;
  /** a cheap superset test */
  sniff: string;
  scrub: (text: string) => string;
}

/** Order matters: secrets first (a connection string holds digits and addresses too). */
const DETECTORS: readonly DetectorDef[] = [
  { name: 'secrets', sniff: String.raw`=|eyJ|:\/\/`, scrub: scrubSecrets },
  { name: 'pan', sniff: String.raw`\d(?:[ -]?\d){12}`, scrub: scrubPan },
  { name: 'ssn', sniff: String.raw`\d{3}[- ]\d\d[- ]\d{4}`, scrub: scrubSsn },
  { name: 'email', sniff: '@', scrub: scrubEmail },
];

interface CompiledDetectors {
  readonly sniff: RegExp;
  readonly active: readonly (DetectorDef & { sniffRe: RegExp })[];
}

/**
 * The sniff expressions of a detector set, compiled once per set (a scanner is made per scanned
 * column of every result). Shared safely: none has the g or y flag, so `test` keeps no state.
 */
const compiledSets = new Map<string, CompiledDetectors>();
function compiledFor(detectors: readonly DetectorName[]): CompiledDetectors {
  const key = detectors.join(',');
  let compiled = compiledSets.get(key);
  if (compiled === undefined) {
    const active = DETECTORS.filter((d) => detectors.includes(d.name)).map((d) => ({ ...d, sniffRe: new RegExp(d.sniff) }));
    compiled = { active, sniff: new RegExp(active.map((d) => d.sniff).join('|')) };
    compiledSets.set(key, compiled);
  }
  return compiled;
}

/** Scrubs one column's cells; remembers the first detector that changed something. */
export class ContentScanner {
  /** the detector that first changed a cell of this column */
  hit: DetectorName | undefined;
  private readonly sniff: RegExp;
  private readonly active: readonly (DetectorDef & { sniffRe: RegExp })[];

  constructor(detectors: readonly DetectorName[]) {
    const compiled = compiledFor(detectors);
    this.active = compiled.active;
    this.sniff = compiled.sniff;
  }

  get enabled(): boolean {
    return this.active.length > 0;
  }

  /** The cell with detected values masked; the same string when nothing was found. */
  scrub(cell: string): string {
    if (!this.sniff.test(cell)) return cell;
    let out = cell;
    for (const d of this.active) {
      if (!d.sniffRe.test(out)) continue;
      const next = d.scrub(out);
      if (next !== out) {
        this.hit ??= d.name;
        out = next;
      }
    }
    return out;
  }
}

/** Types whose text cannot hold a card number, an address, an SSN or a secret. */
const UNSCANNED_TYPES = new Set<number>([
  16, // bool
  21, // int2
  23, // int4
  26, // oid
  700, // float4
  701, // float8
  1082, // date
  1083, // time
  1114, // timestamp
  1184, // timestamptz
  1186, // interval
  1266, // timetz
  2950, // uuid
]);

export function scannedType(typeOid: number): boolean {
  return !UNSCANNED_TYPES.has(typeOid);
}
