import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import type { ApiKey } from '../../shared/config/index.js';

export interface LocalCredentials {
  jwtSecret: string;
  apiKey: ApiKey;
}

export const DEMO_USER = 'demo-user';
export const DEMO_PACKAGE = 'demo';

/**
 * The embedded default needs a JWT secret and a service key without any configuration. They
 * are generated once and kept in `<dataDir>/local-credentials.json` (mode 0600), so tokens
 * printed by one start keep working after the next.
 */
export function loadLocalCredentials(dataDir: string): LocalCredentials {
  const file = join(dataDir, 'local-credentials.json');
  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { jwtSecret: string; apiKey: string };
    return { jwtSecret: stored.jwtSecret, apiKey: localKey(stored.apiKey) };
  }
  mkdirSync(dataDir, { recursive: true });
  const created = {
    jwtSecret: randomBytes(48).toString('base64url'),
    apiKey: randomBytes(24).toString('base64url'),
  };
  writeFileSync(file, JSON.stringify(created, null, 2), { mode: 0o600 });
  return { jwtSecret: created.jwtSecret, apiKey: localKey(created.apiKey) };
}

function localKey(key: string): ApiKey {
  return { name: 'local-admin', key, packages: '*', admin: true, router: false };
}

/** A user token for the demo user, valid for 30 days. */
export function signDemoToken(jwtSecret: string): Promise<string> {
  return new SignJWT({ packages: [DEMO_PACKAGE] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(DEMO_USER)
    .setIssuedAt()
    .setExpirationTime('30d')
    .sign(new TextEncoder().encode(jwtSecret));
}

/** A key for the notify-router's broker login inside one all-in-one process; never stored or shown. */
export function routerKey(): ApiKey {
  return { name: 'notify-router', key: randomBytes(24).toString('base64url'), packages: '*', admin: false, router: true };
}
