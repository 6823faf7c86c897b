import { fileURLToPath } from 'node:url';
import type { Root } from 'protobufjs';
import protobuf from 'protobufjs';

/**
 * RAFT_PROTO_URL locates the shipped `proto/raft.proto`, the wire contract of the peer
 * service. It is resolved relative to this module, so it works from `dist/` in an
 * installed package and from `src/` under vitest alike.
 */
export const RAFT_PROTO_URL: URL = new URL('../proto/raft.proto', import.meta.url);

let cached: Root | undefined;

/**
 * loadRaftProto parses raft.proto with protobufjs's reflection and returns its Root, for
 * tools that want to inspect or print peer traffic generically (e.g.
 * `root.lookupType('raftkit.raftpb.MessageBatch').decode(bytes)`), and for the
 * conformance test of the hand-written codec. The transport itself does not need it.
 */
export function loadRaftProto(): Root {
  if (cached === undefined) {
    cached = protobuf.loadSync(fileURLToPath(RAFT_PROTO_URL));
    cached.resolveAll();
  }
  return cached;
}
