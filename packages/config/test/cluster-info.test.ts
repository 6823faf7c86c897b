import { type Logger, NONE } from '@raftkit/core';
import { describe, expect, it } from 'vitest';
import {
  type ClusterChange,
  ClusterInfo,
  computeMemberId,
  MembershipError,
  parseServerConfig,
  toNodeId,
} from '../src/index.js';

const CLUSTER =
  'infra0=http://10.0.1.10:2380,infra1=http://10.0.1.11:2380,infra2=http://10.0.1.12:2380';

function bootstrapInfo(): ClusterInfo {
  const config = parseServerConfig([
    '--name=infra1',
    '--initial-advertise-peer-urls=http://10.0.1.11:2380',
    '--listen-client-urls=http://0.0.0.0:2379',
    '--advertise-client-urls=http://10.0.1.11:2379',
    `--initial-cluster=${CLUSTER}`,
    '--initial-cluster-token=prod',
  ]);
  return ClusterInfo.fromServerConfig(config);
}

function nodeIdOf(info: ClusterInfo, name: string): number {
  return info.memberByName(name)!.nodeId;
}

function recordChanges(info: ClusterInfo): ClusterChange[] {
  const changes: ClusterChange[] = [];
  info.onChange((change) => changes.push(change));
  return changes;
}

function membershipError(run: () => unknown): MembershipError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(MembershipError);
    return error as MembershipError;
  }
  throw new Error('expected a MembershipError');
}

describe('ClusterInfo.fromServerConfig', () => {
  it('holds the initial members sorted by id, with derived ids and local client URLs', () => {
    const info = bootstrapInfo();
    const members = info.members();
    expect(members.map((member) => member.name).sort()).toEqual(['infra0', 'infra1', 'infra2']);
    const ids = members.map((member) => member.id);
    expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : 1)));
    const infra0 = info.memberByName('infra0')!;
    expect(infra0.id).toBe(computeMemberId(['http://10.0.1.10:2380'], 'prod'));
    expect(infra0.nodeId).toBe(toNodeId(infra0.id));
    expect(infra0.clientUrls).toEqual([]);
    expect(info.local()?.name).toBe('infra1');
    expect(info.local()?.clientUrls).toEqual(['http://10.0.1.11:2379']);
    expect(members.every((member) => member.role === 'unknown' && !member.isLearner)).toBe(true);
    expect(info.leader()).toBeUndefined();
    expect(info.leaderId).toBe(NONE);
  });

  it('refuses a joining server, whose ids come from the running cluster', () => {
    const config = parseServerConfig([
      '--name=infra2',
      '--initial-advertise-peer-urls=http://10.0.1.12:2380',
      `--initial-cluster=${CLUSTER}`,
      '--initial-cluster-state=existing',
    ]);
    expect(() => ClusterInfo.fromServerConfig(config)).toThrow(
      /build the ClusterInfo from its member list/,
    );
  });
});

describe('ClusterInfo queries', () => {
  it('finds members by NodeId, etcd id and name', () => {
    const info = bootstrapInfo();
    const infra2 = info.memberByName('infra2')!;
    expect(info.member(infra2.nodeId)).toBe(infra2);
    expect(info.member(infra2.id)).toBe(infra2);
    expect(info.isMember(infra2.id)).toBe(true);
    expect(info.isMember(12345)).toBe(false);
    expect(info.peerUrlsOf(infra2.nodeId)).toEqual(['http://10.0.1.12:2380']);
    expect(info.peerUrlOf(infra2.nodeId)).toBe('http://10.0.1.12:2380');
    expect(info.peerUrlOf(12345)).toBeUndefined();
    expect(info.voters()).toHaveLength(3);
    expect(info.learners()).toEqual([]);
  });

  it('returns frozen snapshots that later changes do not touch', () => {
    const info = bootstrapInfo();
    const before = info.members();
    expect(Object.isFrozen(before)).toBe(true);
    expect(Object.isFrozen(before[0])).toBe(true);
    info.updateFromStatus({ id: nodeIdOf(info, 'infra1'), leader: nodeIdOf(info, 'infra0') });
    expect(before.every((member) => member.role === 'unknown')).toBe(true);
    expect(info.members()).not.toBe(before);
  });
});

