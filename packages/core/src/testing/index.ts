export { disjointQuorums } from './membership.js';
export type { SafetyViolation } from './safety-checker.js';
export { entryDigest, SafetyChecker } from './safety-checker.js';
export type { SimClusterOptions, SimNodeState } from './sim-cluster.js';
export { decodeCommand, encodeCommand, SimCluster } from './sim-cluster.js';
export type { NetworkFaults } from './simulated-network.js';
export { RELIABLE_NETWORK, SimulatedNetwork, UNRELIABLE_NETWORK } from './simulated-network.js';
export type { SimulationOptions, SimulationResult } from './simulation.js';
export { runSimulation } from './simulation.js';
