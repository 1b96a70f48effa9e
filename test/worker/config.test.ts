// Worker configuration: defaults, the profile → executor mapping, and
// fail-fast errors that name the variable.
import { hostname } from 'node:os';
import { expect } from 'chai';
import { ConfigError } from '../../src/config.ts';
import { loadWorkerConfig } from '../../src/worker/config.ts';
import { startWorker } from './support.ts';

const LLM = { LLM_BASE_URL: 'http://vllm:8000/v1' };

function lanes(env: Record<string, string>) {
  return loadWorkerConfig(env).lanes.map((l) => [l.profile, l.executor.name, l.concurrency]);
}

function fails(env: Record<string, string>): string {
  try {
    loadWorkerConfig(env);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('worker config', () => {
  it('has defaults for everything but a provider', () => {
    const c = loadWorkerConfig(LLM, 4242);
    expect(c).to.deep.include({
      serviceUrl: 'http://127.0.0.1:8080',
      serviceToken: undefined,
      workerId: `${hostname()}-4242`,
      taskTypes: undefined,
      leaseSeconds: 300,
      claimWaitSeconds: 20,
      shutdownGraceMs: 30_000,
    });
    expect(lanes(LLM)).to.deep.equal([['qwen2.5-14b', 'llm', 1]]);
  });

  it('opens circuits after 3 failures, probes from 1 s up to 30 s, and serves no metrics by default', () => {
    const c = loadWorkerConfig(LLM);
    expect(c.circuit).to.deep.equal({ threshold: 3, probeIntervalMs: 1000, probeIntervalMaxMs: 30_000 });
    expect(c.metrics).to.equal(undefined);
    expect(loadWorkerConfig({ ...LLM, WORKER_METRICS_PORT: '0' }).metrics).to.deep.equal({ host: '0.0.0.0', port: 0 });
    const custom = { ...LLM, WORKER_METRICS_PORT: '9464', WORKER_METRICS_HOST: '127.0.0.1', WORKER_CIRCUIT_THRESHOLD: '5' };
    expect(loadWorkerConfig(custom)).to.deep.include({ metrics: { host: '127.0.0.1', port: 9464 } });
  });

  it('rejects circuit and metrics settings out of range, naming the variable', () => {
    expect(fails({ ...LLM, WORKER_CIRCUIT_THRESHOLD: '0' })).to.match(/^WORKER_CIRCUIT_THRESHOLD is invalid: expected an integer 1-1000/);
    expect(fails({ ...LLM, WORKER_CIRCUIT_THRESHOLD: '1001' })).to.match(/^WORKER_CIRCUIT_THRESHOLD is invalid/);
    expect(fails({ ...LLM, WORKER_PROBE_INTERVAL: '50ms' })).to.match(/^WORKER_PROBE_INTERVAL is invalid: .*100ms-10m/);
    expect(fails({ ...LLM, WORKER_PROBE_INTERVAL_MAX: '11m' })).to.match(/^WORKER_PROBE_INTERVAL_MAX is invalid/);
    expect(fails({ ...LLM, WORKER_PROBE_INTERVAL: '5s', WORKER_PROBE_INTERVAL_MAX: '2s' })).to.equal(
      'WORKER_PROBE_INTERVAL_MAX must not be below WORKER_PROBE_INTERVAL',
    );
    expect(fails({ ...LLM, WORKER_METRICS_PORT: '65536' })).to.match(/^WORKER_METRICS_PORT is invalid: expected a port 0-65535/);
  });

  it('serves every configured executor profile unless WORKER_MODEL_PROFILES narrows it', () => {
    const env = { ...LLM, LLM_MODEL: 'llama-8b', WHISPERX_URL: 'http://whisperx:9000' };
    expect(lanes(env)).to.deep.equal([
      ['llama-8b', 'llm', 1],
      ['whisperx', 'whisperx', 1],
    ]);
    expect(lanes({ ...env, WORKER_MODEL_PROFILES: 'whisperx' })).to.deep.equal([['whisperx', 'whisperx', 1]]);
    expect(lanes({ ...LLM, LLM_PROFILES: 'qwen,vision', WORKER_CONCURRENCY: '2,vision=4' })).to.deep.equal([
      ['qwen', 'llm', 2],
      ['vision', 'llm', 4],
    ]);
  });

  it('reads the task-type allow-list, lease, claim wait and token', () => {
    const c = loadWorkerConfig({
      ...LLM,
      WORKER_TASK_TYPES: 'summarize, translate',
      WORKER_LEASE: '90s',
      WORKER_CLAIM_WAIT: '500ms',
      AI_SERVICE_TOKEN: 't',
    });
    expect([c.taskTypes, c.leaseSeconds, c.claimWaitSeconds, c.serviceToken]).to.deep.equal([['summarize', 'translate'], 90, 0.5, 't']);
  });

  it('rejects bad values naming the variable', () => {
    expect(fails({})).to.equal('no executor is configured: set LLM_BASE_URL, OPENCLAW_URL or WHISPERX_URL');
    expect(fails({ ...LLM, WORKER_CONCURRENCY: '0' })).to.match(/^WORKER_CONCURRENCY is invalid/);
    expect(fails({ ...LLM, WORKER_CONCURRENCY: 'other=2' })).to.match(/^WORKER_CONCURRENCY names other/);
    expect(fails({ ...LLM, WORKER_CLAIM_WAIT: '31s' })).to.match(/^WORKER_CLAIM_WAIT is invalid/);
    expect(fails({ ...LLM, WORKER_LEASE: '0' })).to.match(/^WORKER_LEASE is invalid/);
    expect(fails({ ...LLM, WORKER_TASK_TYPES: 'a b' })).to.match(/^WORKER_TASK_TYPES is invalid/);
    expect(fails({ ...LLM, AI_SERVICE_URL: 'ftp://x' })).to.match(/^AI_SERVICE_URL is invalid/);
    expect(fails({ ...LLM, WORKER_MODEL_PROFILES: 'whisperx' })).to.match(/^WORKER_MODEL_PROFILES: no configured executor serves whisperx/);
    expect(fails({ ...LLM, WHISPERX_URL: 'http://w', LLM_PROFILES: 'whisperx' })).to.equal(
      'profile whisperx is mapped to both llm and whisperx',
    );
    expect(fails({ ...LLM, WHISPERX_URL: 'http://w', WHISPERX_MAX_AUDIO_BYTES: 'lots' })).to.match(/^WHISPERX_MAX_AUDIO_BYTES is invalid/);
  });

  it('makes the worker process exit 1 with one line naming the variable', async () => {
    const err = await startWorker({ ...LLM, LLM_TIMEOUT: 'soon', LLM_API_KEY: 'sk-hidden' }).catch((e) => e);
    expect(err.message).to.equal('worker exited with 1: LLM_TIMEOUT is invalid: expected a duration such as 500ms, 30s, 5m, 1h30m\n');
  });
});
