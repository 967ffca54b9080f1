import { withDeadline } from '../lifecycle/with-deadline.js';

/** One dependency a service needs to do its work, and how to tell it is there. */
export interface ReadinessCheck {
  /** Named in the answer when it fails: `database`, `redis`, `broker`. */
  name: string;
  /** Resolves when the dependency answers; rejects (or never settles) when it does not. */
  probe(): Promise<unknown>;
}

export interface CheckResult {
  ok: boolean;
  ms: number;
  /** Why it failed; never a URL, a password or a statement. */
  error?: string;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, CheckResult>;
  /** The names of the checks that failed, in the order they were given. */
  failing: string[];
}

/** Asks every dependency at once; a readiness probe must answer quickly even when one hangs. */
export type Readiness = () => Promise<ReadinessReport>;

/**
 * Short on purpose: orchestrators probe every few seconds with a timeout of their own, and a
 * hung dependency must show as "not ready" well within it.
 */
export const DEFAULT_CHECK_TIMEOUT_MS = 1_000;

/**
 * Builds the readiness answer of a service from its checks. Each check gets `timeoutMs`; a
 * check still running from an earlier probe is not started again (one hung MySQL query per
 * check at most, rather than one more per probe).
 */
export function createReadiness(
  checks: readonly ReadinessCheck[],
  options: { timeoutMs?: number } = {},
): Readiness {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const names = new Set<string>();
  for (const check of checks) {
    if (names.has(check.name)) throw new Error(`two readiness checks are named ${check.name}`);
    names.add(check.name);
  }
  const running = new Map<string, Promise<unknown>>();
  const probeOnce = (check: ReadinessCheck): Promise<unknown> => {
    let probe = running.get(check.name);
    if (!probe) {
      probe = Promise.resolve()
        .then(() => check.probe())
        .finally(() => running.delete(check.name));
      // A probe that fails after its deadline has nobody waiting on it.
      probe.catch(() => undefined);
      running.set(check.name, probe);
    }
    return probe;
  };
  return async () => {
    const results = await Promise.all(
      checks.map(async (check): Promise<[string, CheckResult]> => {
        const started = performance.now();
        const ms = () => Math.round(performance.now() - started);
        try {
          await withDeadline(probeOnce(check), timeoutMs);
          return [check.name, { ok: true, ms: ms() }];
        } catch (err) {
          return [check.name, { ok: false, ms: ms(), error: describe(err) }];
        }
      }),
    );
    const failing = results.filter(([, r]) => !r.ok).map(([name]) => name);
    return { ready: failing.length === 0, checks: Object.fromEntries(results), failing };
  };
}

/** The error's message only, cut short: driver messages can be long, never worth more here. */
function describe(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.length > 200 ? `${message.slice(0, 200)}…` : message;
}
