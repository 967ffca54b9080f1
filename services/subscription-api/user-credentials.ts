import type { IncomingHttpHeaders } from 'node:http';
import type { UserCredentials } from '../../shared/auth/index.js';

/**
 * What a request presents to sign a user in: its Authorization header, and its cookie unless a
 * page of another origin sent it. Browsers send `Origin` on every cross-origin request and on
 * same-origin POST/PUT/DELETE; the cookie counts only when there is none or it is this host,
 * so another site cannot act with the cookie the browser adds (the broker has the same rule
 * for WebSocket pages, with its list of origins).
 */
export function userCredentials(headers: IncomingHttpHeaders): UserCredentials {
  return {
    authorization: headers.authorization,
    cookie: sameOrigin(headers) ? headers.cookie : undefined,
  };
}

function sameOrigin(headers: IncomingHttpHeaders): boolean {
  const origin = headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === headers.host;
  } catch {
    return false;
  }
}
