/**
 * A subscription endpoint is a URL our servers will POST to on a browser's say-so, so it is
 * checked before it is stored (and again before it is used) against the push services that
 * browsers actually hand out.
 */
export interface EndpointPolicy {
  /** Host names; an entry matches itself and any host ending in `.<entry>`. */
  allowedHosts: readonly string[];
  /** Lets `http:`/`https:` endpoints on loopback through (tests, the demo). Off by default. */
  allowInsecureLoopback: boolean;
}

/** The push services of Chrome/Edge (FCM), Firefox (autopush), Safari (APNs web) and Windows. */
export const DEFAULT_PUSH_HOSTS: readonly string[] = [
  'fcm.googleapis.com',
  'jmt17.google.com',
  'updates.push.services.mozilla.com',
  'web.push.apple.com',
  'push.apple.com',
  'notify.windows.com',
];

export const MAX_ENDPOINT_LENGTH = 2048;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** True when `host` (already lower-cased by URL) equals an entry or is a dot-suffix of one. */
export function hostAllowed(host: string, allowedHosts: readonly string[]): boolean {
  return allowedHosts.some((entry) => host === entry || host.endsWith(`.${entry}`));
}

/**
 * Returns why `endpoint` may not be used, or `null` when it may. The host is taken from the
 * parsed URL, never matched as a string: `https://evil.example/fcm.googleapis.com/` fails.
 */
export function endpointProblem(endpoint: string, policy: EndpointPolicy): string | null {
  return checkEndpoint(endpoint, policy).problem;
}

/** An endpoint as `checkEndpoint` found it: its parsed URL when it parses, and why it is refused. */
export type EndpointCheck = { url: URL; problem: null } | { url: URL | null; problem: string };

/** `endpointProblem` with the URL it parsed, for callers that go on to use it. */
export function checkEndpoint(endpoint: string, policy: EndpointPolicy): EndpointCheck {
  if (endpoint.length > MAX_ENDPOINT_LENGTH) return { url: null, problem: `longer than ${MAX_ENDPOINT_LENGTH} characters` };
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return { url: null, problem: 'not a URL' };
  }
  const problem = urlProblem(endpoint, url, policy);
  return problem === null ? { url, problem: null } : { url, problem };
}

function urlProblem(endpoint: string, url: URL, policy: EndpointPolicy): string | null {
  // Browsers hand out endpoints in canonical form. Anything else (percent-encoded hosts,
  // backslashes, spaces, `:0443`) is hand-made, and another URL parser might read it differently.
  if (url.href !== endpoint) return 'must be a canonical URL, as PushSubscription.endpoint gives it';
  if (url.username || url.password) return 'must not carry user info';
  if (endpoint.includes('#')) return 'must not have a fragment';
  const loopback = LOOPBACK_HOSTS.has(url.hostname) || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
  if (policy.allowInsecureLoopback && loopback) {
    return url.protocol === 'http:' || url.protocol === 'https:' ? null : 'must be http(s)';
  }
  if (url.protocol !== 'https:') return 'must be an https: URL';
  if (url.port !== '' && url.port !== '443') return 'must use port 443';
  if (!hostAllowed(url.hostname, policy.allowedHosts)) {
    return `host ${url.hostname} is not a known push service (PUSH_ENDPOINT_ALLOWLIST)`;
  }
  return null;
}
