// Types of /axion-push.js, the axion-push browser client. Self-contained: copy it next to your
// sources, or fetch it from the API at /axion-push.d.ts.

/** What dashboards receive on `<root>/<package>/push/<user>` and service workers in a push. */
export interface Message {
  id: string;
  package: string;
  user: string;
  title: string;
  body?: string;
  /** Opened on notification click; a path is relative to the page's origin. */
  url?: string;
  icon?: string;
  badge?: string;
  image?: string;
  /** A later notification with the same tag replaces this one on the device. */
  tag?: string;
  data?: Record<string, unknown>;
  /** ISO-8601 time the event was accepted. */
  createdAt: string;
}

/** The inbox's unseen counter, published on the same user topic as Messages. */
export interface UnseenCount {
  type: 'unseen';
  count: number;
}

export type AxionPushErrorCode =
  | 'unsupported'
  | 'permission-denied'
  | 'permission-dismissed'
  | 'push-service'
  | 'network'
  | 'invalid'
  | 'unauthenticated'
  | 'forbidden'
  | 'not-found'
  | 'unavailable'
  | 'api';

/** Every failure of the client: a stable `code` and a message written for people. */
export declare class AxionPushError extends Error {
  readonly name: 'AxionPushError';
  readonly code: AxionPushErrorCode;
  /** HTTP status, when the API refused. */
  readonly status?: number;
  constructor(code: AxionPushErrorCode, message: string, status?: number);
}

export interface ClientOptions {
  /** Origin of the axion-push API; default: this page's origin. */
  apiBase?: string;
  /** The user's JWT, sent as `Authorization: Bearer`; without it the `access_token` cookie is used. */
  token?: string;
  /** URL of the service worker script; default `/service-worker.js`. */
  serviceWorker?: string;
}

export interface SubscribeOptions extends ClientOptions {
  package: string;
  /** Optional part of the application the subscription belongs to. */
  module?: string;
}

export interface SubscribeResult {
  endpoint: string;
  /** The API's id of the subscription (SHA-256 of the endpoint). */
  id: string;
  /** The user's active subscriptions in the package. */
  total: number;
  /** True when the browser's existing subscription (same key) was kept. */
  reused: boolean;
}

export interface Status {
  supported: boolean;
  permission: 'default' | 'granted' | 'denied' | 'unsupported';
  subscribed: boolean;
  endpoint: string | null;
}

/** Registers the service worker and resolves with its registration once it is active. */
export function registerServiceWorker(options?: ClientOptions): Promise<unknown>;

/**
 * Asks permission (rejects with `permission-denied` when notifications are blocked), fetches the
 * package's VAPID key, subscribes through the browser's push service and registers the
 * subscription with the API.
 */
export function subscribe(options: SubscribeOptions): Promise<SubscribeResult>;

/** Unsubscribes in the browser and in the API. */
export function unsubscribe(options: ClientOptions & { package: string }): Promise<{ endpoint: string | null }>;

/** Whether push works in this browser, the notification permission, and the subscription. */
export function status(): Promise<Status>;
