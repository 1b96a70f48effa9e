// Callbacks never reach the service's own network: without
// WEBHOOK_ALLOW_PRIVATE_ADDRESSES, a callback URL whose host is (or resolves to)
// a loopback, private, link-local, unique-local or cloud-metadata address is
// refused at create (422 naming callback_url), and delivery checks again at
// connect time, so an address that changed since create is refused too.
import { expect } from 'chai';
import { postWebhook } from '../../src/webhooks/http-post.ts';
import { publicAddressAgent } from '../../src/lib/address-rules.ts';
import { inUrl, REFUSED_ADDRESSES } from '../support/addresses.ts';
import { jobBody, useService } from '../support/service.ts';
import { startReceiver } from './receiver.ts';

describe('callbacks to private addresses (SSRF)', () => {
  const { t } = useService({ WEBHOOK_SECRET: 'test-secret-0123456789', WEBHOOK_ALLOWED_HOSTS: '*' });

  for (const [address, rule] of REFUSED_ADDRESSES) {
    it(`refuses a callback_url at ${address} (${rule}) with 422`, async () => {
      const res = await t.api.post('/api/v1/jobs').send(jobBody({ callback_url: `http://${inUrl(address)}:8080/hook` }));
      expect(res.status).to.equal(422);
      expect(res.body.code).to.equal('callback_not_allowed');
      expect(res.body.detail).to.include('callback_url').and.include(`a ${rule} address`).and.include('WEBHOOK_ALLOW_PRIVATE_ADDRESSES');
    });
  }

  it('refuses a host name that resolves to a loopback address', async () => {
    const res = await t.api.post('/api/v1/jobs').send(jobBody({ callback_url: 'http://localhost:8080/hook' }));
    expect(res.status).to.equal(422);
    expect(res.body.detail).to.match(/callback_url is refused: localhost resolves to 127\.0\.0\.1, a loopback address/);
  });

  it('accepts a callback_url at a public address', async () => {
    const res = await t.api.post('/api/v1/jobs').send(jobBody({ callback_url: 'http://8.8.8.8/hook' }));
    expect(res.status).to.equal(201);
  });

  it('refuses delivery to a refused address at connect time, without retrying, and sends nothing', async () => {
    const receiver = await startReceiver();
    const agent = publicAddressAgent();
    try {
      const port = new URL(receiver.url).port;
      for (const [url, message] of [
        [`http://localhost:${port}/hook`, 'refused: localhost resolves to 127.0.0.1, a loopback address'],
        [`http://127.0.0.1:${port}/hook`, 'refused: 127.0.0.1 is a loopback address'],
        [`http://[::ffff:127.0.0.1]:${port}/hook`, 'refused: ::ffff:7f00:1 is a loopback address'],
      ]) {
        const result = await postWebhook(url, '{}', {}, 2000, agent);
        expect(result).to.include({ ok: false, retryable: false, statusCode: null, error: message });
      }
      expect(receiver.received).to.deep.equal([]);
    } finally {
      await agent.close();
      await receiver.close();
    }
  });
});