describe('ClusterInfo roles from status', () => {
  it('marks the leader and assumes voters follow it', () => {
    const info = bootstrapInfo();
    const changes = recordChanges(info);
    const leader = nodeIdOf(info, 'infra0');
    expect(
      info.updateFromStatus({ id: info.localNodeId!, leader, role: 'follower', term: 2 }),
    ).toBe(true);
    expect(info.leader()?.name).toBe('infra0');
    expect(info.leaderId).toBe(leader);
    expect(info.term).toBe(2);
    expect(info.memberByName('infra1')!.role).toBe('follower');
    expect(info.memberByName('infra2')!.role).toBe('follower');
    expect(changes.filter((change) => change.kind === 'leaderChanged')).toEqual([
      { kind: 'leaderChanged', leader: info.leader(), previous: undefined },
    ]);
    expect(changes.filter((change) => change.kind === 'roleChanged')).toHaveLength(2);
  });

  it('ignores a report from an older term', () => {
    const info = bootstrapInfo();
    info.updateFromStatus({
      id: nodeIdOf(info, 'infra2'),
      leader: nodeIdOf(info, 'infra2'),
      role: 'leader',
      term: 5,
    });
    const changes = recordChanges(info);
    expect(
      info.updateFromStatus({
        id: nodeIdOf(info, 'infra0'),
        leader: nodeIdOf(info, 'infra0'),
        role: 'leader',
        term: 4,
      }),
    ).toBe(false);
    expect(info.leader()?.name).toBe('infra2');
    expect(changes).toEqual([]);
  });

  it('shows a campaigning member as candidate while no leader is known', () => {
    const info = bootstrapInfo();
    info.updateFromStatus({
      id: nodeIdOf(info, 'infra0'),
      leader: nodeIdOf(info, 'infra2'),
      term: 3,
    });
    info.updateFromStatus({ id: info.localNodeId!, leader: NONE, role: 'preCandidate', term: 3 });
    expect(info.leader()).toBeUndefined();
    expect(info.local()!.role).toBe('candidate');
    // Roles assumed under the old leader are forgotten once it is gone.
    expect(info.memberByName('infra0')!.role).toBe('unknown');
    expect(info.memberByName('infra2')!.role).toBe('unknown');
  });

  it('forgets roles reported under a previous leader', () => {
    const info = bootstrapInfo();
    info.updateFromStatus({
      id: nodeIdOf(info, 'infra2'),
      leader: NONE,
      role: 'candidate',
      term: 7,
    });
    expect(info.memberByName('infra2')!.role).toBe('candidate');
    info.updateFromStatus({
      id: nodeIdOf(info, 'infra0'),
      leader: nodeIdOf(info, 'infra0'),
      role: 'leader',
      term: 7,
    });
    expect(info.memberByName('infra2')!.role).toBe('follower');
  });

  it('accepts reports without a term as the latest', () => {
    const info = bootstrapInfo();
    info.updateFromStatus({ id: nodeIdOf(info, 'infra0'), leader: nodeIdOf(info, 'infra0') });
    info.updateFromStatus({ id: nodeIdOf(info, 'infra1'), leader: nodeIdOf(info, 'infra1') });
    expect(info.leader()?.name).toBe('infra1');
    expect(info.term).toBeUndefined();
  });
});

