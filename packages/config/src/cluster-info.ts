import { type Logger, NONE, type NodeId, SILENT_LOGGER, type StateRole } from '@raftkit/core';
import { MembershipError } from './errors.js';
import { formatMemberId, toNodeId } from './member-id.js';
import type { ServerConfig } from './server-config.js';

/**
 * MemberRole is a member's role as far as this process knows: `leader` and `learner`
 * are facts of the membership and the latest status; `follower` is assumed for a voter
 * while some leader is known; `candidate` is reported by the member itself; otherwise
 * `unknown`.
 */
export type MemberRole = 'leader' | 'follower' | 'candidate' | 'learner' | 'unknown';

/** ClusterMember is an immutable snapshot of one member, as etcd's Cluster API shows it. */
export interface ClusterMember {
  /** id is the 64-bit etcd member id. */
  readonly id: bigint;
  /** nodeId is the raft NodeId, the low 53 bits of `id`. */
  readonly nodeId: NodeId;
  /** name is empty for a member that was added but has not started and published it yet. */
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
  readonly isLearner: boolean;
  readonly role: MemberRole;
}

/** MemberSpec describes a member to add: the id and peer URLs are required. */
export interface MemberSpec {
  readonly id: bigint;
  readonly peerUrls: readonly string[];
  readonly name?: string;
  readonly clientUrls?: readonly string[];
  readonly isLearner?: boolean;
}

/** MemberUpdate lists the attributes to change; omitted ones are kept. */
export interface MemberUpdate {
  readonly name?: string;
  readonly peerUrls?: readonly string[];
  readonly clientUrls?: readonly string[];
}

/**
 * MemberStatus is what one member reports about itself: core's SoftState (`leader`,
 * `role`) plus its id and, when known, its term. The local RaftNode's status and a remote
 * member's Status answer both fit.
 */
export interface MemberStatus {
  readonly id: NodeId;
  readonly leader: NodeId;
  readonly role?: StateRole;
  readonly term?: number;
}

/** ClusterChange is one change ClusterInfo tells its listeners about. */
export type ClusterChange =
  | { readonly kind: 'memberAdded'; readonly member: ClusterMember }
  | { readonly kind: 'memberRemoved'; readonly member: ClusterMember }
  | {
      readonly kind: 'memberUpdated';
      readonly member: ClusterMember;
      readonly previous: ClusterMember;
    }
  | {
      readonly kind: 'leaderChanged';
      readonly leader: ClusterMember | undefined;
      readonly previous: ClusterMember | undefined;
    }
  | {
      readonly kind: 'roleChanged';
      readonly member: ClusterMember;
      readonly previousRole: MemberRole;
    };

/** ClusterChangeListener receives changes after they are applied; it must not throw. */
export type ClusterChangeListener = (change: ClusterChange) => void;

/** ClusterInfoOptions build a ClusterInfo. */
export interface ClusterInfoOptions {
  readonly clusterId: bigint;
  readonly members: readonly MemberSpec[];
  /** localNodeId is this process's member, if it is one (a client is not). */
  readonly localNodeId?: NodeId;
  /** logger reports listeners that throw. */
  readonly logger?: Logger;
}

interface MemberRecord {
  readonly id: bigint;
  readonly nodeId: NodeId;
  name: string;
  peerUrls: readonly string[];
  clientUrls: readonly string[];
  isLearner: boolean;
}

/**
 * ClusterInfo is the membership of one cluster with each member's addresses and current
 * role, kept current from membership changes (as core applies configuration entries) and
 * from status reports (core's SoftState, remote Status answers). It serves the Cluster
 * API, leader redirects and dashboards. It is plain data and logic — no I/O, no timers —
 * and it does not decide membership: core does; this mirrors what was decided.
 *
 * Refused changes (an id already present or removed before, a peer URL another member
 * has) throw MembershipError and change nothing, the rules etcd's membership store
 * applies. Reads return frozen snapshots, so a caller can keep one safely.
 */
export class ClusterInfo {
  /** clusterId is the 64-bit cluster id (`computeClusterId`). */
  readonly clusterId: bigint;
  /** localNodeId is this process's member, or undefined. */
  readonly localNodeId: NodeId | undefined;

