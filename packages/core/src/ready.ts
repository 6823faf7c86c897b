import type { Message } from './message.js';
import type { ReadState } from './read-only.js';
import type { Entry, HardState, Snapshot, SoftState } from './types.js';

/**
 * Ready is one batch of work the application must do for a RawNode, then acknowledge with
 * `advance(ready)`. The ordering contract (what makes Raft safe across crashes):
 *
 * 1. `messages` may be sent at once, before anything is persisted. They are only a
 *    leader's replication traffic (MsgApp, MsgHeartbeat, MsgSnap, MsgTimeoutNow); a leader
 *    counts its own copy of an entry only after `advance` reports it durable.
 * 2. Persist `snapshot`, `entries` and `hardState` in ONE atomic write (`LogStore.save`),
 *    synced to disk when `mustSync` is set.
 * 3. Only then send `persistedMessages`: votes and acknowledgements vouch for state that
 *    must survive a crash (§5.1 "persistent state … updated on stable storage before
 *    responding to RPCs").
 * 4. Apply `snapshot` (if any) and then `committedEntries` to the state machine, in order.
 *    Committed entries are always already durable locally.
 * 5. Answer `readStates` once the applied index reaches each one's index.
 * 6. Call `advance(ready)`.
 */
export interface Ready {
  /** Sequence number of this Ready for this node, from 1. */
  readonly number: number;
  /** New soft state, when it changed since the last Ready. */
  readonly softState?: SoftState;
  /** New hard state to persist, when it changed since the last Ready. */
  readonly hardState?: HardState;
  /** Linearizable read points that became available. */
  readonly readStates: readonly ReadState[];
  /** Entries to append to stable storage (may overwrite a conflicting stored tail). */
  readonly entries: readonly Entry[];
  /** A snapshot to persist and install (a follower caught up by InstallSnapshot). */
  readonly snapshot?: Snapshot;
  /** Entries to apply, in order; all durable already. */
  readonly committedEntries: readonly Entry[];
  /** Messages that may be sent before this Ready is persisted (see the contract above). */
  readonly messages: readonly Message[];
  /** Messages that must be sent only after this Ready is persisted. */
  readonly persistedMessages: readonly Message[];
  /** Whether the persisted part must be synced to disk (a term, vote or entries changed). */
  readonly mustSync: boolean;
}
