import { expect } from 'chai';
import { uuidv7 } from '../../src/lib/ids.ts';

describe('uuidv7', () => {
  it('gives unique RFC 9562 version-7 ids that sort in creation order, across random-pool refills', () => {
    // 10,000 ids use the 4 KiB random pool 40 times over.
    const ids = Array.from({ length: 10_000 }, () => uuidv7());
    for (const id of ids) expect(id).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).to.equal(ids.length);
    expect([...ids].sort()).to.deep.equal(ids);
  });

  it('puts the creation time (Unix ms) in the first 48 bits', () => {
    const before = Date.now();
    const id = uuidv7();
    const after = Date.now();
    // More than 4,096 ids in one millisecond borrow the next one, so allow a few ms ahead.
    expect(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16)).to.be.within(before, after + 10);
  });
});