  private readonly records = new Map<NodeId, MemberRecord>();
  // etcd never lets a removed id back in: its old messages may still be in flight.
  private readonly removed = new Set<bigint>();
  private readonly listeners = new Set<ClusterChangeListener>();
  private readonly logger: Logger;
  private leaderNodeId: NodeId = NONE;
  private knownTerm: number | undefined;
  // Roles members reported about themselves since the leader last changed.
  private readonly reportedRoles = new Map<NodeId, StateRole>();
  // Invariant: snapshot lists every record, sorted by id, with roles derived from state.
  private snapshot: readonly ClusterMember[] = [];

  /** Creates a ClusterInfo holding `options.members`, with no leader known. */
  constructor(options: ClusterInfoOptions) {
    this.clusterId = options.clusterId;
    this.localNodeId = options.localNodeId;
    this.logger = options.logger ?? SILENT_LOGGER;
    for (const spec of options.members) this.insert(spec);
    this.snapshot = this.buildSnapshot();
  }

  /**
   * fromServerConfig builds the ClusterInfo of a bootstrapping server: the members of
   * `--initial-cluster` with their derived ids, this member's advertised client URLs, and
   * this member as local. A server joining an existing cluster has no bootstrap ids and
   * must build its ClusterInfo from the member list the cluster returns.
   */
  static fromServerConfig(
    config: ServerConfig,
    options: { readonly logger?: Logger } = {},
  ): ClusterInfo {
    const bootstrap = config.bootstrap;
    if (bootstrap === undefined) {
      throw new Error(
        `ClusterInfo.fromServerConfig: --initial-cluster-state is '${config.initialClusterState}', so member ids come from the running cluster; build the ClusterInfo from its member list`,
      );
    }
    return new ClusterInfo({
      clusterId: bootstrap.clusterId,
      localNodeId: bootstrap.nodeId,
      members: bootstrap.members.map((member) => ({
        id: member.id,
        name: member.name,
        peerUrls: member.peerUrls,
        clientUrls: member.nodeId === bootstrap.nodeId ? config.advertiseClientUrls : [],
      })),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
  }

  /** members returns every member, sorted by id as etcd lists them. */
  members(): readonly ClusterMember[] {
    return this.snapshot;
  }

  /** member finds a member by raft NodeId or by 64-bit etcd id. */
  member(id: NodeId | bigint): ClusterMember | undefined {
    return typeof id === 'bigint'
      ? this.snapshot.find((member) => member.id === id)
      : this.snapshot.find((member) => member.nodeId === id);
  }

  /** memberByName finds a member by its name. */
  memberByName(name: string): ClusterMember | undefined {
    return this.snapshot.find((member) => member.name === name);
  }

  /** local returns this process's member, if it is one. */
  local(): ClusterMember | undefined {
    return this.localNodeId === undefined ? undefined : this.member(this.localNodeId);
  }

  /** leader returns the member last reported as leader, or undefined if none is known. */
  leader(): ClusterMember | undefined {
    return this.leaderNodeId === NONE ? undefined : this.member(this.leaderNodeId);
  }

  /** leaderId is the NodeId of the known leader, or NONE. */
  get leaderId(): NodeId {
    return this.leaderNodeId;
  }

  /** term is the highest term seen in a status report, if any carried one. */
  get term(): number | undefined {
    return this.knownTerm;
  }

  /** isMember reports whether `id` is a current member (voter or learner). */
  isMember(id: NodeId | bigint): boolean {
    return this.member(id) !== undefined;
  }

  /** removedIds returns the ids of every member ever removed, ascending: they can never return. */
  removedIds(): bigint[] {
    return [...this.removed].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** isRemoved reports whether `id` (a 64-bit id or a NodeId) belonged to a removed member. */
  isRemoved(id: NodeId | bigint): boolean {
    if (typeof id === 'bigint') return this.removed.has(id);
    for (const removed of this.removed) if (toNodeId(removed) === id) return true;
    return false;
  }

  /**
   * reset replaces the whole membership — members and removed ids — by another one (a
   * replica restoring a snapshot), keeping the leader and reported roles, and tells
   * listeners what changed. The new membership is checked as `addMember` checks each
   * member; if it is refused, nothing changes.
   */
  reset(members: readonly MemberSpec[], removedIds: readonly bigint[]): void {
    const previousRecords = new Map(this.records);
    const previousRemoved = new Set(this.removed);
    this.records.clear();
    this.removed.clear();
    try {
      for (const id of removedIds) this.removed.add(id);
      for (const spec of members) this.insert(spec);
    } catch (error) {
      this.records.clear();
      for (const [nodeId, record] of previousRecords) this.records.set(nodeId, record);
      this.removed.clear();
      for (const id of previousRemoved) this.removed.add(id);
      throw error;
    }
    for (const nodeId of [...this.reportedRoles.keys()]) {
      if (!this.records.has(nodeId)) this.reportedRoles.delete(nodeId);
    }
    this.commit();
  }

  /** voters returns the NodeIds of the voting members, ascending by etcd id. */
  voters(): NodeId[] {
    return this.snapshot.filter((member) => !member.isLearner).map((member) => member.nodeId);
  }

  /** learners returns the NodeIds of the learners, ascending by etcd id. */
  learners(): NodeId[] {
    return this.snapshot.filter((member) => member.isLearner).map((member) => member.nodeId);
  }

  /** peerUrlsOf returns a member's peer URLs, or undefined for a non-member. */
  peerUrlsOf(id: NodeId | bigint): readonly string[] | undefined {
    return this.member(id)?.peerUrls;
  }

  /** peerUrlOf returns the first of a member's peer URLs (the one to dial first). */
  peerUrlOf(id: NodeId | bigint): string | undefined {
    return this.member(id)?.peerUrls[0];
  }

  /** clientUrls returns every member's client URLs, sorted, as etcd's ClientURLs does. */
  clientUrls(): string[] {
    return this.snapshot.flatMap((member) => member.clientUrls).sort();
  }

  /**
   * onChange registers `listener` for every later change; it returns the function that
   * unregisters it. A listener that throws is logged and does not stop the others.
   */
  onChange(listener: ClusterChangeListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** addMember adds a voter or learner (etcd MemberAdd) and returns its snapshot. */
  addMember(spec: MemberSpec): ClusterMember {
    const record = this.insert(spec);
    this.commit();
    return this.member(record.nodeId)!;
  }

  /** removeMember removes a member (etcd MemberRemove); its id can never return. */
  removeMember(id: NodeId | bigint): ClusterMember {
    const record = this.requireRecord(id);
    this.records.delete(record.nodeId);
    this.removed.add(record.id);
    this.reportedRoles.delete(record.nodeId);
    if (this.leaderNodeId === record.nodeId) this.leaderNodeId = NONE;
    const removed = this.member(record.nodeId)!;
    this.commit();
    return removed;
  }

  /**
   * updateMember changes a member's name, peer URLs (etcd MemberUpdate) or client URLs
   * (what a starting member publishes) and returns the new snapshot.
   */
  updateMember(id: NodeId | bigint, update: MemberUpdate): ClusterMember {
    const record = this.requireRecord(id);
    if (update.peerUrls !== undefined) {
      this.checkPeerUrls(update.peerUrls, record.nodeId);
      record.peerUrls = [...update.peerUrls];
    }
    if (update.clientUrls !== undefined) record.clientUrls = [...update.clientUrls];
    if (update.name !== undefined) record.name = update.name;
    this.commit();
    return this.member(record.nodeId)!;
  }

  /** promoteMember turns a learner into a voter (etcd MemberPromote). */
  promoteMember(id: NodeId | bigint): ClusterMember {
    const record = this.requireRecord(id);
    if (!record.isLearner) {
      throw new MembershipError(
        'notLearner',
        `member ${formatMemberId(record.id)} is already a voter; only learners can be promoted`,
      );
    }
    record.isLearner = false;
    this.commit();
    return this.member(record.nodeId)!;
  }

  /**
   * updateFromStatus records what member `status.id` reports: the leader it follows and
   * its own role. A report with a lower term than one already seen is stale and ignored
   * (returns false): leadership only moves forward in term (§5.1). When the leader changes,
   * roles reported under the previous leader are forgotten.
   */
  updateFromStatus(status: MemberStatus): boolean {
    if (status.term !== undefined && this.knownTerm !== undefined && status.term < this.knownTerm) {
      return false;
    }
    if (status.term !== undefined) this.knownTerm = status.term;
    if (status.leader !== this.leaderNodeId) {
      this.leaderNodeId = status.leader;
      this.reportedRoles.clear();
    }
    if (status.role !== undefined) this.reportedRoles.set(status.id, status.role);
    this.commit();
    return true;
  }

  private insert(spec: MemberSpec): MemberRecord {
    if (spec.id <= 0n || spec.id >= 1n << 64n) {
      throw new RangeError(`member id ${spec.id} is not a nonzero unsigned 64-bit integer`);
    }
    const nodeId = toNodeId(spec.id);
    const hex = formatMemberId(spec.id);
    if (this.removed.has(spec.id)) {
      throw new MembershipError(
        'idRemoved',
        `member ${hex} was removed from the cluster and cannot be added back; add it under a new id`,
      );
    }
    const existing = this.records.get(nodeId);
    if (existing !== undefined) {
      throw existing.id === spec.id
        ? new MembershipError('idExists', `member ${hex} is already a member`)
        : new MembershipError(
            'nodeIdCollision',
            `member ${hex} has the same raft NodeId (low 53 bits) as member ${formatMemberId(existing.id)}; add it under a new id`,
          );
    }
    this.checkPeerUrls(spec.peerUrls, undefined);
    const record: MemberRecord = {
      id: spec.id,
      nodeId,
      name: spec.name ?? '',
      peerUrls: [...spec.peerUrls],
      clientUrls: [...(spec.clientUrls ?? [])],
      isLearner: spec.isLearner ?? false,
    };
    this.records.set(nodeId, record);
    return record;
  }

  private checkPeerUrls(peerUrls: readonly string[], owner: NodeId | undefined): void {
    if (peerUrls.length === 0) {
      throw new RangeError('a member needs at least one peer URL');
    }
    for (const record of this.records.values()) {
      if (record.nodeId === owner) continue;
      const shared = peerUrls.find((url) => record.peerUrls.includes(url));
      if (shared !== undefined) {
        throw new MembershipError(
          'peerUrlExists',
          `peer URL ${shared} already belongs to member ${formatMemberId(record.id)}${record.name === '' ? '' : ` (${record.name})`}`,
        );
      }
    }
  }

  private requireRecord(id: NodeId | bigint): MemberRecord {
    const nodeId = typeof id === 'bigint' ? this.member(id)?.nodeId : id;
    const record = nodeId === undefined ? undefined : this.records.get(nodeId);
    if (record === undefined) {
      const text = typeof id === 'bigint' ? formatMemberId(id) : `with NodeId ${id}`;
      throw new MembershipError('idNotFound', `member ${text} is not in the cluster`);
    }
    return record;
  }

  private roleOf(record: MemberRecord): MemberRole {
    if (record.nodeId === this.leaderNodeId) return 'leader';
    if (record.isLearner) return 'learner';
    const reported = this.reportedRoles.get(record.nodeId);
    if (reported === 'candidate' || reported === 'preCandidate') return 'candidate';
    if (reported === 'follower') return 'follower';
    return this.leaderNodeId !== NONE && reported === undefined ? 'follower' : 'unknown';
  }

  private buildSnapshot(): readonly ClusterMember[] {
    const members = [...this.records.values()]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((record) =>
        Object.freeze({
          id: record.id,
          nodeId: record.nodeId,
          name: record.name,
          peerUrls: Object.freeze([...record.peerUrls]),
          clientUrls: Object.freeze([...record.clientUrls]),
          isLearner: record.isLearner,
          role: this.roleOf(record),
        }),
      );
    return Object.freeze(members);
  }

  /** Rebuilds the snapshot, then tells listeners what differs from the previous one. */
  private commit(): void {
    const before = new Map(this.snapshot.map((member) => [member.nodeId, member]));
    const previousLeader = this.snapshot.find((member) => member.role === 'leader');
    this.snapshot = this.buildSnapshot();
    if (this.listeners.size === 0) return;
    const changes: ClusterChange[] = [];
    for (const member of before.values()) {
      if (!this.records.has(member.nodeId)) changes.push({ kind: 'memberRemoved', member });
    }
    for (const member of this.snapshot) {
      const previous = before.get(member.nodeId);
      if (previous === undefined) {
        changes.push({ kind: 'memberAdded', member });
        continue;
      }
      if (
        previous.name !== member.name ||
        previous.isLearner !== member.isLearner ||
        !sameList(previous.peerUrls, member.peerUrls) ||
        !sameList(previous.clientUrls, member.clientUrls)
      ) {
        changes.push({ kind: 'memberUpdated', member, previous });
      }
      if (previous.role !== member.role && member.role !== 'leader' && previous.role !== 'leader') {
        changes.push({ kind: 'roleChanged', member, previousRole: previous.role });
      }
    }
    const leader = this.leader();
    if (leader?.nodeId !== previousLeader?.nodeId) {
      changes.push({ kind: 'leaderChanged', leader, previous: previousLeader });
    }
    for (const change of changes) this.emit(change);
  }

  private emit(change: ClusterChange): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch (error) {
        this.logger.error('ClusterInfo listener threw', {
          change: change.kind,
          error: String(error),
        });
      }
    }
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, index) => item === b[index]);
}
