import { CliError, EXIT } from './exit.js';

export interface BrokerResponse {
  status: number;
  /** parsed JSON, or the raw text when the body is not JSON */
  body: unknown;
  headers: Headers;
}

/** The broker's error body (CONTRACT.md): `{ error: { code, message, reasons? }, requestId? }`. */
export interface ErrorBody {
  error: { code: string; message: string; reasons?: { code: string; message: string }[]; [k: string]: unknown };
  requestId?: string;
  sessionId?: string;
}

export function isErrorBody(body: unknown): body is ErrorBody {
  if (typeof body !== 'object' || body === null || !('error' in body)) return false;
  const error = (body as { error: unknown }).error;
  return typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string';
}

/** Gateway statuses that mean "the broker behind me did not answer" when they carry no broker error body. */
const GATEWAY_STATUSES = new Set([502, 503, 504]);

/** A thin fetch wrapper: JSON in, JSON out; a network failure becomes exit code 3. */
export class BrokerClient {
  constructor(
    readonly baseUrl: string,
    private readonly token?: string,
    private readonly timeoutMs = 300_000,
  ) {}

  async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<BrokerResponse> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw new CliError(EXIT.unreachable, `Cannot reach the broker at ${this.baseUrl} (${networkReason(e)}). Is it running (npm start)? Point --url or QB_URL at it.`);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (e) {
      throw new CliError(EXIT.unreachable, `The connection to ${this.baseUrl} broke while reading the answer (${networkReason(e)}).`);
    }
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      /* not JSON: keep the text */
    }
    if (GATEWAY_STATUSES.has(res.status) && !isErrorBody(parsed)) {
      throw new CliError(EXIT.unreachable, `${this.baseUrl} answered HTTP ${res.status} without a broker response: the broker behind it is not reachable.`);
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }
}

function networkReason(e: unknown): string {
  if (e instanceof Error) {
    if (e.name === 'TimeoutError') return 'timed out';
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? e.message;
  }
  return String(e);
}
