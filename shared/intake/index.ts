export { acceptEvent, conflictFor, isSameEvent, messageJson, newRouteJob } from './accept-event.js';
export type { AcceptEventDeps, AcceptEventInput } from './accept-event.js';
