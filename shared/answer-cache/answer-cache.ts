/**
 * A bounded cache of answers that expire, which also shares one lookup among callers asking
 * for the same key at the same time. The oldest entry goes first when it is full.
 */
export interface AnswerCache<T> {
  get(key: string, lookup: () => Promise<{ value: T; ttlMs: number }>): Promise<T>;
  /** The cached answer while it holds, without a promise (for callers on a hot path); else undefined. */
  peek(key: string): T | undefined;
}

export function createAnswerCache<T>(options: { maxEntries: number; now?: () => number }): AnswerCache<T> {
  const now = options.now ?? Date.now;
  const entries = new Map<string, { value: T; expiresAt: number }>();
  const pending = new Map<string, Promise<T>>();

  function store(key: string, value: T, ttlMs: number): void {
    if (ttlMs <= 0) return;
    entries.delete(key);
    // Map keeps insertion order: the first key is the oldest entry.
    while (entries.size >= options.maxEntries) entries.delete(entries.keys().next().value as string);
    entries.set(key, { value, expiresAt: now() + ttlMs });
  }

  return {
    peek(key) {
      const cached = entries.get(key);
      return cached && cached.expiresAt > now() ? cached.value : undefined;
    },
    get(key, lookup) {
      const cached = entries.get(key);
      if (cached && cached.expiresAt > now()) return Promise.resolve(cached.value);
      if (cached) entries.delete(key);
      const inFlight = pending.get(key);
      if (inFlight) return inFlight;
      const asked = lookup()
        .then(({ value, ttlMs }) => {
          store(key, value, ttlMs);
          return value;
        })
        .finally(() => pending.delete(key));
      pending.set(key, asked);
      return asked;
    },
  };
}
