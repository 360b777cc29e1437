import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type LocalPostgres } from '../../src/local/postgres.js';
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
  const [pgResult, azResult] = await Promise.all([
    process.env.DATABASE_URL ? Promise.resolve(undefined) : startEmbeddedPostgres(),
    startAzurite(),
  ]);
  pg = pgResult;
  azurite = azResult;
  const adminUrl = process.env.DATABASE_URL ?? pg!.adminUrl;
  await ensureDemoRoles(adminUrl);
  project.provide('adminDatabaseUrl', adminUrl);
  project.provide('blobConnectionString', azurite.connectionString);
  project.provide('azuritePort', azurite.port);
}

export async function teardown(): Promise<void> {
  await Promise.allSettled([pg?.stop(), azurite?.stop()]);
}
