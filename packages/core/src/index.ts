export * from './errors.js';
export type { LogStore, LogUpdate, StoredState } from './log-store.js';
export * from './memory-log-store.js';
export * from './message.js';
export * from './ports.js';
export * from './random.js';
export * from './types.js';
