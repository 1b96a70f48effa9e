import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { ROOT } from './processes.ts';

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

/** The documentation: README.md and every Markdown file under src/ and scripts/, as paths from the root. */
async function docFiles(): Promise<string[]> {
  const under = async (dir: string) =>
    (await readdir(path.join(ROOT, dir), { recursive: true })).filter((f) => f.endsWith('.md')).map((f) => path.join(dir, f));
  return ['README.md', ...(await under('src')), ...(await under('scripts'))];
}

describe('documentation', () => {
  it('documents every environment variable the code reads, in a table row', async () => {
    const names = await variablesRead();
    const docs = await Promise.all((await docFiles()).map((f) => readFile(path.join(ROOT, f), 'utf8')));
    expect(names).to.include.all.keys('DATABASE_URL', 'HTTP_PORT', 'MIGRATE_ON_START', 'SHUTDOWN_DELAY');
    const documented = new Set(docs.flatMap((text) => [...text.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1])));
    expect([...names].filter((n) => !documented.has(n))).to.deep.equal([]);
  });
});
