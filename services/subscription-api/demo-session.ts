import { SignJWT } from 'jose';

/** The package the demo page works in; demo tokens cover it and nothing else. */
export const DEMO_PACKAGE = 'demo';
/** The user the demo page signs in as when no name is given. */
export const DEMO_USER = 'demo-user';
/** Lifetime of a token issued by the demo page's sign-in. */
export const DEMO_SESSION_SECONDS = 3600;

/**
 * A user JWT for the demo package, signed with the API's own secret: what an application's
 * login would issue. Only ever for `DEMO_PACKAGE`, so a demo token reaches no other package.
 */
export function signDemoToken(jwtSecret: string, user: string, expiresIn: string | number): Promise<string> {
  return new SignJWT({ packages: [DEMO_PACKAGE] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(jwtSecret));
}
