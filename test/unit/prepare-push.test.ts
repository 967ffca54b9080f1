import { expect } from 'chai';
import { messageFor, type PushJob } from '../../shared/events/index.js';
import { createPlaintexts } from '../../services/push-worker/prepare-push.js';

function job(message: PushJob['message']): PushJob {
  return { eventId: 'evt-1', package: 'shop', users: ['u'], message, ttl: 60, urgency: 'normal', expiresAt: Date.now() + 60_000 };
}

describe('createPlaintexts', () => {
  const tricky: PushJob['message'] = {
    id: 'evt-"user":""-1',
    package: 'shop',
    createdAt: '2026-11-23T12:00:00.000Z',
    title: 'He said "user":"" \\ and left',
    body: 'ünïcödé 🚀 \u2028 line',
    data: { user: '', nested: { user: 'someone-else' }, n: 1 },
  };

  for (const user of ['alice', 'o"brien', 'back\\slash', 'zoë-🚀', '', '"user":""', 'line\nbreak']) {
    it(`gives the bytes of JSON.stringify(messageFor(…)) for the user ${JSON.stringify(user)}`, () => {
      const bytes = createPlaintexts(job(tricky))(user);

      expect(bytes.toString('utf8')).to.equal(JSON.stringify(messageFor(tricky, user)));
      expect(JSON.parse(bytes.toString('utf8'))).to.deep.equal(messageFor(tricky, user));
    });
  }

  it('gives each user their own copy from one job', () => {
    const plaintextFor = createPlaintexts(job({ id: 'e', package: 'p', createdAt: '2026-11-23T12:00:00.000Z', title: 't' }));

    expect(JSON.parse(plaintextFor('a').toString()).user).to.equal('a');
    expect(JSON.parse(plaintextFor('b').toString()).user).to.equal('b');
  });
});
