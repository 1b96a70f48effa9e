// The provider error mapping, through the real LLM client against a real HTTP
// server on 127.0.0.1: each way a call can fail lands in its category.
import { expect } from 'chai';
import { type ErrorCategory, ProviderError, parseRetryAfter } from '../../src/worker/providers/errors.ts';
import { LlmClient } from '../../src/worker/providers/llm.ts';
import { completion, freePort, sendJson, type StubServer, stubServer } from './support.ts';

describe('provider error mapping', () => {
  let stub: StubServer;
  let reply: (res: import('node:http').ServerResponse) => void = () => {};

  before(async () => {
    stub = await stubServer((_req, res) => reply(res));
  });
  after(() => stub.close());

  const chat = (timeoutMs = 5000, signal = new AbortController().signal, baseUrl = stub.url) =>
    new LlmClient({ name: 'llm', baseUrl, timeoutMs }).chat({ model: 'm', messages: [{ role: 'user', content: 'secret prompt' }] }, signal);

  async function failure(): Promise<ProviderError> {
    const err = await chat().catch((e) => e);
    expect(err).to.be.instanceOf(ProviderError);
    return err;
  }

  const cases: [number, ErrorCategory, boolean][] = [
    [400, 'invalid_input', false],
    [422, 'invalid_input', false],
    [401, 'provider_error', true],
    [404, 'provider_error', true],
    [500, 'provider_error', true],
    [502, 'provider_unavailable', true],
    [503, 'provider_unavailable', true],
    [504, 'provider_unavailable', true],
    [429, 'rate_limited', true],
  ];
  for (const [status, category, retryable] of cases) {
    it(`maps ${status} to ${category}`, async () => {
      reply = (res) => sendJson(res, status, { error: { message: 'nope' } });
      const err = await failure();
      expect([err.category, err.retryable, err.message]).to.deep.equal([category, retryable, `llm answered ${status}: nope`]);
    });
  }

  it('honours Retry-After in seconds or as an HTTP date', async () => {
    reply = (res) => sendJson(res, 429, {}, { 'retry-after': '7' });
    expect((await failure()).retryAfterSeconds).to.equal(7);
    const inTwoMinutes = new Date(Date.now() + 120_000).toUTCString();
    expect(parseRetryAfter(inTwoMinutes)).to.be.within(118, 120);
    expect([parseRetryAfter(undefined), parseRetryAfter('soon'), parseRetryAfter('999999')]).to.deep.equal([undefined, undefined, 86_400]);
  });

  it('maps a refused connection and a reset connection to provider_unavailable', async () => {
    const port = await freePort();
    const refused = await chat(5000, undefined, `http://127.0.0.1:${port}`).catch((e) => e);
    expect([refused.category, refused.message]).to.deep.equal(['provider_unavailable', 'llm: connection refused (ECONNREFUSED)']);
    reply = (res) => res.socket?.destroy();
    expect((await failure()).category).to.equal('provider_unavailable');
  });

  it('maps a reply slower than the timeout to timeout', async () => {
    reply = (res) => setTimeout(() => sendJson(res, 200, completion('late')), 1000);
    const err = await chat(100).catch((e) => e);
    expect([err.category, err.retryable, err.message]).to.deep.equal(['timeout', true, 'llm timed out']);
  });

  it("rethrows the caller's abort reason unchanged", async () => {
    reply = (res) => setTimeout(() => sendJson(res, 200, completion('late')), 1000);
    const ac = new AbortController();
    const reason = new Error('shutting down');
    setImmediate(() => ac.abort(reason));
    expect(await chat(5000, ac.signal).catch((e) => e)).to.equal(reason);
  });

  it('keeps only a short error text from the reply, never the whole body', async () => {
    reply = (res) => sendJson(res, 500, { error: { message: 'x'.repeat(500) }, echo: 'secret prompt' });
    const err = await failure();
    expect(err.message).to.equal(`llm answered 500: ${'x'.repeat(200)}…`);
    reply = (res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<html>secret prompt</html>');
    expect((await failure()).message).to.equal('llm answered 502');
  });
});
