export {
  checkEndpoint,
  endpointProblem,
  hostAllowed,
  DEFAULT_PUSH_HOSTS,
  MAX_ENDPOINT_LENGTH,
} from './endpoint-policy.js';
export type { EndpointCheck, EndpointPolicy } from './endpoint-policy.js';
export { isPublicAddress, isLoopbackAddress } from './address-policy.js';
