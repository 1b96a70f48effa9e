// Configuration is read once, from an env object passed in (never process.env
// elsewhere), validated, and frozen. A bad value fails fast with the variable's
// name and the accepted form; secret values never appear in error messages.
import { parseBoolean, parseBytes, parseDuration } from './lib/units.ts';

export class ConfigError extends Error {}

/** The HTTP listener. */
export interface HttpConfig {
  host: string;
  port: number;
  requestTimeoutMs: number;
  /** Idle keep-alive connections outlive cloud load balancers' 60 s idle timeout, so the balancer (not us) closes them. */
  keepAliveTimeoutMs: number;
}

/** PostgreSQL: where it is (or the embedded development server's data directory) and the pool. */
export interface DbConfig {
  /** Unset outside production: the embedded development server is used. */
  url: string | undefined;
  /**
   * A session-capable connection (LISTEN, leader lock, migrations, pg-boss's own pool) when `url`
   * names a transaction-mode pooler; unset, `url` serves both.
   */
  directUrl: string | undefined;
  /** Named prepared statements on `url`; they collide on a transaction-mode pooler. */
  preparedStatements: boolean;
  dataDir: string;
  migrateOnStart: boolean;
  poolSize: number;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
}

/** Payload limits. Inputs and results share the JSON depth limit. */
export interface LimitsConfig {
  bodyBytes: number;
  batchBodyBytes: number;
  jsonMaxDepth: number;
  input: { maxBytes: number; maxDepth: number };
  result: { maxBytes: number; maxDepth: number };
}

/** The upstream providers the status probe checks. */
export interface ProvidersConfig {
  llmBaseUrl: string | undefined;
  llmApiKey: string | undefined;
  llmModel: string;
  llmTimeoutMs: number;
  whisperxUrl: string | undefined;
  openclawUrl: string | undefined;
  checkTimeoutMs: number;
}

export interface AuthConfig {
  tokensFile: string | undefined;
  tokens: string | undefined;
  disabled: boolean;
  /** Bearer token for /metrics; unset leaves /metrics open. */
  metricsToken: string | undefined;
}

export interface WebhooksConfig {
  secrets: string[];
  allowedHosts: string[];
  /** Callbacks to loopback, private, link-local, unique-local or cloud-metadata addresses are refused unless true. */
  allowPrivateAddresses: boolean;
  timeoutMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  pollMs: number;
}

/** OpenTelemetry traces (src/tracing/README.md); the variables are OpenTelemetry's standard ones. */
export interface TracingConfig {
  /** Where spans are POSTed (OTLP/HTTP, JSON); undefined: tracing is off. */
  tracesUrl: string | undefined;
  serviceName: string;
  /** Spans are exported in batches at most this long after they end. */
  exportDelayMs: number;
  /** One export, with its retries, gives up after this; it also bounds the last export at shutdown. */
  exportTimeoutMs: number;
}

/** Leases, retries and long polls of the job queue. */
export interface JobsConfig {
  reaperIntervalMs: number;
  /** Failed attempts wait base·2^(attempt-1), half of it random, capped (unless the worker sets retry_after_seconds). */
  retryBackoff: { baseMs: number; maxMs: number };
  longPollRecheckMs: number;
}

/** Live progress for callers: event streams (SSE) per replica. */
export interface EventsConfig {
  /** Open event streams this replica serves; one more is answered 503 with Retry-After. */
  streamsMax: number;
  /** A comment line this often keeps idle streams open through proxies. */
  keepAliveMs: number;
}

export interface RetentionConfig {
  /** Retention per terminal status in milliseconds; 0 keeps forever. */
  policy: { completed: number; failed: number; cancelled: number };
  purgeIntervalMs: number;
  /** A queue that has held no job for this long is dropped from job_queues and pg-boss; 0 keeps queues forever. */
  queueIdleDropMs: number;
}

