export { loadConfig, requireSetting, redactUrl } from './load-config.js';
export type {
  Config,
  DatabaseConfig,
  RedisConfig,
  MqttClientConfig,
  BrokerConfig,
  BrokerLimits,
  HttpConfig,
  AuthConfig,
  PushConfig,
  Http2Mode,
  InboxConfig,
  PortSetting,
} from './load-config.js';
export { parseApiKeys, formatApiKeys } from './api-keys.js';
export { requireUserAuth } from './auth-settings.js';
export type { ApiKey } from './api-keys.js';
export type { RateLimitSettings } from './http-limit-settings.js';
export { readEnv } from './read-env.js';
