import { BrokerClient } from '../client.js';
import { EXIT } from '../exit.js';
import type { CliIo } from '../io.js';
import { COMMON_HELP, bearerToken, brokerUrl, parseCommand, positionals, positiveNumber } from '../options.js';
import { fetchStatus, printStatus, waitForFinalState } from '../request-status.js';

export const STATUS_HELP = `qb status — the state of a request that needed approval

Usage: qb status REQUEST_ID [--wait] [--interval S] [--timeout S]

  --wait         poll until the request is executed, rejected, expired or failed (progress on stderr)
  --interval S   seconds between polls (default 2)
  --timeout S    give up waiting after S seconds (exit 1; the request itself goes on)

Exit: 0 executed or still pending (without --wait), 1 rejected/expired/failed or refused,
2 usage error, 3 broker unreachable.

${COMMON_HELP}`;

export async function statusCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals: rest } = parseCommand(args, {
    wait: { type: 'boolean', default: false },
    interval: { type: 'string' },
    timeout: { type: 'string' },
  });
  if (values.help) {
    io.stdout.write(`${STATUS_HELP}\n`);
    return EXIT.ok;
  }
  const [requestId = ''] = positionals(rest, ['REQUEST_ID']);
  const intervalMs = (positiveNumber('interval', values.interval) ?? 2) * 1000;
  const timeout = positiveNumber('timeout', values.timeout);
  const client = new BrokerClient(brokerUrl(values.url, io), bearerToken(values.token, io));
  const status = values.wait
    ? await waitForFinalState(client, requestId, io, { json: values.json, intervalMs, ...(timeout === undefined ? {} : { timeoutMs: timeout * 1000 }) })
    : await fetchStatus(client, requestId, io, values.json);
  return printStatus(io, status, values.json);
}