export interface ShutdownConfig {
  /** Keep serving with /readyz 503 this long after SIGTERM, so load balancers stop routing here first. */
  delayMs: number;
  /** How long in-flight requests may take to finish once the listener closes. */
  timeoutMs: number;
  /**
   * After SIGTERM the listener stays open until requests have stopped arriving for this long
   * (at most `timeoutMs`), so connections a balancer still sends are answered, not reset.
   */
  quietMs: number;
}

export interface Config {
  nodeEnv: string;
  production: boolean;
  logLevel: string;
  http: HttpConfig;
  db: DbConfig;
  limits: LimitsConfig;
  providers: ProvidersConfig;
  auth: AuthConfig;
  webhooks: WebhooksConfig;
  jobs: JobsConfig;
  events: EventsConfig;
  retention: RetentionConfig;
  shutdown: ShutdownConfig;
  tracing: TracingConfig;
}

export type Env = Record<string, string | undefined>;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Reads one variable with a parser; the parser throws with the accepted form. */
export function read<T>(env: Env, name: string, fallback: T, parse: (raw: string) => T, form: string): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  try {
    return parse(raw.trim());
  } catch {
    throw new ConfigError(`${name} is invalid: expected ${form}`);
  }
}

export function int(min: number, max: number) {
  return (raw: string) => {
    if (!/^\d+$/.test(raw)) throw new Error('not an integer');
    const n = Number(raw);
    if (n < min || n > max) throw new Error('out of range');
    return n;
  };
}

export function url(raw: string): string {
  const u = new URL(raw);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
  return raw.replace(/\/+$/, '');
}

const TRACES_EXPORT_DELAY_DEFAULT_MS = 5000;
const TRACES_EXPORT_TIMEOUT_DEFAULT_MS = 10_000;

