import type { Aedes, AuthenticateError, Client } from 'aedes';
import type { Authenticator } from '../../shared/auth/index.js';
import { UnauthenticatedError } from '../../shared/errors/index.js';
import type { Logger } from '../../shared/logging/index.js';
import type { Identity, TopicAcl } from './topic-acl.js';

/** MQTT 3.1.1 §3.2.2.3: CONNACK return codes. */
const IDENTIFIER_REJECTED = 2;
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;

function refusal(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

/**
 * Installs authentication and the topic ACL on an aedes broker. A session logs in with the
 * same credentials as the API: username = user id and password = that user's JWT, or
 * username = an API key's name and password = the key (services, admins, the router).
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
    log: Logger;
  },
): { identityOf(client: Client): Identity | undefined } {
  const { auth, acl, log } = deps;
  const identities = new WeakMap<Client, Identity>();

  aedes.authenticate = (client, username, password, done) => {
    const secret = password?.toString('utf8');
    // Over WebSocket a browser may log in with its access_token cookie instead of a password,
    // but only from a page of an allowed origin: any site can open a WebSocket with the cookie.
    const cookieToken =
      secret || !deps.cookieOriginAllowed(client.req?.headers.origin)
        ? undefined
        : accessTokenCookie(client.req?.headers.cookie);
    if (!secret && !cookieToken) return done(refusal('username and password required', NOT_AUTHORIZED), false);
    const identifying = cookieToken
      ? identifyByCookie(auth, username, cookieToken)
      : identify(auth, username ?? '', secret ?? '');
    identifying.then(
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
        log.info({ clientId: client.id, username, reason: (err as Error).message }, 'mqtt login refused');
        done(refusal('bad username or password', BAD_USERNAME_OR_PASSWORD), false);
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

async function identifyByCookie(auth: Authenticator, username: string | undefined, token: string): Promise<Identity> {
  const user = await auth.user(`Bearer ${token}`);
  if (username && user.user !== username) throw new UnauthenticatedError('username does not match the token');
  return user;
}

/** The `access_token` cookie of a WebSocket upgrade request, if any. */
function accessTokenCookie(header: string | undefined): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name !== 'access_token' || value.length === 0) continue;
    try {
      return decodeURIComponent(value.join('='));
    } catch {
      return undefined;
    }
  }
  return undefined;
}

async function identify(auth: Authenticator, username: string, secret: string): Promise<Identity> {
  if (!username) throw new UnauthenticatedError('username required');
  try {
    const service = auth.service(undefined, secret);
    if (service.name !== username) throw new UnauthenticatedError('username does not match the key');
    return service;
  } catch {
    const user = await auth.user(`Bearer ${secret}`);
    if (user.user !== username) throw new UnauthenticatedError('username does not match the token');
    return user;
  }
}
