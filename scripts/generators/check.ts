// `npm run check:generators`: what a caller gets from openapi.yaml with the usual
// generators at their default settings. Each runs from the repository root, as a
// caller would, into a temp folder; then a strict-mode create → get client per
// generator must compile, and leaving out a required create field must not.
// Exits 1 with the tool's output on the first failure.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const BIN = path.join(ROOT, 'node_modules', '.bin');

// openapi-typescript emits types only; the client is a plain fetch.
const OPENAPI_TYPESCRIPT_CLIENT = `
import type { paths } from './openapi-typescript/schema.ts';
type Create = paths['/api/v1/jobs']['post']['requestBody']['content']['application/json'];
type Job = paths['/api/v1/jobs/{id}']['get']['responses'][200]['content']['application/json'];

export async function createThenGet(base: string): Promise<Job> {
  const body: Create = { owner_service: 'svc', owner_ref: 'r-1', task_type: 'summary', model_profile: 'm', input: { text: 'hi' } };
  const created = (await (await fetch(base + '/api/v1/jobs', { method: 'POST', body: JSON.stringify(body) })).json()) as Job;
  const job = (await (await fetch(base + '/api/v1/jobs/' + created.id)).json()) as Job;
  const text: unknown = job.input['text'];
  return text === undefined ? created : job;
}
// @ts-expect-error owner_ref is required
export const missing: Create = { owner_service: 'svc', task_type: 'summary', model_profile: 'm', input: {} };
`;

// @hey-api/openapi-ts emits types, an SDK function per operation and a fetch client.
const HEY_API_CLIENT = `
import { createJob, getJob } from './hey-api/index.ts';
import type { Job } from './hey-api/index.ts';

export async function createThenGet(): Promise<Job | undefined> {
  const created = await createJob({ body: { owner_service: 'svc', owner_ref: 'r-1', task_type: 'summary', model_profile: 'm', input: { text: 'hi' } } });
  if (!created.data) return undefined;
  const got = await getJob({ path: { id: created.data.id } });
  return got.data;
}
// @ts-expect-error owner_ref is required
export const missing = () => createJob({ body: { owner_service: 'svc', task_type: 'summary', model_profile: 'm', input: {} } });
`;

function run(bin: string, args: string[], cwd = ROOT): void {
  try {
    execFileSync(path.join(BIN, bin), args, { cwd, stdio: 'pipe', encoding: 'utf8' });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`${bin} ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

const dir = mkdtempSync(path.join(tmpdir(), 'ai-service-generators-'));
try {
  run('openapi-typescript', ['openapi.yaml', '-o', path.join(dir, 'openapi-typescript', 'schema.ts')]);
  run('openapi-ts', ['-i', 'openapi.yaml', '-o', path.join(dir, 'hey-api')]);
  writeFileSync(path.join(dir, 'openapi-typescript-client.ts'), OPENAPI_TYPESCRIPT_CLIENT);
  writeFileSync(path.join(dir, 'hey-api-client.ts'), HEY_API_CLIENT);
  // Strict, as a careful caller compiles; DOM lib for fetch's types.
  const tsc = ['--strict', '--noEmit', '--skipLibCheck', '--target', 'es2022', '--lib', 'es2022,dom,dom.iterable'];
  const resolution = ['--module', 'esnext', '--moduleResolution', 'bundler', '--allowImportingTsExtensions'];
  run('tsc', [...tsc, ...resolution, 'openapi-typescript-client.ts', 'hey-api-client.ts'], dir);
  console.log('openapi-typescript and @hey-api/openapi-ts: strict create → get clients compile');
} catch (err) {
  console.error((err as Error).message);
  process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
