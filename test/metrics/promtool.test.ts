// /metrics passes Prometheus's own linter, `promtool check metrics`, and carries
// ai_service_build_info. promtool comes from Debian's prometheus package; CI
// installs it (.ci/run), so under CI its absence is a failure, not a pass.
import { execFile } from 'node:child_process';
import { access, constants, readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { jobBody, useService } from '../support/service.ts';
import { parseExposition } from './exposition.ts';

const PROMTOOL = process.env.PROMTOOL ?? '/usr/bin/promtool';

async function promtoolPresent(): Promise<boolean> {
  return access(PROMTOOL, constants.X_OK).then(
    () => true,
    () => false,
  );
}

function promtoolCheck(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile(PROMTOOL, ['check', 'metrics'], (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, output: stdout + stderr });
    });
    child.stdin!.end(text);
  });
}

describe('/metrics against promtool', () => {
  const { t, api } = useService();

  const scrape = async () => {
    await api.create(jobBody({ task_type: 'call_analysis', model_profile: 'promtool-a' }));
    const res = await t.api.get('/metrics');
    expect(res.status).to.equal(200);
    return res.text;
  };

  it('has no gauge, histogram or summary named *_total', async () => {
    const families = parseExposition(await scrape());
    const misnamed = [...families.values()].filter((f) => f.type !== 'counter' && f.name.endsWith('_total')).map((f) => f.name);
    expect(misnamed).to.deep.equal([]);
    // The per-type gauges that replace the removed *_total sums are still there.
    expect(families.get('nodejs_active_handles')?.type).to.equal('gauge');
  });

  it('serves ai_service_build_info with the package version and Node.js version', async () => {
    const families = parseExposition(await scrape());
    const info = families.get('ai_service_build_info');
    expect(info?.type).to.equal('gauge');
    const pkg = JSON.parse(await readFile(path.resolve(import.meta.dirname, '../../package.json'), 'utf8'));
    expect(info?.samples).to.deep.equal([
      { name: 'ai_service_build_info', labels: { version: pkg.version, node_version: process.versions.node }, value: 1 },
    ]);
  });

  it('passes promtool check metrics (promtool required under CI)', async function () {
    this.timeout(30_000);
    const present = await promtoolPresent();
    if (!present) {
      expect(process.env.CI, `${PROMTOOL} is missing; CI must install it`).to.not.equal('true');
      return;
    }
    const { code, output } = await promtoolCheck(await scrape());
    expect(output.trim(), 'promtool findings').to.equal('');
    expect(code).to.equal(0);
  });
});
