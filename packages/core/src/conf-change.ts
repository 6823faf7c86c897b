import { ConfChangeError } from './errors.js';
import type { NodeId } from './types.js';
import { EMPTY_DATA } from './types.js';
import { varintLength, writeVarint } from './varint.js';

/**
 * ConfChangeType is what one change does to one node: make it a voter (adding it, or
 * promoting a learner), remove it, or make it a learner (adding it, or demoting a voter).
 */
export type ConfChangeType = 'addNode' | 'removeNode' | 'addLearnerNode';

/** ConfChangeSingle is one change to one node's membership. */
export interface ConfChangeSingle {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
}

/**
 * ConfChangeTransition says how a change is carried out (etcd-io/raft's
 * ConfChangeTransition):
 * - 'auto': a single change is applied directly (a "simple" change, thesis §4.1: one
 *   server at a time), several go through joint consensus (Raft paper §6) and the joint
 *   configuration is left automatically;
 * - 'implicit': always joint consensus, left automatically once the joint configuration
 *   is applied;
 * - 'explicit': always joint consensus, left only when the application proposes an
 *   empty ConfChange.
 */
export type ConfChangeTransition = 'auto' | 'implicit' | 'explicit';

/**
 * ConfChange is the data of a 'confChange' log entry: a list of single changes applied
 * together, how to apply them, and an opaque application context. An empty `changes`
 * list means "leave the joint configuration" (Raft paper §6: the second phase, C_new).
 */
export interface ConfChange {
  readonly transition: ConfChangeTransition;
  readonly changes: readonly ConfChangeSingle[];
  readonly context: Uint8Array;
}

/** LEAVE_JOINT is the ConfChange that leaves a joint configuration (no changes). */
export const LEAVE_JOINT: ConfChange = Object.freeze({
  transition: 'auto',
  changes: Object.freeze([]) as readonly ConfChangeSingle[],
  context: EMPTY_DATA,
});

/** isLeaveJoint reports whether `cc` asks to leave the joint configuration (no changes). */
export function isLeaveJoint(cc: ConfChange): boolean {
  return cc.changes.length === 0;
}

/**
 * enterJointOf decides how `cc` is applied, as etcd-io/raft's ConfChangeV2.EnterJoint
 * does: joint consensus (Raft paper §6) unless the transition is 'auto' with at most one
 * change, which is applied as a simple one-server change (thesis §4.1). `autoLeave` is
 * whether the joint configuration is left without an explicit request.
 */
export function enterJointOf(cc: ConfChange): { joint: boolean; autoLeave: boolean } {
  if (cc.transition === 'auto' && cc.changes.length <= 1) return { joint: false, autoLeave: false };
  return { joint: true, autoLeave: cc.transition !== 'explicit' };
}

// --- codec ------------------------------------------------------------------------------
//
// Layout: magic 0xCC, version 1, transition (0 auto, 1 implicit, 2 explicit), varint
// count of changes, then per change a type byte (0 addNode, 1 removeNode, 2
// addLearnerNode) and the node id as a varint, then the context length as a varint and
// the context bytes. Varints are unsigned LEB128 (up to 2^53 − 1). Nothing may follow.

const MAGIC = 0xcc;
const VERSION = 1;
const TRANSITIONS: readonly ConfChangeTransition[] = ['auto', 'implicit', 'explicit'];
const TYPES: readonly ConfChangeType[] = ['addNode', 'removeNode', 'addLearnerNode'];

function checkNodeId(nodeId: number): void {
  if (!Number.isSafeInteger(nodeId) || nodeId <= 0) {
    throw new ConfChangeError('invalidNodeId', `node id ${nodeId} is not a positive safe integer`);
  }
}

/**
 * encodeConfChange encodes `cc` in the compact binary form stored in 'confChange'
 * entries. Throws ConfChangeError for a node id that is not a positive safe integer or
 * an unknown type or transition.
 */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  const transition = TRANSITIONS.indexOf(cc.transition);
  if (transition < 0)
    throw new ConfChangeError('malformed', `unknown transition '${cc.transition}'`);
  let size = 3 + varintLength(cc.changes.length);
  for (const change of cc.changes) {
    checkNodeId(change.nodeId);
    if (!TYPES.includes(change.type)) {
      throw new ConfChangeError('malformed', `unknown change type '${change.type}'`);
    }
    size += 1 + varintLength(change.nodeId);
  }
  size += varintLength(cc.context.length) + cc.context.length;
  const out = new Uint8Array(size);
  out[0] = MAGIC;
  out[1] = VERSION;
  out[2] = transition;
  let offset = writeVarint(out, 3, cc.changes.length);
  for (const change of cc.changes) {
    out[offset++] = TYPES.indexOf(change.type);
    offset = writeVarint(out, offset, change.nodeId);
  }
  offset = writeVarint(out, offset, cc.context.length);
  out.set(cc.context, offset);
  return out;
}

/**
 * decodeConfChange decodes the data of a 'confChange' entry. Throws ConfChangeError
 * (reason 'malformed' or 'invalidNodeId') when `data` is not exactly one encoded
 * ConfChange. The context is a copy.
 */
export function decodeConfChange(data: Uint8Array): ConfChange {
  let offset = 0;
  const fail = (what: string): never => {
    throw new ConfChangeError('malformed', `${what} (at byte ${offset} of ${data.length})`);
  };
  const byte = (): number => {
    if (offset >= data.length) fail('truncated');
    return data[offset++]!;
  };
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (;;) {
      const b = byte();
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) break;
      scale *= 128;
      if (scale > 2 ** 49) fail('varint too long');
    }
    if (!Number.isSafeInteger(value)) fail('varint out of range');
    return value;
  };
  if (byte() !== MAGIC) fail('not a configuration change (bad magic byte)');
  const version = byte();
  if (version !== VERSION) fail(`unsupported version ${version}`);
  const transition = TRANSITIONS[byte()];
  if (transition === undefined) fail('unknown transition');
  const count = varint();
  // Each change takes at least two bytes: refuse absurd counts before allocating.
  if (count * 2 > data.length - offset) fail(`${count} changes cannot fit`);
  const changes: ConfChangeSingle[] = [];
  for (let i = 0; i < count; i++) {
    const type = TYPES[byte()];
    if (type === undefined) fail('unknown change type');
    const nodeId = varint();
    checkNodeId(nodeId);
    changes.push({ type: type!, nodeId });
  }
  const contextLength = varint();
  if (contextLength !== data.length - offset) fail('context length does not match the data');
  const context = data.slice(offset, offset + contextLength);
  return { transition: transition!, changes, context };
}

/** describeConfChange renders a ConfChange for logs, e.g. `auto[add 4, remove 2]`. */
export function describeConfChange(cc: ConfChange): string {
  if (isLeaveJoint(cc)) return `${cc.transition}[leave joint]`;
  const names: Record<ConfChangeType, string> = {
    addNode: 'add',
    removeNode: 'remove',
    addLearnerNode: 'addLearner',
  };
  return `${cc.transition}[${cc.changes.map((c) => `${names[c.type]} ${c.nodeId}`).join(', ')}]`;
}
