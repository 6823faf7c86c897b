import {
  CompareResult,
  CompareTarget,
  SortOrder,
  SortTarget,
  type TxnResponse,
} from '@raftkit/rpc/etcd';
import { describe, expect, it } from 'vitest';
import { prefixRangeEnd, resolveRange, toBytes } from '../src/bytes.js';
import { parseEndpoint, parseEndpointList } from '../src/endpoints.js';
import { compare, isWriteOp, Op, putRequest, rangeRequest } from '../src/ops.js';
import { TxnBuilder } from '../src/txn.js';

const text = (bytes: Uint8Array | undefined): string => Buffer.from(bytes ?? []).toString('latin1');

describe('key ranges', () => {
  it('prefixRangeEnd increments the last byte below 0xff and truncates', () => {
    expect(text(prefixRangeEnd(toBytes('aa')))).toBe('ab');
    expect([...prefixRangeEnd(Uint8Array.of(0x61, 0xff))]).toEqual([0x62]);
    expect([...prefixRangeEnd(Uint8Array.of(0xff, 0xff))]).toEqual([0]);
    expect([...prefixRangeEnd(new Uint8Array())]).toEqual([0]);
  });

  it('resolveRange follows clientv3 for prefix, from-key and explicit ends', () => {
    expect(resolveRange('k')).toEqual({ key: toBytes('k') });
    expect(resolveRange('k', { prefix: true }).rangeEnd).toEqual(toBytes('l'));
    expect(resolveRange('', { prefix: true })).toEqual({
      key: Uint8Array.of(0),
      rangeEnd: Uint8Array.of(0),
    });
    expect(resolveRange('', { fromKey: true })).toEqual({
      key: Uint8Array.of(0),
      rangeEnd: Uint8Array.of(0),
    });
    expect(resolveRange('a', { rangeEnd: 'c' }).rangeEnd).toEqual(toBytes('c'));
    expect(() => resolveRange('a', { prefix: true, fromKey: true })).toThrow(TypeError);
  });
});

describe('request builders', () => {
  it('rangeRequest maps options and sends only what is set', () => {
    expect(rangeRequest('k')).toEqual({ key: toBytes('k') });
    const request = rangeRequest('k', {
      prefix: true,
      limit: 5,
      revision: 9n,
      keysOnly: true,
      countOnly: true,
      serializable: true,
      sortTarget: 'modify',
    });
    expect(request).toMatchObject({
      limit: 5n,
      revision: 9n,
      keysOnly: true,
      countOnly: true,
      serializable: true,
      sortOrder: SortOrder.ASCEND,
      sortTarget: SortTarget.MOD,
    });
    expect(rangeRequest('k', { sortOrder: 'ascend' }).sortOrder).toBeUndefined();
    expect(rangeRequest('k', { sortOrder: 'descend' }).sortOrder).toBe(SortOrder.DESCEND);
    expect(() => rangeRequest('k', { limit: 1.5 })).toThrow(TypeError);
  });

  it('putRequest carries lease and flags', () => {
    expect(
      putRequest('k', Uint8Array.of(1), { lease: 7, prevKv: true, ignoreLease: true }),
    ).toEqual({
      key: toBytes('k'),
      value: Uint8Array.of(1),
      lease: 7n,
      prevKv: true,
      ignoreLease: true,
    });
  });

  it('compare sets the oneof operand that matches the target', () => {
    expect(compare('k', 'value', '!=', 'v')).toEqual({
      key: toBytes('k'),
      result: CompareResult.NOT_EQUAL,
      target: CompareTarget.VALUE,
      value: toBytes('v'),
    });
    expect(compare('k', 'version', '=', 0)).toMatchObject({
      target: CompareTarget.VERSION,
      version: 0n,
    });
    expect(compare('k', 'createRevision', '>', '4')).toMatchObject({
      createRevision: 4n,
      result: CompareResult.GREATER,
    });
    expect(compare('k', 'modRevision', '<', 3n, { rangeEnd: 'z' })).toMatchObject({
      modRevision: 3n,
      result: CompareResult.LESS,
      rangeEnd: toBytes('z'),
    });
    expect(compare('k', 'lease', '=', 0)).toMatchObject({ target: CompareTarget.LEASE, lease: 0n });
    expect(() => compare('k', 'value', '=', 3)).toThrow(TypeError);
    expect(() => compare('k', 'version', '=', 'x')).toThrow(TypeError);
  });

  it('isWriteOp looks into nested transactions', () => {
    expect(isWriteOp(Op.get('k'))).toBe(false);
    expect(isWriteOp(Op.put('k', 'v'))).toBe(true);
    expect(isWriteOp(Op.delete('k'))).toBe(true);
    expect(isWriteOp({ requestTxn: { success: [Op.get('a')], failure: [Op.delete('b')] } })).toBe(
      true,
    );
    expect(isWriteOp({ requestTxn: { success: [Op.get('a')] } })).toBe(false);
  });
});

describe('TxnBuilder', () => {
  it('collects guards and both branches, flattening arrays', async () => {
    let sent: unknown;
    const builder = new TxnBuilder(async (request) => {
      sent = request;
      return { header: null, succeeded: true, responses: [] };
    });
    builder
      .if('k', 'version', '>', 0)
      .if('k', 'value', '=', 'old')
      .then([Op.put('k', 'new')], Op.get('k'))
      .else(Op.get('k'));
    const request = builder.request();
    expect(request.compare).toHaveLength(2);
    expect(request.success).toHaveLength(2);
    expect(request.failure).toHaveLength(1);
    const response = await builder.commit();
    expect(response.succeeded).toBe(true);
    expect(sent).toEqual(request);
  });

  it('commits when awaited from plain JavaScript', async () => {
    let commits = 0;
    const builder = new TxnBuilder(async () => {
      commits++;
      return { header: null, succeeded: false, responses: [] };
    });
    const thenable = builder.if('k', 'version', '=', 0).then(Op.put('k', 'v'));
    const response = await (thenable as unknown as PromiseLike<TxnResponse>);
    expect(response.succeeded).toBe(false);
    expect(commits).toBe(1);
  });
});

describe('endpoints', () => {
  it('accepts host:port and http(s) URLs', () => {
    expect(parseEndpoint('127.0.0.1:2379')).toEqual({
      text: '127.0.0.1:2379',
      target: '127.0.0.1:2379',
      secure: false,
    });
    expect(parseEndpoint('https://db.example:2379/')).toMatchObject({
      target: 'db.example:2379',
      secure: true,
    });
    expect(parseEndpoint('http://[::1]:2379').target).toBe('[::1]:2379');
    expect(parseEndpointList('a:1, b:2,,').map((e) => e.target)).toEqual(['a:1', 'b:2']);
  });

  it('refuses endpoints without a port', () => {
    expect(() => parseEndpoint('localhost')).toThrow(/bad endpoint "localhost"/);
    expect(() => parseEndpoint('h:70000')).toThrow(/port out of range/);
    expect(() => parseEndpointList(' , ')).toThrow(/no endpoints/);
  });
});
