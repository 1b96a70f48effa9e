// Pieces shared by the views: the error panel and the page heading.
import { ApiError } from '../api.js';
import { askForToken, describeRefusal, openTokenDialog } from '../auth.js';
import { h } from '../dom.js';

/** An alert for a failed request; a refused token also opens the token prompt. @param {unknown} err */
export function errorPanel(err) {
  const e = err instanceof ApiError ? err : new ApiError(0, 'error', String(err));
  if (e.needsToken) {
    askForToken(e);
    return h(
      'div',
      { class: 'alert', role: 'alert' },
      h('p', null, describeRefusal(e)),
      h('button', { type: 'button', onclick: () => openTokenDialog(e) }, 'Enter token'),
    );
  }
  const text = e.unreachable ? `Could not load data: ${e}. Showing the last data received, if any.` : `Request failed: ${e}`;
  return h('div', { class: 'alert', role: 'alert' }, h('p', null, text));
}

/** The page's h1; focusable so the router can move focus to it. @param {string} text @param {...any} extra */
export function heading(text, ...extra) {
  return h('h1', { tabindex: '-1' }, text, ...extra);
}

/** A region the view fills on each refresh. @param {string} label */
export function region(label) {
  return h('section', { 'aria-label': label });
}
