export {
  decodeBase64Url,
  encodeBase64Url,
  generateVapidKeyPair,
  isP256PublicKey,
  vapidPairProblem,
} from './keys.js';
