import type { KeyValue, MemberListResponse, StatusResponse } from '@raftkit/rpc/etcd';
import { describe, expect, it } from 'vitest';
import {
  formatDelete,
  formatEndpointStatus,
  formatGet,
  formatMemberList,
  formatPut,
  formatTxn,
  type Output,
} from '../src/cli/format.js';
import { humanizeBytes } from '../src/cli/humanize.js';
import { renderTable } from '../src/cli/table.js';

const b = (text: string): Buffer => Buffer.from(text);
const text = (output: Output): string =>
  output.map((line) => Buffer.from(line).toString()).join('\n');
// Values seen from a real etcd 3.4 (`etcdctl` output captured alongside).
const header = {
  clusterId: 324952591200643719n,
  memberId: 3319814642761637952n,
  revision: 4n,
  raftTerm: 2n,
};
const kv = (key: string, value: string, rev: bigint): KeyValue => ({
  key: b(key),
  value: b(value),
  createRevision: 2n,
  modRevision: rev,
  version: 3n,
  lease: 0n,
});

describe('simple output', () => {
  it('put, get, del as etcdctl prints them', () => {
    expect(text(formatPut({ header, prevKv: null }, 'simple'))).toBe('OK');
    expect(text(formatPut({ header, prevKv: kv('foo', 'bar', 3n) }, 'simple'))).toBe(
      'OK\nfoo\nbar',
    );
    const range = { header, kvs: [kv('a', '1', 5n), kv('b', '2', 6n)], more: false, count: 2n };
    expect(text(formatGet(range, 'simple'))).toBe('a\n1\nb\n2');
    expect(text(formatGet(range, 'simple', { printValueOnly: true }))).toBe('1\n2');
    expect(text(formatGet(range, 'simple', { countOnly: true }))).toBe('2');
    const keysOnly = { ...range, kvs: [{ ...kv('foo', '', 4n), value: b('') }] };
    expect(text(formatGet(keysOnly, 'simple'))).toBe('foo\n');
    expect(text(formatDelete({ header, deleted: 1n, prevKvs: [kv('a', '1', 5n)] }, 'simple'))).toBe(
      '1\na\n1',
    );
  });

  it('keeps binary values as raw bytes', () => {
    const binary = { ...kv('k', '', 1n), value: Buffer.from([0xff, 0x00]) };
    const output = formatGet({ header, kvs: [binary], more: false, count: 1n }, 'simple');
    expect(Buffer.from(output[1] as Uint8Array)).toEqual(Buffer.from([0xff, 0x00]));
  });

  it('txn: SUCCESS/FAILURE then each response after a blank line', () => {
    const output = formatTxn(
      {
        header,
        succeeded: true,
        responses: [
          {
            response: 'responseRange',
            responseRange: { header, kvs: [kv('foo', 'bar2', 4n)], more: false, count: 1n },
          },
          { response: 'responsePut', responsePut: { header, prevKv: null } },
          {
            response: 'responseDeleteRange',
            responseDeleteRange: { header, deleted: 0n, prevKvs: [] },
          },
        ],
      },
      'simple',
    );
    expect(text(output)).toBe('SUCCESS\n\nfoo\nbar2\n\nOK\n\n0');
  });
});

describe('json output (Go encoding/json of etcd structs)', () => {
  it('matches etcdctl byte for byte', () => {
    const range = { header, kvs: [kv('foo', 'bar2', 4n)], more: false, count: 1n };
    expect(text(formatGet(range, 'json'))).toBe(
      '{"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":4,"raft_term":2},' +
        '"kvs":[{"key":"Zm9v","create_revision":2,"mod_revision":4,"version":3,"value":"YmFyMg=="}],"count":1}',
    );
    expect(text(formatGet({ header, kvs: [], more: false, count: 0n }, 'json'))).toBe(
      '{"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":4,"raft_term":2}}',
    );
    expect(text(formatDelete({ header, deleted: 1n, prevKvs: [] }, 'json'))).toContain(
      '"deleted":1}',
    );
  });
});

