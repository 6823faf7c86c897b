import * as grpc from '@grpc/grpc-js';
import { DecodeError, RpcConfigError } from './errors.js';
import { MEMBERS_PATH, serializeRaw } from './grpc-service.js';
import { toGrpcTarget } from './peer-address.js';
import { channelCredentials, type TlsOptions } from './tls.js';
import {
  decoding,
  expectEnd,
  finishShared,
  LENGTH_DELIMITED,
  newReader,
  readBigUint,
  readBool,
  readEnd,
  sharedWriter,
  skipField,
  tag,
  VARINT,
  writeBigUint,
  writeBool,
} from './wire-format.js';

// raft.proto's Members rpc: a member's view of the membership, asked for by a member
// joining an existing cluster (it learns the cluster id and its own id from it).

/** PeerMember is one member as raft.proto's MemberInfo carries it. */
export interface PeerMember {
  /** id is the 64-bit member id. */
  readonly id: bigint;
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
  readonly isLearner: boolean;
}

/** PeerMembership is a MembersResponse: the cluster id, its members, and removed ids. */
export interface PeerMembership {
  readonly clusterId: bigint;
  readonly members: readonly PeerMember[];
  readonly removed: readonly bigint[];
}

const MEMBERS_CLUSTER_ID = tag(1, VARINT);
const MEMBERS_MEMBER = tag(2, LENGTH_DELIMITED);
const MEMBERS_REMOVED = tag(3, VARINT);
const MEMBERS_REMOVED_PACKED = tag(3, LENGTH_DELIMITED);
const MEMBERS_FIELDS = 3;
const MEMBER_ID = tag(1, VARINT);
const MEMBER_NAME = tag(2, LENGTH_DELIMITED);
const MEMBER_PEER_URL = tag(3, LENGTH_DELIMITED);
const MEMBER_CLIENT_URL = tag(4, LENGTH_DELIMITED);
const MEMBER_IS_LEARNER = tag(5, VARINT);
const MEMBER_FIELDS = 5;

/** encodeMembersResponse serializes a PeerMembership as raft.proto's MembersResponse. */
export function encodeMembersResponse(membership: PeerMembership): Buffer {
  const writer = sharedWriter;
  writer.pos = 0;
  writeBigUint(writer, MEMBERS_CLUSTER_ID, membership.clusterId, 'clusterId');
  for (const member of membership.members) {
    writer.uint32(MEMBERS_MEMBER).fork();
    writeBigUint(writer, MEMBER_ID, member.id, 'member.id');
    if (member.name !== '') writer.uint32(MEMBER_NAME).string(member.name);
    for (const url of member.peerUrls) writer.uint32(MEMBER_PEER_URL).string(url);
    for (const url of member.clientUrls) writer.uint32(MEMBER_CLIENT_URL).string(url);
    writeBool(writer, MEMBER_IS_LEARNER, member.isLearner);
    writer.ldelim();
  }
  for (const id of membership.removed) writeBigUint(writer, MEMBERS_REMOVED, id, 'removed');
  return finishShared(writer);
}

/** decodeMembersResponse parses a MembersResponse. Throws DecodeError for malformed bytes. */
export function decodeMembersResponse(bytes: Uint8Array): PeerMembership {
  return decoding('MembersResponse', () => {
    const r = newReader(bytes);
    let clusterId = 0n;
    const members: PeerMember[] = [];
    const removed: bigint[] = [];
    while (r.pos < r.len) {
      const fieldTag = r.uint32();
      switch (fieldTag) {
        case MEMBERS_CLUSTER_ID:
          clusterId = readBigUint(r, 'clusterId');
          break;
        case MEMBERS_MEMBER: {
          const end = readEnd(r, 'member');
          let id = 0n;
          let name = '';
          let isLearner = false;
          const peerUrls: string[] = [];
          const clientUrls: string[] = [];
          while (r.pos < end) {
            const memberTag = r.uint32();
            switch (memberTag) {
              case MEMBER_ID:
                id = readBigUint(r, 'member.id');
                break;
              case MEMBER_NAME:
                name = r.string();
                break;
              case MEMBER_PEER_URL:
                peerUrls.push(r.string());
                break;
              case MEMBER_CLIENT_URL:
                clientUrls.push(r.string());
                break;
              case MEMBER_IS_LEARNER:
                isLearner = readBool(r, 'member.isLearner');
                break;
              default:
                skipField(r, memberTag, MEMBER_FIELDS, 'MemberInfo');
            }
          }
          expectEnd(r, end, 'MemberInfo');
          if (id === 0n) throw new DecodeError('MemberInfo has no id');
          members.push({ id, name, peerUrls, clientUrls, isLearner });
          break;
        }
        case MEMBERS_REMOVED:
          removed.push(readBigUint(r, 'removed'));
          break;
        case MEMBERS_REMOVED_PACKED: {
          const end = readEnd(r, 'removed');
          while (r.pos < end) removed.push(readBigUint(r, 'removed'));
          expectEnd(r, end, 'removed');
          break;
        }
        default:
          skipField(r, fieldTag, MEMBERS_FIELDS, 'MembersResponse');
      }
    }
    return { clusterId, members, removed };
  });
}

/** FetchMembersOptions configure `fetchMembers`. */
export interface FetchMembersOptions {
  readonly tls?: TlsOptions;
  /** timeoutMs bounds the call. Default 5 000 ms. */
  readonly timeoutMs?: number;
}

/**
 * fetchMembers asks the member serving the Raft service at `address` (`host:port` or a
 * peer URL) for its view of the membership. It rejects with the gRPC error when the
 * member cannot be reached and with DecodeError when the answer is malformed.
 */
export async function fetchMembers(
  address: string,
  options: FetchMembersOptions = {},
): Promise<PeerMembership> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new RpcConfigError(`timeoutMs must be a positive number, got ${timeoutMs}`);
  }
  const client = new grpc.Client(toGrpcTarget(address), channelCredentials(options.tls));
  try {
    const bytes = await new Promise<Buffer>((resolve, reject) => {
      client.makeUnaryRequest(
        MEMBERS_PATH,
        serializeRaw,
        (value: Buffer) => value,
        Buffer.alloc(0),
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (error, value) => (error || value === undefined ? reject(error) : resolve(value)),
      );
    });
    return decodeMembersResponse(bytes);
  } finally {
    client.close();
  }
}
