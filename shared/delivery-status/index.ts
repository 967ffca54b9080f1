export { createDeliveryStatus, EMPTY_COUNTS, pendingPushes } from './delivery-status.js';
export type { DeliveryStatus, DeliveryCounts } from './delivery-status.js';
