// The dashboard with access control on: it asks for an admin token, says when a
// token is refused, shows data with the right one, and keeps the token out of
// URLs and persistent storage.
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { client, jobBody } from '../support/service.ts';
import { browserSuite, waitForText } from './browser.ts';

const ADMIN = randomBytes(24).toString('base64url');
const PRODUCER = randomBytes(24).toString('base64url');
const WRONG = randomBytes(24).toString('base64url');
const TOKENS = [
  { name: 'ops', role: 'admin', token: ADMIN },
  { name: 'telephony-app', role: 'producer', owner_services: ['telephony'], token: PRODUCER },
];

describe('dashboard with access control on (headless Chromium)', function () {
  this.timeout(60_000);
  const ui = browserSuite({
    env: { API_TOKENS: JSON.stringify(TOKENS) },
    prepare: async (t) => {
      t.api.set('Authorization', `Bearer ${ADMIN}`);
      await client(t.api).create(jobBody());
    },
  });

  const dialog = () => ui.page.getByRole('dialog', { name: 'Admin token' });
  const submitToken = async (token: string) => {
    await ui.page.getByLabel('Token', { exact: true }).fill(token);
    await ui.page.keyboard.press('Enter');
  };

  it('asks for a token, says a wrong one was refused, and shows data with the admin token', async () => {
    const { t, browser, page } = ui;
    await page.goto(`${t.url}/ui/`);
    await dialog().waitFor();
    await waitForText(dialog().getByRole('alert'), /^The service requires a token \(401 unauthorized: /);
    await waitForText(page.locator('#conn .conn-state'), 'Token needed');

    await submitToken(WRONG);
    await waitForText(dialog().getByRole('alert'), /^The service rejected the token \(401 unauthorized: /);
    await waitForText(page.locator('.notice [role=alert] p'), /^The service rejected the token/);

    await submitToken(ADMIN);
    await waitForText(page.locator('[data-total=ready] dd'), '1');
    await waitForText(page.locator('#conn .conn-state'), 'Live');
    expect(await dialog().isVisible()).to.equal(false);
    expect(await page.getByRole('button', { name: 'Change token' }).isVisible()).to.equal(true);

    // The token stays in this tab's session storage: a reload keeps working, nothing persists.
    await page.reload();
    await waitForText(page.locator('[data-total=ready] dd'), '1');
    const storage = await page.evaluate(() => ({ session: { ...sessionStorage }, local: { ...localStorage } }));
    expect(Object.values(storage.session)).to.deep.equal([ADMIN]);
    expect(storage.local).to.deep.equal({});
    for (const token of [ADMIN, WRONG]) expect(browser.requests.filter((u) => u.includes(token))).to.deep.equal([]);
  });

  it('says a producer token may not read the overview (403) and lets the operator change it', async () => {
    const { t, page } = ui;
    await page.goto(`${t.url}/ui/`);
    await dialog().waitFor();
    await submitToken(PRODUCER);
    await waitForText(dialog().getByRole('alert'), /^This token may not do that \(403 forbidden: .*\)\. Use an admin token\.$/);
    await submitToken(ADMIN);
    await waitForText(page.locator('[data-total=ready] dd'), '1');
  });

  it('lets a producer token list its own jobs', async () => {
    const { t, page } = ui;
    await page.goto(`${t.url}/ui/#/jobs`);
    await dialog().waitFor();
    await submitToken(PRODUCER);
    await waitForText(page.locator('#results-title'), '1 job');
    expect(await page.locator('tbody [data-field=owner_service]').allTextContents()).to.deep.equal(['telephony']);
  });
});
