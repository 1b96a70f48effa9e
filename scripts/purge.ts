// `npm run purge [-- --dry-run] [--batch-size N] [--max-time 5m]`: deletes jobs
// past their retention (RETENTION_* settings) from both stores now, against
// DATABASE_URL or the embedded development database. The same routine the leader
// replica runs every PURGE_INTERVAL; safe to run while the service is up (each
// batch is its own short transaction and skips rows another session holds).
// --dry-run prints what would go, per queue and status, and deletes nothing.
import { parseArgs } from 'node:util';
import { configOrExit, loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/database.ts';
import { createPool, maskDatabaseUrl } from '../src/db/pool.ts';
import { PURGE_BATCH_ROWS, Purger } from '../src/retention/purge.ts';
import { parseDuration } from '../src/lib/units.ts';
import type { QueueCount } from '../src/retention/purge-store.ts';

const USAGE = `usage: npm run purge -- [--dry-run] [--batch-size N] [--max-time DURATION]
  --dry-run          print what would be deleted (per queue and status), delete nothing
  --batch-size N     rows per batch transaction (default ${PURGE_BATCH_ROWS}, 1-100000)
  --max-time D       stop starting new batches after D (e.g. 30s, 5m); default: until done`;

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

const ARGS = {
  'dry-run': { type: 'boolean', default: false },
  'batch-size': { type: 'string' },
  'max-time': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function options() {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof ARGS }>>;
  try {
    parsed = parseArgs({ options: ARGS });
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`);
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const batchRows = v['batch-size'] === undefined ? PURGE_BATCH_ROWS : Number(v['batch-size']);
  if (!Number.isInteger(batchRows) || batchRows < 1 || batchRows > 100_000) fail('--batch-size must be an integer 1-100000');
  let maxRunMs = Number.POSITIVE_INFINITY;
  if (v['max-time'] !== undefined) {
    try {
      maxRunMs = parseDuration(v['max-time']);
    } catch {
      fail('--max-time must be a duration such as 30s or 5m');
    }
  }
  return { dryRun: v['dry-run'], batchRows, maxRunMs };
}

function table(counts: QueueCount[]): string {
  const rows = [...counts].sort((a, b) => a.queue.localeCompare(b.queue) || a.status.localeCompare(b.status));
  const width = Math.max(5, ...rows.map((r) => r.queue.length));
  const line = (q: string, s: string, n: string) => `${q.padEnd(width)}  ${s.padEnd(9)}  ${n.padStart(10)}`;
  const total = rows.reduce((a, r) => a + r.n, 0);
  return [line('queue', 'status', 'rows'), ...rows.map((r) => line(r.queue, r.status, String(r.n))), line('total', '', String(total))].join(
    '\n',
  );
}

function describePolicy(policy: Record<string, number>): string {
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'm'],
    [1000, 's'],
  ];
  const fmt = (ms: number) => {
    if (ms === 0) return 'keep forever';
    const [size, unit] = units.find(([u]) => ms % u === 0) ?? [1, 'ms'];
    return `${ms / size}${unit}`;
  };
  return Object.entries(policy)
    .map(([s, ms]) => `${s} ${fmt(ms)}`)
    .join(', ');
}

const opts = options();
const config = configOrExit(loadConfig, process.env);
const { url, embedded } = await openDatabase(config.db);
// No statement timeout needed beyond the pool's: each batch is short by construction.
// Named as the service (createPool's default): the purge writes both stores in one
// statement, as the service does, and pg-boss's watch triggers (migration 004) must not
// note its deletes as changes made through pg-boss for the leader to adopt.
const pool = createPool(url, config.db);
const { policy } = config.retention;
const purger = new Purger({ db: pool, policy });
let interrupted = false;
process.on('SIGINT', () => {
  interrupted = true;
});
process.on('SIGTERM', () => {
  interrupted = true;
});
try {
  process.stdout.write(`database ${maskDatabaseUrl(url)}\nretention: ${describePolicy(policy)}\n`);
  if (opts.dryRun) {
    process.stdout.write(`dry run: would delete\n${table(await purger.preview())}\n`);
  } else {
    const r = await purger.run({ batchRows: opts.batchRows, maxRunMs: opts.maxRunMs, shouldContinue: () => !interrupted });
    const rate = r.durationMs > 0 ? Math.round((r.total / r.durationMs) * 1000) : 0;
    process.stdout.write(`deleted\n${table(r.counts)}\n`);
    process.stdout.write(
      `${r.batches} batches in ${(r.durationMs / 1000).toFixed(1)} s (${rate} rows/s)${r.done ? '' : '; stopped early, expired rows remain'}\n`,
    );
    if (r.drift) process.stdout.write(`warning: ${r.drift} jobs rows had no pg-boss row (run npm run check:consistency)\n`);
  }
} finally {
  await pool.end();
  await embedded?.stop();
}
