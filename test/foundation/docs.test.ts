import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { ROOT } from '../support/processes.ts';

/** Every variable read through loadConfig-style `read(env, 'NAME', …)` or `env.NAME` under src/. */
async function variablesRead(): Promise<Set<string>> {
  const files = (await readdir(path.join(ROOT, 'src'), { recursive: true })).filter((f) => f.endsWith('.ts'));
  const names = new Set<string>();
  for (const f of files) {
    const text = await readFile(path.join(ROOT, 'src', f), 'utf8');
    for (const m of text.matchAll(/read\(env, '([A-Z0-9_]+)'|\benv\.([A-Z][A-Z0-9_]+)\b/g)) names.add(m[1] ?? m[2]);
  }
  return names;
}

describe('README', () => {
  it('documents every environment variable the code reads, in a table row', async () => {
    const names = await variablesRead();
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
    expect(names).to.include.all.keys('DATABASE_URL', 'HTTP_PORT', 'MIGRATE_ON_START', 'SHUTDOWN_DELAY');
    const documented = new Set([...readme.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]));
    expect([...names].filter((n) => !documented.has(n))).to.deep.equal([]);
  });
});
