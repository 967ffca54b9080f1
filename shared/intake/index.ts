export { acceptEvent, conflictFor, isSameEvent, messageJson, newRouteJob, routeJobFor, sendDelay } from './accept-event.js';
export type { AcceptEventDeps, AcceptEventInput } from './accept-event.js';
