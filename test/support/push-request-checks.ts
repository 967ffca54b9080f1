import type { IncomingHttpHeaders } from 'node:http';
import { decryptPayload, verifyVapidAuthorization, type BrowserKeys } from './web-push-receiver.js';

/** What a push service knows about one subscription: the browser's keys and its VAPID key. */
export interface RegisteredBrowser {
  keys: BrowserKeys;
  /** The `applicationServerKey` the browser subscribed with; `k` must equal it (RFC 8292 §4.2). */
  applicationServerKey?: string;
}

/** What a push service found checking one request; `problems` is empty when it would accept it. */
export interface PushFindings {
  problems: string[];
  /** The decrypted body, when the browser's keys were registered and it decrypted. */
  plaintext?: Buffer;
  vapid?: { claims: { aud: string; exp: number; sub: string }; publicKey: string };
}

const DAY_SECONDS = 24 * 3600;
const MAX_BODY_BYTES = 4096;
const URGENCIES = new Set(['very-low', 'low', 'normal', 'high']);
const LOCALHOST = /^(localhost|.*\.localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/**
 * Checks a request as FCM, autopush or APNs would before accepting it. Uses the decryption in
 * web-push-receiver.ts, written apart from the worker's encryption.
 */
export function checkPushRequest(
  request: { method: string; headers: IncomingHttpHeaders; body: Buffer },
  context: { origin: string; arrivedAt: number; browser: RegisteredBrowser | undefined },
): PushFindings {
  const { headers, body } = request;
  const problems: string[] = [];
  const findings: PushFindings = { problems };
  if (request.method !== 'POST') problems.push(`method ${request.method}, not POST (RFC 8030 §5)`);
  // RFC 8030 §7.2: a push service need not accept more than 4096 bytes of body.
  if (body.length > MAX_BODY_BYTES) problems.push(`body of ${body.length} bytes exceeds 4096`);
  // RFC 8291 §4: Web Push uses the aes128gcm content coding.
  if (headers['content-encoding'] !== 'aes128gcm') {
    problems.push(`content-encoding ${String(headers['content-encoding'])}, not aes128gcm`);
  }
  // RFC 8030 §5.2: TTL is required, delta-seconds.
  const ttl = headers['ttl'];
  if (ttl === undefined || !/^\d+$/.test(ttl.toString())) problems.push(`TTL ${String(ttl)} is not delta-seconds`);
  // RFC 8030 §5.3.
  const urgency = headers['urgency'];
  if (urgency !== undefined && !URGENCIES.has(urgency.toString())) problems.push(`Urgency ${String(urgency)} is not valid`);
  // RFC 8030 §5.4: at most 32 characters of the URL-safe base64 alphabet.
  const topic = headers['topic'];
  if (topic !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(topic.toString())) {
    problems.push(`Topic ${String(topic)} is not 1-32 URL-safe base64 characters`);
  }
  checkVapid(headers.authorization, context, findings);
  if (!context.browser) {
    problems.push('no browser keys registered for this path: cannot decrypt');
  } else {
    try {
      const { keys } = context.browser;
      findings.plaintext = decryptPayload({ body, privateKey: keys.privateKey, auth: keys.auth });
    } catch (err) {
      problems.push(`body does not decrypt: ${(err as Error).message}`);
    }
  }
  return findings;
}

/** RFC 8292 §2, §3: the JWT verifies against `k`, aud is our origin, exp within 24 h, sub a contact. */
function checkVapid(
  authorization: string | undefined,
  context: { origin: string; arrivedAt: number; browser: RegisteredBrowser | undefined },
  findings: PushFindings,
): void {
  const { problems } = findings;
  if (!authorization) {
    problems.push('no Authorization header');
    return;
  }
  try {
    findings.vapid = verifyVapidAuthorization(authorization);
  } catch (err) {
    problems.push(`VAPID: ${(err as Error).message}`);
    return;
  }
  const { claims, publicKey } = findings.vapid;
  const now = Math.floor(context.arrivedAt / 1000);
  if (claims.aud !== context.origin) problems.push(`VAPID aud ${claims.aud}, not ${context.origin}`);
  if (typeof claims.exp !== 'number' || claims.exp <= now) problems.push(`VAPID exp ${claims.exp} has passed`);
  else if (claims.exp > now + DAY_SECONDS) problems.push(`VAPID exp ${claims.exp} is more than 24 h ahead`);
  if (!contactHostOk(claims.sub)) problems.push(`VAPID sub ${String(claims.sub)} is not a mailto: or https: contact`);
  const expectedKey = context.browser?.applicationServerKey;
  if (expectedKey !== undefined && publicKey !== expectedKey) {
    problems.push('VAPID k is not the key the browser subscribed with');
  }
}

function contactHostOk(sub: unknown): boolean {
  if (typeof sub !== 'string') return false;
  const mailto = /^mailto:[^@\s/]+@([^@\s/?#]+)$/i.exec(sub);
  const host = mailto ? mailto[1] : URL.canParse(sub) && sub.startsWith('https://') ? new URL(sub).hostname : null;
  return typeof host === 'string' && host !== '' && !LOCALHOST.test(host);
}
