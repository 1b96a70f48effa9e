import { existsSync } from 'node:fs';
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

/** The documentation: README.md and every Markdown file under src/ and scripts/, as paths from the root. */
async function docFiles(): Promise<string[]> {
  const under = async (dir: string) =>
    (await readdir(path.join(ROOT, dir), { recursive: true })).filter((f) => f.endsWith('.md')).map((f) => path.join(dir, f));
  return ['README.md', ...(await under('src')), ...(await under('scripts'))];
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
const anchor = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');

describe('documentation', () => {
  it('documents every environment variable the code reads, in a table row', async () => {
    const names = await variablesRead();
    const docs = await Promise.all((await docFiles()).map((f) => readFile(path.join(ROOT, f), 'utf8')));
    expect(names).to.include.all.keys('DATABASE_URL', 'HTTP_PORT', 'MIGRATE_ON_START', 'SHUTDOWN_DELAY');
    const documented = new Set(docs.flatMap((text) => [...text.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1])));
    expect([...names].filter((n) => !documented.has(n))).to.deep.equal([]);
  });

  it('links only to files and headings that exist', async () => {
    const files = await docFiles();
    expect(files).to.include.members(['src/config.md', 'src/jobs/README.md', 'src/db/README.md', 'scripts/bench/README.md']);
    const broken: string[] = [];
    for (const f of files) {
      const text = await readFile(path.join(ROOT, f), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
        const [file, hash] = target.split('#');
        const resolved = file ? path.join(path.dirname(f), file) : f;
        if (!existsSync(path.join(ROOT, resolved))) broken.push(`${f}: ${target}`);
        else if (hash) {
          const headings = (await readFile(path.join(ROOT, resolved), 'utf8')).matchAll(/^#+ (.+)$/gm);
          if (![...headings].some((h) => anchor(h[1]) === hash)) broken.push(`${f}: ${target}`);
        }
      }
    }
    expect(broken).to.deep.equal([]);
  });
});
