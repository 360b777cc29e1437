import { CliError, EXIT, usageError } from './exit.js';
import type { CliIo } from './io.js';
import { COMMON_HELP } from './options.js';
import { tokenCommand } from './commands/token.js';
import { queryCommand } from './commands/query.js';
import { statusCommand } from './commands/status.js';
import { approveCommand } from './commands/approve.js';
import { approvalsCommand } from './commands/approvals.js';
import { sessionsCommand } from './commands/sessions.js';
import { doctorCommand } from './commands/doctor.js';
import { connectionsCommand, schemaCommand } from './commands/discover.js';

export const VERSION = '0.1.0';

const COMMANDS: Record<string, (args: string[], io: CliIo) => Promise<number>> = {
  token: tokenCommand,
  query: queryCommand,
  status: statusCommand,
  approve: approveCommand,
  approvals: approvalsCommand,
  sessions: sessionsCommand,
  doctor: doctorCommand,
  connections: connectionsCommand,
  schema: schemaCommand,
};

export const HELP = `qb — the Query Broker command line

Usage: qb <command> [options]

Commands:
  token        a dev token from the local broker (npm start)
  connections  the connections this identity may use, with its access level
  schema       tables and columns of a connection (masked columns flagged, keys, row estimates)
  query        run one SQL statement through the broker
  status       the state of a request that needed approval (--wait to follow it)
  approve      approve or reject a request (approvers)
  approvals    the requests waiting for your decision (approvers)
  sessions     list, show or verify recorded sessions (auditors)
  doctor       check every dependency of a deployment (Entra ID, audit WORM, Key Vault, databases, ...)

Run \`qb <command> --help\` for its options.

Exit codes: 0 done; 1 the broker said no (denied, rejected, verify failed);
            2 usage error; 3 cannot reach the broker.

${COMMON_HELP}`;

/** Run one `qb` command line; resolves to the process exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...args] = argv;
  try {
    if (command === undefined) {
      io.stderr.write(`${HELP}\n`);
      return EXIT.usage;
    }
    if (command === '-h' || command === '--help' || command === 'help') {
      io.stdout.write(`${HELP}\n`);
      return EXIT.ok;
    }
    if (command === '--version' || command === '-v') {
      io.stdout.write(`${VERSION}\n`);
      return EXIT.ok;
    }
    const run = COMMANDS[command];
    if (!run) throw usageError(`Unknown command ${JSON.stringify(command)}. Commands: ${Object.keys(COMMANDS).join(', ')}.`);
    return await run(args, io);
  } catch (e) {
    if (e instanceof CliError) {
      if (e.message) {
        const hint = e.exitCode === EXIT.usage && command && COMMANDS[command] ? ` (see qb ${command} --help)` : e.exitCode === EXIT.usage ? ' (see qb --help)' : '';
        io.stderr.write(`qb: ${e.message}${hint}\n`);
      }
      return e.exitCode;
    }
    io.stderr.write(`qb: unexpected failure: ${e instanceof Error ? e.message : String(e)}\n`);
    return EXIT.refused;
  }
}
