import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  CompareResult,
  CompareTarget,
  decodeEtcdMessage,
  ETCD_PROTO_URL,
  encodeEtcdMessage,
  etcdType,
  type KeyValue,
  type PutRequest,
  type RangeRequest,
  type RangeResponse,
  SortOrder,
  SortTarget,
  type StatusResponse,
  type TxnRequest,
  type TxnResponse,
} from '../../src/etcd/index.js';
import { bytes, bytesField, varintField } from './wire-bytes.js';

const b = (text: string): Buffer => Buffer.from(text, 'utf8');
const MAX_U64 = (1n << 64n) - 1n;
const MIN_I64 = -(1n << 63n);

describe('etcd protos: loading', () => {
  it('resolves rpc.proto relative to the module and finds both packages', () => {
    expect(existsSync(fileURLToPath(ETCD_PROTO_URL))).toBe(true);
    expect(etcdType('RangeRequest').fullName).toBe('.etcdserverpb.RangeRequest');
    expect(etcdType('mvccpb.KeyValue').fullName).toBe('.mvccpb.KeyValue');
  });

  it('has etcd field numbers on the messages raftkit relies on', () => {
    const numbers = (name: string): Record<string, number> =>
      Object.fromEntries(etcdType(name).fieldsArray.map((f) => [f.name, f.id]));
    expect(numbers('ResponseHeader')).toEqual({
      clusterId: 1,
      memberId: 2,
      revision: 3,
      raftTerm: 4,
    });
    expect(numbers('mvccpb.KeyValue')).toEqual({
      key: 1,
      createRevision: 2,
      modRevision: 3,
      version: 4,
      value: 5,
      lease: 6,
    });
    expect(numbers('RangeRequest')).toMatchObject({
      key: 1,
      rangeEnd: 2,
      limit: 3,
      revision: 4,
      sortOrder: 5,
      sortTarget: 6,
      serializable: 7,
      keysOnly: 8,
      countOnly: 9,
      maxCreateRevision: 13,
    });
    expect(numbers('Compare')).toEqual({
      result: 1,
      target: 2,
      key: 3,
      version: 4,
      createRevision: 5,
      modRevision: 6,
      value: 7,
      lease: 8,
      rangeEnd: 64,
    });
    expect(numbers('StatusResponse')).toMatchObject({
      version: 2,
      dbSize: 3,
      leader: 4,
      raftIndex: 5,
      raftTerm: 6,
      raftAppliedIndex: 7,
      errors: 8,
      dbSizeInUse: 9,
      isLearner: 10,
    });
    expect(numbers('Member')).toEqual({
      ID: 1,
      name: 2,
      peerURLs: 3,
      clientURLs: 4,
      isLearner: 5,
    });
    expect(numbers('WatchResponse')).toMatchObject({ events: 11, fragment: 7 });
  });
});

describe('etcd protos: wire bytes assembled independently', () => {
  it('PutRequest key/value/lease/prev_kv/ignore_value at fields 1..5', () => {
    const wire = bytes(
      bytesField(1, 'foo'),
      bytesField(2, 'bar'),
      varintField(3, 7587862039012345678n),
      varintField(4, true),
      varintField(5, true),
    );
    const request: PutRequest = {
      key: b('foo'),
      value: b('bar'),
      lease: 7587862039012345678n,
      prevKv: true,
      ignoreValue: true,
    };
    expect(encodeEtcdMessage('PutRequest', request).toString('hex')).toBe(wire.toString('hex'));
    const decoded = decodeEtcdMessage<PutRequest>('PutRequest', wire);
    expect(decoded).toMatchObject({
      lease: 7587862039012345678n,
      prevKv: true,
      ignoreLease: false,
    });
    expect(Buffer.from(decoded.key ?? []).toString()).toBe('foo');
  });

  it('decodes a RangeResponse with header and kvs as etcd would send it', () => {
    const header = bytes(
      varintField(1, MAX_U64), // cluster_id near the uint64 top
      varintField(2, 0x8e9e05c52164694dn),
      varintField(3, 42),
      varintField(4, 3),
    );
    const kv = bytes(
      bytesField(1, 'k'),
      varintField(2, 2),
      varintField(3, 42),
      varintField(4, 5),
      bytesField(5, 'v'),
    );
    const wire = bytes(bytesField(1, header), bytesField(2, kv), varintField(4, 1));
    const decoded = decodeEtcdMessage<RangeResponse>('RangeResponse', wire);
    expect(decoded.header).toEqual({
      clusterId: MAX_U64,
      memberId: 0x8e9e05c52164694dn,
      revision: 42n,
      raftTerm: 3n,
    });
    expect(decoded.more).toBe(false);
    expect(decoded.count).toBe(1n);
    const first = decoded.kvs[0] as KeyValue;
    expect(first.createRevision).toBe(2n);
    expect(first.lease).toBe(0n);
    expect(Buffer.from(first.value).toString()).toBe('v');
  });

  it('writes a Compare operand of 0 (oneof presence) and range_end at field 64', () => {
    const wire = bytes(
      varintField(1, CompareResult.EQUAL),
      varintField(2, CompareTarget.VERSION),
      bytesField(3, 'a'),
      varintField(4, 0),
      bytesField(64, 'b'),
    );
    // Enum values of 0 are proto3 defaults and not written; the oneof member is.
    const expected = bytes(bytesField(3, 'a'), varintField(4, 0), bytesField(64, 'b'));
    const encoded = encodeEtcdMessage('Compare', {
      result: CompareResult.EQUAL,
      target: CompareTarget.VERSION,
      key: b('a'),
      version: 0n,
      rangeEnd: b('b'),
    });
    expect(encoded.toString('hex')).toBe(expected.toString('hex'));
    const decoded = decodeEtcdMessage('Compare', wire);
    expect(decoded).toMatchObject({ targetUnion: 'version', version: 0n, target: 0, result: 0 });
  });

  it('negative int64 uses ten-byte two’s-complement varints', () => {
    const wire = bytes(varintField(4, MIN_I64));
    expect(encodeEtcdMessage('RangeRequest', { revision: MIN_I64 }).toString('hex')).toBe(
      wire.toString('hex'),
    );
    expect(decodeEtcdMessage<RangeRequest>('RangeRequest', wire).revision).toBe(MIN_I64);
  });
});

