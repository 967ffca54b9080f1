import { Writable } from 'node:stream';
import { expect } from 'chai';
import { createLogger } from '../../shared/logging/index.js';

function logLine(fields: Record<string, unknown>): string {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  createLogger({ level: 'info', destination: stream }).info(fields, 'x');
  return lines.join('');
}

describe('the logger\'s redaction', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['request headers', { req: { headers: { authorization: 'Bearer SECRET-1', cookie: 'access_token=SECRET-2', 'x-api-key': 'SECRET-3' } } }],
    ['headers of anything', { request: { headers: { authorization: 'Basic SECRET-1', cookie: 'a=SECRET-2', 'x-api-key': 'SECRET-3' } } }],
    ['bare headers', { headers: { authorization: 'SECRET-1', cookie: 'SECRET-2', 'x-api-key': 'SECRET-3' } }],
    ['tokens and keys', { token: 'SECRET-1', user: { accessToken: 'SECRET-2' }, apiKey: 'SECRET-3' }],
    ['our secrets', { secret: 'SECRET-1', auth: { jwtSecret: 'SECRET-2' }, vapid: { vapidPrivateKey: 'SECRET-3' } }],
    ['MQTT logins', { client: { password: 'SECRET-1' }, password: 'SECRET-2', cookie: 'SECRET-3' }],
    ['subscription key material', { p256dh: 'SECRET-1', subscription: { p256dh: 'SECRET-2', auth: 'SECRET-3' } }],
  ];
  for (const [what, fields] of cases) {
    it(`removes ${what} and keeps the rest of the line`, () => {
      const line = logLine({ ...fields, eventId: 'evt-1' });

      expect(line).to.not.match(/SECRET-\d/);
      expect(line).to.contain('"eventId":"evt-1"').and.to.contain('[redacted]');
    });
  }
});
