// `npm run migrate`: applies our migrations and installs/migrates pg-boss's
// schema, against DATABASE_URL (or the embedded development database; if the
// service is running on it, the running server is used and left running).
// A service started with MIGRATE_ON_START=false turns ready once this has run.
import { configOrExit, loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/database.ts';
import { migrate } from '../src/db/migrate.ts';
import { createPool, maskDatabaseUrl } from '../src/db/pool.ts';
import { createLogger } from '../src/http/request-log.ts';
import { migrateBoss } from '../src/pgboss/boss.ts';

const config = configOrExit(loadConfig, process.env);

const logger = createLogger(config.logLevel);
const { url: serverUrl, embedded } = await openDatabase(config.db);
// Migrations hold a session advisory lock, so they need the direct connection when a pooler is in front.
const url = config.db.directUrl ?? serverUrl;
const pool = createPool(url, config.db, 'ai-service-migrate');
try {
  const applied = await migrate(pool);
  await migrateBoss(url, logger);
  logger.info({ database: maskDatabaseUrl(url), applied }, 'migrations are current');
} catch (err) {
  logger.fatal({ database: maskDatabaseUrl(url), err: { message: (err as Error).message } }, 'migration failed');
  process.exitCode = 1;
} finally {
  await pool.end();
  await embedded?.stop();
}
