import { status } from '@grpc/grpc-js';
import type { Event, WatchCreateRequest, WatchRequest, WatchResponse } from '@raftkit/rpc/etcd';
import { describe, expect, it } from 'vitest';
import {
  ETCD_ERRORS,
  EventType,
  FilterType,
  isKvClientError,
  KvClientError,
  WATCH_BUFFER,
  type Watch,
  type WatchBatch,
  WatchCanceledError,
  WatchCursor,
  watchCreateRequest,
} from '../src/index.js';
import {
  type FakeServer,
  type FakeWatchStream,
  useFakeServers,
  type WatchBehaviour,
  watchResponse,
} from './fake-server.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const header = { clusterId: 1n, memberId: 2n, revision: 3n, raftTerm: 4n };
const at = (revision: bigint) => ({ ...header, revision });

function put(key: string, value: string, revision: bigint): Event {
  return {
    type: EventType.PUT,
    kv: {
      key: Buffer.from(key),
      createRevision: revision,
      modRevision: revision,
      version: 1n,
      value: Buffer.from(value),
      lease: 0n,
    },
    prevKv: null,
  };
}

const response = (fields: Partial<WatchResponse>): WatchResponse => watchResponse(fields);

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// The Watch stream whose create request watches `key` (the nth such stream), once
// that request has arrived. Streams the client dropped before sending anything are
// skipped, and the order in which streams reach the server does not matter.
async function stream(server: FakeServer, key: string, index = 0): Promise<FakeWatchStream> {
  const find = () =>
    server.watches.filter(
      (candidate) => Buffer.from(createOf(candidate.requests[0])?.key ?? []).toString() === key,
    )[index];
  await until(
    () => find() !== undefined,
    `watch stream ${index} for "${key}" on ${server.endpoint}`,
  );
  return find() as FakeWatchStream;
}

function createOf(request: WatchRequest | undefined): WatchCreateRequest | undefined {
  return request !== undefined && 'createRequest' in request ? request.createRequest : undefined;
}

// Reads `count` batches, failing after 10 s instead of hanging.
async function take(iterator: AsyncIterator<WatchBatch>, count: number): Promise<WatchBatch[]> {
  const batches: WatchBatch[] = [];
  const deadline = new Promise<never>((_, reject) =>
    setTimeout(
      () => reject(new Error(`got ${batches.length} of ${count} batches`)),
      10_000,
    ).unref(),
  );
  while (batches.length < count) {
    const next = await Promise.race([iterator.next(), deadline]);
    if (next.done === true) throw new Error(`the watch ended after ${batches.length} batches`);
    batches.push(next.value);
  }
  return batches;
}

const revisions = (batches: WatchBatch[]): bigint[] =>
  batches.flatMap((batch) => batch.events.map((event) => event.kv?.modRevision ?? -1n));

describe('WatchCursor (resume revision, no I/O)', () => {
  it('a watch from now resumes after the created header’s revision, then after each batch', () => {
    const cursor = new WatchCursor(0n);
    const request = { key: Buffer.from('k') };
    expect(cursor.nextRevision).toBe(0n);
    expect(cursor.resumeRequest(request)).toBe(request);
    cursor.created(response({ created: true, header: at(10n) }));
    expect(cursor.nextRevision).toBe(11n);
    cursor.delivered(
      response({ header: at(14n), events: [put('k', 'a', 12n), put('k', 'b', 13n)] }),
    );
    expect(cursor.nextRevision).toBe(14n);
    // A progress notification says everything up to its revision has been seen.
    cursor.delivered(response({ header: at(20n) }));
    expect(cursor.nextRevision).toBe(21n);
    cursor.delivered(response({ header: at(15n) }));
    expect(cursor.nextRevision).toBe(21n);
    expect(cursor.resumeRequest(request)).toEqual({ key: request.key, startRevision: 21n });
  });

  it('a watch from a revision keeps it until something is delivered', () => {
    const cursor = new WatchCursor(5n);
    cursor.created(response({ created: true, header: at(10n) }));
    expect(cursor.nextRevision).toBe(5n);
    cursor.delivered(response({ header: at(10n), events: [put('k', 'a', 6n)] }));
    expect(cursor.nextRevision).toBe(7n);
  });
});

