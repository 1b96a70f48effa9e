// CPU time spent by each process involved, read from /proc: the service process,
// the PostgreSQL server (postmaster + every backend, live or exited), and this
// bench process (the HTTP client, or pg-boss itself for the baseline). CPU
// milliseconds per job do not depend on what else the machine is running, so
// they say where the time goes even when wall-clock numbers are noisy, and
// cores × 1000 / (ms per job) bounds the throughput this machine can reach.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerMs: number | undefined;

function clockTicksPerMs(): number {
  if (ticksPerMs === undefined) {
    let hz = 100;
    try {
      hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {}
    ticksPerMs = hz / 1000;
  }
  return ticksPerMs;
}

/** [ppid, own ms, waited-for children ms] from /proc/<pid>/stat, or undefined if gone. */
function stat(pid: number): [number, number, number] | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the parenthesised command name (which may contain spaces).
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const t = clockTicksPerMs();
  return [Number(f[1]), (Number(f[11]) + Number(f[12])) / t, (Number(f[13]) + Number(f[14])) / t];
}

export function processCpuMs(pid: number): number {
  return stat(pid)?.[1] ?? 0;
}

/** The postmaster's own and children's CPU, plus that of its live children. */
export function postgresCpuMs(postmasterPid: number): number {
  const root = stat(postmasterPid);
  if (!root) return 0;
  let ms = root[1] + root[2];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = stat(Number(entry));
    if (s && s[0] === postmasterPid) ms += s[1];
  }
  return ms;
}

export interface CpuSnapshot {
  /** The service process (the baseline has none: its work runs in `bench`). */
  service: number;
  postgres: number | null;
  /** This process: the load generator, or the in-process baseline. */
  bench: number;
}

export function cpuSnapshot(servicePid: number, postmasterPid: number | undefined): CpuSnapshot {
  const u = process.cpuUsage();
  return {
    service: processCpuMs(servicePid),
    postgres: postmasterPid ? postgresCpuMs(postmasterPid) : null,
    bench: (u.user + u.system) / 1000,
  };
}

export function cpuDelta(a: CpuSnapshot, b: CpuSnapshot): CpuSnapshot {
  return {
    service: b.service - a.service,
    postgres: a.postgres === null || b.postgres === null ? null : b.postgres - a.postgres,
    bench: b.bench - a.bench,
  };
}

export function cpuSum(a: CpuSnapshot, b: CpuSnapshot): CpuSnapshot {
  return {
    service: a.service + b.service,
    postgres: a.postgres === null || b.postgres === null ? null : a.postgres + b.postgres,
    bench: a.bench + b.bench,
  };
}
