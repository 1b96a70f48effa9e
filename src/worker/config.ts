// Worker configuration, read once from an env object by
// src/worker/main.ts with the same parsers and fail-fast errors as the
// service's src/config.ts. Each executor reads its own provider variables
// (see EXECUTORS); this module decides which profiles the worker serves.
import { hostname } from 'node:os';
import {
  ConfigError,
  DURATION,
  type Env,
  int,
  LOG_LEVELS,
  list,
  loadTracingConfig,
  oneOf,
  read,
  type TracingConfig,
  url,
} from '../config.ts';
import { parseDuration } from '../lib/units.ts';
import type { ConfiguredExecutor, ExecutorPlugin } from './executor.ts';
import { llmExecutor } from './executors/llm.ts';
import { whisperxExecutor } from './executors/whisperx.ts';

/** Every executor this worker knows. A new one is its file plus one entry here. */
export const EXECUTORS: ExecutorPlugin[] = [llmExecutor, whisperxExecutor];

/** The claim API caps `limit` at 100, so one profile never runs more at once. */
export const CONCURRENCY_MAX = 100;
const LEASE_SECONDS_MAX = 43_200;
const CLAIM_WAIT_SECONDS_MAX = 30;
const CIRCUIT_THRESHOLD_MAX = 1000;
const PROBE_INTERVAL_MAX_MS = 600_000;
const SLUG = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** One model profile served by one executor, with its own concurrency. */
export interface Lane {
  profile: string;
  executor: ConfiguredExecutor;
  concurrency: number;
}

export interface WorkerConfig {
  serviceUrl: string;
  serviceToken: string | undefined;
  workerId: string;
  /** Only these task types are claimed (the per-task-type feature flag); undefined = all. */
  taskTypes: string[] | undefined;
  lanes: Lane[];
  leaseSeconds: number;
  claimWaitSeconds: number;
  shutdownGraceMs: number;
  logLevel: string;
  circuit: CircuitConfig;
  /** Where /healthz and /metrics listen; undefined = not served. Port 0 picks a free one. */
  metrics: { host: string; port: number } | undefined;
  /** Spans of each job's claim, provider call and complete (src/tracing/README.md). */
  tracing: TracingConfig;
}

export interface CircuitConfig {
  /** Consecutive infrastructure failures that open a lane's circuit. */
  threshold: number;
  /** Wait before the first health probe of an open circuit; it doubles (with jitter) up to probeIntervalMaxMs. */
  probeIntervalMs: number;
  probeIntervalMaxMs: number;
}

function slugs(name: string) {
  return (raw: string) => {
    const items = list(raw);
    if (!items.length || !items.every((s) => SLUG.test(s))) throw new Error(`${name}: not slugs`);
    return items;
  };
}

function seconds(min: number, max: number) {
  return (raw: string) => {
    const s = parseDuration(raw) / 1000;
    if (s < min || s > max) throw new Error('out of range');
    return s;
  };
}

/** `2` (every profile), `qwen2.5-14b=4,whisperx=1`, or both: `2,whisperx=1`. */
function concurrency(raw: string): { fallback: number; byProfile: Map<string, number> } {
  const n = int(1, CONCURRENCY_MAX);
  let fallback = 1;
  const byProfile = new Map<string, number>();
  for (const item of list(raw)) {
    const eq = item.lastIndexOf('=');
    if (eq < 0) fallback = n(item);
    else byProfile.set(item.slice(0, eq).trim(), n(item.slice(eq + 1).trim()));
  }
  return { fallback, byProfile };
}

