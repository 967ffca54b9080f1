import { InitialSchema1764000000000 } from './1764000000000-initial-schema.js';

/** Every migration, oldest first. Never edit one that has shipped: add a new one. */
export const MIGRATIONS = [InitialSchema1764000000000];
