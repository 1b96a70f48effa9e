// The byte scan that guards every JSON body agrees with the real nesting depth
// of any JSON value, whatever its strings contain (brackets, quotes, escapes).
import { expect } from 'chai';
import fc from 'fast-check';
import { nestedDeeperThan } from '../../src/http/json-body.ts';

function depth(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0;
  const children = Array.isArray(v) ? v : Object.values(v);
  return 1 + Math.max(0, ...children.map(depth));
}

const tricky = fc.stringMatching(/^[\\"[\]{}a ]{0,12}$/);
const value = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small' },
    fc.oneof(tricky, fc.integer(), fc.constant(null), fc.boolean()),
    fc.array(tie('node'), { maxLength: 3 }),
    fc.dictionary(tricky, tie('node'), { maxKeys: 3 }),
  ),
})).node;

describe('JSON nesting scan', () => {
  it('finds exactly the values nested deeper than the limit', () => {
    fc.assert(
      fc.property(value, fc.integer({ min: 0, max: 8 }), (v, max) => {
        const buf = Buffer.from(JSON.stringify(v));
        expect(nestedDeeperThan(buf, max)).to.equal(depth(v) > max);
      }),
      { numRuns: 2000 },
    );
  });

  it('is not fooled by escaped quotes and backslash runs', () => {
    const text = (s: string) => Buffer.from(JSON.stringify({ s, a: [[1]] }));
    for (const s of ['\\', '"', '\\"', '\\\\"[[[', '[[[', '"]]]"']) {
      expect(nestedDeeperThan(text(s), 3), s).to.equal(false);
      expect(nestedDeeperThan(text(s), 2), s).to.equal(true);
    }
  });
});
