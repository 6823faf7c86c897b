import type { Message } from './message.js';
import type { Entry, Snapshot } from './types.js';

/**
 * StateMachine is the application the log drives (§7 "applying"). The driver calls
 * `apply` with committed entries in log order, exactly once each, never concurrently,
 * and only after they are durable locally. Entries of type 'normal' with empty data are
 * leader no-ops; the driver filters them out, along with configuration entries, which it
 * handles itself.
 */
export interface StateMachine<Result = unknown> {
  /**
   * apply runs commands and returns one result per entry, in order; the result resolves
   * the promise of whoever proposed that entry on this node. A throw or rejection stops
   * the node (the state machine is then in an unknown state).
   */
  apply(entries: readonly Entry[]): readonly Result[] | Promise<readonly Result[]>;
  /** snapshot returns an image of every entry applied so far (used by the snapshot issue). */
  snapshot?(): Uint8Array | Promise<Uint8Array>;
  /**
   * captureSnapshot, when present, is used instead of `snapshot` (hashicorp/raft's
   * FSM.Snapshot and FSMSnapshot.Persist): called with nothing being applied, it pins
   * the state applied so far — cheaply, synchronously — and returns a function that
   * produces that state's image later. The driver keeps applying entries while the image
   * is produced, so the state machine must keep the pinned state intact until then.
   */
  captureSnapshot?(): () => Uint8Array | Promise<Uint8Array>;
  /** restore replaces the state by a snapshot's image. */
  restore?(snapshot: Snapshot): void | Promise<void>;
}

/**
 * Transport carries peer messages. `send` is fire-and-forget and never throws: Raft
 * tolerates loss, duplication and reordering. A transport that cannot reach a peer
 * reports it through `RaftNode.reportUnreachable`. Messages are shared, never mutated.
 * Inbound messages are handed to `RaftNode.step`.
 */
export interface Transport {
  send(messages: readonly Message[]): void;
}

/**
 * Ticker calls `onTick` at a fixed interval: one logical tick of the core's clock.
 * `@raftkit/timer` provides real and manual tickers.
 */
export interface Ticker {
  start(onTick: () => void): void;
  stop(): void;
}

/** LogFields are structured fields attached to a log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/** Logger receives the core's structured logs; inject pino or anything alike. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** SILENT_LOGGER discards every line. */
export const SILENT_LOGGER: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/**
 * RandomSource returns integers uniformly in `[0, bound)`. Inject a seeded one for
 * reproducible runs (`seededRandom`).
 */
export type RandomSource = (bound: number) => number;
