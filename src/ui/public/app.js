// Hash router, polling loop and the connection indicator. Each view module
// exports mount(container, params) → { refresh?(): Promise<void> }; views with
// refresh are polled every POLL_INTERVAL_MS while the tab is visible, and the
// header shows whether what is on screen is live, stale or unreachable.
import { connection } from './api.js';
import { initTokenDialog } from './auth.js';
import { fmtAge } from './dom.js';
import * as errorsView from './views/errors.js';
import * as jobView from './views/job.js';
import * as jobsView from './views/jobs.js';
import * as overviewView from './views/overview.js';

export const POLL_INTERVAL_MS = 3000;
/** Data older than this (three missed polls) is flagged as stale. */
export const STALE_AFTER_MS = 10_000;

/** @type {[RegExp, string, { mount: (el: HTMLElement, params: string[]) => { refresh?: () => Promise<void> } }][]} */
const ROUTES = [
  [/^#?\/?$/, 'overview', overviewView],
  [/^#\/jobs\/([0-9a-fA-F-]{36})$/, 'jobs', jobView],
  [/^#\/jobs(?:\?.*)?$/, 'jobs', jobsView],
  [/^#\/errors$/, 'errors', errorsView],
];

const view = /** @type {HTMLElement} */ (document.getElementById('view'));
/** @type {{ refresh?: () => Promise<void> }} */
let current = {};
let pollTimer = 0;
/** Identifies the current polling chain; starting a new one ends the old. */
let chain = 0;

function route() {
  const hash = location.hash || '#/';
  const match = ROUTES.map(([re, nav, mod]) => ({ m: re.exec(hash), nav, mod })).find((r) => r.m);
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.getAttribute('data-nav') === match?.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  view.replaceChildren();
  chain++;
  clearTimeout(pollTimer);
  if (!match) {
    view.append(Object.assign(document.createElement('h1'), { textContent: 'Not found' }));
    current = {};
    return;
  }
  current = match.mod.mount(view, match.m?.slice(1) ?? []);
  // Move focus to the new page so keyboard and screen-reader users land on it.
  /** @type {HTMLElement | null} */ (view.querySelector('h1'))?.focus({ preventScroll: true });
  startPolling();
}

function startPolling() {
  clearTimeout(pollTimer);
  poll(++chain);
}

/** Runs the view's refresh, then schedules the next one unless a newer chain started. @param {number} id */
async function poll(id) {
  if (!current.refresh) return;
  if (!document.hidden) await current.refresh().catch(() => {});
  if (id === chain) pollTimer = window.setTimeout(() => poll(id), POLL_INTERVAL_MS);
}

// Connection indicator ------------------------------------------------------
const conn = /** @type {HTMLElement} */ (document.getElementById('conn'));
let lastOk = 0;
/** @type {import('./api.js').ApiError | undefined} */
let lastError;

connection.addEventListener('result', (e) => {
  const { ok, error } = /** @type {CustomEvent} */ (e).detail;
  if (ok || !error.unreachable) lastOk = Date.now();
  lastError = ok ? undefined : error;
  paintConnection();
});

function paintConnection() {
  const age = lastOk ? Date.now() - lastOk : Number.POSITIVE_INFINITY;
  let state = 'live';
  let label = 'Live';
  if (lastError?.unreachable) {
    state = 'down';
    label = `Service unreachable (${lastError})`;
  } else if (lastError?.needsToken) {
    state = 'auth';
    label = 'Token needed';
  } else if (!lastOk) {
    state = 'idle';
    label = 'Connecting…';
  } else if (current.refresh && age > STALE_AFTER_MS) {
    state = 'stale';
    label = 'Stale data';
  }
  const stateEl = /** @type {HTMLElement} */ (conn.querySelector('.conn-state'));
  if (conn.dataset.state !== state || stateEl.textContent !== label) {
    conn.dataset.state = state;
    stateEl.textContent = label;
  }
  /** @type {HTMLElement} */ (conn.querySelector('.conn-age')).textContent = lastOk ? `updated ${fmtAge(age / 1000)} ago` : '';
}
setInterval(paintConnection, 1000);

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) startPolling();
});

initTokenDialog(() => route());
window.addEventListener('hashchange', route);
route();
