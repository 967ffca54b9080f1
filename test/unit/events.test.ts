import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import {
  buildMessage,
  eventSchema,
  messageBytes,
  notificationRequestSchema,
  parseOrThrow,
  pushJobSchema,
  subscriptionRequestSchema,
} from '../../shared/events/index.js';
import { ValidationError } from '../../shared/errors/index.js';
import { createBrowserKeys } from '../support/web-push-receiver.js';

const IDS = { id: 'evt-1', package: 'crm', user: 'alice', createdAt: '2026-11-23T10:00:00.000Z' };

/** The ValidationError `input` produces; fails the test when parsing succeeds. */
function validationErrorFor(schema: Parameters<typeof parseOrThrow>[0], input: unknown) {
  try {
    parseOrThrow(schema, input, 'notification');
  } catch (error) {
    expect(error).to.be.instanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
}

describe('eventSchema', () => {
  it('fills in ttl 86400, urgency normal and delivery offline', () => {
    const event = eventSchema.parse({ title: 'Invoice paid' });

    expect(event).to.deep.equal({
      title: 'Invoice paid',
      ttl: 86_400,
      urgency: 'normal',
      delivery: 'offline',
    });
  });

  it('accepts a title of 200 characters and rejects an empty one or one of 201', () => {
    expect(eventSchema.safeParse({ title: 't'.repeat(200) }).success).to.equal(true);
    expect(eventSchema.safeParse({ title: '' }).success).to.equal(false);
    expect(eventSchema.safeParse({ title: 't'.repeat(201) }).success).to.equal(false);
  });

  it('accepts a full event with absolute and relative links', () => {
    const event = {
      id: 'order-42',
      title: 'Order shipped',
      body: 'Your order is on its way.\nTrack it online.',
      url: '/orders/42',
      icon: 'https://crm.example/icon.png',
      tag: 'order-42',
      data: { orderId: 42 },
      ttl: 3600,
      urgency: 'high',
      topic: 'order_42-status',
      delivery: 'always',
      sendAt: '2030-01-01T00:00:00Z',
    };

    expect(eventSchema.safeParse(event).success).to.equal(true);
  });

  const rejected: Array<[string, Record<string, unknown>]> = [
    ['an unknown field', { title: 't', priority: 'high' }],
    ['an unknown urgency', { title: 't', urgency: 'urgent' }],
    ['a topic with characters outside URL-safe base64', { title: 't', topic: 'a+b=' }],
    ['a topic longer than 32 characters', { title: 't', topic: 'a'.repeat(33) }],
    ['a javascript: url', { title: 't', url: 'javascript:alert(1)' }],
    ['a protocol-relative url', { title: 't', url: '//evil.example/x' }],
    ['a url that is not a URL', { title: 't', url: 'not a url' }],
    ['an unknown delivery', { title: 't', delivery: 'sometimes' }],
    ['a negative ttl', { title: 't', ttl: -1 }],
    ['a ttl beyond 28 days', { title: 't', ttl: 28 * 24 * 3600 + 1 }],
    ['control characters in the title', { title: 'a\u0007b' }],
    ['data that is not an object', { title: 't', data: [1, 2] }],
    ['an id with spaces', { title: 't', id: 'two words' }],
  ];
  for (const [what, input] of rejected) {
    it(`rejects ${what}`, () => {
      expect(eventSchema.safeParse(input).success).to.equal(false);
    });
  }
});

describe('notificationRequestSchema', () => {
  const base = { package: 'crm', title: 'Invoice paid' };

  it('accepts a single user and a list of users as the target', () => {
    for (const target of [{ user: 'alice' }, { users: ['alice', 'bob'] }]) {
      expect(notificationRequestSchema.safeParse({ ...base, target }).success).to.equal(true);
    }
  });

  const badTargets: Array<[string, unknown]> = [
    ['an empty users list', { users: [] }],
    ['a repeated user', { users: ['alice', 'alice'] }],
    ['a user name with a level separator', { user: 'a/b' }],
    ['a user and users together', { user: 'alice', users: ['bob'] }],
    ['a missing target', undefined],
  ];
  for (const [what, target] of badTargets) {
    it(`rejects ${what}`, () => {
      expect(notificationRequestSchema.safeParse({ ...base, target }).success).to.equal(false);
    });
  }

  it('rejects an unknown field, as the Event does', () => {
    const input = { ...base, target: { user: 'alice' }, prio: 1 };

    expect(notificationRequestSchema.safeParse(input).success).to.equal(false);
  });

  it('rejects a bad package name', () => {
    const input = { ...base, package: 'crm/x', target: { user: 'alice' } };

    expect(notificationRequestSchema.safeParse(input).success).to.equal(false);
  });
});

describe('parseOrThrow', () => {
  it('returns the parsed value with its defaults', () => {
    const request = parseOrThrow(
      notificationRequestSchema,
      { package: 'crm', title: 'Hi', target: { user: 'alice' } },
      'notification',
    );

    expect(request).to.include({ ttl: 86_400, urgency: 'normal', delivery: 'offline' });
  });

  it('throws a 400 ValidationError naming the bad field', () => {
    const error = validationErrorFor(notificationRequestSchema, {
      package: 'crm',
      title: 'Hi',
      urgency: 'urgent',
      target: { user: 'alice' },
    });

    expect(error.httpStatus).to.equal(400);
    expect(error.code).to.equal('invalid_request');
    expect(error.message).to.include('urgency');
  });

  it('names the nested field of a repeated user', () => {
    const error = validationErrorFor(notificationRequestSchema, {
      package: 'crm',
      title: 'Hi',
      target: { users: ['alice', 'alice'] },
    });

    expect(error.message).to.include('target.users');
  });

  it('names an unknown field', () => {
    const error = validationErrorFor(eventSchema, { title: 'Hi', colour: 'red' });

    expect(error.message).to.include('colour');
  });
});

describe('buildMessage', () => {
  it('carries the content fields and the ids, but no delivery settings', () => {
    const event = eventSchema.parse({ title: 'Hi', body: 'There', url: '/x', urgency: 'high' });

    const message = buildMessage(event, IDS);

    expect(JSON.parse(JSON.stringify(message))).to.deep.equal({
      ...IDS,
      title: 'Hi',
      body: 'There',
      url: '/x',
    });
  });
});

describe('pushJobSchema', () => {
  const job = (topic: string) => {
    const { user: _user, ...message } = buildMessage(eventSchema.parse({ title: 'Hi' }), IDS);
    return { eventId: 'evt-1', package: 'crm', users: ['alice'], message, ttl: 60, urgency: 'normal', topic, expiresAt: 0 };
  };

  it("takes a Topic by the event's rule, and refuses one that could not go out as a header", () => {
    expect(pushJobSchema.safeParse(job('invoice-42')).success).to.equal(true);
    for (const topic of ['invoice 42', 'a\r\nx-injected: 1', 'a'.repeat(33), '']) {
      expect(pushJobSchema.safeParse(job(topic)).success, JSON.stringify(topic)).to.equal(false);
    }
  });
});

describe('messageBytes', () => {
  it('counts UTF-8 bytes of the JSON, not characters', () => {
    const ascii = buildMessage(eventSchema.parse({ title: 'aa' }), IDS);
    const accented = buildMessage(eventSchema.parse({ title: 'éé' }), IDS);

    expect(messageBytes(accented) - messageBytes(ascii)).to.equal(2);
    expect(messageBytes(ascii)).to.equal(Buffer.byteLength(JSON.stringify(ascii)));
  });
});

describe('subscriptionRequestSchema', () => {
  function accepts(keys: { p256dh: string; auth: string }): boolean {
    const endpoint = 'https://fcm.googleapis.com/fcm/send/abc';
    const input = { endpoint, expirationTime: null, keys, package: 'crm' };
    return subscriptionRequestSchema.safeParse(input).success;
  }

  it('accepts the keys a browser creates', () => {
    const { p256dh, auth } = createBrowserKeys();

    expect(accepts({ p256dh, auth })).to.equal(true);
  });

  it('rejects a p256dh that is not an uncompressed point on P-256', () => {
    const { auth } = createBrowserKeys();
    const notOnCurve = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]).toString('base64url');
    const tooShort = randomBytes(33).toString('base64url');

    for (const p256dh of [notOnCurve, tooShort, 'not base64url!']) {
      expect(accepts({ p256dh, auth }), p256dh).to.equal(false);
    }
  });

  it('rejects an auth secret that is not 16 bytes', () => {
    const { p256dh } = createBrowserKeys();

    for (const length of [15, 17, 32]) {
      const auth = randomBytes(length).toString('base64url');
      expect(accepts({ p256dh, auth }), `${length} bytes`).to.equal(false);
    }
  });
});
