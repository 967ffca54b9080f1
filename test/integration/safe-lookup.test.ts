import { expect } from 'chai';
import {
  createSafeLookup,
  UnsafeAddressError,
  type ResolveHost,
} from '../../services/push-worker/safe-lookup.js';
import { createWebPushSender, type PushSender } from '../../services/push-worker/web-push-sender.js';
import { LocalPushService } from '../support/local-push-service.js';
import { startLoopbackHttpServer, type AnyRequest, type AnyResponse } from '../support/loopback-http-server.js';

/** A fake DNS: answers each name from a script, one answer per call; throws on anything else. */
function fakeDns(script: Record<string, string[][]>): ResolveHost & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (host: string) => {
    calls.push(host);
    const answers = script[host];
    const answer = answers && (answers.length > 1 ? answers.shift() : answers[0]);
    if (!answer) throw new Error(`fake DNS was not told about ${host}`);
    return answer.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { calls });
}

/** Answers 201 and closes the connection: each send has to connect anew. */
function answerAndClose(req: AnyRequest, res: AnyResponse): void {
  req.resume().on('end', () => {
    if ('stream' in req) {
      res.writeHead(201);
      res.end(() => req.stream.session?.close());
    } else {
      res.writeHead(201, { connection: 'close' });
      res.end();
    }
  });
}

const push = (endpoint: string) => ({
  endpoint,
  headers: { ttl: '60', 'content-encoding': 'aes128gcm' },
  body: Buffer.from('ciphertext'),
});

async function refusal(sending: Promise<unknown>): Promise<UnsafeAddressError> {
  const err = await sending.then(
    () => expect.fail('the send was not refused'),
    (e: unknown) => e,
  );
  expect(err).to.be.instanceOf(UnsafeAddressError);
  return err as UnsafeAddressError;
}

