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

/** One notification in the user's inbox (`GET /v1/inbox`). */
export interface InboxItem {
  id: string;
  /** Where this item is: pass it as `before`, `after` or `upTo`. */
  cursor: string;
  notificationId: string;
  message: Message;
  /** When it reached the inbox. */
  createdAt: string;
  seenAt: string | null;
}

export interface InboxPage {
  /** Newest first. */
  items: InboxItem[];
  /** The user's unseen items in the package. */
  unseen: number;
  /** Pass again as the same parameter (`before` or `after`) for the next page; null: no more. */
  next: string | null;
}

export interface FetchInboxOptions extends ClientOptions {
  package: string;
  /** Default `all`. */
  state?: 'unseen' | 'seen' | 'all';
  /** Older items than this cursor. */
  before?: string;
  /** Newer items than this cursor (catching up after a reconnect). */
  after?: string;
  /** 1-200, default 50. */
  limit?: number;
}

export type MarkSeenOptions = ClientOptions & { package: string } & ({ ids: string[] } | { upTo: string });

export interface PushHandlers {
  onMessage?: (message: Message, topic: string) => void;
  onUnseen?: (count: number, topic: string) => void;
}

/** Reads a page of the signed-in user's inbox. */
export function fetchInbox(options: FetchInboxOptions): Promise<InboxPage>;

/** Marks inbox items seen; the router then publishes the new unseen count. */
export function markSeen(options: MarkSeenOptions): Promise<{ marked: number; unseen: number }>;

/** A handler for an MQTT client's `message` event that tells Messages from unseen counts. */
export function pushListener(handlers: PushHandlers): (topic: string, payload: Uint8Array | string) => void;