/** The tracing section, read the same way by the service and the worker (src/worker/config.ts). */
export function loadTracingConfig(env: Env, defaultServiceName: string): TracingConfig {
  // The signal-specific variable is the full URL; the general one is a base that gets /v1/traces.
  const traces = read(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', undefined, url, 'an http(s) URL');
  const base = read(env, 'OTEL_EXPORTER_OTLP_ENDPOINT', undefined, url, 'an http(s) URL');
  return {
    tracesUrl: traces ?? (base ? `${base}/v1/traces` : undefined),
    serviceName: read(env, 'OTEL_SERVICE_NAME', defaultServiceName, (s) => s, 'a service name'),
    exportDelayMs: read(env, 'OTEL_BSP_SCHEDULE_DELAY', TRACES_EXPORT_DELAY_DEFAULT_MS, int(1, 3_600_000), 'milliseconds, 1-3600000'),
    exportTimeoutMs: read(env, 'OTEL_EXPORTER_OTLP_TIMEOUT', TRACES_EXPORT_TIMEOUT_DEFAULT_MS, int(1, 600_000), 'milliseconds, 1-600000'),
  };
}

function dbUrl(raw: string): string {
  const u = new URL(raw);
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw new Error('not postgres');
  return raw;
}

export function oneOf(values: string[]) {
  return (raw: string) => {
    if (!values.includes(raw)) throw new Error('unknown');
    return raw;
  };
}

// Node timers hold at most 2^31-1 ms; a longer one fires after 1 ms.
const TIMER_MAX_MS = 2_147_483_647;

// A zero interval or timeout would spin or fail at once, and an oversized one would
// overflow the timer; only the documented "0 = never" settings accept 0.
function duration(raw: string): number {
  const ms = parseDuration(raw);
  if (ms <= 0 || ms > TIMER_MAX_MS) throw new Error('out of range');
  return ms;
}

function durationOr0(raw: string): number {
  return raw === '0' ? 0 : duration(raw);
}

export function list(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export const DURATION = 'a duration such as 500ms, 30s, 5m, 1h30m';
// Intervals and timeouts: `duration` below.
const POSITIVE_DURATION = `${DURATION} (more than 0, at most 24d)`;
const DURATION_OR_0 = `${DURATION}, or 0 to keep forever`;
const BOOL = 'true, false, 1 or 0';
export const BYTES = 'a size such as 1048576, 512kb, 2mb';

export function loadConfig(env: Env): Config {
  const nodeEnv = env.NODE_ENV || 'development';
  const production = nodeEnv === 'production';
  const databaseUrl = read(env, 'DATABASE_URL', undefined, dbUrl, 'a postgres:// URL');
  if (production && !databaseUrl) throw new ConfigError('DATABASE_URL is required in production');
  const databaseDirectUrl = read(env, 'DATABASE_DIRECT_URL', undefined, dbUrl, 'a postgres:// URL');
  if (databaseDirectUrl && !databaseUrl) throw new ConfigError('DATABASE_DIRECT_URL needs DATABASE_URL');

  const jsonMaxDepth = read(env, 'JSON_MAX_DEPTH', 64, int(2, 1000), 'an integer 2-1000');
  const config: Config = {
    nodeEnv,
    production,
    logLevel: read(env, 'LOG_LEVEL', 'info', oneOf(LOG_LEVELS), LOG_LEVELS.join(', ')),
    http: {
      host: read(env, 'HTTP_HOST', '0.0.0.0', (s) => s, 'a host name or address'),
      port: read(env, 'HTTP_PORT', 8080, int(0, 65535), 'a port number 0-65535'),
      requestTimeoutMs: read(env, 'REQUEST_TIMEOUT', 60_000, duration, POSITIVE_DURATION),
      keepAliveTimeoutMs: read(env, 'HTTP_KEEP_ALIVE_TIMEOUT', 65_000, duration, POSITIVE_DURATION),
    },
    db: {
      url: databaseUrl,
      directUrl: databaseDirectUrl,
      // by default only when DATABASE_URL is the direct connection
      preparedStatements: read(env, 'DB_PREPARED_STATEMENTS', databaseDirectUrl === undefined, parseBoolean, BOOL),
      dataDir: read(env, 'DATA_DIR', '.data', (s) => s, 'a directory path'),
      migrateOnStart: read(env, 'MIGRATE_ON_START', true, parseBoolean, BOOL),
      poolSize: read(env, 'DB_POOL_SIZE', 20, int(2, 1000), 'an integer 2-1000'),
      statementTimeoutMs: read(env, 'DB_STATEMENT_TIMEOUT', 10_000, duration, POSITIVE_DURATION),
      connectTimeoutMs: read(env, 'DB_CONNECT_TIMEOUT', 3000, duration, POSITIVE_DURATION),
    },
    limits: {
      bodyBytes: read(env, 'BODY_LIMIT', 2 * 1024 * 1024, parseBytes, BYTES),
      batchBodyBytes: read(env, 'BATCH_BODY_LIMIT', 16 * 1024 * 1024, parseBytes, BYTES),
      jsonMaxDepth,
      input: { maxBytes: read(env, 'MAX_INPUT_BYTES', 1024 * 1024, parseBytes, BYTES), maxDepth: jsonMaxDepth },
      result: { maxBytes: read(env, 'MAX_RESULT_BYTES', 1024 * 1024, parseBytes, BYTES), maxDepth: jsonMaxDepth },
    },
    providers: {
      llmBaseUrl: read(env, 'LLM_BASE_URL', undefined, url, 'an http(s) URL'),
      llmApiKey: env.LLM_API_KEY || undefined,
      llmModel: read(env, 'LLM_MODEL', 'qwen2.5-14b', (s) => s, 'a model name'),
      llmTimeoutMs: read(env, 'LLM_TIMEOUT', 300_000, duration, POSITIVE_DURATION),
      whisperxUrl: read(env, 'WHISPERX_URL', undefined, url, 'an http(s) URL'),
      openclawUrl: read(env, 'OPENCLAW_URL', undefined, url, 'an http(s) URL'),
      checkTimeoutMs: read(env, 'PROVIDER_CHECK_TIMEOUT', 3000, duration, POSITIVE_DURATION),
    },
    auth: {
      tokensFile: env.API_TOKENS_FILE || undefined,
      tokens: env.API_TOKENS || undefined,
      disabled: read(env, 'AUTH_DISABLED', false, parseBoolean, BOOL),
      metricsToken: env.METRICS_TOKEN || undefined,
    },
    webhooks: {
      secrets: read(env, 'WEBHOOK_SECRET', [], list, 'one or more comma-separated secrets'),
      allowedHosts: read(env, 'WEBHOOK_ALLOWED_HOSTS', [], list, 'comma-separated host patterns'),
      allowPrivateAddresses: read(env, 'WEBHOOK_ALLOW_PRIVATE_ADDRESSES', false, parseBoolean, BOOL),
      timeoutMs: read(env, 'WEBHOOK_TIMEOUT', 10_000, duration, POSITIVE_DURATION),
      maxAttempts: read(env, 'WEBHOOK_MAX_ATTEMPTS', 8, int(1, 100), 'an integer 1-100'),
      // 15m doubling (with jitter, capped at 12h) spreads 8 attempts over about a day; 0 = retry at once.
      retryBaseMs: read(env, 'WEBHOOK_RETRY_BASE', 900_000, durationOr0, `${POSITIVE_DURATION}, or 0`),
      retryMaxMs: read(env, 'WEBHOOK_RETRY_MAX', 43_200_000, duration, POSITIVE_DURATION),
      pollMs: read(env, 'WEBHOOK_POLL_INTERVAL', 500, duration, POSITIVE_DURATION),
    },
    jobs: {
      reaperIntervalMs: read(env, 'REAPER_INTERVAL', 2000, duration, POSITIVE_DURATION),
      retryBackoff: {
        baseMs: read(env, 'RETRY_BACKOFF_BASE', 5000, duration, POSITIVE_DURATION),
        maxMs: read(env, 'RETRY_BACKOFF_MAX', 600_000, duration, POSITIVE_DURATION),
      },
      longPollRecheckMs: read(env, 'LONG_POLL_RECHECK', 1000, duration, POSITIVE_DURATION),
    },
    events: {
      streamsMax: read(env, 'EVENT_STREAMS_MAX', 2000, int(1, 100_000), 'an integer 1-100000'),
      keepAliveMs: read(env, 'EVENT_STREAM_KEEPALIVE', 15_000, duration, POSITIVE_DURATION),
    },
    retention: {
      policy: {
        completed: read(env, 'RETENTION_COMPLETED', 7 * 86_400_000, parseDuration, DURATION_OR_0),
        failed: read(env, 'RETENTION_FAILED', 30 * 86_400_000, parseDuration, DURATION_OR_0),
        cancelled: read(env, 'RETENTION_CANCELLED', 7 * 86_400_000, parseDuration, DURATION_OR_0),
      },
      purgeIntervalMs: read(env, 'PURGE_INTERVAL', 60_000, duration, POSITIVE_DURATION),
      queueIdleDropMs: read(env, 'QUEUE_IDLE_DROP', 7 * 86_400_000, parseDuration, DURATION_OR_0),
    },
    shutdown: {
      delayMs: read(env, 'SHUTDOWN_DELAY', 0, durationOr0, `${POSITIVE_DURATION}, or 0 to close at once`),
      timeoutMs: read(env, 'SHUTDOWN_TIMEOUT', 10_000, duration, POSITIVE_DURATION),
      quietMs: read(env, 'SHUTDOWN_QUIET', 1000, duration, POSITIVE_DURATION),
    },
    tracing: loadTracingConfig(env, 'ai-service'),
  };
  return deepFreeze(config);
}

/** Freezes the config and each of its sections, so no reader can change a setting. */
function deepFreeze<T extends object>(o: T): T {
  for (const v of Object.values(o)) if (v && typeof v === 'object') deepFreeze(v);
  return Object.freeze(o);
}

/**
 * For entry points (service, worker, scripts): parse config, or print the one-line
 * reason (naming the variable, never a value) and exit 1 without a stack trace.
 */
export function configOrExit<T>(load: (env: Env) => T, env: Env): T {
  try {
    return load(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}