describe('etcd protos: round trips', () => {
  it('RangeRequest with every field', () => {
    const request: Required<RangeRequest> = {
      key: b('a'),
      rangeEnd: b('\0'),
      limit: 10n,
      revision: 9007199254740993n,
      sortOrder: SortOrder.DESCEND,
      sortTarget: SortTarget.MOD,
      serializable: true,
      keysOnly: true,
      countOnly: true,
      minModRevision: 1n,
      maxModRevision: 2n,
      minCreateRevision: 3n,
      maxCreateRevision: 4n,
    };
    const back = decodeEtcdMessage('RangeRequest', encodeEtcdMessage('RangeRequest', request));
    expect(back).toEqual(request);
  });

  it('nested TxnRequest with compares and every RequestOp kind', () => {
    const request: TxnRequest = {
      compare: [
        {
          target: CompareTarget.VALUE,
          result: CompareResult.NOT_EQUAL,
          key: b('k'),
          value: b('x'),
        },
        { target: CompareTarget.MOD, result: CompareResult.LESS, key: b('k'), modRevision: 5n },
      ],
      success: [
        { requestPut: { key: b('k'), value: b('y'), prevKv: true } },
        { requestRange: { key: b('k') } },
        { requestDeleteRange: { key: b('a'), rangeEnd: b('b') } },
        { requestTxn: { success: [{ requestPut: { key: b('n'), value: b('1') } }] } },
      ],
      failure: [],
    };
    const back = decodeEtcdMessage<Required<TxnRequest>>(
      'TxnRequest',
      encodeEtcdMessage('TxnRequest', request),
    );
    expect(back.compare.map((c) => c.targetUnion)).toEqual(['value', 'modRevision']);
    expect(back.success.map((op) => op.request)).toEqual([
      'requestPut',
      'requestRange',
      'requestDeleteRange',
      'requestTxn',
    ]);
    const nested = back.success[3];
    expect(nested && 'requestTxn' in nested && nested.requestTxn.success?.length).toBe(1);
    expect(back.failure).toEqual([]);
  });

  it('TxnResponse with a ResponseOp oneof and nulls for unset sub-messages', () => {
    const response: TxnResponse = {
      header: { clusterId: MAX_U64, memberId: 1n, revision: 2n, raftTerm: 3n },
      succeeded: true,
      responses: [{ responsePut: { header: null, prevKv: null } }],
    };
    const back = decodeEtcdMessage<TxnResponse>(
      'TxnResponse',
      encodeEtcdMessage('TxnResponse', response),
    );
    expect(back.header?.clusterId).toBe(MAX_U64);
    expect(back.responses[0]).toEqual({
      response: 'responsePut',
      responsePut: { header: null, prevKv: null },
    });
  });

  it('StatusResponse keeps uint64 precision and fills defaults', () => {
    const status: Partial<StatusResponse> = {
      version: '3.4.23',
      dbSize: 20480n,
      leader: 0xfedcba9876543210n,
      raftIndex: 9007199254740993n,
      raftAppliedIndex: 9007199254740993n,
      errors: ['NOSPACE'],
      isLearner: true,
    };
    const back = decodeEtcdMessage<StatusResponse>(
      'StatusResponse',
      encodeEtcdMessage('StatusResponse', status),
    );
    expect(back).toMatchObject(status);
    expect(back.raftTerm).toBe(0n);
    expect(back.dbSizeInUse).toBe(0n);
    expect(back.header).toBeNull();
    expect(back.downgradeInfo).toBeNull();
  });
});
