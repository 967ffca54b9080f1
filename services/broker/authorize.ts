import type { Aedes, AuthenticateError, Client } from 'aedes';
import { accessTokenCookie, type Authenticator, type ServiceCaller } from '../../shared/auth/index.js';
import { UnauthenticatedError, UnavailableError } from '../../shared/errors/index.js';
import type { Logger } from '../../shared/logging/index.js';
import type { Identity, TopicAcl } from './topic-acl.js';

/** MQTT 3.1.1 §3.2.2.3: CONNACK return codes. */
const IDENTIFIER_REJECTED = 2;
const SERVER_UNAVAILABLE = 3;
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;

function refusal(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

/**
 * Installs authentication and the topic ACL on an aedes broker. A session logs in with the
 * same credentials as the API: username = user id and password = that user's JWT (or whatever
 * the auth webhook accepts as `Authorization: Bearer <password>`), or username = an API key's
 * name and password = the key (services, admins, the router). When the JWKS or the webhook
 * cannot tell, the login gets CONNACK 3 (server unavailable), never a session.
 */
export function installAuthorization(
  aedes: Aedes,
  deps: {
    auth: Authenticator;
    acl: TopicAcl;
    maxPayloadBytes: number;
    /** The client id all routers share; only the router role may use it. */
    routerClientId: string;
    cookieOriginAllowed: (origin: string | undefined) => boolean;
    /** The auth webhook is on: a cookie without `access_token` may still be the app's session. */
    webhook: boolean;
    log: Logger;
  },
): { identityOf(client: Client): Identity | undefined } {
  const { auth, acl, log } = deps;
  const identities = new WeakMap<Client, Identity>();

  aedes.authenticate = (client, username, password, done) => {
    const secret = password?.toString('utf8') || undefined;
    // Over WebSocket a browser may log in with its cookie instead of a password, but only from
    // a page of an allowed origin: any site can open a WebSocket that carries the cookie.
    const cookie = deps.cookieOriginAllowed(client.req?.headers.origin) ? client.req?.headers.cookie : undefined;
    const cookieCounts = accessTokenCookie(cookie) !== undefined || (deps.webhook && cookie !== undefined);
    if (!secret && !cookieCounts) {
      return done(refusal('username and password required', NOT_AUTHORIZED), false);
    }
    identify(auth, username || undefined, secret, cookie).then(
      (identity) => {
        // All routers share one session: nobody else may take it over by its client id.
        const routerSession = client.id === deps.routerClientId;
        if (routerSession && (identity.kind !== 'service' || !identity.router)) {
          log.info({ clientId: client.id, username }, 'mqtt login refused: client id reserved for the router');
          return done(refusal('client id reserved for the router', IDENTIFIER_REJECTED), false);
        }
        identities.set(client, identity);
        // Set before aedes registers the client or looks up its persistent session.
        if (!routerSession) (client as { id: string }).id = sessionIdOf(identity, client.id);
        done(null, true);
      },
      (err: unknown) => {
        const unavailable = err instanceof UnavailableError;
        log.info({ clientId: client.id, username, reason: (err as Error).message }, 'mqtt login refused');
        done(
          unavailable
            ? refusal('authentication is unavailable', SERVER_UNAVAILABLE)
            : refusal('bad username or password', BAD_USERNAME_OR_PASSWORD),
          false,
        );
      },
    );
  };

  // [MQTT-3.8.4-5]: a refused topic gets return code 0x80 in SUBACK (aedes does it for null).
  aedes.authorizeSubscribe = (client, subscription, done) => {
    const identity = identities.get(client);
    const allowed = identity !== undefined && acl.canSubscribe(identity, subscription.topic);
    if (!allowed) log.info({ clientId: client.id, topic: subscription.topic }, 'mqtt subscription refused');
    done(null, allowed ? subscription : null);
  };

  // An error closes the connection: MQTT 3.1.1 has no negative PUBACK [MQTT-3.3.5-2].
  aedes.authorizePublish = (client, packet, done) => {
    const identity = client ? identities.get(client) : undefined;
    if (packet.payload.length > deps.maxPayloadBytes) {
      log.info({ clientId: client?.id, bytes: packet.payload.length }, 'mqtt publish too large; disconnecting');
      return done(new Error(`payload over ${deps.maxPayloadBytes} bytes`));
    }
    if (identity && acl.canPublish(identity, packet.topic)) {
      // A retained event would be replayed to every router that subscribes again.
      packet.retain = false;
      return done(null);
    }
    log.info({ clientId: client?.id, topic: packet.topic }, 'mqtt publish refused; disconnecting');
    done(new Error(`not allowed to publish to ${packet.topic}`));
  };

  aedes.authorizeForward = (client, packet) => {
    const identity = identities.get(client);
    return identity && acl.canReceive(identity, packet.topic) ? packet : null;
  };

  return { identityOf: (client) => identities.get(client) };
}

/**
 * The id aedes keeps a session under: the client's own id inside its identity's namespace. A
 * client id thus only ever reaches sessions of the same identity: another user who knows it
 * neither takes the session over nor touches what a persistent session kept, while a user's
 * reloaded tab still replaces its own earlier connection [MQTT-3.1.4-2].
 */
function sessionIdOf(identity: Identity, clientId: string): string {
  return identity.kind === 'user' ? `user:${identity.user}/${clientId}` : `service:${identity.name}/${clientId}`;
}

/**
 * A service key first (never sent on to the webhook), then the user's credentials: the password
 * as `Authorization: Bearer <password>`, and the cookie of an allowed WebSocket page.
 */
async function identify(
  auth: Authenticator,
  username: string | undefined,
  secret: string | undefined,
  cookie: string | undefined,
): Promise<Identity> {
  if (secret) {
    if (!username) throw new UnauthenticatedError('username required');
    const service = serviceKey(auth, secret);
    if (service && service.name !== username) throw new UnauthenticatedError('username does not match the key');
    if (service) return service;
  }
  const user = await auth.user({ authorization: secret && `Bearer ${secret}`, cookie });
  if (username && user.user !== username) throw new UnauthenticatedError('username does not match the user');
  return user;
}

/** The service whose API key `secret` is, or undefined for anything else (a user's credentials). */
function serviceKey(auth: Authenticator, secret: string): ServiceCaller | undefined {
  try {
    return auth.service(undefined, secret);
  } catch {
    return undefined;
  }
}
