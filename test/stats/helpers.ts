// Helpers for the stats and metrics tests.
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The ```sql blocks of a section of src/db/README.md, so the tests run the documented queries themselves. */
export function readmeSql(section: string): string[] {
  const readme = readFileSync(path.join(import.meta.dirname, '..', '..', 'src', 'db', 'README.md'), 'utf8');
  const start = readme.indexOf(`<!-- section: ${section} -->`);
  if (start < 0) throw new Error(`src/db/README.md has no section ${section}`);
  const end = readme.indexOf('<!-- section:', start + 1);
  const body = readme.slice(start, end < 0 ? undefined : end);
  const blocks = [...body.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]);
  if (!blocks.length) throw new Error(`src/db/README.md section ${section} has no sql block`);
  return blocks;
}