describe('ClusterInfo membership changes', () => {
  const learnerId = computeMemberId(['http://10.0.1.13:2380'], 'prod', 1_700_000_000);

  it('adds a learner, publishes its name and client URLs, then promotes it', () => {
    const info = bootstrapInfo();
    const changes = recordChanges(info);
    const added = info.addMember({
      id: learnerId,
      peerUrls: ['http://10.0.1.13:2380'],
      isLearner: true,
    });
    expect(added).toMatchObject({
      name: '',
      isLearner: true,
      role: 'learner',
      nodeId: toNodeId(learnerId),
    });
    expect(info.learners()).toEqual([added.nodeId]);
    const published = info.updateMember(learnerId, {
      name: 'infra3',
      clientUrls: ['http://10.0.1.13:2379'],
    });
    expect(published.name).toBe('infra3');
    expect(info.clientUrls()).toEqual(['http://10.0.1.11:2379', 'http://10.0.1.13:2379']);
    const promoted = info.promoteMember(added.nodeId);
    expect(promoted.isLearner).toBe(false);
    expect(info.voters()).toContain(added.nodeId);
    expect(changes.map((change) => change.kind)).toEqual([
      'memberAdded',
      'memberUpdated',
      'memberUpdated',
      'roleChanged',
    ]);
  });

  it('removes a member for good, clearing it as leader', () => {
    const info = bootstrapInfo();
    const leader = info.memberByName('infra0')!;
    info.updateFromStatus({ id: leader.nodeId, leader: leader.nodeId, role: 'leader', term: 2 });
    const changes = recordChanges(info);
    expect(info.removeMember(leader.id).name).toBe('infra0');
    expect(info.isMember(leader.nodeId)).toBe(false);
    expect(info.leader()).toBeUndefined();
    expect(changes.map((change) => change.kind)).toEqual([
      'memberRemoved',
      'roleChanged',
      'roleChanged',
      'leaderChanged',
    ]);
    const error = membershipError(() =>
      info.addMember({ id: leader.id, peerUrls: ['http://10.0.9.9:2380'] }),
    );
    expect(error.reason).toBe('idRemoved');
    expect(error.message).toMatch(/was removed from the cluster and cannot be added back/);
  });

  it('refuses changes that contradict the membership, changing nothing', () => {
    const info = bootstrapInfo();
    const infra0 = info.memberByName('infra0')!;
    const before = info.members();
    expect(
      membershipError(() => info.addMember({ id: infra0.id, peerUrls: ['http://10.0.9.9:2380'] }))
        .reason,
    ).toBe('idExists');
    expect(
      membershipError(() => info.addMember({ id: learnerId, peerUrls: ['http://10.0.1.10:2380'] }))
        .message,
    ).toMatch(/peer URL http:\/\/10.0.1.10:2380 already belongs to member [0-9a-f]+ \(infra0\)/);
    // Same low 53 bits, different etcd id: the raft NodeIds would collide.
    const twin = infra0.id ^ (1n << 60n);
    expect(
      membershipError(() => info.addMember({ id: twin, peerUrls: ['http://10.0.9.9:2380'] }))
        .reason,
    ).toBe('nodeIdCollision');
    expect(
      membershipError(() =>
        info.updateMember(infra0.nodeId, { peerUrls: ['http://10.0.1.12:2380'] }),
      ).reason,
    ).toBe('peerUrlExists');
    expect(membershipError(() => info.promoteMember(infra0.nodeId)).reason).toBe('notLearner');
    expect(membershipError(() => info.removeMember(42)).reason).toBe('idNotFound');
    expect(membershipError(() => info.updateMember(42n, { name: 'x' })).message).toMatch(
      /member 2a is not in the cluster/,
    );
    expect(() => info.addMember({ id: 1n << 53n, peerUrls: ['http://10.0.9.9:2380'] })).toThrow(
      RangeError,
    );
    expect(() => info.addMember({ id: 0n, peerUrls: ['http://10.0.9.9:2380'] })).toThrow(
      RangeError,
    );
    expect(() => info.addMember({ id: learnerId, peerUrls: [] })).toThrow(/at least one peer URL/);
    expect(info.members()).toEqual(before);
  });

  it('lets a member keep its own URLs on update', () => {
    const info = bootstrapInfo();
    const infra0 = info.memberByName('infra0')!;
    const updated = info.updateMember(infra0.id, {
      peerUrls: ['http://10.0.1.10:2380', 'http://10.0.2.10:2380'],
    });
    expect(updated.peerUrls).toEqual(['http://10.0.1.10:2380', 'http://10.0.2.10:2380']);
  });
});

