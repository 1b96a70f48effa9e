// Scenario: a provider outage. The stand-in LLM answers 503 for the first half of
// the outage and refuses connections for the second half, while 200 jobs of
// max_attempts 3 are queued and one reference worker runs. The worker's circuit
// opens, it only probes the provider, infrastructure failures are deferred rather
// than counted, and once the provider is back every job completes on its first
// counted attempt.
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { completion, sendJson, startWorker, type WorkerProcess } from '../worker/support.ts';
import { waitUntil } from '../support/wait.ts';
import { call, checkConsistency, faultScenario, sql } from './harness.ts';

const JOBS = 200;
/** The outage: 60 s (OUTAGE_SECONDS overrides it for a quicker local run). */
const OUTAGE_MS = Number(process.env.OUTAGE_SECONDS ?? 60) * 1000;
const PROFILE = 'outage-llm';
const PROBE_INTERVAL_S = 1;
const PROBE_INTERVAL_MAX_S = 4;
const CONCURRENCY = 4;
const THRESHOLD = 3;

interface Seen {
  method: string;
  url: string;
  at: number;
}

/** The stand-in LLM: `down` answers 503 to everything; it can stop listening (refuse) and listen again on its port. */
async function standInLlm() {
  const seen: Seen[] = [];
  let down = true;
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    seen.push({ method: req.method ?? '', url: req.url ?? '', at: Date.now() });
    if (down) return void res.writeHead(503).end();
    if (req.method === 'GET') return sendJson(res, 200, { object: 'list', data: [{ id: PROFILE, object: 'model' }] });
    sendJson(res, 200, completion('fine again', PROFILE));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    async refuse() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
    async recover() {
      down = false;
      server.listen(port, '127.0.0.1');
      await once(server, 'listening');
    },
    async close() {
      server.closeAllConnections();
      if (server.listening) await new Promise((r) => server.close(r));
    },
  };
}

describe('fault: a provider outage', function () {
  this.timeout(OUTAGE_MS + 150_000);
  const scenario = faultScenario();
  let worker: WorkerProcess | undefined;
  let llm: Awaited<ReturnType<typeof standInLlm>> | undefined;
  after(async () => {
    await worker?.stop();
    await llm?.close();
  });

  it('costs no attempts: all 200 jobs complete on attempt 1, the circuit opens and closes, the provider sees only probes', async () => {
    const r = await scenario.replica({ RETRY_BACKOFF_BASE: '200ms', RETRY_BACKOFF_MAX: '2s' });
    llm = await standInLlm();
    const jobs = Array.from({ length: JOBS }, (_, i) => ({ owner_ref: `outage-${i}`, input: { prompt: `job ${i}` } }));
    const created = await call(`${r.url}/api/v1/jobs/batch`, 'POST', {
      defaults: { owner_service: 'faults', task_type: 'chat', model_profile: PROFILE, max_attempts: 3 },
      jobs,
    });
    expect(created.status).to.equal(201);

    const outageStart = Date.now();
    worker = await startWorker({
      AI_SERVICE_URL: r.url,
      LLM_BASE_URL: `${llm.url}/v1`,
      LLM_PROFILES: PROFILE,
      WORKER_CONCURRENCY: String(CONCURRENCY),
      WORKER_CIRCUIT_THRESHOLD: String(THRESHOLD),
      WORKER_PROBE_INTERVAL: `${PROBE_INTERVAL_S}s`,
      WORKER_PROBE_INTERVAL_MAX: `${PROBE_INTERVAL_MAX_S}s`,
      WORKER_CLAIM_WAIT: '2s',
      WORKER_METRICS_PORT: '0',
      WORKER_METRICS_HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    });
    const listening = await worker.waitForLog('metrics listening', (l) => l.msg === 'worker health and metrics listening');
    const metricsUrl = `http://127.0.0.1:${listening.port}`;
    const lane = async () => ((await (await fetch(`${metricsUrl}/healthz`)).json()) as { lanes: { state: string }[] }).lanes[0];
    await waitUntil(async () => (await lane()).state === 'open', { what: 'the circuit to open', timeoutMs: 30_000 });

    // first half: 503; second half: connections refused
    await new Promise((r) => setTimeout(r, Math.max(0, outageStart + OUTAGE_MS / 2 - Date.now())));
    const seen503 = llm.seen.length;
    await llm.refuse();
    await new Promise((r) => setTimeout(r, Math.max(0, outageStart + OUTAGE_MS - Date.now())));
    const outageMs = Date.now() - outageStart;
    await llm.recover();

    const done = await waitUntil(
      async () => {
        const rows = await sql(scenario.db.url, `SELECT status, count(*)::int AS n FROM jobs GROUP BY status`);
        const completed = rows.find((x) => x.status === 'completed')?.n ?? 0;
        return completed === JOBS ? rows : undefined;
      },
      { what: 'all 200 jobs completed', timeoutMs: 90_000, intervalMs: 250 },
    ).catch(async (e) => {
      // say where the jobs stand and what the lane was doing
      const rows = await sql(scenario.db.url, `SELECT status, attempts, deferrals, count(*)::int AS n FROM jobs GROUP BY 1, 2, 3`);
      throw new Error(`${e.message}; jobs: ${JSON.stringify(rows)}; lane: ${JSON.stringify(await lane())}`);
    });
    expect(done).to.deep.equal([{ status: 'completed', n: JOBS }]);
    const [worst] = await sql(scenario.db.url, 'SELECT max(attempts)::int AS attempts, sum(deferrals)::int AS deferrals FROM jobs');
    expect(worst.attempts).to.equal(1);
    expect(worst.deferrals).to.be.greaterThan(0);

    // No storm: chat calls only until the circuit opened (threshold, plus what was
    // already in flight), then probes at the backed-off interval.
    const during = llm.seen.slice(0, seen503);
    const chats = during.filter((s) => s.method === 'POST');
    const probes = during.filter((s) => s.method === 'GET');
    expect(chats.length, `chat calls during the outage: ${chats.length}`).to.be.at.most(THRESHOLD + CONCURRENCY);
    expect(probes.length, `probes in ${OUTAGE_MS / 2} ms of 503`).to.be.at.most(Math.ceil(OUTAGE_MS / 2 / 1000 / PROBE_INTERVAL_S) + 1);
    const text = await (await fetch(`${metricsUrl}/metrics`)).text();
    expect(text).to.match(new RegExp(`ai_worker_circuit_opened_total\\{model_profile="${PROFILE}"\\} [1-9]`));
    expect(text).to.match(new RegExp(`ai_worker_provider_probes_total\\{model_profile="${PROFILE}",result="up"\\} [1-9]`));
    const downProbes = Number(
      new RegExp(`ai_worker_provider_probes_total\\{model_profile="${PROFILE}",result="down"\\} (\\d+)`).exec(text)?.[1],
    );
    // the whole outage, refused connections included: at most one probe per base interval
    expect(downProbes, `probes in ${outageMs} ms`).to.be.at.most(Math.ceil(outageMs / 1000 / PROBE_INTERVAL_S));
    expect(text).to.include(`ai_worker_lane_state{model_profile="${PROFILE}",state="claiming"} 1`);
    const stats = await call(`${r.url}/api/v1/stats`, 'GET');
    expect(stats.body.deferrals.total.provider_unavailable).to.be.greaterThan(0);
    await checkConsistency(scenario.db.url);
  });
});
