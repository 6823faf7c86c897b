import { formatMemberId } from '@raftkit/config';
import {
  type CompactionResponse,
  type DeleteRangeResponse,
  formatEtcdJson,
  type KeyValue,
  type LeaseGrantResponse,
  type LeaseKeepAliveResponse,
  type LeaseLeasesResponse,
  type LeaseRevokeResponse,
  type LeaseTimeToLiveResponse,
  type MemberAddResponse,
  type MemberListResponse,
  type MemberPromoteResponse,
  type MemberRemoveResponse,
  type MemberUpdateResponse,
  type MoveLeaderResponse,
  type PutResponse,
  type RangeResponse,
  type ResponseOp,
  type StatusResponse,
  type TxnResponse,
  type WatchResponse,
} from '@raftkit/rpc/etcd';
import type { OutputFormat } from './args.js';
import { quoteGo } from './go-quote.js';
import { humanizeBytes } from './humanize.js';
import { renderTable } from './table.js';

/** Output is what a command prints: lines (text or raw bytes), each ended by a newline. */
export type Output = (string | Uint8Array)[];

/** writeOutput writes each line of `output` to `io.stdout`, ended by a newline. */
export function writeOutput(
  io: { readonly stdout: { write(chunk: string | Uint8Array): unknown } },
  output: Output,
): void {
  for (const line of output) {
    io.stdout.write(line);
    io.stdout.write('\n');
  }
}

/** GetPrintOptions are the simple-format switches of `get`. */
export interface GetPrintOptions {
  /** printValueOnly prints values without keys. */
  readonly printValueOnly?: boolean;
  /** countOnly prints just the count. */
  readonly countOnly?: boolean;
}

function kvLines(kv: KeyValue, valueOnly = false): Output {
  // etcdctl prints key then value, as raw bytes; with --keys-only the value line is
  // empty, and etcdctl still prints it.
  return valueOnly ? [kv.value] : [kv.key, kv.value];
}

function unsupportedTable(command: string): never {
  throw new Error(`table output is not supported for ${command} (use simple or json)`);
}

/** formatPut renders a PutResponse: `OK` (plus the previous pair with --prev-kv). */
export function formatPut(response: PutResponse, format: OutputFormat): Output {
  if (format === 'json') return [formatEtcdJson('PutResponse', response)];
  if (format === 'table') unsupportedTable('put');
  return ['OK', ...(response.prevKv ? kvLines(response.prevKv) : [])];
}

/** formatGet renders a RangeResponse: key and value lines, values only, or the count. */
export function formatGet(
  response: RangeResponse,
  format: OutputFormat,
  options: GetPrintOptions = {},
): Output {
  if (format === 'json') return [formatEtcdJson('RangeResponse', response)];
  if (format === 'table') unsupportedTable('get');
  if (options.countOnly === true) return [response.count.toString()];
  return response.kvs.flatMap((kv) => kvLines(kv, options.printValueOnly === true));
}

/** formatDelete renders a DeleteRangeResponse: the number deleted, then any previous pairs. */
export function formatDelete(response: DeleteRangeResponse, format: OutputFormat): Output {
  if (format === 'json') return [formatEtcdJson('DeleteRangeResponse', response)];
  if (format === 'table') unsupportedTable('del');
  return [response.deleted.toString(), ...response.prevKvs.flatMap((kv) => kvLines(kv))];
}

function responseOpLines(op: ResponseOp): Output {
  if ('responsePut' in op) return formatPut(op.responsePut, 'simple');
  if ('responseRange' in op) return formatGet(op.responseRange, 'simple');
  if ('responseDeleteRange' in op) return formatDelete(op.responseDeleteRange, 'simple');
  return formatTxn(op.responseTxn, 'simple');
}

/** formatTxn renders a TxnResponse: SUCCESS or FAILURE, then each response after a blank line. */
export function formatTxn(response: TxnResponse, format: OutputFormat): Output {
  if (format === 'json') return [formatEtcdJson('TxnResponse', response)];
  if (format === 'table') unsupportedTable('txn');
  const out: Output = [response.succeeded ? 'SUCCESS' : 'FAILURE'];
  for (const op of response.responses) out.push('', ...responseOpLines(op));
  return out;
}

/** formatCompaction renders a CompactionResponse: `compacted revision N`. */
export function formatCompaction(
  response: CompactionResponse,
  revision: bigint,
  format: OutputFormat,
): Output {
  if (format === 'json') return [formatEtcdJson('CompactionResponse', response)];
  if (format === 'table') unsupportedTable('compaction');
  return [`compacted revision ${revision}`];
}

