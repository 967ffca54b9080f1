import { z } from 'zod';
import {
  eventIdSchema,
  nameSchema,
  notificationRequestSchema,
  subscriptionRequestSchema,
  unsubscribeRequestSchema,
} from '../../shared/events/index.js';
import { demoNotificationSchema, demoSessionSchema } from './demo.routes.js';
import { groupPathSchema, memberListQuerySchema, memberPathSchema } from './groups.routes.js';
import { inboxListQuerySchema, inboxSeenBodySchema } from './inbox.routes.js';
import { subscriptionListQuerySchema } from './subscriptions.routes.js';

/** Who may call a route: how `GET /openapi.json` names its security. */
export type RouteAuth = 'none' | 'user' | 'service' | 'admin';

/** One route of the HTTP API, with the schemas its handler validates its input with. */
export interface ApiRoute {
  method: 'get' | 'post' | 'put' | 'delete';
  /** Express syntax (`/v1/vapid/:package`), exactly as the router registers it. */
  path: string;
  auth: RouteAuth;
  summary: string;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Status of a success: 200 unless said. */
  ok?: number;
  /** What a success answers with, when not JSON. */
  produces?: string;
  /**
   * Operators' probes and scrapes: served before the rate limits (`createApp`), never refused
   * for their rate; a probe refused for its rate would look like an outage.
   */
  unlimited?: boolean;
  /** Served only when the demo page is on, when the app counts metrics, or has the queue board. */
  only?: 'demo' | 'metrics' | 'board';
  /**
   * The path is a mount point whose own routes belong to a library (a UI with its assets):
   * documented once, and it covers every route under it.
   */
  subtree?: boolean;
}

const route = (
  method: ApiRoute['method'],
  path: string,
  auth: RouteAuth,
  summary: string,
  more: Omit<ApiRoute, 'method' | 'path' | 'auth' | 'summary'> = {},
): ApiRoute => ({ method, path, auth, summary, ...more });

const JS = 'text/javascript';
const packagePath = z.object({ package: nameSchema });
const notificationPath = z.object({ id: eventIdSchema });

/**
 * Every route of the HTTP API, in one table: `GET /openapi.json` is built from it, and
 * `test/integration/openapi.test.ts` fails when the Express app serves a route this table does
 * not list (or lists one the app does not serve). Adding a route: add its line here, passing
 * the zod schemas its handler parses.
 */
export const API_ROUTES: readonly ApiRoute[] = [
  route('get', '/healthz', 'none', 'Liveness: the process answers', { unlimited: true }),
  route('get', '/readyz', 'none', 'Readiness: 200 when the database and Redis answer, else 503 naming the part that does not', { unlimited: true }),
  route('get', '/metrics', 'none', 'Prometheus metrics', { produces: 'text/plain', only: 'metrics', unlimited: true }),
  route('get', '/openapi.json', 'none', 'This document'),
  route('get', '/v1/vapid/:package', 'none', "The package's current VAPID public key (applicationServerKey)", { params: packagePath }),
  route('post', '/v1/subscriptions', 'user', "Registers the caller's browser push subscription (201 new, 200 updated)", { body: subscriptionRequestSchema, ok: 201 }),
  route('delete', '/v1/subscriptions', 'user', 'Deactivates one of the caller\'s subscriptions', { body: unsubscribeRequestSchema }),
  route('get', '/v1/subscriptions', 'user', "The caller's subscriptions (an admin key may name any user=)", { query: subscriptionListQuerySchema }),
  route('post', '/v1/subscriptions/test', 'user', "Sends a test push to one of the caller's subscriptions (202: no outcome yet)", { body: unsubscribeRequestSchema }),
  route('post', '/v1/notifications', 'service', 'Accepts an event for a user, users, a group or everyone', { body: notificationRequestSchema, ok: 202 }),
  route('get', '/v1/notifications/:id', 'service', "A notification's routing and delivery counts", { params: notificationPath }),
  route('delete', '/v1/notifications/:id', 'service', 'Cancels a scheduled notification that has not fired', { params: notificationPath }),
  route('put', '/v1/groups/:package/:group/members/:user', 'service', 'Adds a user to a group (201 added, 200 already a member)', { params: memberPathSchema, ok: 201 }),
  route('delete', '/v1/groups/:package/:group/members/:user', 'service', 'Removes a user from a group', { params: memberPathSchema }),
  route('get', '/v1/groups/:package/:group/members', 'service', "A page of a group's members", { params: groupPathSchema, query: memberListQuerySchema }),
  route('get', '/v1/inbox', 'user', "The caller's notifications, newest first, with the unseen count and a cursor", { query: inboxListQuerySchema }),
  route('post', '/v1/inbox/seen', 'user', "Marks the caller's inbox items seen (by ids, or up to a cursor)", { body: inboxSeenBodySchema }),
  route('get', '/admin/queues', 'admin', 'The queue board (bull-board) for admin keys of all packages', { produces: 'text/html', only: 'board', subtree: true }),
  route('post', '/v1/admin/vapid/:package/rotate', 'admin', 'Makes a new current VAPID key for the package', { params: packagePath, ok: 201 }),
  route('get', '/axion-push.js', 'none', 'The browser client (ES module)', { produces: JS }),
  route('get', '/axion-push.d.ts', 'none', "The browser client's types", { produces: 'text/plain' }),
  route('get', '/service-worker.js', 'none', 'The service worker that shows pushes', { produces: JS }),
  route('get', '/', 'none', 'The demo page', { produces: 'text/html', only: 'demo' }),
  route('get', '/demo.js', 'none', "The demo page's script", { produces: JS, only: 'demo' }),
  route('get', '/demo.css', 'none', "The demo page's style sheet", { produces: 'text/css', only: 'demo' }),
  route('get', '/vendor/mqtt.esm.js', 'none', 'The MQTT client the demo page uses', { produces: JS, only: 'demo' }),
  route('post', '/demo/session', 'none', 'A one-hour token for a demo user of package demo', { body: demoSessionSchema, ok: 201, only: 'demo' }),
  route('post', '/demo/notifications', 'user', 'Sends a demo notification to yourself or a demo group', { body: demoNotificationSchema, ok: 202, only: 'demo' }),
  route('put', '/demo/groups/:group/members/me', 'user', 'Joins a demo group', { params: z.object({ group: nameSchema }), ok: 201, only: 'demo' }),
];