function lanes(env: Env): Lane[] {
  const configured = EXECUTORS.map((p) => p.configure(env)).filter((e): e is ConfiguredExecutor => e !== undefined);
  const byProfile = new Map<string, ConfiguredExecutor>();
  for (const e of configured) {
    for (const p of e.profiles) {
      const other = byProfile.get(p);
      if (other) throw new ConfigError(`profile ${p} is mapped to both ${other.name} and ${e.name}`);
      byProfile.set(p, e);
    }
  }
  if (!byProfile.size) throw new ConfigError('no executor is configured: set LLM_BASE_URL, OPENCLAW_URL or WHISPERX_URL');
  const profiles = read(env, 'WORKER_MODEL_PROFILES', [...byProfile.keys()], slugs('profiles'), 'comma-separated model profiles');
  const conc = read(
    env,
    'WORKER_CONCURRENCY',
    { fallback: 1, byProfile: new Map() },
    concurrency,
    `an integer 1-${CONCURRENCY_MAX}, or profile=n pairs`,
  );
  for (const p of conc.byProfile.keys()) {
    if (!profiles.includes(p)) throw new ConfigError(`WORKER_CONCURRENCY names ${p}, which is not in WORKER_MODEL_PROFILES`);
  }
  return profiles.map((profile) => {
    const executor = byProfile.get(profile);
    if (!executor) {
      throw new ConfigError(`WORKER_MODEL_PROFILES: no configured executor serves ${profile} (see LLM_PROFILES, WHISPERX_PROFILES)`);
    }
    return { profile, executor, concurrency: conc.byProfile.get(profile) ?? conc.fallback };
  });
}

export function loadWorkerConfig(env: Env, pid = process.pid): WorkerConfig {
  const lease = read(env, 'WORKER_LEASE', 300, seconds(1, LEASE_SECONDS_MAX), `${DURATION}, 1s-12h`);
  const config: WorkerConfig = {
    serviceUrl: read(env, 'AI_SERVICE_URL', 'http://127.0.0.1:8080', url, 'an http(s) URL'),
    serviceToken: env.AI_SERVICE_TOKEN || undefined,
    workerId: read(env, 'WORKER_ID', `${hostname()}-${pid}`, workerId, '1-200 characters'),
    taskTypes: read(env, 'WORKER_TASK_TYPES', undefined, slugs('task types'), 'comma-separated task types'),
    lanes: lanes(env),
    // The API takes whole seconds; round a sub-second remainder up rather than down.
    leaseSeconds: Math.ceil(lease),
    claimWaitSeconds: read(env, 'WORKER_CLAIM_WAIT', 20, seconds(0, CLAIM_WAIT_SECONDS_MAX), `${DURATION}, 0-30s`),
    shutdownGraceMs: read(env, 'WORKER_SHUTDOWN_GRACE', 30_000, parseDuration, DURATION),
    logLevel: read(env, 'LOG_LEVEL', 'info', oneOf(LOG_LEVELS), LOG_LEVELS.join(', ')),
    circuit: circuitConfig(env),
    metrics: metricsConfig(env),
    tracing: loadTracingConfig(env, 'ai-service-worker'),
  };
  return Object.freeze(config);
}

function workerId(raw: string): string {
  if (raw.length < 1 || raw.length > 200) throw new Error('length');
  return raw;
}

function circuitConfig(env: Env): CircuitConfig {
  const interval = millis(100, PROBE_INTERVAL_MAX_MS);
  const range = `${DURATION}, 100ms-10m`;
  const c: CircuitConfig = {
    threshold: read(env, 'WORKER_CIRCUIT_THRESHOLD', 3, int(1, CIRCUIT_THRESHOLD_MAX), `an integer 1-${CIRCUIT_THRESHOLD_MAX}`),
    probeIntervalMs: read(env, 'WORKER_PROBE_INTERVAL', 1000, interval, range),
    probeIntervalMaxMs: read(env, 'WORKER_PROBE_INTERVAL_MAX', 30_000, interval, range),
  };
  if (c.probeIntervalMaxMs < c.probeIntervalMs) throw new ConfigError('WORKER_PROBE_INTERVAL_MAX must not be below WORKER_PROBE_INTERVAL');
  return c;
}

function metricsConfig(env: Env): WorkerConfig['metrics'] {
  const port = read(env, 'WORKER_METRICS_PORT', undefined, int(0, 65_535), 'a port 0-65535 (0 = any free port)');
  if (port === undefined) return undefined;
  return { port, host: read(env, 'WORKER_METRICS_HOST', '0.0.0.0', (s) => s, 'a host name or address') };
}

function millis(min: number, max: number) {
  return (raw: string) => {
    const ms = parseDuration(raw);
    if (ms < min || ms > max) throw new Error('out of range');
    return ms;
  };
}
