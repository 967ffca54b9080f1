export { acceptEvent } from './accept-event.js';
export type { AcceptEventDeps, AcceptEventInput } from './accept-event.js';
