// The HTTP close at shutdown: connections that reached the listener before the
// close began are answered, never reset, including those still in the kernel's
// accept queue; keep-alive lasts 65 s by default.
import { Worker } from 'node:worker_threads';
import { expect } from 'chai';
import express from 'express';
import { loadConfig } from '../../src/config.ts';
import { closeHttp, listenHttp } from '../../src/http/listen.ts';

const CONNECTIONS = 40;

// Runs in a worker thread, so it can connect while the main thread's event loop is
// blocked: the connections then wait in the accept queue, as at a real SIGTERM.
const CLIENTS = `
const { workerData, parentPort } = require('node:worker_threads');
const net = require('node:net');
const { port, n, flag } = workerData;
let connected = 0;
const outcomes = [];
for (let i = 0; i < n; i++) {
  const s = net.connect(port, '127.0.0.1', () => {
    s.write('GET /hello HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n');
    if (++connected === n) { Atomics.store(flag, 0, 1); Atomics.notify(flag, 0); }
  });
  let data = '';
  s.on('data', (d) => { data += d; });
  s.on('error', (e) => outcomes.push(e.code));
  s.on('close', () => {
    if (data) outcomes.push(data.split('\\r\\n')[0]);
    if (outcomes.length === n) parentPort.postMessage(outcomes);
  });
}
`;

describe('HTTP close at shutdown', () => {
  it('answers every connection still in the accept queue when the close begins', async () => {
    const app = express();
    app.get('/hello', (_req, res) => {
      res.json({ hello: 'world' });
    });
    const config = loadConfig({ HTTP_HOST: '127.0.0.1', HTTP_PORT: '0' });
    const server = await listenHttp(app, config.http);
    const port = (server.address() as { port: number }).port;
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(CLIENTS, { eval: true, workerData: { port, n: CONNECTIONS, flag } });
    const outcomes = new Promise<string[]>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    // Block this thread until every client has connected (the kernel completes the
    // handshake without us), then begin the close before the event loop accepts any.
    expect(Atomics.wait(flag, 0, 0, 10_000)).to.not.equal('timed-out');
    const closed = closeHttp(server, { quietMs: 50, timeoutMs: 5000 });
    const results = await outcomes;
    await closed;
    await worker.terminate();
    expect(results).to.have.length(CONNECTIONS);
    expect(results.filter((r) => r !== 'HTTP/1.1 200 OK')).to.deep.equal([]);
  });

  it('keeps idle connections 65 s by default, configurable with HTTP_KEEP_ALIVE_TIMEOUT', async () => {
    expect(loadConfig({}).http.keepAliveTimeoutMs).to.equal(65_000);
    const config = loadConfig({ HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', HTTP_KEEP_ALIVE_TIMEOUT: '90s' });
    const server = await listenHttp(express(), config.http);
    expect(server.keepAliveTimeout).to.equal(90_000);
    await closeHttp(server, { quietMs: 50, timeoutMs: 1000 });
  });
});
