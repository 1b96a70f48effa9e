// Which destination addresses outbound requests to caller-supplied URLs refuse,
// and that the refusal happens at connect time, on the address DNS returned.
import net from 'node:net';
import { expect } from 'chai';
import { request } from 'undici';
import { AddressNotAllowedError, publicAddressAgent, refusedAddressRule } from '../../src/lib/address-rules.ts';
import { REFUSED_ADDRESSES } from '../support/addresses.ts';

describe('outbound address rules', () => {
  for (const [address, rule] of REFUSED_ADDRESSES) {
    it(`refuses ${address} as ${rule}`, () => {
      expect(refusedAddressRule(address)).to.equal(rule);
    });
  }

  it('allows public addresses, including those next to the refused ranges', () => {
    for (const a of ['8.8.8.8', '172.15.255.255', '172.32.0.1', '192.169.0.1', '11.0.0.1', '2606:4700::1111', '::ffff:8.8.8.8']) {
      expect(refusedAddressRule(a), a).to.equal(undefined);
    }
  });

  it('refuses a host name that resolves to loopback at connect time, before any connection is made', async () => {
    let connections = 0;
    const server = net.createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    const agent = publicAddressAgent();
    try {
      const err = await request(`http://localhost:${port}/`, { dispatcher: agent }).then(
        () => undefined,
        (e) => e,
      );
      expect(err).to.be.instanceOf(AddressNotAllowedError);
      expect(err.message).to.match(/^localhost resolves to (127\.0\.0\.1|::1), a loopback address$/);
      expect(connections).to.equal(0);
    } finally {
      await agent.close();
      await new Promise((r) => server.close(r));
    }
  });
});
