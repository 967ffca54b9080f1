// The npm registry reachable from our machines lacks some other-platform builds of
// msgpackr-extract (an optional dependency of BullMQ's msgpackr), so `npm install` leaves them
// out of package-lock.json and a later `npm ci` calls the lockfile "not in sync". This adds the
// missing entries back as optional, platform-bound packages: npm skips them on Linux and
// fetches them on the platforms that need them. Run it after every `npm install`.
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const parent = lock.packages['node_modules/msgpackr-extract'];
let added = 0;
for (const [name, version] of Object.entries(parent?.optionalDependencies ?? {})) {
  const key = `node_modules/${name}`;
  if (lock.packages[key]) continue;
  const [, os, cpu] = /-(darwin|linux|win32)-(\w+)$/.exec(name) ?? [];
  if (!os) throw new Error(`cannot tell the platform of ${name}`);
  lock.packages[key] = { version, cpu: [cpu], license: 'MIT', optional: true, os: [os] };
  added++;
}
const entries = Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b)));
lock.packages = Object.fromEntries(entries);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(added ? `added ${added} missing optional entries` : 'package-lock.json is complete');