describe('watchCreateRequest', () => {
  it('builds etcd’s create request with clientv3’s range conventions', () => {
    expect(watchCreateRequest('k')).toEqual({ key: bytes('k') });
    expect(
      watchCreateRequest('a/', {
        prefix: true,
        revision: 7,
        prevKv: true,
        progressNotify: true,
        fragment: true,
        filters: ['noPut', 'noDelete'],
      }),
    ).toEqual({
      key: bytes('a/'),
      rangeEnd: bytes('a0'),
      startRevision: 7n,
      prevKv: true,
      progressNotify: true,
      fragment: true,
      filters: [FilterType.NOPUT, FilterType.NODELETE],
    });
    expect(watchCreateRequest('', { prefix: true })).toEqual({
      key: Uint8Array.of(0),
      rangeEnd: Uint8Array.of(0),
    });
    expect(watchCreateRequest('a', { rangeEnd: 'c', revision: 0n })).toEqual({
      key: bytes('a'),
      rangeEnd: bytes('c'),
    });
    expect(() => watchCreateRequest('a', { prefix: true, fromKey: true })).toThrow(TypeError);
    expect(() => watchCreateRequest('a', { revision: 1.5 })).toThrow(TypeError);
    expect(() => watchCreateRequest('a', { filters: ['noGet' as 'noPut'] })).toThrow(
      'unknown watch filter "noGet"',
    );
  });
});

