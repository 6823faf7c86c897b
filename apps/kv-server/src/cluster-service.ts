import type * as grpc from '@grpc/grpc-js';
import {
  type ClusterInfo,
  type ClusterMember,
  canonicalUrl,
  computeMemberId,
  formatMemberId,
  toNodeId,
} from '@raftkit/config';
import type { ConfChange, NodeId, RaftNode } from '@raftkit/core';
import { NONE } from '@raftkit/core';
import type * as pb from '@raftkit/rpc/etcd';
import { CLUSTER_SERVICE, encodeEtcdMessage } from '@raftkit/rpc/etcd';
import { ETCD_ERRORS, type EtcdServiceError, toEtcdError } from './etcd-errors.js';
import type { HeaderSource } from './etcd-mapping.js';
import { encodeKvCommand } from './kv-command.js';
import type { KvResult } from './kv-state-machine.js';
import { LeaderClients } from './leader-forward.js';

/** MAX_LEARNERS is etcd's limit on learners in a cluster. */
export const MAX_LEARNERS = 1;

/**
 * LEARNER_READY_RATIO is etcd's rule for promoting a learner: its log must have reached
 * 90 % of the leader's.
 */
export const LEARNER_READY_RATIO = 0.9;

/** MembershipDeps are what the Cluster API and MoveLeader work with. */
export interface MembershipDeps {
  readonly node: RaftNode<KvResult>;
  /** cluster is the replicated membership (the state machine's). */
  readonly cluster: ClusterInfo;
  readonly nodeId: NodeId;
  readonly header: HeaderSource;
  /** revision is the store's current revision (for response headers). */
  readonly revision: () => number;
  /** token is `--initial-cluster-token`, mixed into new member ids as etcd does. */
  readonly token: string;
  /** nowSeconds is the Unix time in seconds (mixed into new member ids). */
  readonly nowSeconds: () => number;
  /** isPeerConnected reports whether this member's stream to a peer is up. */
  readonly isPeerConnected: (nodeId: NodeId) => boolean;
  /** waitForLeader resolves true once `nodeId` leads, false after `timeoutMs`. */
  readonly waitForLeader: (nodeId: NodeId, timeoutMs: number) => Promise<boolean>;
  /** electionTimeoutMs bounds a leadership transfer (etcd waits about this long too). */
  readonly electionTimeoutMs: number;
  /** leader reaches the leader's client API, to forward a MemberPromote to it. */
  readonly leader: LeaderClients;
}

class EtcdFailure extends Error {
  constructor(readonly status: EtcdServiceError) {
    super(status.details);
  }
}

const fail = (status: EtcdServiceError): never => {
  throw new EtcdFailure(status);
};

function toPbMember(member: ClusterMember): pb.Member {
  return {
    ID: member.id,
    name: member.name,
    peerURLs: [...member.peerUrls],
    clientURLs: [...member.clientUrls],
    isLearner: member.isLearner,
  };
}

function memberContext(member: pb.Member): Uint8Array {
  return encodeEtcdMessage('Member', member);
}

/** unary adapts an async handler to grpc-js, answering failures with etcd's statuses. */
function unary<Request, Response>(
  handler: (request: Request, call: grpc.ServerUnaryCall<Request, Response>) => Promise<Response>,
): (call: grpc.ServerUnaryCall<Request, Response>, callback: grpc.sendUnaryData<Response>) => void {
  return (call, callback) => {
    handler(call.request, call).then(
      (response) => callback(null, response),
      (error: unknown) => {
        const status = error instanceof EtcdFailure ? error.status : toEtcdError(error);
        callback({ code: status.code, details: status.details } as grpc.ServiceError);
      },
    );
  };
}

/**
 * Membership implements etcd's Cluster service (MemberAdd, MemberRemove, MemberUpdate,
 * MemberPromote, MemberList) and Maintenance.MoveLeader on a raftkit member. Changes go
 * through the log — a configuration change whose context is the etcd `Member`, or a
 * MemberUpdate command — and are answered once applied here. etcd's strict
 * reconfiguration checks apply: a voter is added only if enough members have started to
 * keep a quorum, removed only if the remaining started and connected members keep one,
 * a learner promoted only once its log is within 90 % of the leader's, and at most one
 * learner exists.
 */
export class Membership {
  constructor(private readonly deps: MembershipDeps) {}

  private get members(): pb.Member[] {
    return this.deps.cluster.members().map(toPbMember);
  }

  private header(): pb.ResponseHeader {
    return this.deps.header(this.deps.revision());
  }

