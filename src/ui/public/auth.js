// The token prompt. The admin token lives in sessionStorage (gone when the tab
// closes) and is only ever sent in the Authorization header by api.js.
import { token } from './api.js';

/** Set when the operator closed the prompt without a token: polls then stop reopening it. */
let dismissed = false;

const $ = (/** @type {string} */ sel) => /** @type {HTMLElement} */ (document.querySelector(sel));

/** Wires the dialog; onChange runs after the token was saved or forgotten. @param {() => void} onChange */
export function initTokenDialog(onChange) {
  const dialog = /** @type {HTMLDialogElement} */ ($('#token-dialog'));
  const input = /** @type {HTMLInputElement} */ ($('#token-input'));
  $('#token-button').addEventListener('click', () => openTokenDialog());
  dialog.addEventListener('close', () => {
    const value = input.value.trim();
    input.value = '';
    if (dialog.returnValue === 'save' && value) token.set(value);
    else if (dialog.returnValue === 'clear') token.clear();
    else {
      dismissed = true;
      return;
    }
    dismissed = false;
    updateButton();
    onChange();
  });
  updateButton();
}

/** Opens the prompt for a refused request unless the operator already dismissed it. @param {import('./api.js').ApiError} refused */
export function askForToken(refused) {
  if (!dismissed) openTokenDialog(refused);
}

/**
 * Opens the prompt, saying why when a request was refused.
 * @param {import('./api.js').ApiError} [refused]
 */
export function openTokenDialog(refused) {
  const dialog = /** @type {HTMLDialogElement} */ ($('#token-dialog'));
  const error = $('#token-error');
  error.hidden = !refused;
  error.textContent = refused ? describeRefusal(refused) : '';
  $('#token-clear').hidden = !token.get();
  if (dialog.open) return;
  dialog.returnValue = '';
  dialog.showModal();
  $('#token-input').focus();
}

/** @param {import('./api.js').ApiError} err */
export function describeRefusal(err) {
  if (err.status === 403) return `This token may not do that (${err}). Use an admin token.`;
  if (token.get()) return `The service rejected the token (${err}).`;
  return `The service requires a token (${err}).`;
}

function updateButton() {
  $('#token-button').textContent = token.get() ? 'Change token' : 'Set token';
}
