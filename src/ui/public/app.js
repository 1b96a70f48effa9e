// Hash router, polling loop and the connection indicator. Each view module
// exports mount(container, params) → { refresh?(): Promise<void> }; views with
// refresh are polled every POLL_INTERVAL_MS while the tab is visible. refresh
// rejects when its main data could not be loaded, so the header can tell live
// data from stale data (no fresh answer for STALE_AFTER_MS) and from an
// unreachable service.
import { ApiError, connection } from './api.js';
import { initTokenDialog } from './auth.js';
import { fmtAge } from './dom.js';
import * as errorsView from './views/errors.js';
import * as jobView from './views/job.js';
import * as jobsView from './views/jobs.js';
import * as overviewView from './views/overview.js';
import * as policiesView from './views/policies.js';

export const POLL_INTERVAL_MS = 3000;
/** Data older than this (three missed polls) is flagged as stale. */
export const STALE_AFTER_MS = 10_000;

/** @type {[RegExp, string, { mount: (el: HTMLElement, params: string[]) => { refresh?: () => Promise<void> } }][]} */
const ROUTES = [
  [/^#?\/?$/, 'overview', overviewView],
  [/^#\/jobs\/([0-9a-fA-F-]{36})$/, 'jobs', jobView],
  [/^#\/jobs(?:\?.*)?$/, 'jobs', jobsView],
  [/^#\/errors$/, 'errors', errorsView],
  [/^#\/policies$/, 'policies', policiesView],
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
  if (!document.hidden) {
    try {
      await current.refresh();
      if (id === chain) settle(undefined);
    } catch (err) {
      if (id === chain) settle(err instanceof ApiError ? err : new ApiError(0, 'error', String(err)));
    }
  }
  if (id === chain) pollTimer = window.setTimeout(() => poll(id), POLL_INTERVAL_MS);
}

// Connection indicator ------------------------------------------------------
const conn = /** @type {HTMLElement} */ (document.getElementById('conn'));
/** When the view last got its data (ms); 0 before the first answer. */
let lastFresh = 0;
/** @type {ApiError | undefined} */
let lastError;

/** Records the outcome of a refresh; any answer but an outage or a refused token counts as fresh. @param {ApiError | undefined} error */
function settle(error) {
  if (!error || !(error.unreachable || error.needsToken)) lastFresh = Date.now();
  lastError = error;
  paintConnection();
}

// Views without polling (the jobs list) are judged by their own requests.
connection.addEventListener('result', (e) => {
  if (!current.refresh) settle(/** @type {CustomEvent} */ (e).detail.error);
});

function paintConnection() {
  const age = lastFresh ? Date.now() - lastFresh : Number.POSITIVE_INFINITY;
  let state = 'live';
  let label = 'Live';
  if (lastError?.unreachable) {
    state = 'down';
    label = lastError.status ? `Service unavailable (${lastError})` : `Service unreachable (${lastError.message})`;
  } else if (lastError?.needsToken) {
    state = 'auth';
    label = 'Token needed';
  } else if (!lastFresh) {
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
  /** @type {HTMLElement} */ (conn.querySelector('.conn-age')).textContent = lastFresh ? `updated ${fmtAge(age / 1000)} ago` : '';
}
setInterval(paintConnection, 1000);

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) startPolling();
});

initTokenDialog(() => route());
window.addEventListener('hashchange', route);
route();
