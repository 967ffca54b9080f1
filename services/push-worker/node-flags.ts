/**
 * Node flags the push-worker process is started with: docker-compose.yml, `npm run
 * start:push-worker` and `npm run bench:push` give them (a unit test holds the three to this
 * list), and the tests that start the worker as a process use it.
 *
 * `--single-threaded-gc`: the worker is CPU-bound on one thread (the encryption), and one
 * worker process runs per core. V8's parallel and concurrent collector threads took 10–16 µs of
 * CPU per message on other cores, which belong to the other worker processes. With the flag
 * 4–8 µs remain on other threads and the worker uses about 7 µs per message less in all
 * (docs/performance.md, "Measured in the ninth session"); the raw crypto loop saves as much,
 * so bench:push runs its baselines on these flags too. A collection pauses the event loop a
 * little longer, which a push worker does not notice.
 */
export const PUSH_WORKER_NODE_FLAGS: readonly string[] = ['--single-threaded-gc'];
