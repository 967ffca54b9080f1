import { expect } from 'chai';
import {
  hashEndpoint,
  type SubscriptionStore,
  type VapidKey,
} from '../../shared/database/index.js';
import { buildMessage, eventSchema, type Message, type PushJob } from '../../shared/events/index.js';
import { DEFAULT_PUSH_HOSTS } from '../../shared/push-endpoints/index.js';
import { generateVapidKeyPair } from '../../shared/vapid/index.js';
import { createOriginGate } from '../../services/push-worker/origin-gate.js';
import { createSendSlots } from '../../services/push-worker/send-slots.js';
import { deliverPush, type DeliverPushDeps } from '../../services/push-worker/deliver-push.js';
import { encryptMessage } from '../../services/push-worker/prepare-push.js';
import { ENCRYPT_AHEAD } from '../../services/push-worker/plan-sends.js';
import { createVapidAuthorizer } from '../../services/push-worker/vapid-jwt.js';
import {
  InvalidPushHeaderError,
  type PushRequest,
  type PushResponse,
  type PushSender,
} from '../../services/push-worker/web-push-sender.js';
import { FakeSubscriptionStore } from '../support/fake-subscription-store.js';
import { testLogger } from '../support/silent-logger.js';
import {
  createBrowserKeys,
  decryptPayload,
  verifyVapidAuthorization,
  type BrowserKeys,
} from '../support/web-push-receiver.js';

const PKG = 'crm';
const USER = 'alice';
const ACCEPTED_AT = Date.UTC(2026, 10, 23, 10, 0, 0);
const NOW = ACCEPTED_AT + 10 * 60_000;
const FCM = 'https://fcm.googleapis.com/fcm/send/c1Kx:APA91b';
const MOZILLA = 'https://updates.push.services.mozilla.com/wpush/v2/gAAAAABn';
const APPLE = 'https://web.push.apple.com/QGx7Zm9v';
const WINDOWS = 'https://wns2-par02p.notify.windows.com/w/?token=BQYAAAD';
const EDGE_FCM = 'https://fcm.googleapis.com/fcm/send/dEdGe:APA91c';
const FOREIGN = 'https://push.attacker.example/steal';

/** A push service per endpoint: a status to answer, or an error to throw as a network failure. */
class ScriptedPushSender implements PushSender {
  readonly requests: PushRequest[] = [];
  readonly unexpected: string[] = [];
  private readonly script = new Map<string, number | Error>();

  answer(endpoint: string, outcome: number | Error): this {
    this.script.set(endpoint, outcome);
    return this;
  }

  async send(push: PushRequest): Promise<PushResponse> {
    const outcome = this.script.get(push.endpoint);
    if (outcome === undefined) {
      // deliverPush turns a throw into 'retry', so unexpected sends are checked after each test.
      this.unexpected.push(push.endpoint);
      throw new Error(`no push to ${push.endpoint} was expected`);
    }
    this.requests.push(push);
    if (outcome instanceof Error) throw outcome;
    return { status: outcome, headers: {}, text: '' };
  }

  close(): Promise<void> {
    throw new Error('close was not expected');
  }

  sentTo(): string[] {
    return this.requests.map((r) => r.endpoint);
  }
}

let senders: ScriptedPushSender[] = [];

