// The header's connection indicator: an operator must see when the numbers on
// screen stopped updating, and when the service is gone.
import { client, jobBody } from '../support/service.ts';
import { browserSuite, waitForText } from './browser.ts';

/** STALE_AFTER_MS plus the dashboard's request timeout, with room to spare. */
const STALE_WAIT_MS = 16_000;

describe('dashboard connection indicator (headless Chromium)', function () {
  this.timeout(60_000);
  const ui = browserSuite({ prepare: (t) => client(t.api).create(jobBody()) });

  it('flags the data as stale when stats stop arriving, then the service as unreachable', async () => {
    const { t, page } = ui;
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
    const { t, page } = ui;
    await page.goto(`${t.url}/ui/`);
    const state = page.locator('#conn .conn-state');
    await waitForText(state, 'Live');
    await waitForText(page.locator('[data-total=ready] dd'), '1');
    await t.close();
    await waitForText(state, 'Service unreachable (the service is unreachable)', STALE_WAIT_MS);
    await waitForText(
      page.locator('.notice [role=alert]'),
      /^Could not load data: the service is unreachable\. Showing the last data received/,
    );
    await waitForText(page.locator('[data-total=ready] dd'), '1');
  });
});
