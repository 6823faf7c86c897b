import type { Message } from './message.js';
import type { ReadState } from './read-only.js';
import type { Ready } from './ready.js';
import type { ConfState, Entry, HardState, Snapshot, SoftState } from './types.js';

/**
 * describeData renders a payload: quoted when it is printable ASCII, hex otherwise, and
 * elided past 64 bytes, so logs and golden files stay stable and readable.
 */
export function describeData(data: Uint8Array): string {
  let printable = true;
  for (let i = 0; i < data.length; i++) {
    const byte = data[i]!;
    if (byte < 0x20 || byte > 0x7e || byte === 0x22 || byte === 0x5c) {
      printable = false;
      break;
    }
  }
  const shown = data.subarray(0, 64);
  const more = data.length > 64 ? `…(${data.length}B)` : '';
  if (printable) return `"${String.fromCharCode(...shown)}"${more}`;
  let hex = '';
  for (const byte of shown) hex += byte.toString(16).padStart(2, '0');
  return `0x${hex}${more}`;
}

/** describeEntry renders an entry as `term/index Type data`. */
export function describeEntry(entry: Entry): string {
  const type = entry.type === 'normal' ? 'EntryNormal' : 'EntryConfChange';
  return `${entry.term}/${entry.index} ${type}${entry.data.length > 0 ? ` ${describeData(entry.data)}` : ''}`;
}

/** describeEntries renders a list of entries, one per line. */
export function describeEntries(entries: readonly Entry[]): string {
  return entries.map(describeEntry).join('\n');
}

/** describeHardState renders a hard state as `Term:T Vote:V Commit:C`. */
export function describeHardState(hardState: HardState): string {
  return `Term:${hardState.term} Vote:${hardState.vote} Commit:${hardState.commit}`;
}

/** describeSoftState renders a soft state as `Lead:L State:Role`. */
export function describeSoftState(softState: SoftState): string {
  return `Lead:${softState.leader} State:${softState.role}`;
}

/** describeConfState renders a membership as `Voters:[…] VotersOutgoing:[…] Learners:[…]…`. */
export function describeConfState(confState: ConfState): string {
  let out = `Voters:[${confState.voters.join(' ')}]`;
  if (confState.votersOutgoing.length > 0)
    out += ` VotersOutgoing:[${confState.votersOutgoing.join(' ')}]`;
  out += ` Learners:[${confState.learners.join(' ')}]`;
  if (confState.learnersNext.length > 0)
    out += ` LearnersNext:[${confState.learnersNext.join(' ')}]`;
  if (confState.autoLeave) out += ' AutoLeave:true';
  return out;
}

/** describeSnapshot renders a snapshot's metadata. */
export function describeSnapshot(snapshot: Snapshot): string {
  const { index, term, confState } = snapshot.metadata;
  return `Index:${index} Term:${term} ConfState:${describeConfState(confState)}`;
}

function describeContext(context: Uint8Array): string {
  return context.length > 0 ? ` Context:${describeData(context)}` : '';
}

/** describeMessage renders a message as `from->to Type Term:T …`, one line. */
export function describeMessage(message: Message): string {
  let out = `${message.from}->${message.to} ${message.type} Term:${message.term}`;
  switch (message.type) {
    case 'MsgApp':
      out += ` Log:${message.logTerm}/${message.index} Commit:${message.commit}`;
      if (message.entries.length > 0)
        out += ` Entries:[${message.entries.map(describeEntry).join(', ')}]`;
      return out;
    case 'MsgAppResp':
      out += ` Index:${message.index}`;
      if (message.reject)
        out += ` Rejected (Hint: ${message.rejectHint}) LogTerm:${message.logTerm}`;
      return out;
    case 'MsgVote':
    case 'MsgPreVote':
      out += ` Log:${message.logTerm}/${message.index}`;
      if (message.transfer) out += ' Transfer';
      return out;
    case 'MsgVoteResp':
    case 'MsgPreVoteResp':
    case 'MsgSnapStatus':
      return message.reject ? `${out} Rejected` : out;
    case 'MsgHeartbeat':
      return `${out} Commit:${message.commit}${describeContext(message.context)}`;
    case 'MsgHeartbeatResp':
    case 'MsgReadIndex':
      return out + describeContext(message.context);
    case 'MsgReadIndexResp':
      return `${out} Index:${message.index}${describeContext(message.context)}`;
    case 'MsgProp':
      return `${out} Entries:[${message.entries.map(describeEntry).join(', ')}]`;
    case 'MsgSnap':
      return `${out} Snapshot: ${describeSnapshot(message.snapshot)}`;
    case 'MsgHup':
      return message.transfer ? `${out} Transfer` : out;
    case 'MsgBeat':
    case 'MsgCheckQuorum':
    case 'MsgUnreachable':
    case 'MsgTimeoutNow':
    case 'MsgTransferLeader':
      return out;
  }
}

/** describeReadState renders a read point. */
export function describeReadState(readState: ReadState): string {
  return `Index:${readState.index}${describeContext(readState.context)}`;
}

/** describeReady renders every non-empty part of a Ready, one item per line. */
export function describeReady(ready: Ready): string {
  const lines: string[] = [];
  if (ready.softState !== undefined) lines.push(describeSoftState(ready.softState));
  if (ready.hardState !== undefined) lines.push(`HardState ${describeHardState(ready.hardState)}`);
  if (ready.readStates.length > 0) {
    lines.push('ReadStates:');
    for (const readState of ready.readStates) lines.push(`  ${describeReadState(readState)}`);
  }
  if (ready.entries.length > 0) {
    lines.push('Entries:');
    for (const entry of ready.entries) lines.push(`  ${describeEntry(entry)}`);
  }
  if (ready.snapshot !== undefined) lines.push(`Snapshot ${describeSnapshot(ready.snapshot)}`);
  if (ready.committedEntries.length > 0) {
    lines.push('CommittedEntries:');
    for (const entry of ready.committedEntries) lines.push(`  ${describeEntry(entry)}`);
  }
  if (ready.messages.length > 0) {
    lines.push('Messages:');
    for (const message of ready.messages) lines.push(`  ${describeMessage(message)}`);
  }
  if (ready.persistedMessages.length > 0) {
    lines.push('Messages (after persist):');
    for (const message of ready.persistedMessages) lines.push(`  ${describeMessage(message)}`);
  }
  if (ready.mustSync) lines.push('MustSync');
  return lines.join('\n');
}
