// `npm run migrate`: applies our migrations and installs/migrates pg-boss's
// schema, against DATABASE_URL (or the embedded development database).
import path from 'node:path';
import { loadConfig } from '../src/config.ts';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { createPool, maskDatabaseUrl } from '../src/db/pool.ts';
import { createLogger } from '../src/http/request-log.ts';
import { migrateBoss } from '../src/queue/boss.ts';

const config = loadConfig(process.env);
const logger = createLogger(config.logLevel);
const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres(path.join(config.dataDir, 'postgres'));
const url = config.databaseUrl ?? embedded!.url;
const pool = createPool(url, config, 'ai-service-migrate');
try {
  const applied = await migrate(pool);
  await migrateBoss(url, logger);
  logger.info({ database: maskDatabaseUrl(url), applied }, 'migrations are current');
} finally {
  await pool.end();
  await embedded?.stop();
}