/** formatMemberList renders members: `id, started, name, peer URLs, client URLs, is learner`. */
export function formatMemberList(response: MemberListResponse, format: OutputFormat): Output {
  if (format === 'json') return [formatEtcdJson('MemberListResponse', response)];
  const rows = response.members.map((member) => [
    formatMemberId(member.ID),
    member.name === '' ? 'unstarted' : 'started',
    member.name,
    member.peerURLs.join(','),
    member.clientURLs.join(','),
    String(member.isLearner),
  ]);
  if (format === 'table') {
    return [
      renderTable(['ID', 'STATUS', 'NAME', 'PEER ADDRS', 'CLIENT ADDRS', 'IS LEARNER'], rows),
    ];
  }
  return rows.map((row) => row.join(', '));
}

// Go's `%16x`: lower-case hex, padded with spaces (not zeros) to 16 characters.
function paddedId(id: bigint): string {
  return formatMemberId(id).padStart(16, ' ');
}

/**
 * formatMemberAdd renders a MemberAddResponse: `Member <id> added to cluster <cid>`
 * (simple; etcdctl 3.4's wording, learner or not) or the response as JSON. The
 * environment lines that follow in simple output are `formatMemberAddEnvironment`'s.
 */
export function formatMemberAdd(response: MemberAddResponse, format: OutputFormat): Output {
  if (format === 'json') return [formatEtcdJson('MemberAddResponse', response)];
  if (format === 'table') unsupportedTable('member add');
  const id = response.member?.ID ?? 0n;
  return [`Member ${paddedId(id)} added to cluster ${paddedId(response.header?.clusterId ?? 0n)}`];
}

/**
 * formatMemberAddEnvironment is what etcdctl prints after a member add, to start the new
 * member with: a blank line, then ETCD_NAME, ETCD_INITIAL_CLUSTER (`name=peerURL` for
 * every peer URL of every member, in the list's order, the new member under `name`),
 * ETCD_INITIAL_ADVERTISE_PEER_URLS (`--peer-urls` as given) and
 * ETCD_INITIAL_CLUSTER_STATE, each value quoted as Go's `%q`.
 */
export function formatMemberAddEnvironment(
  name: string,
  peerUrlsText: string,
  newId: bigint,
  members: MemberListResponse,
): Output {
  const cluster = members.members.flatMap((member) =>
    member.peerURLs.map((url) => `${member.ID === newId ? name : member.name}=${url}`),
  );
  return [
    '',
    `ETCD_NAME=${quoteGo(name)}`,
    `ETCD_INITIAL_CLUSTER=${quoteGo(cluster.join(','))}`,
    `ETCD_INITIAL_ADVERTISE_PEER_URLS=${quoteGo(peerUrlsText)}`,
    'ETCD_INITIAL_CLUSTER_STATE="existing"',
  ];
}

/** formatMemberRemove renders `Member <id> removed from cluster <cid>`, or the response as JSON. */
export function formatMemberRemove(
  id: bigint,
  response: MemberRemoveResponse,
  format: OutputFormat,
): Output {
  if (format === 'json') return [formatEtcdJson('MemberRemoveResponse', response)];
  if (format === 'table') unsupportedTable('member remove');
  return [
    `Member ${paddedId(id)} removed from cluster ${paddedId(response.header?.clusterId ?? 0n)}`,
  ];
}

/** formatMemberUpdate renders `Member <id> updated in cluster <cid>`, or the response as JSON. */
export function formatMemberUpdate(
  id: bigint,
  response: MemberUpdateResponse,
  format: OutputFormat,
): Output {
  if (format === 'json') return [formatEtcdJson('MemberUpdateResponse', response)];
  if (format === 'table') unsupportedTable('member update');
  return [
    `Member ${paddedId(id)} updated in cluster ${paddedId(response.header?.clusterId ?? 0n)}`,
  ];
}

/**
 * formatMemberPromote renders `Member <id> promoted in cluster <cid>`, or the response as
 * JSON (etcdctl 3.4 crashes printing that JSON; 3.5 prints it).
 */
export function formatMemberPromote(
  id: bigint,
  response: MemberPromoteResponse,
  format: OutputFormat,
): Output {
  if (format === 'json') return [formatEtcdJson('MemberPromoteResponse', response)];
  if (format === 'table') unsupportedTable('member promote');
  return [
    `Member ${paddedId(id)} promoted in cluster ${paddedId(response.header?.clusterId ?? 0n)}`,
  ];
}

/** formatMoveLeader renders `Leadership transferred from <id> to <id>`, or the response as JSON. */
export function formatMoveLeader(
  from: bigint,
  to: bigint,
  response: MoveLeaderResponse,
  format: OutputFormat,
): Output {
  if (format === 'json') return [formatEtcdJson('MoveLeaderResponse', response)];
  if (format === 'table') unsupportedTable('move-leader');
  return [`Leadership transferred from ${formatMemberId(from)} to ${formatMemberId(to)}`];
}

