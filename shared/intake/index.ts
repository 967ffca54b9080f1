export { acceptEvent, conflictFor, isSameEvent, routeJobFor, sendDelay } from './accept-event.js';
export type { AcceptEventDeps, AcceptEventInput } from './accept-event.js';
