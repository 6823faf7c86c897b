export * from './logger.js';
export * from './raft-host.js';