/** EndpointStatus pairs an endpoint with its StatusResponse. */
export interface EndpointStatus {
  /** endpoint is the endpoint as given on the command line. */
  readonly endpoint: string;
  /** status is what it answered. */
  readonly status: StatusResponse;
}

function statusRow({ endpoint, status }: EndpointStatus): string[] {
  const memberId = status.header?.memberId ?? 0n;
  return [
    endpoint,
    formatMemberId(memberId),
    status.version,
    humanizeBytes(status.dbSize),
    String(status.leader !== 0n && status.leader === memberId),
    String(status.isLearner),
    status.raftTerm.toString(),
    status.raftIndex.toString(),
    status.raftAppliedIndex.toString(),
    status.errors.join(', '),
  ];
}

/** formatEndpointStatus renders `endpoint status` as etcdctl does in all three formats. */
export function formatEndpointStatus(
  statuses: readonly EndpointStatus[],
  format: OutputFormat,
): Output {
  if (format === 'json') {
    const items = statuses.map(
      (s) =>
        `{"Endpoint":${JSON.stringify(s.endpoint)},"Status":${formatEtcdJson('StatusResponse', s.status)}}`,
    );
    return [`[${items.join(',')}]`];
  }
  const rows = statuses.map(statusRow);
  if (format === 'table') {
    return [
      renderTable(
        [
          'ENDPOINT',
          'ID',
          'VERSION',
          'DB SIZE',
          'IS LEADER',
          'IS LEARNER',
          'RAFT TERM',
          'RAFT INDEX',
          'RAFT APPLIED INDEX',
          'ERRORS',
        ],
        rows,
      ),
    ];
  }
  return rows.map((row) => row.join(', '));
}

/**
 * formatLeaseId renders a lease id as Go's `%016x` of an int64: lower-case hex padded
 * with zeros to 16 characters, a minus sign counted in the width (`-000000000000001`).
 */
export function formatLeaseId(id: bigint): string {
  if (id < 0n) return `-${(-id).toString(16).padStart(15, '0')}`;
  return id.toString(16).padStart(16, '0');
}

