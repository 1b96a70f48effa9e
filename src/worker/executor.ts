// The one interface an executor implements, and how it plugs into the worker.
// An executor turns a job's `input` into a `result`, or throws a ProviderError
// (worker/providers/errors.ts) whose category the worker reports. Adding one is a
// file under src/worker/executors/ exporting an ExecutorPlugin, plus its entry
// in EXECUTORS (src/worker/config.ts).
import type { Logger } from 'pino';
import type { Env } from '../config.ts';
import type { ProviderTarget } from '../providers/check.ts';
import type { ProgressUpdate } from './progress.ts';

export type JsonObject = Record<string, unknown>;

export interface JobContext {
  id: string;
  task_type: string;
  model_profile: string;
  attempt: number;
  /** Aborted when the worker stops waiting for this job (shutdown, lease lost). */
  signal: AbortSignal;
  logger: Logger;
  /** W3C trace context to send to the provider (the worker's provider-call span); undefined when the job has none. */
  traceparent?: string;
  /** Reports progress to callers (sent at most every 500 ms, the latest wins; best effort). */
  progress(update: ProgressUpdate): void;
}

export interface Executor {
  run(input: JsonObject, ctx: JobContext): Promise<JsonObject>;
}

/** An executor whose settings were read from the environment. */
export interface ConfiguredExecutor {
  name: string;
  /** The model profiles it serves (its `<NAME>_PROFILES` variable, or its default). */
  profiles: string[];
  /** Settings safe to log (no keys). */
  summary: JsonObject;
  /** The provider whose health decides when an open circuit may close (see circuit.ts). */
  health: ProviderTarget;
  create(): Executor;
}

export interface ExecutorPlugin {
  name: string;
  /** Reads and validates the executor's variables; undefined when it is not configured. */
  configure(env: Env): ConfiguredExecutor | undefined;
}
