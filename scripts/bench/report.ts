// The results: a plain-text table on stdout and a JSON file under bench/results/.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './env.ts';
import { type Metric, type Target, targetMet } from './scenario.ts';

export interface RunInfo {
  date: string;
  quick: boolean;
  scenarios: number[];
  cores: number;
  cpu: string;
  memoryGiB: number;
  loadAverage: { start: number[]; end: number[] };
  node: string;
  postgres: string;
  pgBoss: string;
  commit: string;
  /** Node/V8 flags given to the service process (--node-option). */
  serviceNodeOptions: string[];
  durationSeconds: number;
}

export function machineInfo(): Pick<RunInfo, 'cores' | 'cpu' | 'memoryGiB' | 'node' | 'pgBoss' | 'commit'> {
  const bossPkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules', 'pg-boss', 'package.json'), 'utf8'));
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  } catch {}
  return {
    cores: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    pgBoss: bossPkg.version,
    commit,
  };
}

const fmt = (n: number | null, unit: string) => {
  if (n === null || Number.isNaN(n)) return '-';
  if (unit.endsWith('/s')) return Math.round(n).toLocaleString('en-US');
  return n < 10 ? n.toFixed(2) : n.toFixed(1);
};

export function describeTarget(t: Target | undefined, unit: string): string {
  if (!t) return '';
  const parts = [];
  if (t.min !== undefined) parts.push(`≥ ${t.min.toLocaleString('en-US')}`);
  if (t.max !== undefined) parts.push(`< ${t.max} ${unit}`);
  if (t.minRatio !== undefined) parts.push(`≥ ${t.minRatio}× baseline`);
  return parts.join(', ');
}

export function tableRows(metrics: Metric[], judge: boolean): string[][] {
  return metrics.map((m) => {
    const met = targetMet(m);
    return [
      String(m.scenario),
      m.name,
      `${fmt(m.value, m.unit)} ${m.unit}`,
      m.baseline === null ? '-' : `${fmt(m.baseline, m.unit)} ${m.unit}`,
      m.baseline ? `${(m.value / m.baseline).toFixed(2)}×` : '-',
      describeTarget(m.target, m.unit),
      !judge || met === null ? '' : met ? 'met' : 'MISSED',
    ];
  });
}

export function printTable(info: RunInfo, metrics: Metric[]): void {
  const head = ['#', 'metric', 'service', 'baseline', 'ratio', 'target', ''];
  const rows = [head, ...tableRows(metrics, !info.quick)];
  const widths = head.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  console.log(
    `\nai-service bench ${info.quick ? '(quick: sizes too small to mean anything) ' : ''}` +
      `${info.date}: ${info.cores} cores (${info.cpu}), Node ${info.node}, PostgreSQL ${info.postgres}, ` +
      `pg-boss ${info.pgBoss}, commit ${info.commit}, ` +
      `${info.serviceNodeOptions.length ? `service flags ${info.serviceNodeOptions.join(' ')}, ` : ''}load ${info.loadAverage.start[0].toFixed(2)} → ${info.loadAverage.end[0].toFixed(2)}`,
  );
  console.log(line(rows[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows.slice(1)) console.log(line(r));
  const notes = new Set(metrics.filter((m) => m.note).map((m) => `  [${m.scenario}] ${m.note}`));
  for (const n of notes) console.log(n);
  printCpu(info, metrics);
}

/**
 * CPU per job by process and the throughput that CPU alone allows on this
 * machine (cores × 1000 / ms per job, the load generator's share included since
 * it runs on the same cores).
 */
function printCpu(info: RunInfo, metrics: Metric[]): void {
  const rows = metrics.filter((m) => m.cpuPerJob);
  if (!rows.length) return;
  const ms = (n: number | null) => (n === null ? '-' : n.toFixed(3));
  const bound = (...parts: (number | null)[]) =>
    Math.round((info.cores * 1000) / parts.reduce<number>((a, b) => a + (b ?? 0), 0)).toLocaleString('en-US');
  console.log('\nCPU ms per job: service = node service + PostgreSQL + HTTP client; baseline = node (pg-boss) + PostgreSQL');
  for (const m of rows) {
    const { service: s, baseline: b } = m.cpuPerJob!;
    console.log(
      `  [${m.scenario}] service ${ms(s.service)} + ${ms(s.postgres)} + ${ms(s.bench)} (CPU bound ${bound(s.service, s.postgres, s.bench)} jobs/s)` +
        ` | baseline ${ms(b.bench)} + ${ms(b.postgres)} (CPU bound ${bound(b.bench, b.postgres)} jobs/s)`,
    );
  }
}

/** The same table in Markdown (for scripts/bench/README.md), with the CPU breakdown below it. */
export function markdown(info: RunInfo, metrics: Metric[]): string {
  const head = ['#', 'metric', 'service', 'baseline', 'ratio', 'target', 'met'];
  const rows = tableRows(metrics, !info.quick).map((r) => `| ${r.join(' | ')} |`);
  const cpu = metrics
    .filter((m) => m.cpuPerJob)
    .map((m) => {
      const { service: s, baseline: b } = m.cpuPerJob!;
      const f = (n: number | null) => (n === null ? '-' : n.toFixed(3));
      return `| ${m.scenario} | ${f(s.service)} | ${f(s.postgres)} | ${f(s.bench)} | ${f(b.bench)} | ${f(b.postgres)} |`;
    });
  return [
    `${info.date.slice(0, 10)}, ${info.cores} cores (${info.cpu}), ${info.memoryGiB} GiB, Node ${info.node}, ` +
      `PostgreSQL ${info.postgres}, pg-boss ${info.pgBoss}, commit ${info.commit}, ` +
      `load average ${info.loadAverage.start[0].toFixed(1)} → ${info.loadAverage.end[0].toFixed(1)}`,
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows,
    '',
    'CPU milliseconds per job:',
    '',
    '| # | service process | PostgreSQL (service) | load generator | baseline process (pg-boss) | PostgreSQL (baseline) |',
    '|---|---|---|---|---|---|',
    ...cpu,
    '',
  ].join('\n');
}

/** Writes bench/results/<timestamp>.json (and .md) and returns the JSON's path. */
export function writeResults(info: RunInfo, metrics: Metric[]): string {
  const dir = path.join(REPO_ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const base = path.join(dir, `${info.date.replace(/[:.]/g, '-')}${info.quick ? '-quick' : ''}`);
  const file = `${base}.json`;
  writeFileSync(`${base}.md`, markdown(info, metrics));
  const results = metrics.map((m) => ({
    ...m,
    ratio: m.baseline ? m.value / m.baseline : null,
    met: info.quick ? null : targetMet(m),
  }));
  writeFileSync(file, `${JSON.stringify({ ...info, results }, null, 2)}\n`);
  return file;
}
