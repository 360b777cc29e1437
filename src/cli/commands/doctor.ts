import { EXIT } from '../exit.js';
import type { CliIo } from '../io.js';
import { parseCommand } from '../options.js';
import { usageError } from '../exit.js';

export const DOCTOR_HELP = `qb doctor — check every dependency the broker needs, one line each with a fix

Usage: qb doctor [--policy FILE] [--json]

Reads the same settings as the app (QB_CONFIG, QB_AUDIT_BLOB_ENDPOINT or QB_AUDIT_CONNECTION_STRING,
QB_AUDIT_CONTAINER, QB_KEY_VAULT_URL, QB_SERVICE_BUS_NAMESPACE, QB_EVENTS_TOPIC, QB_TEAMS_WEBHOOK_SECRET,
AZURE_CLIENT_ID) and signs in to Azure like the app does (managed identity, or your az login).
Checks: Entra ID metadata and signing keys; the audit container takes a create and an append and
refuses an overwrite and a delete (WORM); Key Vault secrets readable; each connection reachable
as its login and each profile's dbRole settable; Service Bus sendable; Teams webhook configured;
clock skew. What the settings do not name is "skipped: not configured". Writes one probe blob
into the audit container (kept by WORM for the retention period).

  --policy FILE  the policy file (default QB_CONFIG, then qb.yaml)
  --json         one JSON object per check

Exit: 0 nothing failed, 1 a check failed, 2 usage error.`;

export async function doctorCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(args, { policy: { type: 'string' } });
  if (values.help) {
    io.stdout.write(`${DOCTOR_HELP}\n`);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw usageError(`qb doctor takes no arguments (got ${positionals.join(' ')}).`);
  const { doctorFromSettings } = await import('../../doctor/from-settings.js');
  const { runDoctor, formatDoctorLine } = await import('../../doctor/checks.js');
  const env = { ...io.env, ...(values.policy ? { QB_CONFIG: values.policy } : {}) } as NodeJS.ProcessEnv;
  const { deps, close } = await doctorFromSettings(env);
  try {
    const lines = await runDoctor(deps);
    for (const line of lines) io.stdout.write(`${values.json ? JSON.stringify(line) : formatDoctorLine(line)}\n`);
    const failed = lines.filter((l) => l.status === 'fail').length;
    if (!values.json) io.stderr.write(failed === 0 ? 'doctor: nothing failed\n' : `doctor: ${failed} check(s) failed\n`);
    return failed === 0 ? EXIT.ok : EXIT.refused;
  } finally {
    await close();
  }
}
