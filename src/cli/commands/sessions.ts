import { BrokerClient } from '../client.js';
import { CliError, EXIT, usageError } from '../exit.js';
import type { CliIo } from '../io.js';
import { COMMON_HELP, bearerToken, brokerUrl, parseCommand, positionals } from '../options.js';
import { formatTable, printJson, refusal } from '../output.js';

export const SESSIONS_HELP = `qb sessions — read the recorded sessions (auditors)

Usage: qb sessions list [--day YYYY-MM-DD] [--oid OID]
       qb sessions show SESSION_ID
       qb sessions verify SESSION_ID

  list     sessions started on a UTC day and/or owned by an identity (object id)
  show     the timeline: every recorded event, in chain order
  verify   recompute the hash chain; exit 1 when the record was altered

Needs a token with the auditor role.
Exit: 0 done (verify: intact), 1 refused or verify failed, 2 usage error, 3 broker unreachable.

${COMMON_HELP}`;

interface TimelineEvent {
  seq: number;
  time: string;
  type: string;
  requestId: string;
  actor: { oid: string; name?: string };
  data: Record<string, unknown>;
  hash: string;
}

/** One line of what an event says, without dumping its whole body. */
function eventSummary(e: TimelineEvent): string {
  const d = e.data;
  const codes = (v: unknown) => (Array.isArray(v) ? v.map((r: { code?: string }) => r.code).filter(Boolean).join(',') : '');
  switch (e.type) {
    case 'decision':
      return [d.outcome, d.connection && `on ${String(d.connection)}`, codes(d.reasons) && `[${codes(d.reasons)}]`, d.errorCode && `(${String(d.errorCode)})`, d.sql && `— ${String(d.sql)}`].filter(Boolean).join(' ');
    case 'executed':
      return [[d.command, d.rowCount, d.rowCount === 1 ? 'row' : 'rows'].filter((x) => x !== undefined && x !== '').join(' '), Array.isArray(d.maskedColumns) && d.maskedColumns.length ? `masked: ${d.maskedColumns.join(', ')}` : ''].filter(Boolean).join(' · ');
    case 'failed':
      return `${String(d.code ?? '')}: ${String(d.message ?? '')}`;
    case 'request.received':
      // The statement always, whatever else was recorded with it (a reason, a row cap).
      return [d.connection && `on ${String(d.connection)}`, d.dryRun === true && '(dry run)', d.reason !== undefined && `reason: ${JSON.stringify(String(d.reason))}`, `— ${String(d.sql ?? '')}`].filter(Boolean).join(' ');
    default:
      return Object.entries(d)
        .filter(([, v]) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
        .slice(0, 4)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(' ');
  }
}

export async function sessionsCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals: rest } = parseCommand(args, {
    day: { type: 'string' },
    oid: { type: 'string' },
  });
  if (values.help) {
    io.stdout.write(`${SESSIONS_HELP}\n`);
    return EXIT.ok;
  }
  if (rest.length === 0) throw usageError('Missing the sub-command: list, show or verify.');
  const [sub, ...subArgs] = rest;
  const client = () => new BrokerClient(brokerUrl(values.url, io), bearerToken(values.token, io));

  switch (sub) {
    case 'list': {
      positionals(subArgs, []);
      if (values.day !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(values.day)) throw usageError('--day must be written YYYY-MM-DD (UTC).');
      const query = new URLSearchParams();
      if (values.day !== undefined) query.set('day', values.day);
      if (values.oid !== undefined) query.set('oid', values.oid);
      const res = await client().request('GET', `/api/sessions${query.size ? `?${query}` : ''}`);
      if (res.status !== 200) throw refusal(io, res, values.json);
      const sessions = (res.body as { sessions: { sessionId: string; ownerOid: string; day: string }[] }).sessions;
      if (values.json) printJson(io, res.body);
      else if (sessions.length === 0) io.stdout.write('(no sessions)\n');
      else {
        const c = client();
        const summaries = await mapLimited(sessions.slice(0, SUMMARIZED), 4, (s) => sessionSummary(c, s.sessionId));
        const text = (name: string) => ({ name, type: 'text', masked: false as const });
        io.stdout.write(
          `${formatTable(
            [text('session'), text('owner'), text('day'), { name: 'events', type: 'int4', masked: false }, text('first'), text('last'), text('first statement')],
            sessions.map((s, i) => {
              const m = summaries[i];
              return [s.sessionId, s.ownerOid, s.day, m?.events ?? null, m?.first ?? '', m?.last ?? '', m?.firstSql ?? ''];
            }),
          )}\n(${sessions.length} ${sessions.length === 1 ? 'session' : 'sessions'}${sessions.length > SUMMARIZED ? `; event counts for the first ${SUMMARIZED}` : ''})\n`,
        );
      }
      return EXIT.ok;
    }
    case 'show': {
      if (values.day !== undefined || values.oid !== undefined) throw usageError('--day and --oid go with `qb sessions list`.');
      const [sessionId = ''] = positionals(subArgs, ['SESSION_ID']);
      const res = await client().request('GET', `/api/sessions/${encodeURIComponent(sessionId)}`);
      if (res.status !== 200) throw refusal(io, res, values.json);
      if (values.json) {
        printJson(io, res.body);
        return EXIT.ok;
      }
      const events = (res.body as { events: TimelineEvent[] }).events;
      const lines = events.map((e) => `#${e.seq} ${e.time} ${e.type.padEnd(17)} ${e.requestId} ${e.actor.name ?? e.actor.oid}  ${eventSummary(e)}`);
      io.stdout.write(`session ${sessionId}: ${events.length} ${events.length === 1 ? 'event' : 'events'}\n${lines.join('\n')}\n`);
      return EXIT.ok;
    }
    case 'verify': {
      if (values.day !== undefined || values.oid !== undefined) throw usageError('--day and --oid go with `qb sessions list`.');
      const [sessionId = ''] = positionals(subArgs, ['SESSION_ID']);
      const res = await client().request('GET', `/api/sessions/${encodeURIComponent(sessionId)}/verify`);
      if (res.status !== 200) throw refusal(io, res, values.json);
      const v = res.body as { valid: boolean; events: number; firstBadSeq: number | null };
      if (values.json) printJson(io, v);
      else if (v.valid) io.stdout.write(`valid: ${v.events} events, hash chain intact\n`);
      else io.stdout.write(`INVALID: the record of ${sessionId} was altered; the chain breaks at event #${v.firstBadSeq} (of ${v.events})\n`);
      if (!v.valid) throw new CliError(EXIT.refused, '');
      return EXIT.ok;
    }
    default:
      throw usageError(`Unknown sub-command ${JSON.stringify(sub)}: use list, show or verify.`);
  }
}

/** Sessions whose timelines `list` reads for its summary columns. */
const SUMMARIZED = 50;
/** Characters of the first statement shown in `list`. */
const SQL_PREVIEW = 60;

/** Event count, first and last time and the first statement of one session (undefined when unreadable). */
async function sessionSummary(client: BrokerClient, sessionId: string): Promise<{ events: number; first: string; last: string; firstSql: string } | undefined> {
  const res = await client.request('GET', `/api/sessions/${encodeURIComponent(sessionId)}`);
  if (res.status !== 200) return undefined;
  const events = (res.body as { events?: TimelineEvent[] }).events ?? [];
  const sql = events.find((e) => e.type === 'request.received' && typeof e.data.sql === 'string')?.data.sql as string | undefined;
  const oneLine = (sql ?? '').replace(/\s+/g, ' ').trim();
  return {
    events: events.length,
    first: events[0]?.time ?? '',
    last: events.at(-1)?.time ?? '',
    firstSql: oneLine.length > SQL_PREVIEW ? `${oneLine.slice(0, SQL_PREVIEW - 1)}…` : oneLine,
  };
}

/** `fn` over `items`, at most `limit` at a time, results in order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
