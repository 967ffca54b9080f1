export { createReadiness, DEFAULT_CHECK_TIMEOUT_MS } from './readiness.js';
export type { CheckResult, Readiness, ReadinessCheck, ReadinessReport } from './readiness.js';
export { brokerCheck, databaseCheck, redisCheck } from './checks.js';
export { readinessHandler, readinessAnswer } from './readiness-answer.js';
