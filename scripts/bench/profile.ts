// `node scripts/bench/profile.ts <file.cpuprofile> [top]`: where a CPU profile
// (from `npm run bench -- --profile`) spent its time: self time by package (or
// src/ file) and by function, as shares of the busy (non-idle) samples.
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  children?: number[];
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: node scripts/bench/profile.ts <file.cpuprofile> [top]');
const top = Number(topArg ?? 25);
const profile: { nodes: Node[]; samples: number[] } = JSON.parse(readFileSync(file, 'utf8'));
const hits = new Map<number, number>();
for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
const idle = profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').reduce((a, n) => a + (hits.get(n.id) ?? 0), 0);
// Shares are of busy samples: idle time says nothing about where the work goes.
const total = profile.samples.length - idle;

function owner({ url, functionName }: Node['callFrame']): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  const src = /\/((?:src|scripts)\/.*)$/.exec(url);
  if (src) return src[1];
  return url.startsWith('node:') ? 'node core' : url;
}

const byOwner = new Map<string, number>();
const byFunction = new Map<string, number>();
for (const n of profile.nodes) {
  const h = hits.get(n.id) ?? 0;
  if (!h || n.callFrame.functionName === '(idle)') continue;
  const o = owner(n.callFrame);
  byOwner.set(o, (byOwner.get(o) ?? 0) + h);
  const fn = `${n.callFrame.functionName || '(anonymous)'} ${o}:${n.callFrame.lineNumber + 1}`;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + h);
}
// Inclusive: the share of busy samples with the package (or file) anywhere on the stack.
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const nodeById = new Map(profile.nodes.map((n) => [n.id, n]));
const inclusive = new Map<string, number>();
for (const n of profile.nodes) {
  const h = hits.get(n.id) ?? 0;
  if (!h || n.callFrame.functionName === '(idle)') continue;
  const seen = new Set<string>();
  for (let id: number | undefined = n.id; id !== undefined; id = parent.get(id)) seen.add(owner(nodeById.get(id)!.callFrame));
  for (const o of seen) inclusive.set(o, (inclusive.get(o) ?? 0) + h);
}
const print = (title: string, m: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
  }
};
console.log(
  `${profile.samples.length} samples, ${((100 * idle) / profile.samples.length).toFixed(1)}% idle; shares below are of busy samples`,
);
print('self time by package / file', byOwner);
print('inclusive time by package / file (on the stack)', inclusive);
print('self time by function', byFunction);
