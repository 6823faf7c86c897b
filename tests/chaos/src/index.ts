// @raftkit/chaos: process-level chaos testing for raftkit (and etcd), with a
// linearizability checker usable on its own.
export * from './availability.js';
export * from './clock.js';
export * from './cluster.js';
export * from './etcd-client.js';
export * from './final-state.js';
export * from './history.js';
export * from './linearizability.js';
export * from './membership.js';
export * from './membership-nemesis.js';
export * from './nemesis.js';
export * from './network.js';
export * from './ports.js';
export * from './random.js';
export * from './register-model.js';
export * from './run.js';
export * from './socket-owner.js';
export * from './workload.js';
