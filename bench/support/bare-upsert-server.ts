import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { createPool } from 'mysql2/promise';

// The baseline of `npm run bench:api`: what a subscribe endpoint costs when wired by hand,
// with no authentication, validation, policy or VAPID lookup: parse the JSON body, one
// INSERT … ON DUPLICATE KEY UPDATE on the same table through a pool of the same size as
// the API's, answer 201. Run as a child process: argv[2] is the database URL; it prints its
// port on stdout.

const pool = createPool({ uri: process.argv[2]!, connectionLimit: 10 });
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      user: string; package: string; endpoint: string; keys: { p256dh: string; auth: string };
    };
    const now = new Date();
    pool
      .query(
        'INSERT INTO push_subscription (user, package, endpoint_hash, endpoint, p256dh, auth, user_agent, created_at, updated_at, active, failure_count)' +
          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'Y', 0) ON DUPLICATE KEY UPDATE p256dh = VALUES(p256dh), auth = VALUES(auth)," +
          " user_agent = VALUES(user_agent), updated_at = VALUES(updated_at), active = 'Y', failure_count = 0",
        [body.user, body.package, createHash('sha256').update(body.endpoint).digest('hex'), body.endpoint,
          body.keys.p256dh, body.keys.auth, req.headers['user-agent'] ?? null, now, now],
      )
      .then(() => {
        res.writeHead(201, { 'content-type': 'application/json' }).end('{"ok":true}');
      })
      .catch((err: unknown) => {
        res.writeHead(500).end(String(err));
      });
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.on('disconnect', () => {
  server.close();
  void pool.end();
});
