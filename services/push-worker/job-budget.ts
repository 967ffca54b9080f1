import { MAX_USERS_PER_PUSH_JOB } from '../../shared/events/index.js';

/**
 * How many push jobs a worker takes at once, sized by the users they carry rather than by
 * their number. A job holds its worker until all its sends are done, so a fixed job count is
 * wrong at one end or the other: one-user jobs need many at once to keep the send slots busy
 * (and to leave jobs free while a slow push service holds some), while full jobs taken 400 at
 * a time leave nothing for a second worker process, which then idles while the first one works
 * through an event's sends alone.
 */
export interface JobBudget {
  /** Jobs to hold at once before any job has been seen. */
  readonly initial: number;
  /** Takes note of a job's size; returns how many jobs to hold at once from now on. */
  observe(users: number): number;
}

/** Weight of the newest job in the running mean of users per job. */
const SMOOTHING = 0.5;

export function createJobBudget(options: { users: number; maxJobs: number }): JobBudget {
  const { users, maxJobs } = options;
  if (!(users >= 1) || !(maxJobs >= 1)) throw new RangeError('a job budget needs at least one user and one job');
  const jobsFor = (usersPerJob: number) => Math.min(maxJobs, Math.max(1, Math.round(users / usersPerJob)));
  let mean: number | undefined;
  return {
    // Until a job is seen, assume full-size ones: taking too few at first costs one job's wait,
    // taking too many can take a whole event's jobs from every other worker.
    initial: jobsFor(MAX_USERS_PER_PUSH_JOB),
    observe(jobUsers) {
      const users = Math.max(1, jobUsers);
      mean = mean === undefined ? users : mean + SMOOTHING * (users - mean);
      return jobsFor(mean);
    },
  };
}
