// Small DOM helpers. Elements are built with createElement and text nodes only —
// never innerHTML — so job data (owner_ref, error messages, input JSON) cannot
// inject markup into the page.

/**
 * h('a', { href: '#/', class: 'x', onclick: fn, data: { field: 'ready' } }, 'text', child)
 * @param {string} tag
 * @param {Record<string, any> | null} [props]
 * @param {...any} children strings, numbers, nodes, arrays, null/undefined/false (skipped)
 * @returns {HTMLElement}
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'data') for (const [k, v] of Object.entries(value)) el.dataset[k] = String(v);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

/** @param {Element} parent @param {any[]} children */
function append(parent, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(parent, c);
    else parent.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** SVG elements need their namespace. @param {string} tag @param {Record<string, any>} attrs */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) if (c) el.append(c);
  return el;
}

/** Replaces the children of el, keeping keyboard focus on the element with the same data-key. */
export function replaceKeepingFocus(/** @type {HTMLElement} */ el, /** @type {any[]} */ ...children) {
  const active = document.activeElement;
  const key = active instanceof HTMLElement && el.contains(active) ? active.dataset.key : undefined;
  el.replaceChildren();
  append(el, children);
  if (key) /** @type {HTMLElement | null} */ (el.querySelector(`[data-key="${CSS.escape(key)}"]`))?.focus();
}

const numberFormat = new Intl.NumberFormat('en');
/** @param {number | null | undefined} n */
export const fmtInt = (n) => (n === null || n === undefined ? '—' : numberFormat.format(n));

/** "45 s", "12 min", "3 h 5 min", "2 d 4 h". @param {number | null | undefined} seconds */
export function fmtAge(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const hours = Math.floor(m / 60);
  if (hours < 48) return `${hours} h ${m % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** A <time> element in local time, with the exact ISO timestamp as its datetime and tooltip. */
export function time(/** @type {string | null | undefined} */ iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  const pad = (/** @type {number} */ n) => String(n).padStart(2, '0');
  const text = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return h('time', { datetime: iso, title: iso }, text);
}

/** A status badge: the word is always shown, colour only reinforces it. */
export function statusBadge(/** @type {string} */ status) {
  return h('span', { class: `badge status-${status}`, data: { status } }, status);
}

/** Parses "a=1&b=2" from the part of the hash after "?". */
export function hashQuery() {
  const i = location.hash.indexOf('?');
  return new URLSearchParams(i < 0 ? '' : location.hash.slice(i + 1));
}