  /** service is the grpc-js implementation of etcdserverpb.Cluster. */
  service(): grpc.UntypedServiceImplementation {
    return {
      memberList: unary(async (_request: pb.MemberListRequest) => this.list()),
      memberAdd: unary((request: pb.MemberAddRequest) => this.add(request)),
      memberRemove: unary((request: pb.MemberRemoveRequest) => this.remove(request)),
      memberUpdate: unary((request: pb.MemberUpdateRequest) => this.update(request)),
      memberPromote: unary((request: pb.MemberPromoteRequest, call) =>
        this.promote(request, LeaderClients.isForwarded(call.metadata)),
      ),
    };
  }

  /** moveLeaderHandler is Maintenance.MoveLeader. */
  moveLeaderHandler(): grpc.handleUnaryCall<pb.MoveLeaderRequest, pb.MoveLeaderResponse> {
    return unary((request: pb.MoveLeaderRequest) => this.moveLeader(request));
  }

  list(): pb.MemberListResponse {
    return { header: this.header(), members: this.members };
  }

  private canonicalPeerUrls(urls: readonly string[] | undefined): string[] {
    if (urls === undefined || urls.length === 0) return fail(ETCD_ERRORS.memberBadUrls);
    try {
      return urls.map((url) => canonicalUrl(url, { setting: 'peer-urls', use: 'advertise' }));
    } catch {
      return fail(ETCD_ERRORS.memberBadUrls);
    }
  }

  private checkPeerUrlsFree(urls: readonly string[], owner: bigint | undefined): void {
    for (const member of this.deps.cluster.members()) {
      if (member.id === owner) continue;
      if (member.peerUrls.some((url) => urls.includes(url))) fail(ETCD_ERRORS.peerUrlExist);
    }
  }

  private voters(): ClusterMember[] {
    return this.deps.cluster.members().filter((member) => !member.isLearner);
  }

  /** A member has started once it published its name through the log (etcd's rule). */
  private static started(member: ClusterMember): boolean {
    return member.name !== '';
  }

  private async propose(cc: ConfChange): Promise<void> {
    await this.deps.node.proposeConfChange(cc);
  }

  async add(request: pb.MemberAddRequest): Promise<pb.MemberAddResponse> {
    const peerUrls = this.canonicalPeerUrls(request.peerURLs);
    const isLearner = request.isLearner === true;
    this.checkPeerUrlsFree(peerUrls, undefined);
    if (isLearner) {
      const learners = this.deps.cluster.members().filter((member) => member.isLearner);
      if (learners.length >= MAX_LEARNERS) fail(ETCD_ERRORS.tooManyLearners);
    } else {
      // etcd's isReadyToAddVotingMember: the started voters must be a quorum of the
      // voters including the new one, which has not started yet.
      const voters = this.voters();
      const started = voters.filter(Membership.started).length;
      if (started < Math.floor((voters.length + 1) / 2) + 1) {
        fail(ETCD_ERRORS.memberNotEnoughStarted);
      }
    }
    // etcd mixes the time into the id so a re-added URL gets a new id; a later second is
    // tried if the id is taken (a member removed in this very second had it).
    let id = 0n;
    const now = this.deps.nowSeconds();
    for (let attempt = 0; attempt < 16; attempt++) {
      const candidate = computeMemberId(peerUrls, this.deps.token, now + attempt);
      let nodeId: NodeId;
      try {
        nodeId = toNodeId(candidate);
      } catch {
        continue;
      }
      // By NodeId: a removed or present member with the same low 53 bits blocks it too.
      if (this.deps.cluster.isMember(nodeId) || this.deps.cluster.isRemoved(nodeId)) continue;
      id = candidate;
      break;
    }
    if (id === 0n) fail(ETCD_ERRORS.memberExist);
    const member: pb.Member = { ID: id, name: '', peerURLs: peerUrls, clientURLs: [], isLearner };
    await this.propose({
      transition: 'auto',
      changes: [{ type: isLearner ? 'addLearnerNode' : 'addNode', nodeId: toNodeId(id) }],
      context: memberContext(member),
    });
    return { header: this.header(), member, members: this.members };
  }

