export { createAnswerCache } from './answer-cache.js';
export type { AnswerCache } from './answer-cache.js';
