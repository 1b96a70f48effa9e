// The header's connection indicator: an operator must see when the numbers on
// screen stopped updating, and when the service is gone.
import type { Page } from 'playwright-core';
import { client, jobBody, setup, type TestService } from '../support/service.ts';
import { launchBrowser, type TestBrowser, waitForText } from './browser.ts';

/** STALE_AFTER_MS plus the dashboard's request timeout, with room to spare. */
const STALE_WAIT_MS = 16_000;

describe('dashboard connection indicator (headless Chromium)', function () {
  this.timeout(60_000);
  let t: TestService;
  let browser: TestBrowser;
  let page: Page;
  let stopped = false;

  before(async () => {
    t = await setup();
    await client(t.api).create(jobBody());
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    if (!stopped) await t?.close();
  });
  beforeEach(async () => {
    page = await browser.newPage();
  });
  afterEach(async () => {
    await page.close();
  });

  it('flags the data as stale when stats stop arriving, then the service as unreachable', async () => {
    await page.goto(`${t.url}/ui/`);
    const state = page.locator('#conn .conn-state');
    await waitForText(state, 'Live');
    // From now on /stats requests never get an answer (the page's own 10 s timeout ends them).
    await page.route('**/api/v1/stats', () => {});
    await waitForText(state, 'Stale data', STALE_WAIT_MS);
    await waitForText(state, 'Service unreachable (the service did not answer in time)', STALE_WAIT_MS);
    await page.unroute('**/api/v1/stats');
    await waitForText(state, 'Live', STALE_WAIT_MS);
  });

  it('says the service is unreachable when it stops, keeping the last numbers', async () => {
    await page.goto(`${t.url}/ui/`);
    const state = page.locator('#conn .conn-state');
    await waitForText(state, 'Live');
    await waitForText(page.locator('[data-total=ready] dd'), '1');
    stopped = true;
    await t.close();
    await waitForText(state, 'Service unreachable (the service is unreachable)', STALE_WAIT_MS);
    await waitForText(page.locator('.notice [role=alert]'), /^Could not load data: the service is unreachable\. Showing the last data received/);
    await waitForText(page.locator('[data-total=ready] dd'), '1');
  });
});
