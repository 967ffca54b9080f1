/** Settings of a group commit; the defaults suit a database round trip of a few ms. */
export interface GroupCommitOptions {
  /** Inputs committed together at most; more wait for the next commit. */
  maxBatch: number;
  /** Commits running side by side at most. */
  maxCommitsAtOnce?: number;
  /** Inputs waiting behind a running commit that justify starting another one beside it. */
  backlog?: number;
}

/**
 * Group commit: inputs that arrive while a commit runs are committed together by the next one.
 * The batch grows with the load by itself, so a lone input waits for no timer, and ten thousand
 * a second cost about a hundred commits. `commit` answers one output per input, in order; when
 * it throws, every input of that batch is rejected with the error.
 */
export function createGroupCommit<I, O>(
  commit: (inputs: I[]) => Promise<O[]>,
  options: GroupCommitOptions,
): (input: I) => Promise<O> {
  const maxCommitsAtOnce = options.maxCommitsAtOnce ?? 4;
  const backlog = options.backlog ?? 200;
  const waiting: { input: I; resolve: (output: O) => void; reject: (err: unknown) => void }[] = [];
  let running = 0;

  async function drain(): Promise<void> {
    while (waiting.length > 0) {
      const batch = waiting.splice(0, options.maxBatch);
      try {
        const outputs = await commit(batch.map((entry) => entry.input));
        batch.forEach((entry, i) => entry.resolve(outputs[i]!));
      } catch (err) {
        for (const entry of batch) entry.reject(err);
      }
    }
    running -= 1;
  }

  return (input) =>
    new Promise<O>((resolve, reject) => {
      waiting.push({ input, resolve, reject });
      // One commit at a time batches best; a backlog (a slow commit) gets a few more.
      if (running > 0 && (running >= maxCommitsAtOnce || waiting.length < backlog)) return;
      running += 1;
      // Let the inputs of the requests or packets already read join this commit.
      setImmediate(() => void drain());
    });
}
