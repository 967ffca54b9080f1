import { expect } from 'chai';
import { createJobBudget } from '../../services/push-worker/job-budget.js';
import { MAX_USERS_PER_PUSH_JOB } from '../../shared/events/index.js';

describe('createJobBudget', () => {
  it('starts by assuming full-size jobs: users ÷ MAX_USERS_PER_PUSH_JOB jobs, at least one', () => {
    expect(createJobBudget({ users: 400, maxJobs: 400 }).initial).to.equal(400 / MAX_USERS_PER_PUSH_JOB);
    expect(createJobBudget({ users: 16, maxJobs: 400 }).initial).to.equal(1);
  });

  it('takes many one-user jobs at once, up to maxJobs, within a few jobs', () => {
    const budget = createJobBudget({ users: 400, maxJobs: 400 });
    const held = Array.from({ length: 20 }, () => budget.observe(1));
    // Each step allows more jobs than have been seen, so a worker whose sends all hang still
    // ramps up instead of waiting for its first jobs to end.
    held.forEach((jobs, i) => expect(jobs, `after ${i + 1} jobs`).to.be.greaterThan(i + 1));
    expect(held.at(-1)).to.equal(400);
  });

  it('holds few jobs again once large ones come, leaving the rest of an event to other workers', () => {
    const budget = createJobBudget({ users: 400, maxJobs: 400 });
    for (let i = 0; i < 20; i++) budget.observe(1);
    budget.observe(100);
    const afterOne = budget.observe(100);
    expect(afterOne).to.be.at.most(8);
    for (let i = 0; i < 10; i++) budget.observe(100);
    expect(budget.observe(100)).to.equal(4);
  });

  it('refuses a budget without users or jobs', () => {
    expect(() => createJobBudget({ users: 0, maxJobs: 4 })).to.throw(RangeError);
    expect(() => createJobBudget({ users: 4, maxJobs: 0 })).to.throw(RangeError);
  });
});