describe('ClusterInfo listeners', () => {
  it('unsubscribes, and survives a listener that throws', () => {
    const errors: string[] = [];
    const logger: Logger = {
      debug() {},
      info() {},
      warn() {},
      error: (message) => errors.push(message),
    };
    const info = new ClusterInfo({
      clusterId: 1n,
      members: [{ id: 7n, name: 'solo', peerUrls: ['http://10.0.0.1:2380'] }],
      localNodeId: 7,
      logger,
    });
    const seen: string[] = [];
    info.onChange(() => {
      throw new Error('listener bug');
    });
    const unsubscribe = info.onChange((change) => seen.push(change.kind));
    info.updateFromStatus({ id: 7, leader: 7, role: 'leader', term: 1 });
    expect(seen).toEqual(['leaderChanged']);
    expect(errors).toEqual(['ClusterInfo listener threw']);
    unsubscribe();
    info.updateFromStatus({ id: 7, leader: NONE, role: 'follower', term: 2 });
    expect(seen).toEqual(['leaderChanged']);
  });

  it('is silent when nothing changed', () => {
    const info = bootstrapInfo();
    const leader = nodeIdOf(info, 'infra0');
    info.updateFromStatus({ id: leader, leader, role: 'leader', term: 1 });
    const changes = recordChanges(info);
    info.updateFromStatus({ id: leader, leader, role: 'leader', term: 1 });
    expect(changes).toEqual([]);
  });
});

describe('ClusterInfo.reset (a replica restoring a snapshot)', () => {
  it('replaces members and removed ids, keeps the leader, and reports the differences', () => {
    const info = bootstrapInfo();
    const infra0 = info.memberByName('infra0')!;
    const infra2 = info.memberByName('infra2')!;
    info.updateFromStatus({ id: infra0.nodeId, leader: infra0.nodeId, role: 'leader', term: 3 });
    const added = computeMemberId(['http://10.0.1.13:2380'], 'prod', 1_700_000_000);
    const changes = recordChanges(info);
    info.reset(
      [
        ...info.members().filter((member) => member.id !== infra2.id),
        { id: added, peerUrls: ['http://10.0.1.13:2380'], isLearner: true },
      ],
      [infra2.id],
    );
    expect(info.members().map((member) => member.id)).not.toContain(infra2.id);
    expect(info.member(added)?.isLearner).toBe(true);
    expect(info.removedIds()).toEqual([infra2.id]);
    expect(info.isRemoved(infra2.id)).toBe(true);
    expect(info.isRemoved(infra2.nodeId)).toBe(true);
    expect(info.isRemoved(infra0.id)).toBe(false);
    expect(info.leader()?.id).toBe(infra0.id);
    expect(changes.map((change) => change.kind).sort()).toEqual(['memberAdded', 'memberRemoved']);
    // A removed id cannot come back, not even by addMember after a reset.
    expect(
      membershipError(() => info.addMember({ id: infra2.id, peerUrls: ['http://x:1'] })).reason,
    ).toBe('idRemoved');
  });

  it('changes nothing when the new membership is refused', () => {
    const info = bootstrapInfo();
    const before = info.members();
    const [a, b] = before;
    expect(() =>
      info.reset(
        [
          { id: a!.id, peerUrls: ['http://10.0.1.20:2380'] },
          { id: b!.id, peerUrls: ['http://10.0.1.20:2380'] },
        ],
        [],
      ),
    ).toThrow(MembershipError);
    expect(info.members()).toEqual(before);
    expect(info.removedIds()).toEqual([]);
  });
});
