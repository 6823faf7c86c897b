import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServerConfig } from '@raftkit/config';
import { formatMemberId, type MemberSpec, parseMemberId, toNodeId } from '@raftkit/config';
import type { NodeId } from '@raftkit/core';
import { RaftError } from '@raftkit/core';
import { fetchMembers, type PeerMembership, type TlsOptions } from '@raftkit/rpc';

/** MEMBER_FILE is the file in the data dir that records who this member is. */
export const MEMBER_FILE = 'member.json';

/** MemberIdentity is which cluster this data dir belongs to and which member it is. */
export interface MemberIdentity {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  readonly nodeId: NodeId;
  readonly name: string;
}

/**
 * MemberIdentityError: the data dir's member file is unreadable, or this member cannot
 * join the cluster it was pointed at (not added, removed, peers unreachable).
 */
export class MemberIdentityError extends RaftError {
  constructor(message: string) {
    super('MEMBER_IDENTITY', message);
  }
}

/**
 * readMemberIdentity reads `dataDir/member.json`, or returns undefined when there is
 * none (a data dir never started). A file that exists but cannot be parsed is an error:
 * a member never guesses who it is.
 */
export async function readMemberIdentity(dataDir: string): Promise<MemberIdentity | undefined> {
  const path = join(dataDir, MEMBER_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MemberIdentityError(`cannot read ${path}: ${String(error)}`);
  }
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    if (parsed.version !== 1) throw new Error(`unknown version ${String(parsed.version)}`);
    if (typeof parsed.clusterId !== 'string' || typeof parsed.memberId !== 'string')
      throw new Error('clusterId and memberId must be hex strings');
    if (typeof parsed.name !== 'string') throw new Error('name must be a string');
    const memberId = parseMemberId(parsed.memberId);
    return {
      clusterId: parseMemberId(parsed.clusterId),
      memberId,
      nodeId: toNodeId(memberId),
      name: parsed.name,
    };
  } catch (error) {
    throw new MemberIdentityError(
      `${path} is corrupt (${error instanceof Error ? error.message : String(error)}); restore it from a backup, or remove the member from the cluster and re-add it with an empty data dir`,
    );
  }
}

/** writeMemberIdentity writes `dataDir/member.json` durably and atomically (temp file, fsync, rename). */
export async function writeMemberIdentity(
  dataDir: string,
  identity: MemberIdentity,
): Promise<void> {
  const path = join(dataDir, MEMBER_FILE);
  const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  const text = `${JSON.stringify(
    {
      version: 1,
      clusterId: formatMemberId(identity.clusterId),
      memberId: formatMemberId(identity.memberId),
      name: identity.name,
    },
    null,
    2,
  )}\n`;
  const file = await open(temp, 'w');
  try {
    await file.writeFile(text, 'utf8');
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
  const dir = await open(dataDir, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** JoinPlan is what a member joining an existing cluster learned from it. */
export interface JoinPlan {
  readonly identity: MemberIdentity;
  /** members are the cluster's members as the answering member knows them. */
  readonly members: readonly MemberSpec[];
}

/**
 * discoverJoin asks the members listed in `--initial-cluster` (other than this one) for
 * the cluster's membership, as etcd's `--initial-cluster-state existing` does, and finds
 * this member in it by its advertised peer URLs: `member add` must have added it first.
 */
export async function discoverJoin(
  config: ServerConfig,
  tls: TlsOptions | undefined,
): Promise<JoinPlan> {
  const own = new Set(config.initialAdvertisePeerUrls);
  const others = config.initialCluster
    .filter((member) => member.name !== config.name)
    .flatMap((member) => member.peerUrls)
    .filter((url) => !own.has(url));
  const failures: string[] = [];
  let membership: PeerMembership | undefined;
  for (const url of others) {
    try {
      membership = await fetchMembers(url, { ...(tls !== undefined ? { tls } : {}) });
      break;
    } catch (error) {
      failures.push(`${url}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (membership === undefined) {
    throw new MemberIdentityError(
      `could not get the cluster's membership from any member of --initial-cluster (${failures.join('; ')}); start this member when the cluster is reachable`,
    );
  }
  const sameUrls = (urls: readonly string[]) =>
    urls.length === own.size && urls.every((url) => own.has(url));
  const self = membership.members.find((member) => sameUrls(member.peerUrls));
  if (self === undefined) {
    throw new MemberIdentityError(
      `no member of cluster ${formatMemberId(membership.clusterId)} has the peer URLs ${[...own].join(',')}; add this member first (raftkitctl member add ${config.name} --peer-urls=${[...own].join(',')})`,
    );
  }
  return {
    identity: {
      clusterId: membership.clusterId,
      memberId: self.id,
      nodeId: toNodeId(self.id),
      name: config.name,
    },
    members: membership.members.map((member) => ({
      id: member.id,
      name: member.name,
      peerUrls: member.peerUrls,
      clientUrls: member.clientUrls,
      isLearner: member.isLearner,
    })),
  };
}
