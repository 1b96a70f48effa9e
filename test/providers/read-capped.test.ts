// readCapped(): the size cap every provider reply and status probe is read through.
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { readCapped } from '../../src/lib/read-capped.ts';

const chunks = (...sizes: number[]) => Readable.from(sizes.map((n, i) => Buffer.alloc(n, 97 + i)));

describe('readCapped', () => {
  it('returns a body of exactly maxBytes whole, not as over the limit', async () => {
    const { data, over } = await readCapped(chunks(4, 4, 2), 10);
    expect(over).to.equal(false);
    expect(data.toString()).to.equal('aaaabbbbcc');
  });

  it('stops one byte past maxBytes: keeps the first maxBytes, flags it and destroys the stream', async () => {
    const body = chunks(4, 4, 3, 100);
    const { data, over } = await readCapped(body, 10);
    expect(over).to.equal(true);
    expect(data.toString()).to.equal('aaaabbbbcc');
    expect(body.destroyed).to.equal(true);
  });
});
