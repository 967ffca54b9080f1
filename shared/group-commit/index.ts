export { createGroupCommit } from './group-commit.js';
export type { GroupCommitOptions } from './group-commit.js';
