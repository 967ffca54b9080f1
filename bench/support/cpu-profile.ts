/**
 * Reads a V8 `.cpuprofile` (written by `node --cpu-prof`) and says where the time went inside a
 * time window: self time by category (the package or project file that was running, with
 * everything under `node:crypto` counted as crypto), and inclusive time by package and by
 * project function (a sample counts for every package / function on its synchronous stack).
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Microseconds of samples inside the window, idle excluded. */
  busyUs: number;
  idleUs: number;
  self: { name: string; us: number }[];
  inclusivePackages: { name: string; us: number }[];
  inclusiveFunctions: { name: string; us: number }[];
  /** Inclusive time by area of work; a sample counts once per area on its stack. */
  areas: { name: string; us: number }[];
}

/** Areas of work, by the packages on the stack (first match wins per package). */
const AREAS: [string, RegExp][] = [
  ['crypto (node:crypto)', /^node:crypto$/],
  ['Redis client (bullmq, ioredis)', /^(bullmq|ioredis|redis-parser|msgpackr|cluster-key-slot|denque)$/],
  ['database (typeorm, better-sqlite3)', /^(typeorm|better-sqlite3|mysql2|reflect-metadata|sql-highlight)$/],
  ['HTTP client (undici)', /^undici$/],
  ['logging (pino)', /^(pino|sonic-boom|@pinojs\/.*|fast-redact|thread-stream|quick-format-unescaped|atomic-sleep|on-exit-leak-free)$/],
  ['job validation (zod)', /^zod$/],
];

/** `fromUs`/`toUs` are CLOCK_MONOTONIC microseconds (process.hrtime in the profiled process). */
export function summariseProfile(file: string, fromUs: number, toUs: number, projectRoot: string): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const root = `file://${projectRoot.replace(/\/$/, '')}/`;
  const self = new Map<string, number>();
  const incPkg = new Map<string, number>();
  const incFn = new Map<string, number>();
  const areas = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  let busyUs = 0;
  let idleUs = 0;
  const categoryCache = new Map<number, { self: string; pkgs: string[]; fns: string[] }>();

  const describe = (leafId: number) => {
    const hit = categoryCache.get(leafId);
    if (hit) return hit;
    let category: string | undefined;
    let sawCrypto = false;
    let firstCore: string | undefined;
    const pkgs = new Set<string>();
    const fns = new Set<string>();
    for (let id: number | undefined = leafId; id !== undefined; id = parent.get(id)) {
      const { functionName, url } = byId.get(id)!.callFrame;
      const pkg = packageOf(url);
      const own = url.startsWith(root) && !pkg ? url.slice(root.length) : undefined;
      if (pkg) pkgs.add(pkg);
      if (own) fns.add(`${functionName || '(anonymous)'} (${own})`);
      if (category) continue;
      if (url.startsWith('node:internal/crypto') || url === 'node:crypto') sawCrypto = true;
      if (pkg || own) {
        category = sawCrypto ? 'node:crypto' : pkg ? pkg : own!;
      } else if (!firstCore && url.startsWith('node:')) {
        firstCore = url.replace(/^node:(internal\/)?/, '').split('/').slice(0, 1).join('/');
      }
    }
    if (sawCrypto) pkgs.add('node:crypto');
    let selfName = category ?? (sawCrypto ? 'node:crypto' : firstCore ? `node core: ${firstCore}` : '(no JS frame)');
    // A leaf with no script is native code (a C++ binding: SQLite, a socket write, OpenSSL):
    // name it, so that JS overhead and native work in the same package are told apart.
    const leaf = byId.get(leafId)!.callFrame;
    if (!leaf.url && selfName !== 'node:crypto') selfName += ` › native ${leaf.functionName || '(anonymous)'}`;
    const result = {
      self: selfName,
      pkgs: [...pkgs],
      fns: [...fns],
    };
    categoryCache.set(leafId, result);
    return result;
  };

  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    // A sample stands for the interval up to the next one.
    const weight = profile.timeDeltas[i + 1] ?? 0;
    if (t < fromUs || t > toUs || weight <= 0) continue;
    const node = byId.get(profile.samples[i]!)!;
    const name = node.callFrame.functionName;
    if (name === '(idle)') {
      idleUs += weight;
      continue;
    }
    busyUs += weight;
    if (name === '(garbage collector)') {
      add(self, 'V8 garbage collector', weight);
      continue;
    }
    if (name === '(program)') {
      add(self, 'V8/native, no JS stack (program)', weight);
      continue;
    }
    const d = describe(node.id);
    add(self, d.self, weight);
    for (const p of d.pkgs) add(incPkg, p, weight);
    for (const f of d.fns) add(incFn, f, weight);
    const seen = new Set<string>();
    for (const p of d.pkgs) {
      const area = AREAS.find(([, re]) => re.test(p))?.[0];
      if (area && !seen.has(area)) {
        seen.add(area);
        add(areas, area, weight);
      }
    }
  }
  const sorted = (m: Map<string, number>) =>
    [...m.entries()].map(([name, us]) => ({ name, us })).sort((a, b) => b.us - a.us);
  return {
    busyUs,
    idleUs,
    self: sorted(self),
    inclusivePackages: sorted(incPkg),
    inclusiveFunctions: sorted(incFn),
    areas: sorted(areas),
  };
}

function packageOf(url: string): string | undefined {
  const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  return m?.[1];
}