  async remove(request: pb.MemberRemoveRequest): Promise<pb.MemberRemoveResponse> {
    const id = request.ID ?? 0n;
    const member = this.deps.cluster.member(id);
    if (member === undefined) return fail(ETCD_ERRORS.memberNotFound);
    if (!member.isLearner) {
      // etcd's isReadyToRemoveVotingMember: the started voters left must be a quorum.
      const remaining = this.voters().filter((voter) => voter.id !== id);
      const started = remaining.filter(Membership.started).length;
      if (started < Math.floor(remaining.length / 2) + 1) {
        fail(ETCD_ERRORS.memberNotEnoughStarted);
      }
      // etcd's mayRemoveMember: a member that is down is safe to remove; otherwise the
      // connected voters (this one included) must keep a quorum without it.
      const down = member.nodeId !== this.deps.nodeId && !this.deps.isPeerConnected(member.nodeId);
      if (!down) {
        const voters = this.voters();
        const active = voters.filter(
          (voter) => voter.nodeId === this.deps.nodeId || this.deps.isPeerConnected(voter.nodeId),
        ).length;
        if (active - 1 < 1 + Math.floor((voters.length - 1) / 2)) fail(ETCD_ERRORS.unhealthy);
      }
    }
    await this.propose({
      transition: 'auto',
      changes: [{ type: 'removeNode', nodeId: member.nodeId }],
      context: memberContext({ ...toPbMember(member) }),
    });
    return { header: this.header(), members: this.members };
  }

  async update(request: pb.MemberUpdateRequest): Promise<pb.MemberUpdateResponse> {
    const id = request.ID ?? 0n;
    if (!this.deps.cluster.isMember(id)) return fail(ETCD_ERRORS.memberNotFound);
    const peerUrls = this.canonicalPeerUrls(request.peerURLs);
    this.checkPeerUrlsFree(peerUrls, id);
    const result = await this.deps.node.propose(
      encodeKvCommand(
        'memberUpdate',
        undefined,
        encodeEtcdMessage('Member', { ID: id, peerURLs: peerUrls }),
      ),
    );
    if (result.kind === 'memberUpdate' && result.error !== undefined) throw result.error;
    return { header: this.header(), members: this.members };
  }

  async promote(
    request: pb.MemberPromoteRequest,
    forwarded = false,
  ): Promise<pb.MemberPromoteResponse> {
    const id = request.ID ?? 0n;
    const member = this.deps.cluster.member(id);
    if (member === undefined) return fail(ETCD_ERRORS.memberNotFound);
    if (!member.isLearner) return fail(ETCD_ERRORS.memberNotLearner);
    if (!this.deps.node.isLeader()) return this.forwardPromote(request, forwarded);
    // etcd's isLearnerReady: the learner's log has reached 90 % of the leader's.
    const progress = this.deps.node.status().progress;
    const leaderMatch = progress?.get(this.deps.nodeId)?.match ?? 0;
    const learnerMatch = progress?.get(member.nodeId)?.match ?? 0;
    if (learnerMatch < leaderMatch * LEARNER_READY_RATIO) fail(ETCD_ERRORS.learnerNotReady);
    await this.propose({
      transition: 'auto',
      changes: [{ type: 'addNode', nodeId: member.nodeId }],
      context: memberContext({ ...toPbMember(member), isLearner: false }),
    });
    return { header: this.header(), members: this.members };
  }

  /** forwardPromote sends a MemberPromote to the leader, which alone knows the learner's progress. */
  private async forwardPromote(
    request: pb.MemberPromoteRequest,
    forwarded: boolean,
  ): Promise<pb.MemberPromoteResponse> {
    // A promote forwarded here by a member that took this one for the leader goes no further.
    if (forwarded) return fail(ETCD_ERRORS.leaderChanged);
    try {
      return await this.deps.leader.unary(
        CLUSTER_SERVICE.memberPromote,
        { ID: request.ID ?? 0n },
        5 * this.deps.electionTimeoutMs,
        ETCD_ERRORS.noLeader,
      );
    } catch (error) {
      throw new EtcdFailure(error as EtcdServiceError);
    }
  }

  async moveLeader(request: pb.MoveLeaderRequest): Promise<pb.MoveLeaderResponse> {
    const node = this.deps.node;
    if (!node.isLeader()) return fail(ETCD_ERRORS.notLeader);
    const target = this.deps.cluster.member(request.targetID ?? 0n);
    if (target === undefined || target.isLearner) return fail(ETCD_ERRORS.badLeaderTransferee);
    if (target.nodeId !== this.deps.nodeId) {
      node.transferLeader(target.nodeId);
      // Raft aborts a transfer that has not finished within an election timeout; wait a
      // little longer than that for the new leader to be known here.
      const moved = await this.deps.waitForLeader(target.nodeId, 2 * this.deps.electionTimeoutMs);
      if (!moved) {
        fail(node.leader() === NONE ? ETCD_ERRORS.noLeader : ETCD_ERRORS.leaderTransferTimeout);
      }
    }
    return { header: this.header() };
  }
}

/** describeMember is a log-friendly rendering of a member. */
export function describeMember(member: Pick<ClusterMember, 'id' | 'name' | 'peerUrls'>): string {
  return `${formatMemberId(member.id)}${member.name === '' ? '' : ` (${member.name})`} ${member.peerUrls.join(',')}`;
}