// Go's encoding/json string: JSON.stringify plus the HTML-safe escapes Go adds.
function goJsonString(text: string): string {
  return JSON.stringify(text).replace(
    /[<>&\u2028\u2029]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

// etcdctl prints clientv3's lease structs, which embed *pb.ResponseHeader: Go's JSON
// lifts the header's fields (omitempty) to the top, then the struct's own fields.
function clientv3Json(header: LeaseGrantResponse['header'], fields: string[]): string {
  const inner = header === null ? '' : formatEtcdJson('ResponseHeader', header).slice(1, -1);
  return `{${[...(inner === '' ? [] : [inner]), ...fields].join(',')}}`;
}

/** formatLeaseGrant renders `lease <id> granted with TTL(<ttl>s)`, or clientv3's LeaseGrantResponse as JSON. */
export function formatLeaseGrant(response: LeaseGrantResponse, format: OutputFormat): Output {
  if (format === 'json') {
    return [
      clientv3Json(response.header, [
        `"ID":${response.ID}`,
        `"TTL":${response.TTL}`,
        `"Error":${goJsonString(response.error)}`,
      ]),
    ];
  }
  if (format === 'table') unsupportedTable('lease grant');
  return [`lease ${formatLeaseId(response.ID)} granted with TTL(${response.TTL}s)`];
}

/** formatLeaseRevoke renders `lease <id> revoked`, or the LeaseRevokeResponse as JSON. */
export function formatLeaseRevoke(
  id: bigint,
  response: LeaseRevokeResponse,
  format: OutputFormat,
): Output {
  if (format === 'json') return [formatEtcdJson('LeaseRevokeResponse', response)];
  if (format === 'table') unsupportedTable('lease revoke');
  return [`lease ${formatLeaseId(id)} revoked`];
}

/**
 * formatLeaseTimeToLive renders `lease <id> granted with TTL(<g>s), remaining(<r>s)`,
 * plus `, attached keys([k1 k2])` (raw bytes, space-separated) with `keys`, or `lease
 * <id> already expired` for a lease that does not exist (TTL −1, granted 0); as JSON,
 * clientv3's LeaseTimeToLiveResponse (`id`, `ttl`, `granted-ttl`, `keys` base64 or null).
 */
export function formatLeaseTimeToLive(
  response: LeaseTimeToLiveResponse,
  format: OutputFormat,
  keys: boolean,
): Output {
  if (format === 'json') {
    const keyList = response.keys.length === 0 ? 'null' : base64List(response.keys);
    return [
      clientv3Json(response.header, [
        `"id":${response.ID}`,
        `"ttl":${response.TTL}`,
        `"granted-ttl":${response.grantedTTL}`,
        `"keys":${keyList}`,
      ]),
    ];
  }
  if (format === 'table') unsupportedTable('lease timetolive');
  const id = formatLeaseId(response.ID);
  if (response.grantedTTL === 0n && response.TTL === -1n) return [`lease ${id} already expired`];
  const text = `lease ${id} granted with TTL(${response.grantedTTL}s), remaining(${response.TTL}s)`;
  if (!keys) return [text];
  const parts: Uint8Array[] = [Buffer.from(`${text}, attached keys([`)];
  for (const [index, key] of response.keys.entries()) {
    if (index > 0) parts.push(Buffer.from(' '));
    parts.push(key);
  }
  parts.push(Buffer.from('])'));
  return [Buffer.concat(parts)];
}

function base64List(keys: readonly Uint8Array[]): string {
  const items = keys.map((key) =>
    JSON.stringify(Buffer.from(key.buffer, key.byteOffset, key.length).toString('base64')),
  );
  return `[${items.join(',')}]`;
}

/** formatLeaseList renders `found N leases` and one id per line, or clientv3's LeaseLeasesResponse as JSON. */
export function formatLeaseList(response: LeaseLeasesResponse, format: OutputFormat): Output {
  if (format === 'json') {
    const leases = response.leases.map((lease) => `{"id":${lease.ID}}`);
    return [clientv3Json(response.header, [`"leases":[${leases.join(',')}]`])];
  }
  if (format === 'table') unsupportedTable('lease list');
  return [
    `found ${response.leases.length} leases`,
    ...response.leases.map((lease) => formatLeaseId(lease.ID)),
  ];
}

/** formatLeaseKeepAlive renders one renewal: `lease <id> keepalived with TTL(<ttl>)`, or JSON. */
export function formatLeaseKeepAlive(
  response: LeaseKeepAliveResponse,
  format: OutputFormat,
): Output {
  if (format === 'json') {
    return [clientv3Json(response.header, [`"ID":${response.ID}`, `"TTL":${response.TTL}`])];
  }
  if (format === 'table') unsupportedTable('lease keep-alive');
  return [`lease ${formatLeaseId(response.ID)} keepalived with TTL(${response.TTL})`];
}

/**
 * formatLeaseKeepAliveEnd is what `lease keep-alive` prints when the lease is gone:
 * `lease <id> expired or revoked.` in simple output, nothing in JSON (as etcdctl).
 */
export function formatLeaseKeepAliveEnd(id: bigint, format: OutputFormat): Output {
  return format === 'simple' ? [`lease ${formatLeaseId(id)} expired or revoked.`] : [];
}

const EVENT_TYPE_NAMES = ['PUT', 'DELETE'];

type WatchJsonFields = Pick<WatchResponse, 'header' | 'compactRevision' | 'canceled' | 'created'>;

// etcdctl prints clientv3's WatchResponse struct: Go field names, the header as a value
// (so `{}` when absent), the events as etcd's mvccpb.Event JSON.
function watchJson(response: WatchJsonFields, events: string): string {
  const header = formatEtcdJson('ResponseHeader', response.header ?? {});
  return [
    `{"Header":${header}`,
    `"Events":${events}`,
    `"CompactRevision":${response.compactRevision}`,
    `"Canceled":${response.canceled}`,
    `"Created":${response.created}}`,
  ].join(',');
}

/**
 * formatWatchResponse renders one batch of a watch as etcdctl 3.4 does. Simple: for
 * each event its type (`PUT` or `DELETE`), then with --prev-kv the previous key and
 * value, then the key and value (a deleted key's value line is empty), raw bytes. JSON:
 * one line per batch, clientv3's WatchResponse (`{"Header":…,"Events":[…],
 * "CompactRevision":0,"Canceled":false,"Created":false}`).
 */
export function formatWatchResponse(response: WatchResponse, format: OutputFormat): Output {
  if (format === 'json') {
    const events = response.events.map((event) => formatEtcdJson('mvccpb.Event', event));
    return [watchJson(response, `[${events.join(',')}]`)];
  }
  if (format === 'table') unsupportedTable('watch');
  return response.events.flatMap((event) => [
    EVENT_TYPE_NAMES[event.type] ?? String(event.type),
    ...(event.prevKv === null ? [] : kvLines(event.prevKv)),
    ...(event.kv === null ? [] : kvLines(event.kv)),
  ]);
}

/**
 * formatWatchFailure is what etcdctl prints on stdout when its watch stream fails for
 * good (not a server's cancel): nothing in simple output; in JSON an empty canceled
 * response with `"Events":null`.
 */
export function formatWatchFailure(format: OutputFormat): Output {
  if (format !== 'json') return [];
  const failed = { header: null, compactRevision: 0n, canceled: true, created: false };
  return [watchJson(failed, 'null')];
}
