// The Policies view and Pause/Resume on the overview, in headless Chromium.
import { expect } from 'chai';
import { client, jobBody } from '../support/service.ts';
import { accessibilityViolations, browserSuite, waitForText } from './browser.ts';

const QUEUE = { task_type: 'ui_pause', model_profile: 'ui-pause-p' };

describe('dashboard policies (headless Chromium)', function () {
  this.timeout(60_000);
  const ui = browserSuite({ prepare: (t) => client(t.api).create(jobBody(QUEUE)) });
  const policies = async () => (await ui.t.api.get('/api/v1/policies').expect(200)).body.policies;

  it('creates, edits and deletes a policy, and shows the API refusal of a bad value', async () => {
    const { t, page } = ui;
    page.on('dialog', (d) => d.accept());
    await page.goto(`${t.url}/ui/#/policies`);
    await page.getByLabel('Owner service').fill('telephony');
    await page.getByLabel('Max running (empty: no cap)').fill('4');
    await page.getByRole('button', { name: 'Save' }).click();
    await waitForText(page.locator('[data-role=policy-outcome]'), /^Saved policy \d+\.$/);
    const [created] = await policies();
    expect(created).to.include({ max_running: 4, paused: false });
    await waitForText(page.locator(`tr[data-policy="${created.id}"] td`).nth(2), '4');
    // a weight on a model-profile scope: the API's 422 is shown and nothing changes
    await page.getByLabel('Owner service').fill('');
    await page.getByLabel('Model profile').fill('vision');
    await page.getByLabel('Weight (1-1000)').fill('3');
    await page.getByRole('button', { name: 'Save' }).click();
    await waitForText(page.locator('[data-role=policy-outcome]'), /^Refused: 422 invalid_policy: weight is allowed only/);
    expect(await policies()).to.have.length(1);
    // edit: the form takes the policy's values; saving replaces it
    await page.locator(`[data-key="edit:${created.id}"]`).click();
    expect(await page.getByLabel('Owner service').inputValue()).to.equal('telephony');
    await page.getByLabel('Max running (empty: no cap)').fill('6');
    await page.getByRole('button', { name: 'Save' }).click();
    await waitForText(page.locator(`tr[data-policy="${created.id}"] td`).nth(2), '6');
    expect(await accessibilityViolations(page)).to.deep.equal([]);
    await page.locator(`[data-key="delete:${created.id}"]`).click();
    await waitForText(page.locator('[data-role=policy-outcome]'), `Deleted policy ${created.id}.`);
    expect(await policies()).to.deep.equal([]);
  });

  it('pauses and resumes a queue from its overview row after confirmation', async () => {
    const { t, page } = ui;
    const asked: string[] = [];
    page.on('dialog', (d) => {
      asked.push(d.message());
      void d.accept();
    });
    await page.goto(`${t.url}/ui/`);
    const row = page.locator(`tr[data-queue="${QUEUE.task_type}/${QUEUE.model_profile}"]`);
    await row.getByRole('button', { name: `Pause ${QUEUE.task_type}/${QUEUE.model_profile}` }).click();
    await waitForText(row.locator('[data-field=paused] .badge'), 'paused');
    expect(asked[0]).to.match(/^Pause ui_pause\/ui-pause-p\?/);
    const [pause] = await policies();
    expect(pause).to.include({ paused: true });
    expect(pause.scope).to.deep.equal(QUEUE);
    await row.getByRole('button', { name: `Resume ${QUEUE.task_type}/${QUEUE.model_profile}` }).click();
    await waitForText(row.getByRole('button', { name: /^Pause/ }), 'Pause');
    expect(asked[1]).to.match(/^Resume ui_pause\/ui-pause-p\?/);
    expect(await policies()).to.deep.equal([]);
  });
});
