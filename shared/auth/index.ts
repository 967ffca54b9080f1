export { createAuthenticator } from './authenticate.js';
export type { Authenticator, AuthenticatorOptions, ServiceCaller } from './authenticate.js';
export { assertPackageAccess, accessTokenCookie, bearerToken } from './credentials.js';
export type { UserCaller, UserCredentials } from './credentials.js';
