/**
 * NodeId names a member of a Raft group. Ids are positive safe integers (≤ 2^53 − 1);
 * `NONE` (0) means "no node" (no leader known, no vote cast).
 */
export type NodeId = number;

/** NONE is the NodeId that names no node: no leader, no vote. */
export const NONE: NodeId = 0;

/** EntryType says how the state machine should read an entry's data. */
export type EntryType = 'normal' | 'confChange';

/**
 * Entry is one slot of the replicated log (§5.3): the term in which a leader created it,
 * its position, and an opaque command. A leader's no-op entry has empty data.
 */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/**
 * HardState is the state a node must persist before it answers anyone (§5.1, Figure 2):
 * its current term, whom it voted for in that term, and the highest index it knows to be
 * committed. `vote` is NONE when the node has not voted in `term`.
 */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

/** StateRole is the role a node plays in its current term. */
export type StateRole = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** SoftState is volatile state worth reporting but not persisting: the leader and our role. */
export interface SoftState {
  readonly leader: NodeId;
  readonly role: StateRole;
}

/**
 * ConfState is the membership a snapshot or the log implies: voters, learners, and — in a
 * joint configuration (Raft paper §6) — the outgoing voters. `learnersNext` are voters of
 * the outgoing half that become learners once the joint configuration is left.
 */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  readonly votersOutgoing: readonly NodeId[];
  readonly learnersNext: readonly NodeId[];
  readonly autoLeave: boolean;
}

/** SnapshotMetadata names the last log entry a snapshot covers and the membership at it. */
export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

/** Snapshot is a state-machine image standing in for every entry up to `metadata.index`. */
export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

/** EMPTY_HARD_STATE is the hard state of a node that has never been started. */
export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: NONE, commit: 0 });

/** emptyConfState returns a ConfState with no members. */
export function emptyConfState(): ConfState {
  return { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
}

/** EMPTY_DATA is the shared empty payload (no-op entries, empty contexts). */
export const EMPTY_DATA: Uint8Array = new Uint8Array(0);

/** isEmptyHardState reports whether `hardState` is the never-started state. */
export function isEmptyHardState(hardState: HardState): boolean {
  return hardState.term === 0 && hardState.vote === NONE && hardState.commit === 0;
}

/** hardStateEqual compares two hard states field by field. */
export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** isEmptySnapshot reports whether `snapshot` is absent or the zero snapshot. */
export function isEmptySnapshot(snapshot: Snapshot | undefined): boolean {
  return snapshot === undefined || snapshot.metadata.index === 0;
}

/** entrySize is the byte size an entry counts for in size limits (payload + fixed overhead). */
export function entrySize(entry: Entry): number {
  return entry.data.byteLength + ENTRY_OVERHEAD_BYTES;
}

/** ENTRY_OVERHEAD_BYTES approximates an entry's framing (term, index, type) on the wire. */
export const ENTRY_OVERHEAD_BYTES = 16;

/** payloadSize sums the bytes of entries' data, as used for the uncommitted-size cap. */
export function payloadSize(entries: readonly Entry[]): number {
  let size = 0;
  for (const entry of entries) size += entry.data.byteLength;
  return size;
}
