export { createPresenceReader, createPresenceTracker, PRESENCE_TTL_MS } from './presence.js';
export type { PresenceReader, PresenceTracker } from './presence.js';
