import type { Entry } from '@raftkit/core';
import { encodeEtcdMessage } from '@raftkit/rpc/etcd';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeKvCommand } from '../../src/kv-command.js';
import { KvStateMachine } from '../../src/kv-state-machine.js';
import { MvccStore } from '../../src/mvcc/index.js';
import {
  FilterType,
  type HubResponse,
  WATCH_DUPLICATE_ID,
  WATCH_RANGE_EMPTY,
  type WatchCreate,
  WatchHub,
  type WatchHubOptions,
  type WatchStream,
} from '../../src/watch/watch-hub.js';

const b = (text: string) => new TextEncoder().encode(text);
const s = (bytes: Uint8Array | undefined) =>
  bytes === undefined ? '' : new TextDecoder().decode(bytes);

/** drain takes every response the stream has (the gRPC layer's loop). */
function drain(stream: WatchStream): HubResponse[] {
  const out: HubResponse[] = [];
  for (let r = stream.next(); r !== undefined; r = stream.next()) out.push(r);
  return out;
}

/** brief renders responses compactly: id, flags, header revision, events. */
function brief(responses: HubResponse[]): string[] {
  return responses.map((r) => {
    const flags = [
      r.created ? 'created' : '',
      r.canceled ? 'canceled' : '',
      r.compactRevision ? `compact=${r.compactRevision}` : '',
      r.cancelReason ? `reason=${r.cancelReason}` : '',
    ].filter(Boolean);
    const events = r.events.map(
      (e) =>
        `${e.type === 0 ? 'PUT' : 'DEL'} ${s(e.kv.key)}=${s(e.kv.value)}@${e.kv.modRevision}` +
        (e.prevKv ? ` prev=${s(e.prevKv.value)}@${e.prevKv.modRevision}` : ''),
    );
    return [`#${r.watchId}`, ...flags, `rev=${r.revision}`, ...events].join(' ');
  });
}

