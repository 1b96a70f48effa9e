// GET /docs: the interactive API reference, rendered in headless Chromium from
// the local Swagger UI copy, plus the static-file routes' headers.
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import YAML from 'yaml';
import { SPEC_PATH } from '../../src/http/app.ts';
import { browserSuite, screenshot, waitForText } from './browser.ts';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

describe('API reference at /docs', function () {
  this.timeout(60_000);
  const ui = browserSuite();
  let operationIds: string[];

  before(async () => {
    const spec = YAML.parse(await readFile(SPEC_PATH, 'utf8'));
    operationIds = Object.values<any>(spec.paths).flatMap((item) => METHODS.filter((m) => item[m]).map((m) => item[m].operationId));
  });

  it('renders every operation of openapi.yaml, loading nothing from outside the service', async () => {
    const { t, browser, page } = ui;
    await page.goto(`${t.url}/docs`);
    await page.locator('.opblock').first().waitFor();
    const rendered = await page.locator('.opblock').evaluateAll((els) => els.map((e) => e.id));
    expect(rendered).to.have.length(operationIds.length);
    for (const id of operationIds)
      expect(
        rendered.some((r) => r.endsWith(`_${id}`) || r.endsWith(`-${id}`)),
        id,
      ).to.equal(true);
    expect(await page.locator('.info .title').textContent()).to.contain('ai-service');
    await screenshot(page, 'docs.png');
    expect(browser.requests.filter((u) => !u.startsWith(t.url) && !u.startsWith('data:'))).to.deep.equal([]);
    expect(browser.pageErrors).to.deep.equal([]);
  });

  it('lets a reader try an operation against this service', async () => {
    const { t, page } = ui;
    await page.goto(`${t.url}/docs#/ops/getHealth`);
    const op = page.locator('#operations-ops-getHealth');
    await op.waitFor();
    if (!(await op.locator('.try-out__btn').isVisible())) await op.locator('.opblock-summary-control').click();
    await op.getByRole('button', { name: 'Try it out' }).click();
    await op.getByRole('button', { name: 'Execute' }).click();
    await waitForText(op.locator('.live-responses-table tbody .response-col_status').first(), '200');
    expect(await op.locator('.live-responses-table tbody .microlight').first().textContent()).to.contain('"status": "ok"');
  });

  it('serves the pages with a content security policy and the spec as YAML', async () => {
    const { t } = ui;
    for (const path of ['/docs', '/ui/', '/ui/app.js']) {
      const res = await t.api.get(path).expect(200);
      expect(res.headers['content-security-policy'], path).to.contain("default-src 'self'");
      expect(res.headers['x-content-type-options'], path).to.equal('nosniff');
    }
    await t.api
      .get('/docs/vendor/swagger-ui-bundle.js')
      .expect(200)
      .expect('content-type', /javascript/);
    await t.api
      .get('/openapi.yaml')
      .expect(200)
      .expect('content-type', /^application\/yaml/);
    await t.api.get('/ui').expect(301).expect('location', '/ui/');
    const missing = await t.api.get('/ui/no-such-file.js').expect(404);
    expect(missing.headers['content-type']).to.match(/^application\/problem\+json/);
    expect(missing.body.code).to.equal('route_not_found');
    // Only the Swagger UI files the page uses are exposed, not the whole package.
    await t.api.get('/docs/vendor/package.json').expect(404);
  });
});
