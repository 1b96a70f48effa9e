// Provider badges on the overview, against the real /api/v1/providers/status
// with stand-in providers on 127.0.0.1.
import { expect } from 'chai';
import { type Fake, fakeVllm, refusedUrl } from '../providers/fakes.ts';
import { browserSuite, waitForText } from './browser.ts';

describe('dashboard provider badges (headless Chromium)', function () {
  this.timeout(60_000);
  let vllm: Fake;
  // Hooks run in the order they are registered: the fake starts before the service and stops after it.
  before(async () => {
    vllm = await fakeVllm({ models: ['qwen2.5-14b'] });
  });
  const ui = browserSuite({
    env: async () => ({ LLM_BASE_URL: `${vllm.url}/v1`, LLM_MODEL: 'qwen2.5-14b', WHISPERX_URL: await refusedUrl() }),
  });
  after(() => vllm?.close());

  it('shows each provider as up, down or not configured', async () => {
    const { t, page } = ui;
    await page.goto(`${t.url}/ui/`);
    await waitForText(page.locator('[data-provider=llm]'), /^llm: up · \d+ ms · qwen2\.5-14b$/);
    expect(await page.locator('[data-provider=llm]').getAttribute('class')).to.contain('provider-up');
    await waitForText(page.locator('[data-provider=whisperx]'), /^whisperx: down · \d+ ms \(connection refused\)$/);
    await waitForText(page.locator('[data-provider=openclaw]'), 'openclaw: not configured');
  });
});
