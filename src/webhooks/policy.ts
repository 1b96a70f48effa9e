// Where callbacks may go. A callback URL must be http(s), carry no userinfo, and
// name a host allowed by WEBHOOK_ALLOWED_HOSTS; with no allow-list, or no signing
// secret, callbacks are refused (422): a secure default against SSRF. Unless
// WEBHOOK_ALLOW_PRIVATE_ADDRESSES is set, the host must also resolve to public
// addresses only; delivery checks again at connect time (see lib/address-rules.ts),
// so this early check is for a clear 422, not the guarantee.
import { HttpError } from '../http/problem.ts';
import { AddressNotAllowedError, checkUrlAddresses } from '../lib/address-rules.ts';
import { hostAllowed } from '../lib/host-patterns.ts';

export interface CallbackPolicy {
  allowedHosts: string[];
  secrets: string[];
  allowPrivateAddresses: boolean;
}

const unprocessable = (detail: string) => new HttpError(422, 'callback_not_allowed', detail);

/** Throws 422 unless the URL may receive callbacks. */
export async function checkCallbackUrl(raw: string, policy: CallbackPolicy): Promise<void> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw unprocessable('callback_url is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw unprocessable('callback_url must be http or https');
  if (url.username || url.password) throw unprocessable('callback_url must not contain credentials');
  if (policy.secrets.length === 0) throw unprocessable('callbacks are not enabled on this service (WEBHOOK_SECRET is not set)');
  if (!hostAllowed(url, policy.allowedHosts)) throw unprocessable(`callback host ${url.host} is not in WEBHOOK_ALLOWED_HOSTS`);
  if (policy.allowPrivateAddresses) return;
  try {
    await checkUrlAddresses(url);
  } catch (err) {
    if (err instanceof AddressNotAllowedError) throw unprocessable(`callback_url is refused: ${err.message}${PRIVATE_HINT}`);
    // A name that does not resolve now may resolve by delivery time, which checks again.
  }
}

const PRIVATE_HINT = ' (callbacks go to public addresses only unless WEBHOOK_ALLOW_PRIVATE_ADDRESSES is true)';