function setup(options: Partial<WatchHubOptions> = {}) {
  const store = new MvccStore();
  const hub = new WatchHub({ store: () => store, ...options });
  const stream = hub.openStream();
  const watch = (req: WatchCreate) => stream.create(req);
  const put = (key: string, value: string) => store.put({ key: b(key), value: b(value) });
  const del = (key: string, end?: string) =>
    store.deleteRange({ key: b(key), ...(end !== undefined ? { rangeEnd: b(end) } : {}) });
  return { store, hub, stream, watch, put, del, take: () => brief(drain(stream)) };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('WatchHub', () => {
  it('watches one key: created, puts and deletes with revisions and versions', () => {
    const { stream, watch, put, del, take, store } = setup();
    put('other', 'x'); // rev 2
    watch({ key: b('foo') });
    put('foo', 'a'); // 3
    put('foox', 'no'); // 4
    put('foo', 'b'); // 5
    del('foo'); // 6
    expect(take()).toEqual([
      '#0 created rev=2',
      '#0 rev=3 PUT foo=a@3',
      '#0 rev=5 PUT foo=b@5',
      '#0 rev=6 DEL foo=@6',
    ]);
    // A put's kv carries create revision, version and lease; a delete's only key and revision.
    put('foo', 'c'); // 7
    put('foo', 'd'); // 8
    const [, second] = drain(stream);
    expect(second!.events[0]!.kv).toMatchObject({ createRevision: 7, modRevision: 8, version: 2 });
    del('foo');
    expect(drain(stream)[0]!.events[0]!.kv).toMatchObject({
      createRevision: 0,
      modRevision: 9,
      version: 0,
      lease: 0n,
    });
    expect(store.revision).toBe(9);
  });

  it('watches prefixes, "\\0" (all keys >= key) and every key', () => {
    const { watch, put, take } = setup();
    watch({ key: b('a/'), rangeEnd: b('a0') }); // prefix a/
    watch({ key: b('b'), rangeEnd: new Uint8Array([0]) }); // all keys >= b
    watch({ key: new Uint8Array(0), rangeEnd: new Uint8Array([0]) }); // every key
    put('a/1', '1');
    put('a', 'x');
    put('c', 'y');
    expect(take()).toEqual([
      '#0 created rev=1',
      '#1 created rev=1',
      '#2 created rev=1',
      '#0 rev=2 PUT a/1=1@2',
      '#2 rev=2 PUT a/1=1@2',
      '#2 rev=3 PUT a=x@3',
      '#1 rev=4 PUT c=y@4',
      '#2 rev=4 PUT c=y@4',
    ]);
  });

  it('sends one response per revision with all of a txn’s events, in op order', () => {
    const { store, watch, take } = setup();
    watch({ key: b('k'), rangeEnd: b('l') });
    store.txn({
      success: [
        { requestPut: { key: b('k2'), value: b('2') } },
        { requestPut: { key: b('k1'), value: b('1') } },
      ],
    });
    expect(take()).toEqual(['#0 created rev=1', '#0 rev=2 PUT k2=2@2 PUT k1=1@2']);
  });

  it('applies NOPUT and NODELETE filters', () => {
    const { watch, put, del, take } = setup();
    watch({ key: b('k'), filters: [FilterType.NOPUT] });
    watch({ key: b('k'), filters: [FilterType.NODELETE] });
    put('k', '1');
    del('k');
    expect(take()).toEqual([
      '#0 created rev=1',
      '#1 created rev=1',
      '#1 rev=2 PUT k=1@2',
      '#0 rev=3 DEL k=@3',
    ]);
  });

  it('adds prev_kv when asked (none for a creating put)', () => {
    const { watch, put, del, take } = setup();
    watch({ key: b('k'), prevKv: true });
    watch({ key: b('k') });
    put('k', '1');
    put('k', '2');
    del('k');
    expect(take()).toEqual([
      '#0 created rev=1',
      '#1 created rev=1',
      '#0 rev=2 PUT k=1@2',
      '#1 rev=2 PUT k=1@2',
      '#0 rev=3 PUT k=2@3 prev=1@2',
      '#1 rev=3 PUT k=2@3',
      '#0 rev=4 DEL k=@4 prev=2@3',
      '#1 rev=4 DEL k=@4',
    ]);
  });

  it('replays history from a past start revision, then goes on live, with no gap', () => {
    const { watch, put, del, take } = setup({ batchRevisions: 2 });
    put('k', '1'); // 2
    put('j', 'no'); // 3
    put('k', '2'); // 4
    del('k'); // 5
    put('k', '3'); // 6
    watch({ key: b('k'), startRevision: 3, prevKv: true });
    put('k', '4'); // 7: live, but the watcher is still catching up
    expect(take()).toEqual([
      '#0 created rev=6',
      // batches of two revisions; the header is the last revision covered
      '#0 rev=4 PUT k=2@4 prev=1@2',
      '#0 rev=6 DEL k=@5 prev=2@4 PUT k=3@6',
      '#0 rev=7 PUT k=4@7 prev=3@6',
    ]);
    put('k', '5');
    expect(take()).toEqual(['#0 rev=8 PUT k=5@8 prev=4@7']);
  });

  it('waits for a future start revision', () => {
    const { watch, put, take } = setup();
    watch({ key: b('k'), startRevision: 4 });
    put('k', '1'); // 2
    put('k', '2'); // 3
    put('k', '3'); // 4
    expect(take()).toEqual(['#0 created rev=1', '#0 rev=4 PUT k=3@4']);
  });

  it('answers a compacted start revision with created, then canceled with compact_revision', () => {
    const { store, watch, put, take } = setup();
    for (let i = 0; i < 5; i++) put('k', String(i)); // revs 2..6
    store.compact(5);
    watch({ key: b('k'), startRevision: 3 });
    watch({ key: b('k'), startRevision: 5 }); // exactly the compacted revision is kept
    expect(take()).toEqual([
      '#0 created rev=6',
      '#1 created rev=6',
      '#0 canceled compact=5 rev=6',
      '#1 rev=6 PUT k=3@5 PUT k=4@6',
    ]);
  });

  it('cancels watchers; an unknown id gets no answer', () => {
    const { stream, watch, put, take } = setup();
    watch({ key: b('k') });
    put('k', '1');
    stream.cancel(0);
    stream.cancel(42);
    put('k', '2');
    expect(take()).toEqual(['#0 created rev=1', '#0 rev=2 PUT k=1@2', '#0 canceled rev=2']);
  });

  it('assigns ids from 0 per stream, takes the client’s, refuses duplicates and empty ranges', () => {
    const { hub, stream, watch, take } = setup();
    watch({ key: b('a') });
    watch({ key: b('a'), watchId: 1 });
    watch({ key: b('a') }); // 2 (1 is taken)
    watch({ key: b('a'), watchId: 1 });
    watch({ key: b('b'), rangeEnd: b('a') });
    expect(take()).toEqual([
      '#0 created rev=1',
      '#1 created rev=1',
      '#2 created rev=1',
      `#-1 created canceled reason=${WATCH_DUPLICATE_ID} rev=1`,
      `#-1 created canceled reason=${WATCH_RANGE_EMPTY} rev=1`,
    ]);
    const other = hub.openStream();
    other.create({ key: b('a') });
    expect(brief(drain(other))).toEqual(['#0 created rev=1']);
    expect(hub.watchers).toBe(4);
    stream.close();
    other.close();
    expect(hub.watchers).toBe(0);
  });

  it('answers a progress request with watch id -1 once every watcher is synced', () => {
    const { stream, watch, put, take } = setup({ batchRevisions: 1 });
    put('k', '1'); // 2
    put('k', '2'); // 3
    stream.requestProgress();
    expect(take()).toEqual(['#-1 rev=3']);
    watch({ key: b('k'), startRevision: 2 });
    stream.requestProgress(); // deferred until the replay is sent
    expect(take()).toEqual([
      '#0 created rev=3',
      '#0 rev=2 PUT k=1@2',
      '#0 rev=3 PUT k=2@3',
      '#-1 rev=3',
    ]);
  });

  it('sends progress_notify responses to synced watchers with no recent events', () => {
    vi.useFakeTimers();
    const { watch, put, take } = setup({ progressIntervalMs: 100 });
    watch({ key: b('k'), progressNotify: true });
    watch({ key: b('j') });
    put('x', '1');
    expect(take()).toEqual(['#0 created rev=1', '#1 created rev=1']);
    vi.advanceTimersByTime(100);
    expect(take()).toEqual(['#0 rev=2']);
    put('k', '1');
    vi.advanceTimersByTime(100); // an event was sent in this interval: no progress
    expect(take()).toEqual(['#0 rev=3 PUT k=1@3']);
    vi.advanceTimersByTime(100);
    expect(take()).toEqual(['#0 rev=3']);
  });

  it('bounds a slow stream’s queue and catches it up from history without gaps', () => {
    const { stream, watch, put, take } = setup({ maxQueuedEvents: 5, batchRevisions: 3 });
    watch({ key: b('k') });
    watch({ key: b('j') });
    for (let i = 0; i < 40; i++) put(i % 2 === 0 ? 'k' : 'j', String(i));
    expect(stream.queued).toBeLessThanOrEqual(5);
    const events = take()
      .filter((line) => !line.includes('created'))
      .flatMap((line) => line.split(' PUT ').slice(1));
    const expected = Array.from(
      { length: 40 },
      (_, i) => `${i % 2 === 0 ? 'k' : 'j'}=${i}@${i + 2}`,
    );
    // Per watcher, in order, no gaps, no duplicates.
    expect(events.filter((e) => e.startsWith('k'))).toEqual(
      expected.filter((e) => e.startsWith('k')),
    );
    expect(events.filter((e) => e.startsWith('j'))).toEqual(
      expected.filter((e) => e.startsWith('j')),
    );
    put('k', 'live');
    expect(take()).toEqual(['#0 rev=42 PUT k=live@42']);
  });

  it('cancels a slow watcher whose history was compacted meanwhile', () => {
    const { store, stream, watch, put, take } = setup({ maxQueuedEvents: 2 });
    watch({ key: b('k') });
    for (let i = 0; i < 6; i++) put('k', String(i)); // 2..7; 2 and 3 queued, 4.. unsynced
    expect(stream.queued).toBe(2);
    store.compact(6);
    expect(take()).toEqual([
      '#0 created rev=1',
      '#0 rev=2 PUT k=0@2',
      '#0 rev=3 PUT k=1@3',
      '#0 canceled compact=6 rev=7',
    ]);
  });

  it('puts the commit listener on the store only while someone watches', () => {
    const { store, stream, watch } = setup();
    expect(store.onCommit).toBeUndefined();
    watch({ key: b('k') });
    expect(store.onCommit).toBeTypeOf('function');
    stream.cancel(0);
    expect(store.onCommit).toBeUndefined();
  });

  it('follows a snapshot restore: watchers catch up from the new store, or are canceled if compacted', () => {
    let index = 0;
    const put = (key: string, value: string): Entry => ({
      term: 1,
      index: ++index,
      type: 'normal',
      data: encodeKvCommand(
        'put',
        undefined,
        encodeEtcdMessage('PutRequest', { key: b(key), value: b(value) }),
      ),
    });
    const compact = (revision: number): Entry => ({
      term: 1,
      index: ++index,
      type: 'normal',
      data: encodeKvCommand(
        'compaction',
        undefined,
        encodeEtcdMessage('CompactionRequest', { revision }),
      ),
    });
    const leader = new KvStateMachine();
    const follower = new KvStateMachine();
    const hub = new WatchHub({ store: () => follower.store });
    const stream = hub.openStream();
    const entries = [put('k', '1'), put('k', '2')];
    leader.apply(entries);
    follower.apply(entries);
    stream.create({ key: b('k') });
    stream.create({ key: b('k'), prevKv: true });
    expect(brief(drain(stream))).toEqual(['#0 created rev=3', '#1 created rev=3']);
    // The follower misses revisions 4..6 and is sent a snapshot.
    leader.apply([put('k', '3'), put('x', '-'), put('k', '4')]);
    const snapshot = (at: number) => ({
      metadata: {
        index: at,
        term: 1,
        confState: {
          voters: [],
          learners: [],
          votersOutgoing: [],
          learnersNext: [],
          autoLeave: false,
        },
      },
      data: leader.snapshot(),
    });
    const old = follower.store;
    follower.restore(snapshot(index));
    expect(follower.store).not.toBe(old);
    expect(follower.store.onCommit).toBeTypeOf('function');
    expect(old.onCommit).toBeUndefined();
    expect(brief(drain(stream))).toEqual([
      '#0 rev=6 PUT k=3@4 PUT k=4@6',
      '#1 rev=6 PUT k=3@4 prev=2@3 PUT k=4@6 prev=3@4',
    ]);
    const more = put('k', '5');
    leader.apply([more]);
    follower.apply([more]);
    expect(brief(drain(stream))).toEqual(['#0 rev=7 PUT k=5@7', '#1 rev=7 PUT k=5@7 prev=4@6']);
    // Missed history compacted away: canceled with the compact revision.
    leader.apply([put('k', '6'), put('k', '7'), compact(9)]);
    follower.restore(snapshot(index));
    expect(brief(drain(stream))).toEqual([
      '#0 canceled compact=9 rev=9',
      '#1 canceled compact=9 rev=9',
    ]);
    expect(hub.watchers).toBe(0);
    expect(follower.store.onCommit).toBeUndefined();
    hub.close();
  });

  it('ends every stream on close', () => {
    const { hub, stream, watch } = setup();
    const ended = vi.fn();
    stream.onTerminate = ended;
    watch({ key: b('k') });
    hub.close();
    expect(ended).toHaveBeenCalledOnce();
    expect(hub.watchers).toBe(0);
  });
});