describe('KvClient.watch (scripted gRPC servers)', { timeout: 30_000 }, () => {
  let a: FakeServer;
  let b: FakeServer;
  let dead: string;
  // The tests send the created answers themselves; the servers only confirm cancels.
  const confirmCancels: WatchBehaviour = (request, server) => {
    if ('cancelRequest' in request) {
      server.send({ canceled: true, watchId: request.cancelRequest.watchId ?? 0n });
    }
  };
  const client = useFakeServers(
    { dialTimeoutMs: 500, requestTimeoutMs: 2000 },
    (servers) => {
      ({ a, b, dead } = servers);
      a.watch = confirmCancels;
      b.watch = confirmCancels;
    },
    (server) => {
      server.watch = confirmCancels;
    },
  );

  it('sends the create request and delivers the batches in order, with Buffers', async () => {
    const kv = client([a.endpoint]);
    const watch = kv.watch('w/', { prefix: true, prevKv: true, revision: 2n });
    const server = await stream(a, 'w/');
    expect(createOf(server.requests[0])).toMatchObject({
      key: Buffer.from('w/'),
      rangeEnd: Buffer.from('w0'),
      startRevision: 2n,
      prevKv: true,
    });
    server.send({ created: true, watchId: 5n });
    server.send({
      watchId: 5n,
      header: at(3n),
      events: [put('w/a', '1', 2n), put('w/b', '2', 3n)],
    });
    server.send({
      watchId: 5n,
      header: at(4n),
      events: [
        { type: EventType.DELETE, kv: put('w/a', '', 4n).kv, prevKv: put('w/a', '1', 2n).kv },
      ],
    });
    const iterator = watch[Symbol.asyncIterator]();
    const batches = await take(iterator, 2);
    expect(revisions(batches)).toEqual([2n, 3n, 4n]);
    expect(batches[0]).toMatchObject({ watchId: 5n, created: false, progressNotify: false });
    const deleted = batches[1]?.events[0];
    expect(deleted?.type).toBe(EventType.DELETE);
    expect(Buffer.isBuffer(deleted?.kv?.key)).toBe(true);
    expect(deleted?.prevKv?.value.toString()).toBe('1');
    expect(watch.nextRevision).toBe(5n);
    expect(() => watch[Symbol.asyncIterator]()).toThrow('a Watch can be iterated once');
  });

  it('delivers the created answer only with createdNotify, and flags progress notifications', async () => {
    const kv = client([a.endpoint]);
    const watch = kv.watch('k', { createdNotify: true, progressNotify: true });
    const server = await stream(a, 'k');
    expect(createOf(server.requests[0])).toMatchObject({
      key: Buffer.from('k'),
      progressNotify: true,
      startRevision: 0n,
    });
    server.send({ created: true });
    const iterator = watch[Symbol.asyncIterator]();
    const [created] = await take(iterator, 1);
    expect(created).toMatchObject({ created: true, progressNotify: false, events: [] });
    watch.requestProgress();
    await until(() => server.requests.length === 2, 'the progress request');
    expect(server.requests[1]).toMatchObject({ progressRequest: {} });
    server.send({ header: at(9n), watchId: -1n });
    const [progress] = await take(iterator, 1);
    expect(progress).toMatchObject({ progressNotify: true, events: [] });
    expect(watch.nextRevision).toBe(10n);
  });

  it('joins fragments into one batch', async () => {
    const kv = client([a.endpoint]);
    const watch = kv.watch('k', { fragment: true });
    const server = await stream(a, 'k');
    server.send({ created: true });
    server.send({ fragment: true, events: [put('k', '1', 4n)] });
    server.send({ fragment: true, events: [put('l', '2', 4n)] });
    server.send({ events: [put('m', '3', 4n)] });
    server.send({ events: [put('k', '4', 5n)] });
    const batches = await take(watch[Symbol.asyncIterator](), 2);
    expect(batches.map((batch) => batch.events.length)).toEqual([3, 1]);
    expect(batches[0]?.fragment).toBe(false);
    expect(revisions(batches)).toEqual([4n, 4n, 4n, 5n]);
  });

  it('close() sends a WatchCancelRequest with the watch id and ends the iteration', async () => {
    const kv = client([a.endpoint]);
    const watch = kv.watch('k');
    const server = await stream(a, 'k');
    server.send({ created: true, watchId: 7n });
    await until(() => watch.nextRevision === 4n, 'the created answer');
    const iterator = watch[Symbol.asyncIterator]();
    const pending = iterator.next();
    watch.close();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(await watch.done).toEqual({ reason: 'closed' });
    await until(() => server.requests.length === 2, 'the cancel request');
    expect(server.requests[1]).toMatchObject({ cancelRequest: { watchId: 7n } });
    // The server confirms the cancel; the client then drops the stream.
    await until(() => server.ended, 'the stream to end');
  });

  it('leaving a for-await loop early cancels the watch; KvClient.close() cancels every watch', async () => {
    const kv = client([a.endpoint]);
    const first = kv.watch('a');
    const second = kv.watch('b');
    const [one, two] = [await stream(a, 'a'), await stream(a, 'b')];
    one.send({ created: true, watchId: 1n });
    two.send({ created: true, watchId: 2n });
    one.send({ watchId: 1n, events: [put('a', 'x', 4n)] });
    for await (const batch of first) {
      expect(batch.events).toHaveLength(1);
      break;
    }
    expect(await first.done).toEqual({ reason: 'closed' });
    await until(() => one.requests.length === 2, 'the first cancel');
    expect(one.requests[1]).toMatchObject({ cancelRequest: { watchId: 1n } });
    await until(() => second.nextRevision === 4n, 'the second created answer');
    kv.close();
    expect(await second.done).toEqual({ reason: 'closed' });
    await until(() => two.requests.length === 2, 'the second cancel');
    expect(two.requests[1]).toMatchObject({ cancelRequest: { watchId: 2n } });
    // A watch on a closed client ends at once.
    expect(await kv.watch('c').done).toEqual({ reason: 'closed' });
  });

  it('resumes on the next endpoint from the last revision + 1 when the stream breaks', async () => {
    const kv = client([a.endpoint, b.endpoint]);
    const watch = kv.watch('w/', { prefix: true });
    const iterator = watch[Symbol.asyncIterator]();
    const first = await stream(a, 'w/');
    first.send({ created: true, watchId: 1n, header: at(10n) });
    first.send({
      watchId: 1n,
      header: at(12n),
      events: [put('w/a', '1', 11n), put('w/b', '1', 12n)],
    });
    expect(revisions(await take(iterator, 1))).toEqual([11n, 12n]);
    first.fail(status.UNAVAILABLE, 'connection reset');
    const second = await stream(b, 'w/');
    expect(createOf(second.requests[0])).toMatchObject({
      key: Buffer.from('w/'),
      rangeEnd: Buffer.from('w0'),
      startRevision: 13n,
    });
    second.send({ created: true, watchId: 4n, header: at(14n) });
    second.send({
      watchId: 4n,
      header: at(14n),
      events: [put('w/a', '2', 13n), put('w/c', '1', 14n)],
    });
    expect(revisions(await take(iterator, 1))).toEqual([13n, 14n]);
    expect(watch.lastError).toBeUndefined();
    // b ends the stream (status OK): back to a, from revision 15.
    second.end();
    const third = await stream(a, 'w/', 1);
    expect(createOf(third.requests[0])?.startRevision).toBe(15n);
    third.send({ created: true, watchId: 2n, header: at(15n) });
    third.send({ watchId: 2n, header: at(15n), events: [put('w/d', '1', 15n)] });
    expect(revisions(await take(iterator, 1))).toEqual([15n]);
  });

  it('a watch from now that breaks before any event resumes after its created revision', async () => {
    const kv = client([a.endpoint, b.endpoint]);
    const watch = kv.watch('k');
    const first = await stream(a, 'k');
    first.send({ created: true, header: at(20n) });
    await until(() => watch.nextRevision === 21n, 'the created answer');
    first.fail(status.INTERNAL, 'stream reset');
    expect(createOf((await stream(b, 'k')).requests[0])).toMatchObject({
      key: Buffer.from('k'),
      startRevision: 21n,
    });
  });

  it('skips an endpoint that cannot be reached', async () => {
    const kv = client([dead, a.endpoint]);
    const watch = kv.watch('k', { requireLeader: true });
    const server = await stream(a, 'k');
    expect(server.metadata.get('hasleader')).toEqual(['true']);
    server.send({ created: true });
    server.send({ events: [put('k', 'v', 4n)] });
    expect(revisions(await take(watch[Symbol.asyncIterator](), 1))).toEqual([4n]);
  });

  it('a compacted start revision ends the watch with a WatchCanceledError (reason compacted)', async () => {
    const kv = client([a.endpoint]);
    a.watch = (request, server) => {
      if ('createRequest' in request) {
        server.send({ created: true, watchId: 3n });
        server.send({ watchId: 3n, canceled: true, compactRevision: 9n, header: at(0n) });
      }
    };
    const watch = kv.watch('k', { revision: 2 });
    const error = await (async () => {
      for await (const _ of watch) throw new Error('no batch expected');
      return undefined;
    })().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(WatchCanceledError);
    expect(isKvClientError(error, 'compacted')).toBe(true);
    expect(error).toMatchObject({
      compactRevision: 9n,
      code: status.OUT_OF_RANGE,
      details: ETCD_ERRORS.compacted,
      endpoint: a.endpoint,
    });
    expect((error as WatchCanceledError).response.canceled).toBe(true);
    expect(await watch.done).toEqual({ reason: 'canceled', error });
  });

  it('a revision compacted while reconnecting ends the watch the same way, after what was delivered', async () => {
    const kv = client([a.endpoint, b.endpoint]);
    b.watch = (request, server) => {
      if ('createRequest' in request) server.send({ canceled: true, compactRevision: 30n });
    };
    const watch = kv.watch('k', { revision: 5 });
    const first = await stream(a, 'k');
    first.send({ created: true });
    first.send({ events: [put('k', '1', 5n)] });
    first.fail(status.UNAVAILABLE, 'gone');
    const batches: WatchBatch[] = [];
    const error = await (async () => {
      for await (const batch of watch) batches.push(batch);
    })().catch((caught: unknown) => caught);
    expect(revisions(batches)).toEqual([5n]);
    expect(createOf((await stream(b, 'k')).requests[0])?.startRevision).toBe(6n);
    expect(error).toMatchObject({
      reason: 'compacted',
      compactRevision: 30n,
      endpoint: b.endpoint,
    });
  });

  it('another cancel carries the server’s reason; an incurable stream error fails the watch', async () => {
    const kv = client([a.endpoint]);
    a.watch = (request, server) => {
      if ('createRequest' in request) {
        server.send({
          created: true,
          canceled: true,
          watchId: -1n,
          cancelReason: 'etcdserver: permission denied',
        });
      }
    };
    const canceled = await kv.watch('k').done;
    expect(canceled.reason).toBe('canceled');
    expect(canceled.reason === 'canceled' && canceled.error).toMatchObject({
      code: status.FAILED_PRECONDITION,
      details: 'etcdserver: permission denied',
      reason: 'permissionDenied',
      compactRevision: 0n,
    });
    a.watch = (request, server) => {
      if ('createRequest' in request) server.fail(status.UNIMPLEMENTED, 'unknown service');
    };
    const watch = kv.watch('k');
    const error = await watch[Symbol.asyncIterator]()
      .next()
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(KvClientError);
    expect(error).not.toBeInstanceOf(WatchCanceledError);
    expect(error).toMatchObject({ code: status.UNIMPLEMENTED, endpoint: a.endpoint });
    expect((await watch.done).reason).toBe('failed');
  });

  it('keeps every batch a slow reader has not read (the stream is paused, nothing dropped)', async () => {
    const kv = client([a.endpoint]);
    const watch: Watch = kv.watch('k');
    const server = await stream(a, 'k');
    server.send({ created: true });
    const total = WATCH_BUFFER * 2 + 10;
    for (let i = 0; i < total; i++) server.send({ events: [put('k', String(i), BigInt(4 + i))] });
    const batches = await take(watch[Symbol.asyncIterator](), total);
    expect(revisions(batches)).toEqual(Array.from({ length: total }, (_, i) => BigInt(4 + i)));
  });
});
