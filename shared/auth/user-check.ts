import type { UserCaller } from './credentials.js';

/**
 * What one way of signing users in made of the credentials: a user; a refusal, `final` when
 * no other way may accept them (a token our keys signed but out of its time); or "could not
 * tell" because what it depends on (JWKS, webhook) did not answer in time or answered wrong.
 */
export type UserCheck =
  | { caller: UserCaller }
  | { refused: string; final?: boolean }
  | { unavailable: string };
