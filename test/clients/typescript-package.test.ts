// The TypeScript/JavaScript client as a caller gets it: `npm pack` builds it
// (prepare runs tsc), the tarball is installed into a scratch project, and
// scripts there run against a real service: plain ESM JavaScript on every
// Node.js on this machine (the pinned 24, and the system's when it differs,
// e.g. 20), and TypeScript compiled with tsc --strict.
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { setup, type TestService } from '../support/service.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..', '..');
const PACKAGE_DIR = path.join(ROOT, 'src', 'clients', 'typescript');
const FIXTURES = path.join(import.meta.dirname, 'fixtures');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const SYSTEM_NODE = '/usr/bin/node';

interface PackedFile {
  path: string;
}

let profileCounter = 0;

describe('TypeScript/JavaScript client package (packed and installed)', function () {
  this.timeout(180_000);
  let t: TestService;
  let scratch: string;
  let packed: PackedFile[];

  before(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'ai-service-client-pkg-'));
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: PACKAGE_DIR });
    const [pack] = JSON.parse(stdout) as { filename: string; files: PackedFile[] }[];
    packed = pack.files;
    await writeFile(path.join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(scratch, pack.filename)], { cwd: scratch });
    for (const f of ['flow.mjs', 'flow.ts', 'tsconfig.json']) await copyFile(path.join(FIXTURES, f), path.join(scratch, f));
    t = await setup();
  });
  after(async () => {
    await t?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  const env = () => ({ PATH: process.env.PATH ?? '', AI_SERVICE_URL: t.url, MODEL_PROFILE: `client-pkg-${++profileCounter}` });

  it('ships built JavaScript with declarations, not TypeScript sources', () => {
    const files = packed.map((f) => f.path).sort();
    expect(files).to.include.members(['package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/worker-loop.js']);
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).to.deep.equal([]);
  });

  it('runs plain ESM JavaScript on each Node.js here: create, batch, get, list, claim, heartbeat, complete, fail, retry, cancel, worker loop', async () => {
    const nodes = [process.execPath];
    const system = await run(SYSTEM_NODE, ['--version']).catch(() => undefined);
    if (system && system.stdout.trim() !== process.version) nodes.push(SYSTEM_NODE);
    for (const node of nodes) {
      const { stdout } = await run(node, ['flow.mjs'], { cwd: scratch, env: env() });
      expect(stdout.trim(), node).to.equal('ok');
    }
  });

  it('compiles TypeScript against it with tsc --strict and runs the result', async () => {
    await run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: scratch });
    const { stdout } = await run(process.execPath, ['dist/flow.js'], { cwd: scratch, env: env() });
    expect(stdout.trim()).to.equal('ok');
  });
});
