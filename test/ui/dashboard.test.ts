// The dashboard in headless Chromium against a running service with seeded jobs.
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { client } from '../support/service.ts';
import { waitFor } from '../support/wait.ts';
import { accessibilityViolations, browserSuite, screenshot, waitForText } from './browser.ts';
import { ANALYSIS, type Seeded, seed, TRANSCRIBE } from './seed.ts';

/** The dashboard's page size (src/ui/public/views/jobs.js). */
const PAGE_SIZE = 50;

const queueRow = (page: Page, q: { task_type: string; model_profile: string }) =>
  page.locator(`tr[data-queue="${q.task_type}/${q.model_profile}"]`);

describe('dashboard (headless Chromium)', function () {
  this.timeout(60_000);
  let seeded: Seeded;
  const ui = browserSuite({
    prepare: async (t) => {
      seeded = await seed(t);
    },
  });

  it('shows the seeded numbers per queue and in the totals', async () => {
    const { t, page } = ui;
    await page.goto(`${t.url}/ui/`);
    const analysis = queueRow(page, ANALYSIS);
    await waitForText(analysis.locator('[data-field=ready]'), '2');
    expect(await analysis.locator('[data-field=delayed]').textContent()).to.equal('1');
    expect(await analysis.locator('[data-field=running]').textContent()).to.equal('1');
    expect(await analysis.locator('[data-field=completed_last_hour]').textContent()).to.equal('1');
    expect(await analysis.locator('[data-field=failed_last_hour]').textContent()).to.equal('1');
    expect(await analysis.locator('[data-field=oldest_ready_age_seconds]').textContent()).to.match(/^\d+ s$/);
    await waitForText(queueRow(page, TRANSCRIBE).locator('[data-field=ready]'), '4');
    expect(await page.locator('[data-total=ready] dd').textContent()).to.equal('6');
    expect(await page.locator('[data-total=running] dd').textContent()).to.equal('1');
    await waitForText(page.locator('#conn .conn-state'), 'Live');
    // A second poll gives the first throughput sample.
    await waitForText(analysis.locator('[data-field=throughput] span'), /\/min$/);
    await screenshot(page, 'overview.png');
    expect(await accessibilityViolations(page)).to.deep.equal([]);
  });

  it('picks up changes without a reload', async () => {
    const { t, page } = ui;
    await page.goto(`${t.url}/ui/`);
    const running = queueRow(page, TRANSCRIBE).locator('[data-field=running]');
    await waitForText(running, '0');
    const { jobs } = await client(t.api).claim({ worker_id: 'gpu-02', model_profiles: [TRANSCRIBE.model_profile], limit: 1 });
    await waitForText(running, '1');
    await client(t.api).complete(jobs[0].id, { lease_token: jobs[0].lease_token, result: { text: 'hello' } });
    await waitForText(running, '0');
  });

  it('finds a job by owner_ref with the filter form, using the keyboard', async () => {
    const { t, page } = ui;
    await page.goto(`${t.url}/ui/#/jobs`);
    await page.locator('tbody tr').first().waitFor();
    await page.getByLabel('Owner ref').focus();
    await page.keyboard.type(seeded.needleRef);
    await page.keyboard.press('Enter');
    await page.waitForURL(/owner_ref=/);
    await waitForText(page.locator('#results-title'), '1 job');
    expect(await page.locator('tbody [data-field=owner_ref]').allTextContents()).to.deep.equal([seeded.needleRef]);
    await page.getByRole('link', { name: `Job ${seeded.needleId}` }).press('Enter');
    await waitForText(page.locator('[data-event=created] strong'), 'Created');
    expect(await page.locator('h1').textContent()).to.contain(seeded.needleId);
  });

  it('pages through jobs with the cursor, older and back to newer', async () => {
    const { t, page } = ui;
    const batch = Array.from({ length: PAGE_SIZE + 10 }, (_, i) => ({ owner_ref: `paging/${i}` }));
    await client(t.api).batch({ defaults: { owner_service: 'paging', ...TRANSCRIBE, input: {} }, jobs: batch });
    await page.goto(`${t.url}/ui/#/jobs?owner_service=paging`);
    await waitForText(page.locator('#results-title'), `${PAGE_SIZE} jobs on this page`);
    // Newest first: the last created job leads the first page.
    expect(await page.locator('tbody [data-field=owner_ref]').first().textContent()).to.equal(`paging/${PAGE_SIZE + 9}`);
    await page.getByRole('button', { name: 'Older →' }).click();
    await waitForText(page.locator('#results-title'), '10 jobs on this page');
    expect(await page.locator('tbody [data-field=owner_ref]').last().textContent()).to.equal('paging/0');
    expect(await page.getByRole('button', { name: 'Older →' }).isDisabled()).to.equal(true);
    await page.getByRole('button', { name: '← Newer' }).click();
    await waitForText(page.locator('#results-title'), `${PAGE_SIZE} jobs on this page`);
    expect(await page.getByRole('button', { name: '← Newer' }).isDisabled()).to.equal(true);
  });

  it('shows a failed job with its timeline, and Retry moves it to pending', async () => {
    const { t, page } = ui;
    await page.goto(`${t.url}/ui/#/jobs/${seeded.failedId}`);
    await waitForText(page.locator('.job-status [data-status]'), 'failed');
    expect(await page.locator('[data-event=attempt] code').textContent()).to.equal('gpu-01');
    expect(await page.locator('[data-event=attempt] .badge').textContent()).to.equal('failed');
    expect(await page.locator('[data-event=finished]').textContent()).to.contain('invalid_input: audio_url is not reachable');
    const input = page.locator('details[data-section=input] pre');
    expect(await input.isVisible()).to.equal(false);
    await page.getByText('Input (', { exact: false }).click();
    await waitForText(input, /"prompt": "Summarise call \d\."/);
    expect(await input.isVisible()).to.equal(true);
    await screenshot(page, 'job-failed.png');
    expect(await accessibilityViolations(page)).to.deep.equal([]);

    await page.getByRole('button', { name: 'Retry' }).click();
    await waitForText(page.locator('#action-outcome'), 'Retried: the job is now pending.');
    await waitForText(page.locator('.job-status [data-status]'), 'pending');
    expect((await client(t.api).get(seeded.failedId)).status).to.equal('pending');
    expect(await page.getByRole('button', { name: 'Retry' }).isDisabled()).to.equal(true);
  });

  it('cancels a pending job after confirmation', async () => {
    const { t, page } = ui;
    page.on('dialog', (d) => d.accept());
    await page.goto(`${t.url}/ui/#/jobs/${seeded.pendingId}`);
    await waitForText(page.locator('.job-status [data-status]'), 'pending');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await waitForText(page.locator('#action-outcome'), 'Cancelled: the job is now cancelled.');
    expect((await client(t.api).get(seeded.pendingId)).status).to.equal('cancelled');
  });

  it('shows the progress of a running job live, as the worker reports it', async () => {
    const { t, page } = ui;
    const api = client(t.api);
    await api.create({ owner_service: 'telephony', owner_ref: 'x/live', task_type: 'transcribe', model_profile: 'live-s', input: {} });
    const [job] = (await api.claim({ worker_id: 'gpu-05', model_profiles: ['live-s'] })).jobs;
    await page.goto(`${t.url}/ui/#/jobs/${job.id}`);
    await waitForText(page.locator('.job-status [data-status]'), 'running');
    // Wait until the page follows the stream, then report: the text comes through the stream, not a poll.
    await waitFor('the page to follow the event stream', () => t.service.jobs.streams.count > 0);
    await t.api
      .post(`/api/v1/jobs/${job.id}/progress`)
      .send({ lease_token: job.lease_token, fraction: 0.4, message: 'transcribing' })
      .expect(202);
    await waitForText(page.locator('[data-key="progress-text"]'), /^40% transcribing/);
    expect(await page.locator('progress').getAttribute('value')).to.equal('40');
  });

  it('says why an action was refused when the job changed meanwhile', async () => {
    const { t, page } = ui;
    const job = await client(t.api).create({
      owner_service: 'telephony',
      owner_ref: 'x/refused',
      task_type: 'ocr',
      model_profile: 'vision-s',
      input: {},
    });
    const { jobs } = await client(t.api).claim({ worker_id: 'gpu-04', model_profiles: ['vision-s'] });
    await client(t.api).fail(job.id, {
      lease_token: jobs[0].lease_token,
      category: 'unsupported_format',
      message: 'bad audio',
      retryable: false,
    });
    await page.goto(`${t.url}/ui/#/jobs/${job.id}`);
    await waitForText(page.locator('.job-status [data-status]'), 'failed');
    // Hold the page's next reads of the job so it still offers Retry after someone else retried it.
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    await page.route(`**/api/v1/jobs/${job.id}`, async (route) => {
      await released;
      await route.continue();
    });
    await client(t.api).retry(job.id);
    await page.getByRole('button', { name: 'Retry' }).click();
    await waitForText(page.locator('#action-outcome'), /^Retry refused: 409 invalid_state: .*this job is pending$/);
    release();
    await waitForText(page.locator('.job-status [data-status]'), 'pending');
  });

  it('lists error categories with a link to their failed jobs', async () => {
    const { t, page } = ui;
    // max_deferrals 0: the provider_unavailable failure counts, so the job ends failed
    const other = await client(t.api).create({
      owner_service: 'telephony',
      owner_ref: 'x/1',
      ...ANALYSIS,
      input: {},
      max_attempts: 1,
      max_deferrals: 0,
    });
    const { jobs } = await client(t.api).claim({ worker_id: 'gpu-03', task_types: [ANALYSIS.task_type], limit: 10 });
    const mine = jobs.find((j: any) => j.id === other.id);
    await client(t.api).fail(other.id, { lease_token: mine.lease_token, category: 'provider_unavailable', message: 'vLLM answered 503' });
    await page.goto(`${t.url}/ui/#/errors`);
    const row = page.locator('tr[data-category=provider_unavailable]');
    await waitForText(row.locator('[data-field=last_hour]'), '1');
    expect(await page.locator('tr[data-category=invalid_input] [data-field=total]').textContent()).to.equal('1');
    expect(await accessibilityViolations(page)).to.deep.equal([]);
    await row.getByRole('link').click();
    await waitForText(page.locator('#results-title'), '1 job');
    expect(await page.locator('tbody tr').getAttribute('data-job')).to.equal(other.id);
  });

  it('retries all failed jobs of a category after a dry-run count and confirmation', async () => {
    const { t, page } = ui;
    const api = client(t.api);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const job = await api.create({
        owner_service: 'telephony',
        owner_ref: `oom-${i}`,
        task_type: 'ocr',
        model_profile: 'vision-oom',
        input: {},
      });
      const { jobs } = await api.claim({ worker_id: 'gpu-05', model_profiles: ['vision-oom'] });
      await api.fail(job.id, { lease_token: jobs[0].lease_token, category: 'gpu_oom', message: 'out of memory', retryable: false });
      ids.push(job.id);
    }
    const asked: string[] = [];
    page.once('dialog', (d) => {
      asked.push(d.message());
      d.accept();
    });
    await page.goto(`${t.url}/ui/#/errors`);
    await page.locator('tr[data-category=gpu_oom]').getByRole('button', { name: 'Retry all failed jobs with gpu_oom…' }).click();
    await waitForText(page.locator('#bulk-outcome'), 'Retried 3 of 3 failed jobs with gpu_oom.');
    expect(asked).to.deep.equal(['Retry all 3 failed jobs with gpu_oom?']);
    for (const id of ids) expect((await api.get(id)).status).to.equal('pending');
    expect(await accessibilityViolations(page)).to.deep.equal([]);
  });

  it('cancels the filtered pending jobs from the job list after confirmation', async () => {
    const { t, page } = ui;
    const api = client(t.api);
    const mine = [];
    for (let i = 0; i < 2; i++)
      mine.push(
        await api.create({
          owner_service: 'telephony',
          owner_ref: 'order-bulk',
          task_type: 'ocr',
          model_profile: 'vision-bulk',
          input: {},
        }),
      );
    const other = await api.create({
      owner_service: 'telephony',
      owner_ref: 'order-other',
      task_type: 'ocr',
      model_profile: 'vision-bulk',
      input: {},
    });
    page.once('dialog', (d) => d.accept());
    await page.goto(`${t.url}/ui/#/jobs?owner_ref=order-bulk&status=pending`);
    await page.getByRole('button', { name: 'Cancel all matching pending jobs…' }).click();
    await waitForText(page.locator('#bulk-outcome'), 'Cancelled 2 of 2 pending jobs matching these filters.');
    for (const j of mine) expect((await api.get(j.id)).status).to.equal('cancelled');
    expect((await api.get(other.id)).status).to.equal('pending');
  });

  it('shows provider status as unavailable when the service does not offer it', async () => {
    const { t, page } = ui;
    await page.route('**/api/v1/providers/status', (route) =>
      route.fulfill({
        status: 404,
        contentType: 'application/problem+json',
        body: JSON.stringify({ status: 404, code: 'route_not_found', detail: 'no such route' }),
      }),
    );
    await page.goto(`${t.url}/ui/`);
    await waitForText(page.locator('[data-provider=unavailable]'), 'Provider status unavailable: not available on this service version');
    await waitForText(queueRow(page, ANALYSIS).locator('[data-field=delayed]'), '1');
  });

  it('loads nothing from outside the service and logs no errors', () => {
    const { t, browser } = ui;
    const outside = browser.requests.filter((u) => !u.startsWith(t.url) && !u.startsWith('data:'));
    expect(outside).to.deep.equal([]);
    // Chromium logs every 4xx answer as a console error; the tests above provoke 404 and 409 on purpose.
    const expected = /^Failed to load resource: the server responded with a status of 40[49]/;
    expect(browser.pageErrors.filter((e) => !expected.test(e))).to.deep.equal([]);
  });
});
