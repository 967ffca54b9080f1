import type { Request, Response } from 'express';
import { bearerToken, type Authenticator, type ServiceCaller, type UserCaller } from '../../shared/auth/index.js';
import { userCredentials } from './user-credentials.js';

// Who a request is, checked once per request: the rate limiter asks before the route does, and
// both get the same answer from `res.locals` (for the auth webhook: one call, not two).
const USER = 'userCaller';
const SERVICE = 'serviceCaller';

/**
 * The user the request's credentials sign in (Authorization header, else the same-origin
 * cookie). Rejects as `Authenticator.user` does: 401, or 503 when the JWKS or webhook could
 * not tell.
 */
export function requestUser(auth: Authenticator, req: Request, res: Response): Promise<UserCaller> {
  let checked = res.locals[USER] as Promise<UserCaller> | undefined;
  if (!checked) {
    checked = auth.user(userCredentials(req.headers));
    // Whoever awaits it sees the refusal; kept unawaited it must not be an unhandled one.
    checked.catch(() => undefined);
    res.locals[USER] = checked;
  }
  return checked;
}

/** The API key a request presents, if any: `X-API-Key`, else a Bearer token. */
export function presentedKey(req: Request): string | undefined {
  return req.header('x-api-key') ?? bearerToken(req.headers.authorization);
}

/** The service whose API key the request presents, if it is one. */
export function presentedService(auth: Authenticator, req: Request, res: Response): ServiceCaller | undefined {
  if (!(SERVICE in res.locals)) {
    const presented = presentedKey(req);
    res.locals[SERVICE] = presented === undefined ? undefined : auth.findService(presented);
  }
  return res.locals[SERVICE] as ServiceCaller | undefined;
}

/** The service calling, or 401 naming what is missing (as `Authenticator.service`). */
export function requestService(auth: Authenticator, req: Request, res: Response): ServiceCaller {
  return presentedService(auth, req, res) ?? auth.service(req.headers.authorization, req.header('x-api-key'));
}
