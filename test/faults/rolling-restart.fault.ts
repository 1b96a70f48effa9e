// Scenario: a rolling restart. Three replicas behind a round-robin balancer take
// steady traffic from 8 clients while each replica in turn gets SIGTERM and is
// started again on its port, with default shutdown settings. No client may see a
// connection error or a status other than 200/201/503, and every job a client
// saw acknowledged must be in the database.
import { expect } from 'chai';
import { Agent, request } from 'undici';
import { type Balancer, startBalancer } from '../support/balancer.ts';
import { waitUntil } from '../support/wait.ts';
import { checkConsistency, faultScenario, type Replica, sql } from './harness.ts';

const CLIENTS = 8;
const REPLICAS = 3;
/** Successful creates required between two restarts, so each restart happens under load. */
const CREATES_BETWEEN_RESTARTS = 60;

interface Outcome {
  status?: number;
  error?: string;
  id?: string;
}

describe('fault: rolling restart behind a load balancer', function () {
  this.timeout(180_000);
  const scenario = faultScenario();
  let balancer: Balancer | undefined;
  after(() => balancer?.close());

  it('restarts every replica in turn without a connection error or a lost job', async () => {
    const replicas: Replica[] = [];
    for (let i = 0; i < REPLICAS; i++) replicas.push(await scenario.replica());
    const ports = replicas.map((r) => Number(new URL(r.url).port));
    balancer = await startBalancer(ports.map((port) => ({ host: '127.0.0.1', port })));

    // Keep-alive connections through the balancer, as a real client would use.
    const agent = new Agent({ connections: 2 });
    const outcomes: Outcome[] = [];
    let stop = false;
    let n = 0;
    const client = async (c: number) => {
      while (!stop) {
        const path = n % 4 === 3 && outcomes.at(-1)?.id ? `/api/v1/jobs/${outcomes.at(-1)?.id}` : '/api/v1/jobs';
        const create = path === '/api/v1/jobs';
        try {
          const res = await request(`${balancer!.url}${path}`, {
            method: create ? 'POST' : 'GET',
            dispatcher: agent,
            headers: { 'content-type': 'application/json' },
            body: create
              ? JSON.stringify({
                  owner_service: 'faults',
                  owner_ref: `rolling-${c}-${n++}`,
                  task_type: 'roll',
                  model_profile: 'roll-m',
                  input: {},
                })
              : undefined,
          });
          const body = (await res.body.json()) as { id?: string };
          outcomes.push({ status: res.statusCode, id: create && res.statusCode === 201 ? body.id : undefined });
        } catch (err: any) {
          outcomes.push({ error: err?.code ?? err?.cause?.code ?? String(err) });
        }
      }
    };
    const created = () => outcomes.filter((o) => o.status === 201).length;
    const clients = Array.from({ length: CLIENTS }, (_, c) => client(c));

    for (let i = 0; i < REPLICAS; i++) {
      const before = created();
      await waitUntil(async () => created() >= before + CREATES_BETWEEN_RESTARTS, { timeoutMs: 30_000, what: 'load before a restart' });
      replicas[i].kill('SIGTERM');
      expect(await replicas[i].exited, `replica ${i} exits 0`).to.equal(0);
      replicas[i] = await scenario.replica({ HTTP_PORT: String(ports[i]) });
    }
    const last = created();
    await waitUntil(async () => created() >= last + CREATES_BETWEEN_RESTARTS, { timeoutMs: 30_000, what: 'load after the restarts' });
    stop = true;
    await Promise.all(clients);
    await agent.close();

    expect(
      outcomes.filter((o) => o.error).map((o) => o.error),
      'connection errors',
    ).to.deep.equal([]);
    expect(balancer.backendErrors, 'connections reset by a replica').to.deep.equal([]);
    const unexpected = outcomes.filter((o) => o.status !== undefined && ![200, 201, 503].includes(o.status));
    expect(unexpected).to.deep.equal([]);
    const ids = outcomes.filter((o) => o.id).map((o) => o.id);
    const rows = await sql(scenario.db.url, 'SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[])', [ids]);
    expect(rows[0].n).to.equal(ids.length);
    console.log(
      `      ${outcomes.length} requests, ${ids.length} jobs acknowledged, ${outcomes.filter((o) => o.status === 503).length} answered 503`,
    );
    await checkConsistency(scenario.db.url);
  });
});