for (const http2Mode of ['off', 'always'] as const) {
  describe(`web push sender with the safe lookup, over HTTP/${http2Mode === 'off' ? '1.1' : '2'}`, function () {
    const overHttp2 = http2Mode === 'always';
    let pushService: LocalPushService;
    let port: string;
    let sender: PushSender | undefined;

    beforeEach(async function () {
      pushService = await new LocalPushService({ http2: overHttp2 }).start();
      port = new URL(pushService.origin).port;
    });

    afterEach(async function () {
      await sender?.close();
      sender = undefined;
      await pushService.close();
    });

    function senderWith(resolve: ResolveHost, allowLoopback: boolean, connections = 2): PushSender {
      const lookup = createSafeLookup({ resolve, allowLoopback });
      sender = createWebPushSender({ timeoutMs: 5_000, connectionsPerOrigin: connections, lookup, http2: http2Mode });
      return sender;
    }

    it('refuses a host whose DNS answers loopback, and the push service receives nothing', async function () {
      const send = senderWith(fakeDns({ 'push.test': [['127.0.0.1']] }), false).send;

      const err = await refusal(send(push(`http://push.test:${port}/x`)));

      expect(err).to.include({ code: 'ERR_UNSAFE_PUSH_ADDRESS', host: 'push.test', address: '127.0.0.1' });
      expect(pushService.received).to.have.length(0);
    });

    it('refuses a host when any one of its addresses is private, even after a public one', async function () {
      const send = senderWith(fakeDns({ 'push.test': [['8.8.8.8', '10.0.0.1']] }), false).send;

      const err = await refusal(send(push(`http://push.test:${port}/x`)));

      expect(err.address).to.equal('10.0.0.1');
      expect(pushService.received).to.have.length(0);
    });

    it('refuses an IPv6 answer that maps a private IPv4 address', async function () {
      const send = senderWith(fakeDns({ 'push.test': [['::ffff:192.168.0.1']] }), false).send;

      const err = await refusal(send(push(`http://push.test:${port}/x`)));

      expect(err.address).to.equal('::ffff:192.168.0.1');
    });

    it('refuses an IP-literal loopback endpoint without asking DNS', async function () {
      const dns = fakeDns({});
      const send = senderWith(dns, false).send;

      const err = await refusal(send(push(`http://127.0.0.1:${port}/x`)));

      expect(err.address).to.equal('127.0.0.1');
      expect(dns.calls).to.deep.equal([]);
      expect(pushService.received).to.have.length(0);
    });

    it('connects to the checked address when loopback is allowed (push.test exists in no real DNS)', async function () {
      const send = senderWith(fakeDns({ 'push.test': [['127.0.0.1']] }), true).send;

      const res = await send(push(`http://push.test:${port}/x`));

      expect(res.status).to.equal(201);
      const [received] = pushService.requestsTo('/x');
      expect(received?.headers.host ?? received?.headers[':authority']).to.equal(`push.test:${port}`);
      expect(received?.body.toString()).to.equal('ciphertext');
    });

    it('checks again on each new connection: a name that turns private is refused on the next send', async function () {
      // This push service closes every connection after answering, so each send connects anew.
      const closing = await startLoopbackHttpServer(overHttp2, answerAndClose);
      let received = 0;
      closing.server.on('request', () => received++);
      try {
        const dns = fakeDns({ 'push.test': [['127.0.0.1'], ['10.0.0.1']] });
        const send = senderWith(dns, true).send;
        const endpoint = `http://push.test:${closing.port}/x`;

        const first = await send(push(endpoint));
        const err = await refusal(send(push(endpoint)));

        expect(first.status).to.equal(201);
        expect(err.address).to.equal('10.0.0.1');
        expect(dns.calls).to.deep.equal(['push.test', 'push.test']);
        expect(received).to.equal(1);
      } finally {
        await closing.close();
      }
    });

    it('keeps a kept-alive connection on the address that was checked when it was opened', async function () {
      const dns = fakeDns({ 'push.test': [['127.0.0.1'], ['10.0.0.1']] });
      // One connection per origin, so the second send must wait for (and reuse) the first one.
      const send = senderWith(dns, true, 1).send;
      const endpoint = `http://push.test:${port}/x`;

      await send(push(endpoint));
      const second = await send(push(endpoint));

      expect(second.status).to.equal(201);
      expect(dns.calls).to.deep.equal(['push.test']);
      expect(pushService.requestsTo('/x')).to.have.length(2);
    });

    it('does not follow a redirect from the push service', async function () {
      const landing = pushService.endpoint('/landed');
      const redirecting = await startLoopbackHttpServer(overHttp2, (req, res) => {
        req.resume().on('end', () => {
          res.writeHead(307, { location: landing });
          res.end();
        });
      });
      try {
        const send = senderWith(fakeDns({ 'push.test': [['127.0.0.1']] }), true).send;

        const res = await send(push(`http://push.test:${redirecting.port}/x`));

        expect(res.status).to.equal(307);
        expect(res.headers['location']).to.equal(landing);
        expect(pushService.received).to.have.length(0);
      } finally {
        await redirecting.close();
      }
    });

    it('refuses localhost through the system resolver when loopback is not allowed', async function () {
      sender = createWebPushSender({
        timeoutMs: 5_000,
        connectionsPerOrigin: 1,
        lookup: createSafeLookup({ allowLoopback: false }),
        http2: http2Mode,
      });

      const err = await refusal(sender.send(push(`http://localhost:${port}/x`)));

      expect(err.host).to.equal('localhost');
      expect(pushService.received).to.have.length(0);
    });

    it('still rejects a plain network failure with its own error, not a refusal', async function () {
      const closed = await startLoopbackHttpServer(overHttp2, () => undefined);
      const closedPort = closed.port;
      await closed.close();
      const send = senderWith(fakeDns({ 'push.test': [['127.0.0.1']] }), true).send;

      const err = await send(push(`http://push.test:${closedPort}/x`)).catch((e: unknown) => e);

      expect(err).to.not.be.instanceOf(UnsafeAddressError);
      expect((err as NodeJS.ErrnoException).code).to.equal('ECONNREFUSED');
    });
  });
}
