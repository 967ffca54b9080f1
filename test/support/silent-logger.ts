import { createLogger, type Logger } from '../../shared/logging/index.js';

/** A logger for tests: silent unless TEST_LOG_LEVEL asks for output. */
export function testLogger(): Logger {
  return createLogger({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent', name: 'test' });
}
