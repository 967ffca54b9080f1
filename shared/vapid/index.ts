export { decodeBase64Url, encodeBase64Url, generateVapidKeyPair, isP256PublicKey } from './keys.js';
