import type { DeliverableSubscription } from '../../shared/database/index.js';
import type { EndpointCheck } from '../../shared/push-endpoints/index.js';
import type { OriginGate } from './origin-gate.js';

/** A Message encrypted for one browser, or why the subscription's keys cannot carry one. */
export type Body = Buffer | TypeError;

export type Encrypt = (plaintext: Buffer, subscription: DeliverableSubscription) => Buffer;

/** A job's Message encrypted for one of its subscriptions (see `encryptBody`). */
export type EncryptFor = (subscription: DeliverableSubscription) => Body;

/**
 * Most messages a job encrypts ahead for one push service. Its next block is encrypted once every
 * body of this one has gone to the push service (or its send ended without it): a job holds at
 * most two blocks of bodies per push service, and one that answers slowly holds back only its
 * own. Also the most a job encrypts in one turn of the event loop (about 60 ms on the
 * development machine; see `EncryptionTurns`).
 */
export const ENCRYPT_AHEAD = 400;

/**
 * Spreads a job's encryption over turns of the event loop, ENCRYPT_AHEAD messages at most in one:
 * the blocks of all its push services encrypt on the same thread, and answers wait meanwhile.
 * Ask `fits` and count with `spent` with no await between, or another block may slip in.
 */
export class EncryptionTurns {
  private used = 0;

  /** Whether a block of `messages` may be encrypted in the current turn (a first one always may). */
  fits(messages: number): boolean {
    return this.used === 0 || this.used + messages <= ENCRYPT_AHEAD;
  }

  /** Counts `messages` encrypted in the current turn. */
  spent(messages: number): void {
    if (this.used === 0 && messages > 0) {
      setImmediate(() => {
        this.used = 0;
      });
    }
    this.used += messages;
  }
}

/** Resolves in the next turn of the event loop. */
export const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** One subscription about to be sent to, with what could be worked out for it at once. */
export interface PlannedSend {
  subscription: DeliverableSubscription;
  endpoint: EndpointCheck;
  /** Encrypted ahead; absent when the send will not happen now or encrypting must be retried. */
  body: Body | undefined;
  block: Block | undefined;
}

/** The bodies of one block that have not yet left. */
export class Block {
  /** Bodies encrypted for this block. */
  held = 0;
  private unsent = 0;
  private wake: (() => void) | undefined;

  hold(): void {
    this.held++;
    this.unsent++;
  }

  release(): void {
    if (--this.unsent === 0) this.wake?.();
  }

  /** Resolves once every body held by this block has left. */
  drained(): Promise<void> {
    if (this.unsent === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }
}

export interface PlanDeps {
  originGate: OriginGate;
}

/** Past its `expirationTime` (the Push API's) a subscription is no longer valid: not sent to. */
export function pastExpiration(subscription: DeliverableSubscription, now: number): boolean {
  return subscription.expirationTime !== null && subscription.expirationTime.getTime() <= now;
}

/**
 * Encrypts the Message for a subscription that is to be sent to now (its endpoint, checked
 * once for the whole send, allowed). A job plans a whole block before it sends any:
 * encryption is nearly all of a send's CPU, and done in one run the requests leave in a burst
 * and their answers come back together, so system calls, wake-ups and the push service's work
 * are shared by many messages (docs/performance.md). Not encrypted for: refused endpoints,
 * subscriptions past their expirationTime, origins that are paused.
 */
export function planSend(
  deps: PlanDeps,
  subscription: DeliverableSubscription,
  endpoint: EndpointCheck,
  encryptFor: EncryptFor,
  now: number,
  block: Block,
): PlannedSend {
  const sendsNow =
    endpoint.problem === null && !pastExpiration(subscription, now) && deps.originGate.heldFor(endpoint.url.origin) === 0;
  if (!sendsNow) return { subscription, endpoint, body: undefined, block: undefined };
  let body: Body;
  try {
    body = encryptFor(subscription);
  } catch {
    // Thrown again, and reported, when the send encrypts for itself.
    return { subscription, endpoint, body: undefined, block: undefined };
  }
  block.hold();
  return { subscription, endpoint, body, block };
}

/** Takes the body planned for a send (at most once), letting its block know it has left. */
export function takeBody(planned: PlannedSend): Body | undefined {
  const { body, block } = planned;
  planned.body = undefined;
  planned.block = undefined;
  block?.release();
  return body;
}

/**
 * Encrypts a job's Message for its subscriptions: answers the TypeError of keys that cannot be
 * used (the browser must subscribe again) and throws any other error.
 */
export function encryptBody(encrypt: Encrypt, plaintextFor: (user: string) => Buffer): EncryptFor {
  return (subscription) => {
    try {
      return encrypt(plaintextFor(subscription.user), subscription);
    } catch (err) {
      if (err instanceof TypeError) return err;
      throw err;
    }
  };
}