const members: MemberListResponse = {
  header,
  members: [
    {
      ID: 3319814642761637952n,
      name: 't',
      peerURLs: ['http://127.0.0.1:23800'],
      clientURLs: ['http://127.0.0.1:23790'],
      isLearner: false,
    },
  ],
};

const status: StatusResponse = {
  header: { ...header, revision: 10n },
  version: '3.4.23',
  dbSize: 20480n,
  leader: 3319814642761637952n,
  raftIndex: 17n,
  raftTerm: 2n,
  raftAppliedIndex: 17n,
  errors: [],
  dbSizeInUse: 16384n,
  isLearner: false,
  storageVersion: '',
  dbSizeQuota: 0n,
  downgradeInfo: null,
};

describe('member list and endpoint status', () => {
  it('member list in all three formats', () => {
    expect(text(formatMemberList(members, 'simple'))).toBe(
      '2e1259d415f2a040, started, t, http://127.0.0.1:23800, http://127.0.0.1:23790, false',
    );
    expect(text(formatMemberList(members, 'json'))).toBe(
      '{"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":4,"raft_term":2},' +
        '"members":[{"ID":3319814642761637952,"name":"t","peerURLs":["http://127.0.0.1:23800"],"clientURLs":["http://127.0.0.1:23790"]}]}',
    );
    expect(text(formatMemberList(members, 'table'))).toBe(
      [
        '+------------------+---------+------+------------------------+------------------------+------------+',
        '|        ID        | STATUS  | NAME |       PEER ADDRS       |      CLIENT ADDRS      | IS LEARNER |',
        '+------------------+---------+------+------------------------+------------------------+------------+',
        '| 2e1259d415f2a040 | started |    t | http://127.0.0.1:23800 | http://127.0.0.1:23790 |      false |',
        '+------------------+---------+------+------------------------+------------------------+------------+',
      ].join('\n'),
    );
  });

  it('endpoint status in all three formats', () => {
    const statuses = [{ endpoint: '127.0.0.1:23790', status }];
    expect(text(formatEndpointStatus(statuses, 'simple'))).toBe(
      '127.0.0.1:23790, 2e1259d415f2a040, 3.4.23, 20 kB, true, false, 2, 17, 17, ',
    );
    expect(text(formatEndpointStatus(statuses, 'json'))).toBe(
      '[{"Endpoint":"127.0.0.1:23790","Status":{"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":10,"raft_term":2},"version":"3.4.23","dbSize":20480,"leader":3319814642761637952,"raftIndex":17,"raftTerm":2,"raftAppliedIndex":17,"dbSizeInUse":16384}}]',
    );
    expect(text(formatEndpointStatus(statuses, 'table')).split('\n')[1]).toBe(
      '|    ENDPOINT     |        ID        | VERSION | DB SIZE | IS LEADER | IS LEARNER | RAFT TERM | RAFT INDEX | RAFT APPLIED INDEX | ERRORS |',
    );
  });

  it('table output is refused where etcdctl refuses it', () => {
    expect(() => formatGet({ header, kvs: [], more: false, count: 0n }, 'table')).toThrow(
      /not supported/,
    );
  });
});

describe('helpers', () => {
  it('humanizeBytes matches go-humanize', () => {
    expect(humanizeBytes(7)).toBe('7 B');
    expect(humanizeBytes(512)).toBe('512 B');
    expect(humanizeBytes(20480n)).toBe('20 kB');
    expect(humanizeBytes(20500)).toBe('20 kB'); // 20.5 → "20" (round half to even)
    expect(humanizeBytes(21500)).toBe('22 kB');
    expect(humanizeBytes(1_500_000)).toBe('1.5 MB');
    expect(humanizeBytes(3_000_000_000n)).toBe('3.0 GB');
  });

  it('renderTable pads headers centred and cells right-aligned', () => {
    expect(renderTable(['A', 'LONG'], [['x', 'y']])).toBe(
      '+---+------+\n| A | LONG |\n+---+------+\n| x |    y |\n+---+------+',
    );
  });
});
