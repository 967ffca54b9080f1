export { createDeliveryStatus, EMPTY_COUNTS } from './delivery-status.js';
export type { DeliveryStatus, DeliveryCounts } from './delivery-status.js';
