import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { ROOT } from './processes.ts';

describe('README', () => {
  it('documents every environment variable src/config.ts reads, in a table row', async () => {
    const source = await readFile(path.join(ROOT, 'src', 'config.ts'), 'utf8');
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
    const names = new Set([...source.matchAll(/read\(env, '([A-Z0-9_]+)'|env\.([A-Z0-9_]+)/g)].map((m) => m[1] ?? m[2]));
    expect(names.size).to.be.greaterThan(10);
    const documented = new Set([...readme.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]));
    expect([...names].filter((n) => !documented.has(n))).to.deep.equal([]);
  });
});
