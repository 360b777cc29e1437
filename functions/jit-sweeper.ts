import { app, type InvocationContext, type Timer } from '@azure/functions';

/**
 * Every 5 minutes: drop just-in-time logins that a crashed run left behind: PostgreSQL roles whose
 * VALID UNTIL has passed, MySQL users older than the longest life one can have (engine/mysql/jit.ts).
 */
async function sweepJitRoles(_timer: Timer, context: InvocationContext): Promise<void> {
  // Loaded here, off the cold-start path of the Functions entry.
  const [{ azureCredential }, { loadPolicyFile }, { readSetting }, { createSecretProviderFromSettings }, { createEntraTokenSource }, { sweepJitRolesOnConnections }, { sweepMysqlJitUsersOn }] = await Promise.all([
    import('../src/identity/azure-credential.js'),
    import('../src/policy/load.js'),
    import('../src/settings.js'),
    import('../src/secrets/from-settings.js'),
    import('../src/secrets/entra-token.js'),
    import('../src/db/jit.js'),
    import('../src/engine/mysql/jit.js'),
  ]);
  const policy = loadPolicyFile(readSetting('QB_CONFIG') ?? 'qb.yaml');
  const credential = azureCredential();
  const deps = { secrets: createSecretProviderFromSettings({ credential }), entraToken: createEntraTokenSource(credential) };
  const reports = await sweepJitRolesOnConnections(policy.connections, deps, new Date(), { sweepMysql: sweepMysqlJitUsersOn });
  for (const report of reports) {
    if (report.error !== undefined) {
      context.error(`JIT sweep of connection "${report.connection}" failed: ${report.error}`);
      continue;
    }
    const { dropped = [], failed = [], ignored = [] } = report.result ?? {};
    if (dropped.length > 0) context.log(`JIT sweep of "${report.connection}" dropped ${dropped.join(', ')}`);
    for (const f of failed) context.error(`JIT sweep of "${report.connection}" could not drop ${f.role}: ${f.message}`);
    if (ignored.length > 0) context.warn(`JIT sweep of "${report.connection}" left roles it did not create: ${ignored.join(', ')}`);
  }
}

app.timer('jitSweeper', { schedule: '0 */5 * * * *', handler: sweepJitRoles });