function arrange(options: { now?: number } = {}) {
  const now = () => options.now ?? NOW;
  const store = new FakeSubscriptionStore(() => new Date(now()));
  const sender = new ScriptedPushSender();
  senders.push(sender);
  const vapidKey: VapidKey = { id: 7, package: PKG, ...generateVapidKeyPair() };
  const browsers = new Map<string, BrowserKeys>();
  const deps: DeliverPushDeps = {
    subscriptions: store,
    // As the worker's key cache answers a cached key: at once, without a promise.
    vapidKeyFor: () => vapidKey,
    sender,
    authorizer: createVapidAuthorizer({ subject: 'mailto:ops@example.com', now }),
    endpointPolicy: { allowedHosts: DEFAULT_PUSH_HOSTS, allowInsecureLoopback: false },
    originGate: createOriginGate(now),
    log: testLogger(),
    now,
  };
  /** A browser of `user` subscribes at `endpoint`; returns its keys. */
  function subscribe(endpoint: string, user = USER): BrowserKeys {
    const keys = createBrowserKeys();
    const { p256dh, auth } = keys;
    store.add({ user, package: PKG, endpoint, p256dh, auth, vapidKeyId: 7 });
    browsers.set(endpoint, keys);
    return keys;
  }
  return { deps, store, sender, vapidKey, subscribe };
}

function withoutUser(message: Message): Omit<Message, 'user'> {
  const { user: _user, ...rest } = message;
  return rest;
}

function pushJob(overrides: Partial<PushJob> = {}): PushJob {
  const event = eventSchema.parse({ title: 'Invoice paid', body: 'INV-1 was paid', url: '/inv/1' });
  const createdAt = new Date(ACCEPTED_AT).toISOString();
  return {
    eventId: 'evt-1',
    package: PKG,
    users: [USER],
    message: withoutUser(buildMessage(event, { id: 'evt-1', package: PKG, user: USER, createdAt })),
    ttl: 3600,
    urgency: 'high',
    expiresAt: ACCEPTED_AT + 3600 * 1000,
    ...overrides,
  };
}

const NONE = new Set<string>();

