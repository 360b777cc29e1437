import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, LocalPostgresError, type LocalPostgres } from '../../src/local/postgres.js';
import { startAzurite, type LocalAzurite } from '../../src/local/azurite.js';
import { ensureDemoRoles } from '../../src/local/demo.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** superuser URL of the test server (embedded, or DATABASE_URL when given) */
    adminDatabaseUrl: string;
    /** Azurite blob connection string */
    blobConnectionString: string;
    azuritePort: number;
  }
}

let pg: LocalPostgres | undefined;
let azurite: LocalAzurite | undefined;

/** One real PostgreSQL and one real Azurite for the whole run; test files isolate by database and container. */
export async function setup(project: TestProject): Promise<void> {
  const [pgResult, azResult] = await Promise.allSettled([
    process.env.DATABASE_URL ? Promise.resolve(undefined) : startEmbeddedPostgres(),
    startAzurite(),
  ]);
  pg = pgResult.status === 'fulfilled' ? pgResult.value : undefined;
  azurite = azResult.status === 'fulfilled' ? azResult.value : undefined;
  const failed = [pgResult, azResult].find((r) => r.status === 'rejected');
  if (failed || !azurite) {
    await Promise.allSettled([pg?.stop(), azurite?.stop()]);
    const reason: unknown = failed?.reason;
    // Embedded PostgreSQL's own sentence says why and what to do; a stack trace would bury it.
    if (reason instanceof LocalPostgresError) {
      process.stderr.write(`\n${reason.message}\n\n`);
      process.exit(1);
    }
    throw reason;
  }
  const adminUrl = process.env.DATABASE_URL ?? pg!.adminUrl;
  await ensureDemoRoles(adminUrl);
  project.provide('adminDatabaseUrl', adminUrl);
  project.provide('blobConnectionString', azurite.connectionString);
  project.provide('azuritePort', azurite.port);
}

export async function teardown(): Promise<void> {
  await Promise.allSettled([pg?.stop(), azurite?.stop()]);
}
