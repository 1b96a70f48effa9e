// Headless Chromium for the UI tests: Debian's `chromium` package (installed by
// .ci/run) driven by playwright-core, a fresh profile per launch, and a record of
// every request so tests can assert the pages load nothing from outside the
// service. Screenshots go to test/artifacts/ (git-ignored) for reviewers.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { setup, type TestService } from '../support/service.ts';

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const ARTIFACTS_DIR = path.join(import.meta.dirname, '..', 'artifacts');
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const WAIT_MS = 10_000;
const POLL_MS = 50;

export interface TestBrowser {
  context: BrowserContext;
  /** Every URL any page requested. */
  requests: string[];
  /** Uncaught page errors and console errors, as text. */
  pageErrors: string[];
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`no Chromium at ${CHROMIUM_PATH}: apt-get install -y chromium (.ci/run does)`);
  const profile = await mkdtemp(path.join(os.tmpdir(), 'ai-service-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 860 },
  });
  const requests: string[] = [];
  const pageErrors: string[] = [];
  context.on('request', (r) => requests.push(r.url()));
  const watch = (page: Page) => {
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
  };
  context.on('page', watch);
  return {
    context,
    requests,
    pageErrors,
    newPage: () => context.newPage(),
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

type Env = Record<string, string>;

export interface BrowserSuite {
  readonly t: TestService;
  readonly browser: TestBrowser;
  /** A fresh page for the current test, closed after it. */
  readonly page: Page;
}

/**
 * Registers the enclosing describe's hooks: one service (`env`, or a function giving
 * it, for env that earlier hooks produce) and one browser for the suite, `prepare(t)`
 * run once before the browser starts, and a new page per test.
 */
export function browserSuite(
  options: { env?: Env | (() => Env | Promise<Env>); prepare?: (t: TestService) => Promise<unknown> } = {},
): BrowserSuite {
  let t: TestService | undefined;
  let browser: TestBrowser | undefined;
  let page: Page | undefined;
  const ready = <T>(value: T | undefined, name: string): T => {
    if (value === undefined) throw new Error(`browserSuite: ${name} is only there inside hooks and tests`);
    return value;
  };
  before(async () => {
    const env = typeof options.env === 'function' ? await options.env() : options.env;
    t = await setup(env);
    await options.prepare?.(t);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });
  beforeEach(async () => {
    page = await ready(browser, 'browser').newPage();
  });
  afterEach(async () => {
    await page?.close();
    page = undefined;
  });
  return {
    get t() {
      return ready(t, 't');
    },
    get browser() {
      return ready(browser, 'browser');
    },
    get page() {
      return ready(page, 'page');
    },
  };
}

/** Waits until the locator's trimmed text equals (or matches) the expectation; fails with the last text seen. */
export async function waitForText(locator: Locator, expected: string | RegExp, timeoutMs = WAIT_MS): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last: string | null = null;
  for (;;) {
    last = (await locator.count()) === 1 ? ((await locator.textContent()) ?? '').trim() : null;
    if (last !== null && (typeof expected === 'string' ? last === expected : expected.test(last))) return last;
    if (Date.now() > deadline) throw new Error(`expected ${locator} to show ${expected}, last saw ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const file = path.join(ARTIFACTS_DIR, name);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

const AXE_SOURCE = readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Runs axe-core (WCAG 2 A/AA rules) on the page; returns violations as "rule: target" lines. */
export async function accessibilityViolations(page: Page): Promise<string[]> {
  // page.evaluate goes through the DevTools protocol, so the page's CSP does not block axe.
  await page.evaluate(await AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const result = await (globalThis as any).axe.run((globalThis as any).document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] },
    });
    return result.violations.map((v: any) => `${v.id}: ${v.nodes.map((n: any) => n.target.join(' ')).join(', ')}`);
  });
  return violations as string[];
}