describe('deliverPush', () => {
  beforeEach(() => {
    senders = [];
  });
  afterEach(() => {
    for (const sender of senders) expect(sender.unexpected, 'unexpected pushes').to.deep.equal([]);
  });

  describe('when the push service accepts the message (201)', () => {
    it('reports it sent and settled, and records the success on the subscription', async () => {
      const { deps, store, subscribe, sender } = arrange();
      subscribe(FCM);
      await store.recordFailure({ user: USER, package: PKG, endpointHash: hashEndpoint(FCM) });
      sender.answer(FCM, 201);

      const report = await deliverPush(deps, pushJob(), NONE);

      expect(report.counts).to.include({ sent: 1, gone: 0, rejected: 0, blocked: 0, retry: 0 });
      expect(report).to.include({ expired: false });
      expect([...report.settled.keys()]).to.deep.equal([hashEndpoint(FCM)]);
      expect(report.retry).to.deep.equal([]);
      const row = store.row(USER, PKG, FCM);
      expect(row.lastSuccessAt).to.deep.equal(new Date(NOW));
      expect(row.failureCount).to.equal(0);
      expect(row.active).to.equal('Y');
    });

    it('sends a body that the browser decrypts to the Message as JSON', async () => {
      const { deps, subscribe, sender } = arrange();
      const browser = subscribe(FCM);
      sender.answer(FCM, 201);

      await deliverPush(deps, pushJob(), NONE);

      const [request] = sender.requests;
      const plaintext = decryptPayload({ body: request!.body, ...browser });
      expect(JSON.parse(plaintext.toString('utf8'))).to.deep.equal({
        id: 'evt-1',
        package: PKG,
        user: USER,
        title: 'Invoice paid',
        body: 'INV-1 was paid',
        url: '/inv/1',
        createdAt: '2026-11-23T10:00:00.000Z',
      });
    });

    it('sends Content-Encoding aes128gcm, the Urgency of the job and no Topic when it has none', async () => {
      const { deps, subscribe, sender } = arrange();
      subscribe(FCM);
      sender.answer(FCM, 201);

      await deliverPush(deps, pushJob({ urgency: 'very-low' }), NONE);

      const headers = sender.requests[0]!.headers;
      expect(headers).to.include({ 'content-encoding': 'aes128gcm', urgency: 'very-low' });
      expect(headers).not.to.have.property('topic');
    });

    it('sends the Topic of the job when it has one', async () => {
      const { deps, subscribe, sender } = arrange();
      subscribe(FCM);
      sender.answer(FCM, 201);

      await deliverPush(deps, pushJob({ topic: 'invoice-1' }), NONE);

      expect(sender.requests[0]!.headers).to.include({ topic: 'invoice-1' });
    });

    it('sets TTL to what is left of the event lifetime', async () => {
      const { deps, subscribe, sender } = arrange({ now: ACCEPTED_AT + 600_000 });
      subscribe(FCM);
      sender.answer(FCM, 201);

      await deliverPush(deps, pushJob({ ttl: 3600, expiresAt: ACCEPTED_AT + 3_600_000 }), NONE);

      expect(sender.requests[0]!.headers).to.include({ ttl: '3000' });
    });

    it('never sets TTL above the ttl of the job', async () => {
      const { deps, subscribe, sender } = arrange();
      subscribe(FCM);
      sender.answer(FCM, 201);

      await deliverPush(deps, pushJob({ ttl: 60, expiresAt: NOW + 3_600_000 }), NONE);

      expect(sender.requests[0]!.headers).to.include({ ttl: '60' });
    });

    it('authorizes with a VAPID token for the endpoint origin signed with the package key', async () => {
      const { deps, subscribe, sender, vapidKey } = arrange();
      subscribe(MOZILLA);
      sender.answer(MOZILLA, 201);

      await deliverPush(deps, pushJob(), NONE);

      const verified = verifyVapidAuthorization(sender.requests[0]!.headers['authorization']!);
      expect(verified.publicKey).to.equal(vapidKey.publicKey);
      expect(verified.claims.aud).to.equal('https://updates.push.services.mozilla.com');
      expect(verified.claims.sub).to.equal('mailto:ops@example.com');
      expect(verified.claims.exp).to.be.above(NOW / 1000);
    });
  });

  for (const status of [404, 410]) {
    it(`deactivates the subscription as push-service-${status} when the push service answers ${status}, and does not retry`, async () => {
      const { deps, store, subscribe, sender } = arrange();
      subscribe(FCM);
      sender.answer(FCM, status);

      const report = await deliverPush(deps, pushJob(), NONE);

      expect(store.row(USER, PKG, FCM)).to.include({
        active: 'N',
        deactivatedReason: `push-service-${status}`,
      });
      expect(report.counts.gone).to.equal(1);
      expect([...report.settled.keys()]).to.deep.equal([hashEndpoint(FCM)]);
      expect(report.retry).to.deep.equal([]);
    });
  }

  for (const status of [400, 401, 403, 413]) {
    it(`counts a ${status} answer as rejected, records a failure and does not retry`, async () => {
      const { deps, store, subscribe, sender } = arrange();
      subscribe(FCM);
      sender.answer(FCM, status);

      const report = await deliverPush(deps, pushJob(), NONE);

      expect(report.counts.rejected).to.equal(1);
      expect([...report.settled.keys()]).to.deep.equal([hashEndpoint(FCM)]);
      expect(report.retry).to.deep.equal([]);
      expect(store.row(USER, PKG, FCM)).to.include({ failureCount: 1, active: 'Y' });
    });
  }

  const transient: [string, number | Error][] = [
    ['a 429 answer', 429],
    ['a 500 answer', 500],
    ['a 503 answer', 503],
    ['a network error', Object.assign(new Error('connect ECONNRESET'), { code: 'ECONNRESET' })],
  ];
  for (const [what, outcome] of transient) {
    it(`retries the endpoint after ${what} and leaves the subscription as it was`, async () => {
      const { deps, store, subscribe, sender } = arrange();
      subscribe(FCM);
      sender.answer(FCM, outcome);

      const report = await deliverPush(deps, pushJob(), NONE);

      expect(report.retry).to.deep.equal([hashEndpoint(FCM)]);
      expect([...report.settled.keys()]).to.deep.equal([]);
      expect(report.counts.retry).to.equal(1);
      expect(store.row(USER, PKG, FCM)).to.include({ active: 'Y', failureCount: 0 });
    });
  }

  it('does not send again to endpoints that settled in an earlier attempt', async () => {
    const { deps, subscribe, sender } = arrange();
    subscribe(FCM);
    subscribe(MOZILLA);
    sender.answer(MOZILLA, 201);

    const report = await deliverPush(deps, pushJob(), new Set([hashEndpoint(FCM)]));

    expect(sender.sentTo()).to.deep.equal([MOZILLA]);
    expect([...report.settled.keys()]).to.deep.equal([hashEndpoint(MOZILLA)]);
    expect(report.counts.sent).to.equal(1);
  });

  it('sends nothing to an endpoint the policy does not allow and reports it blocked', async () => {
    const { deps, subscribe, sender } = arrange();
    subscribe(FOREIGN);

    const report = await deliverPush(deps, pushJob(), NONE);

    expect(sender.requests).to.deep.equal([]);
    expect(report.counts.blocked).to.equal(1);
    expect([...report.settled.keys()]).to.deep.equal([hashEndpoint(FOREIGN)]);
    expect(report.retry).to.deep.equal([]);
  });

  const lateClocks = [
    ['reaches', ACCEPTED_AT + 3_600_000],
    ['has passed', ACCEPTED_AT + 7_200_000],
  ] as const;
  for (const [what, now] of lateClocks) {
    it(`reports the job expired and sends nothing once the clock ${what} expiresAt`, async () => {
      const { deps, sender, subscribe, store } = arrange({ now });
      subscribe(FCM);
      subscribe(MOZILLA);

      const report = await deliverPush(deps, pushJob(), new Set([hashEndpoint(MOZILLA)]));

      expect(report.expired).to.equal(true);
      expect(report.expiredCount).to.equal(1);
      expect(store.row(USER, PKG, FCM)).to.include({ active: 'Y', failureCount: 0 });
      expect([...report.settled.keys()]).to.deep.equal([]);
      expect(report.retry).to.deep.equal([]);
      expect(report.counts).to.deep.equal({ sent: 0, gone: 0, rejected: 0, blocked: 0, retry: 0 });
      expect(sender.requests).to.deep.equal([]);
    });
  }

  it('gives the right counts for several subscriptions of one user with mixed outcomes', async () => {
    const { deps, store, subscribe, sender } = arrange();
    for (const endpoint of [FCM, EDGE_FCM, MOZILLA, APPLE, WINDOWS, FOREIGN]) subscribe(endpoint);
    subscribe('https://fcm.googleapis.com/fcm/send/bob-phone', 'bob');
    sender.answer(FCM, 201).answer(EDGE_FCM, 201).answer(MOZILLA, 410);
    sender.answer(APPLE, 403).answer(WINDOWS, 503);

    const report = await deliverPush(deps, pushJob(), NONE);

    expect(report.counts).to.deep.equal({ sent: 2, gone: 1, rejected: 1, blocked: 1, retry: 1 });
    const settled = [FCM, EDGE_FCM, MOZILLA, APPLE, FOREIGN];
    expect([...report.settled.keys()]).to.have.members(settled.map(hashEndpoint));
    expect(report.retry).to.deep.equal([hashEndpoint(WINDOWS)]);
    expect(sender.sentTo()).to.have.members([FCM, EDGE_FCM, MOZILLA, APPLE, WINDOWS]);
    expect(store.row(USER, PKG, MOZILLA).active).to.equal('N');
    expect(store.row(USER, PKG, APPLE).failureCount).to.equal(1);
  });

  // Losing which endpoints accepted would make the retry send to them again.
  it('keeps an endpoint that accepted settled when the key of another subscription cannot be loaded', async () => {
    const { deps, subscribe, sender, vapidKey } = arrange();
    subscribe(FCM);
    subscribe(MOZILLA);
    sender.answer(FCM, 201);
    const vapidKeyFor: DeliverPushDeps['vapidKeyFor'] = async (subscription) => {
      if (subscription.endpoint === MOZILLA) throw new Error('database unavailable');
      return vapidKey;
    };

    const report = await deliverPush({ ...deps, vapidKeyFor }, pushJob(), NONE);

    expect([...report.settled.keys()]).to.deep.equal([hashEndpoint(FCM)]);
    expect(report.retry).to.deep.equal([hashEndpoint(MOZILLA)]);
  });

  // A broken VAPID key is an operator problem, not a reason to drop browsers.
  it('does not deactivate a subscription because the package VAPID key is broken', async () => {
    const { deps, store, subscribe, vapidKey } = arrange();
    subscribe(FCM);
    const broken = { ...vapidKey, privateKey: generateVapidKeyPair().privateKey };

    const report = await deliverPush({ ...deps, vapidKeyFor: async () => broken }, pushJob(), NONE);

    expect(report.retry).to.deep.equal([hashEndpoint(FCM)]);
    expect(store.row(USER, PKG, FCM)).to.include({ active: 'Y', deactivatedReason: null });
  });

  it('keeps an accepted push settled when recording the success fails, so no retry resends it', async () => {
    const { deps, store, subscribe, sender } = arrange();
    subscribe(FCM);
    sender.answer(FCM, 201);
    const failingStore = Object.create(store) as typeof store;
    failingStore.recordSuccesses = async () => {
      throw new Error('database unavailable');
    };

    const report = await deliverPush({ ...deps, subscriptions: failingStore }, pushJob(), NONE);

    expect([...report.settled.keys()]).to.deep.equal([hashEndpoint(FCM)]);
    expect(report.retry).to.deep.equal([]);
    expect(report.counts.sent).to.equal(1);
  });

  it('sends an event with TTL 0 once, with a TTL header of 0', async () => {
    const { deps, subscribe, sender } = arrange();
    subscribe(FCM);
    sender.answer(FCM, 201);

    const report = await deliverPush(deps, pushJob({ ttl: 0, expiresAt: NOW + 30_000 }), NONE);

    expect(report.counts.sent).to.equal(1);
    expect(sender.requests[0]?.headers['ttl']).to.equal('0');
  });

  it('records an answered push as settled before its send slot is free for the next send', async () => {
    const { deps, subscribe, sender } = arrange();
    // Two subscriptions at one push service, which has one slot.
    subscribe(FCM);
    subscribe(EDGE_FCM);
    sender.answer(FCM, 201).answer(EDGE_FCM, 410);
    const events: string[] = [];
    const onSettled = async (hash: string, outcome: string) => {
      await new Promise((r) => setTimeout(r, 5));
      events.push(`settled ${outcome} ${hash === hashEndpoint(FCM) ? 'fcm' : 'edge'}`);
    };
    const slots = createSendSlots(1);
    const tracked = { run: <T>(origin: string, work: () => Promise<T>) => slots.run(origin, async () => {
      events.push('slot taken');
      const result = await work();
      events.push('slot freed');
      return result;
    }) };

    await deliverPush({ ...deps, slots: tracked, onSettled }, pushJob(), NONE);

    expect(events).to.deep.equal([
      'slot taken', 'settled sent fcm', 'slot freed', 'slot taken', 'settled gone edge', 'slot freed',
    ]);
  });

  it('sends the probe to a push service that had stopped answering even when it waited for a slot', async () => {
    const { deps, subscribe, sender } = arrange();
    subscribe(FCM);
    sender.answer(FCM, 201);
    const origin = new URL(FCM).origin;
    // The origin stopped answering a while ago: its pause is over and one probe may go.
    let clock = NOW - 10_000;
    const originGate = createOriginGate(() => clock);
    originGate.suspect(origin);
    clock = NOW;
    // Its only slot is still held by an earlier send.
    const slots = createSendSlots(1);
    let releaseSlot: () => void = () => undefined;
    const earlier = slots.run(origin, () => new Promise<void>((resolve) => (releaseSlot = resolve)));

    const delivering = deliverPush({ ...deps, originGate, slots }, pushJob(), NONE);
    await new Promise((resolve) => setTimeout(resolve, 10));
    releaseSlot();
    await earlier;
    const report = await delivering;

    expect(sender.sentTo()).to.deep.equal([FCM]);
    expect(report.settled.get(hashEndpoint(FCM))).to.equal('sent');
  });

  it('retries the sends waiting for a push service that did not answer, without sending them, while other services get theirs', async () => {
    const { deps, subscribe, sender } = arrange();
    subscribe(FCM);
    subscribe(EDGE_FCM);
    subscribe(MOZILLA);
    sender.answer(FCM, new Error('connect ECONNRESET')).answer(EDGE_FCM, 201).answer(MOZILLA, 201);

    const report = await deliverPush({ ...deps, slots: createSendSlots(1) }, pushJob(), NONE);

    // EDGE_FCM waited for FCM's only slot; by then FCM had not answered, so it was not tried.
    expect(sender.sentTo()).to.have.members([FCM, MOZILLA]);
    expect(report.settled.get(hashEndpoint(MOZILLA))).to.equal('sent');
    expect(report.retry).to.have.members([hashEndpoint(FCM), hashEndpoint(EDGE_FCM)]);
    expect(report.retryAfterMs).to.be.at.least(1_000);
    expect(deps.originGate.waitFor(new URL(MOZILLA).origin)).to.equal(0);
  });

  it("sends each user of a job their own Message, and records the job's successes in one call", async () => {
    const { deps, subscribe, sender, store } = arrange();
    const alice = subscribe(FCM, USER);
    const bob = subscribe('https://fcm.googleapis.com/fcm/send/bob-phone', 'bob');
    sender.answer(FCM, 201).answer('https://fcm.googleapis.com/fcm/send/bob-phone', 201);
    const calls: number[] = [];
    const counting = Object.create(store) as typeof store;
    counting.recordSuccesses = async (pkg, keys, at) => {
      calls.push(keys.length);
      await store.recordSuccesses(pkg, keys, at);
    };

    await deliverPush({ ...deps, subscriptions: counting }, pushJob({ users: [USER, 'bob'] }), NONE);

    const userOf = (endpoint: string, keys: BrowserKeys) => {
      const request = sender.requests.find((r) => r.endpoint === endpoint)!;
      return JSON.parse(decryptPayload({ body: request.body, ...keys }).toString('utf8')).user as string;
    };
    expect(userOf(FCM, alice)).to.equal(USER);
    expect(userOf('https://fcm.googleapis.com/fcm/send/bob-phone', bob)).to.equal('bob');
    expect(calls).to.deep.equal([2]);
    expect(store.row('bob', PKG, 'https://fcm.googleapis.com/fcm/send/bob-phone').lastSuccessAt).to.not.equal(null);
  });

  describe('encrypting ahead', () => {
    /** deps whose encryption is the real one, counted. */
    function counted(deps: DeliverPushDeps) {
      const encrypted: string[] = [];
      const encrypt: DeliverPushDeps['encrypt'] = (plaintext, subscription) => {
        encrypted.push(subscription.endpoint);
        return encryptMessage(plaintext, subscription);
      };
      return { deps: { ...deps, encrypt }, encrypted };
    }

    /** How many messages had been encrypted when each request left (`delayMs`: its answer's wait). */
    function encryptedAtEachSend(sender: ScriptedPushSender, encrypted: () => number, delayMs = 0): number[] {
      const seen: number[] = [];
      const send = sender.send.bind(sender);
      sender.send = async (push) => {
        seen.push(encrypted());
        if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
        return send(push);
      };
      return seen;
    }

    it("encrypts every message of the job before the first request leaves, and each once", async () => {
      const arranged = arrange();
      for (const endpoint of [FCM, MOZILLA, APPLE]) {
        arranged.subscribe(endpoint);
        arranged.sender.answer(endpoint, 201);
      }
      const { deps, encrypted } = counted(arranged.deps);
      const seenAtSend = encryptedAtEachSend(arranged.sender, () => encrypted.length);

      const report = await deliverPush(deps, pushJob(), NONE);

      expect(report.counts.sent).to.equal(3);
      expect(seenAtSend).to.deep.equal([3, 3, 3]);
      expect(encrypted).to.have.members([FCM, MOZILLA, APPLE]);
    });

    it('encrypts nothing for a refused endpoint, a subscription past its expirationTime, or a paused push service', async () => {
      const arranged = arrange();
      arranged.subscribe(FOREIGN);
      arranged.subscribe(FCM);
      arranged.subscribe(APPLE);
      arranged.sender.answer(APPLE, 201);
      const keys = createBrowserKeys();
      arranged.store.add({ user: USER, package: PKG, endpoint: MOZILLA, p256dh: keys.p256dh, auth: keys.auth, expirationTime: new Date(NOW - 1) });
      arranged.deps.originGate.pause(new URL(FCM).origin, 60_000);
      const { deps, encrypted } = counted(arranged.deps);

      const report = await deliverPush(deps, pushJob(), NONE);

      expect(encrypted).to.deep.equal([APPLE]);
      expect(report.counts).to.deep.equal({ sent: 1, gone: 1, rejected: 0, blocked: 1, retry: 1 });
      expect(arranged.store.row(USER, PKG, MOZILLA)).to.include({ active: 'N', deactivatedReason: 'subscription-expired' });
    });

    it('deactivates a subscription whose keys cannot encrypt, sends it nothing, and still sends to the others', async () => {
      const arranged = arrange();
      arranged.subscribe(FCM);
      arranged.sender.answer(FCM, 201);
      arranged.store.add({ user: USER, package: PKG, endpoint: MOZILLA, p256dh: 'bm90IGEga2V5', auth: 'c2hvcnQ' });

      const report = await deliverPush(arranged.deps, pushJob(), NONE);

      expect(arranged.sender.sentTo()).to.deep.equal([FCM]);
      expect(report.settled.get(hashEndpoint(MOZILLA))).to.equal('gone');
      expect(report.counts).to.deep.include({ sent: 1, gone: 1 });
      expect(arranged.store.row(USER, PKG, MOZILLA)).to.include({ active: 'N', deactivatedReason: 'invalid-keys' });
    });

    it(`encrypts at most ${ENCRYPT_AHEAD} messages ahead, and the next block only once the block before has gone out`, async () => {
      const arranged = arrange();
      const endpoints = Array.from({ length: ENCRYPT_AHEAD + 1 }, (_, i) => `${FCM}-${i}`);
      for (const endpoint of endpoints) {
        arranged.subscribe(endpoint);
        arranged.sender.answer(endpoint, 201);
      }
      let encrypted = 0;
      const encrypt: DeliverPushDeps['encrypt'] = () => {
        encrypted++;
        return Buffer.from('ciphertext');
      };
      // Four slots and answers that take a moment: most of the first block waits for a slot.
      const seenAtSend = encryptedAtEachSend(arranged.sender, () => encrypted, 1);

      const report = await deliverPush({ ...arranged.deps, encrypt, slots: createSendSlots(4) }, pushJob(), NONE);

      expect(report.counts.sent).to.equal(ENCRYPT_AHEAD + 1);
      expect(seenAtSend.slice(0, ENCRYPT_AHEAD)).to.deep.equal(Array(ENCRYPT_AHEAD).fill(ENCRYPT_AHEAD));
      expect(seenAtSend[ENCRYPT_AHEAD]).to.equal(ENCRYPT_AHEAD + 1);
    });

    it('encrypts at most ENCRYPT_AHEAD messages in one turn of the event loop, across its push services', async () => {
      const arranged = arrange();
      const perService = 300;
      for (const service of [FCM, MOZILLA, APPLE]) {
        for (let i = 0; i < perService; i++) {
          arranged.subscribe(`${service}-${i}`);
          arranged.sender.answer(`${service}-${i}`, 201);
        }
      }
      // Turns of the event loop, counted by a callback that comes back once in each.
      let turn = 0;
      let counting = true;
      const tick = () => {
        turn++;
        if (counting) setImmediate(tick);
      };
      setImmediate(tick);
      const encryptedInTurn = new Map<number, number>();
      const encrypt: DeliverPushDeps['encrypt'] = () => {
        encryptedInTurn.set(turn, (encryptedInTurn.get(turn) ?? 0) + 1);
        return Buffer.from('ciphertext');
      };

      const report = await deliverPush({ ...arranged.deps, encrypt }, pushJob(), NONE);
      counting = false;

      expect(report.counts.sent).to.equal(3 * perService);
      // Each push service's block is 300: one block per turn keeps a turn at 400 or less.
      expect([...encryptedInTurn.values()]).to.deep.equal([perService, perService, perService]);
    });

    it('lets a push service that answers slowly hold back only its own next block, not the sends to another', async () => {
      const arranged = arrange();
      const slow = Array.from({ length: ENCRYPT_AHEAD + 1 }, (_, i) => `${FCM}-${i}`);
      for (const endpoint of [...slow, APPLE]) {
        arranged.subscribe(endpoint);
        arranged.sender.answer(endpoint, 201);
      }
      // Four slots and answers that take a moment: FCM's first block drains slowly.
      encryptedAtEachSend(arranged.sender, () => 0, 1);

      const report = await deliverPush({ ...arranged.deps, slots: createSendSlots(4) }, pushJob(), NONE);

      expect(report.counts.sent).to.equal(ENCRYPT_AHEAD + 2);
      // Apple's subscription comes after FCM's first block, yet is sent among the first requests.
      expect(arranged.sender.sentTo().indexOf(APPLE)).to.be.within(0, 4);
    });

    it('encrypts again in the send slot when encrypting ahead failed for a reason other than the keys', async () => {
      const arranged = arrange();
      arranged.subscribe(FCM);
      arranged.sender.answer(FCM, 201);
      let calls = 0;
      const encrypt: DeliverPushDeps['encrypt'] = (plaintext, subscription) => {
        if (++calls === 1) throw new RangeError('out of entropy for a moment');
        return encryptMessage(plaintext, subscription);
      };

      const report = await deliverPush({ ...arranged.deps, encrypt }, pushJob(), NONE);

      expect(calls).to.equal(2);
      expect(report.counts.sent).to.equal(1);
    });

    it('counts a push the sender refuses for an invalid header as rejected, without pausing its push service', async () => {
      const arranged = arrange();
      arranged.subscribe(FCM);
      arranged.sender.answer(FCM, new InvalidPushHeaderError('topic'));

      const report = await deliverPush(arranged.deps, pushJob(), NONE);

      expect(report.settled.get(hashEndpoint(FCM))).to.equal('rejected');
      expect(report.retry).to.deep.equal([]);
      expect(arranged.deps.originGate.heldFor(new URL(FCM).origin)).to.equal(0);
    });

    it('reports an endpoint that is not a URL as blocked and never sends to it', async () => {
      const arranged = arrange();
      const keys = createBrowserKeys();
      arranged.store.add({ user: USER, package: PKG, endpoint: 'not a url', p256dh: keys.p256dh, auth: keys.auth });

      const report = await deliverPush(arranged.deps, pushJob(), NONE);

      expect(report.counts).to.deep.include({ blocked: 1, retry: 0 });
      expect(report.settled.get(hashEndpoint('not a url'))).to.equal('blocked');
      expect(arranged.sender.requests).to.deep.equal([]);
    });
  });
});
