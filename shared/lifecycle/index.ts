export { closeAll, onShutdownSignal } from './service.js';
export type { Service } from './service.js';
export { listen, closeServer } from './listen.js';
export type { ListenOptions } from './listen.js';
