export { createAuthenticator, assertPackageAccess } from './authenticate.js';
export type { Authenticator, UserCaller, ServiceCaller } from './authenticate.js';
