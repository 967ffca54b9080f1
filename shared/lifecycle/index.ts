export { closeAll, onShutdownSignal, SHUTDOWN_TIMEOUT_MS } from './service.js';
export type { Service } from './service.js';
export { listen, closeServer } from './listen.js';
export type { ListenOptions } from './listen.js';
export { runProcess } from './run-process.js';
export type { ProcessContext } from './run-process.js';
export { withDeadline } from './with-deadline.js';
