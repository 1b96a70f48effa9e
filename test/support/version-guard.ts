// The process half of both version guards (src/db/version-guard.ts): a replica runs,
// the database moves past it, and the next write is where it finds out.
import { createTestDatabase } from './database.ts';
import { withClient } from './postgres.ts';
import { startServiceProcess } from './service-process.ts';
import { jobBody } from './service.ts';

export interface AfterMigration {
  /** The status of the create sent after `sql` ran. */
  status: number;
  exitCode: number | null;
  output: string[];
}

/**
 * Starts the service as a process on a fresh database, runs `sql` there (what a newer
 * release's migration would do), sends one create, and waits for the process to exit.
 */
export async function createAfterMigration(sql: string, values: unknown[]): Promise<AfterMigration> {
  const databaseUrl = await createTestDatabase();
  const service = await startServiceProcess({ databaseUrl, output: 'capture' });
  try {
    await withClient(databaseUrl, (c) => c.query(sql, values));
    const res = await fetch(`${service.url}/api/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(jobBody()),
    });
    return { status: res.status, exitCode: await service.exited, output: service.output };
  } finally {
    await service.stop();
  }
}
