import * as mvcc from '../mvcc/index.js';

/**
 * The watch registry and event fan-out behind etcd's Watch service (etcd 3.4/3.5
 * semantics), independent of gRPC.
 *
 * Every member applies the log in order, so every member serves watches from its own
 * MVCC store: the store's `onCommit` listener hands each committed write txn's events to
 * the hub, which routes them to the matching watchers of every open stream. A watcher
 * is either *synced* (it receives live events as they commit) or *unsynced* (it reads
 * its events from the store's history, from `minRev` up, in batches of
 * `batchRevisions` revisions, then becomes synced) — etcd's synced/unsynced groups.
 * A watcher starts unsynced when its start revision is in the past.
 *
 * Flow control: each stream queues responses until the gRPC layer takes them
 * (`WatchStream.next`). When a live response would push a stream's queued events over
 * `maxQueuedEvents`, the watcher drops back to unsynced at that revision and later
 * catches up from history once the queue is empty, so a slow client costs bounded memory
 * and never blocks applying entries. If the history it needs was compacted meanwhile, it
 * is canceled with `compact_revision` set (etcd's answer to a compacted start revision).
 *
 * Snapshot restore replaces the store: every synced watcher then becomes unsynced from
 * the revision after the last one it was sent, and catches up from the new store's
 * history, or is canceled with `compact_revision` when the new store no longer holds it
 * (what etcd does on restore: synced watchers are moved to unsynced and resynced).
 */

/** EventType is `mvccpb.Event.EventType`. */
export const EventType = { PUT: 0, DELETE: 1 } as const;

/** FilterType is `WatchCreateRequest.FilterType`. */
export const FilterType = { NOPUT: 0, NODELETE: 1 } as const;

/** WATCH_RANGE_EMPTY and WATCH_DUPLICATE_ID are etcd's cancel reasons (mvcc errors). */
export const WATCH_RANGE_EMPTY = 'mvcc: watcher range is empty';
export const WATCH_DUPLICATE_ID = 'mvcc: duplicate watch ID provided on the WatchStream';

/** DEFAULT_PROGRESS_INTERVAL_MS is etcd's progress-notify interval (10 minutes). */
export const DEFAULT_PROGRESS_INTERVAL_MS = 10 * 60 * 1000;

/** HubEvent is one event sent to a watcher. */
export interface HubEvent {
  readonly type: 0 | 1;
  readonly kv: mvcc.KeyValue;
  readonly prevKv?: mvcc.KeyValue;
}

/** HubResponse is one WatchResponse, before the header is filled in. */
export interface HubResponse {
  /** The watcher's id; -1 for a progress response to the whole stream. */
  readonly watchId: number;
  /** The header's revision. */
  readonly revision: number;
  readonly created?: boolean;
  readonly canceled?: boolean;
  readonly cancelReason?: string;
  readonly compactRevision?: number;
  readonly events: readonly HubEvent[];
  /** fragment: the watcher asked for large responses to be split (etcd's `fragment`). */
  readonly fragment?: boolean;
}

/** WatchCreate is a WatchCreateRequest with revisions and ids as numbers. */
export interface WatchCreate {
  readonly key?: Uint8Array;
  readonly rangeEnd?: Uint8Array;
  /** 0 (or absent): from the next revision; otherwise from this one, replaying history. */
  readonly startRevision?: number;
  readonly progressNotify?: boolean;
  readonly filters?: readonly number[];
  readonly prevKv?: boolean;
  /** 0 (or absent): the stream assigns the next free id, from 0 up. */
  readonly watchId?: number;
  /** fragment lets the server split a response too large to send whole. */
  readonly fragment?: boolean;
}

/** WatchHubOptions configure a WatchHub. */
export interface WatchHubOptions {
  /** store returns the current MVCC store (it changes on snapshot restore). */
  readonly store: () => mvcc.MvccStore;
  /** progressIntervalMs is the period of progress_notify responses (default 10 min). */
  readonly progressIntervalMs?: number;
  /** maxQueuedEvents bounds the events a stream queues for a slow client (default 10,000). */
  readonly maxQueuedEvents?: number;
  /** batchRevisions is how many revisions one catch-up response covers (1000, as etcd). */
  readonly batchRevisions?: number;
  /** onError hears an internal failure; the hub then ends every stream. */
  readonly onError?: (error: unknown) => void;
}

interface Watcher {
  readonly id: number;
  readonly stream: WatchStream;
  readonly key: Uint8Array;
  /** As for Range: undefined = the single key, [0] = every key >= key. */
  readonly rangeEnd: Uint8Array | undefined;
  /** Index-string form of the range, for matching. */
  readonly start: string;
  readonly end: string | undefined;
  readonly single: boolean;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  readonly prevKv: boolean;
  readonly progressNotify: boolean;
  readonly fragment: boolean;
  /** The next revision the watcher needs (meaningful while unsynced, or before it starts). */
  minRev: number;
  synced: boolean;
  /** No events were sent since the last progress tick (etcd elides progress otherwise). */
  progressDue: boolean;
}

const ZERO_KEY = new Uint8Array([0]);

function isAllFrom(rangeEnd: Uint8Array | undefined): boolean {
  return rangeEnd !== undefined && rangeEnd.length === 1 && rangeEnd[0] === 0;
}

/** WatchHub is the registry of every stream's watchers on this member. */
export class WatchHub {
  readonly store: () => mvcc.MvccStore;
  readonly maxQueuedEvents: number;
  readonly batchRevisions: number;
  private readonly onError: (error: unknown) => void;
  private readonly streams = new Set<WatchStream>();
  /** Synced single-key watchers by key string, and synced range watchers. */
  private readonly singles = new Map<string, Set<Watcher>>();
  private readonly ranges = new Set<Watcher>();
  private watcherCount = 0;
  /** The store the listener is on, and the last revision whose events were routed. */
  private attached: mvcc.MvccStore | undefined;
  private lastRev = 0;
  private readonly ticker: ReturnType<typeof setInterval>;
  private readonly listener: mvcc.CommitListener = (revision, events) => {
    try {
      this.onCommit(revision, events);
    } catch (error) {
      // Never throw into the state machine; a watcher must not silently miss events, so
      // every stream ends and clients resume from their last revision.
      this.onError(error);
      this.close();
    }
  };

  constructor(options: WatchHubOptions) {
    this.store = options.store;
    this.maxQueuedEvents = options.maxQueuedEvents ?? 10_000;
    this.batchRevisions = options.batchRevisions ?? 1000;
    this.onError = options.onError ?? (() => {});
    this.ticker = setInterval(
      () => this.progressTick(),
      options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS,
    );
    this.ticker.unref?.();
  }

  /** openStream starts one Watch stream; `wake` is called when it has responses to take. */
  openStream(wake: () => void = () => {}): WatchStream {
    const stream = new WatchStream(this, wake);
    this.streams.add(stream);
    return stream;
  }

  /** close ends every stream (server shutdown) and stops the progress ticker. */
  close(): void {
    clearInterval(this.ticker);
    for (const stream of [...this.streams]) stream.terminate();
  }

  /** streamCount is the number of open streams. */
  get streamCount(): number {
    return this.streams.size;
  }

  /** queuedEvents is the number of events waiting to be sent, over every stream. */
  get queuedEvents(): number {
    let total = 0;
    for (const stream of this.streams) total += stream.queued;
    return total;
  }

  /** watchers is the number of watchers of every stream, synced or not. */
  get watchers(): number {
    return this.watcherCount;
  }

  /** @internal */
  forgetStream(stream: WatchStream): void {
    this.streams.delete(stream);
  }

  /** @internal A watcher joins: the listener is on the store while any watcher exists. */
  added(): void {
    if (this.watcherCount++ === 0) {
      const store = this.store();
      store.onCommit = this.listener;
      this.attached = store;
      this.lastRev = store.revision;
    }
  }

  /** @internal A watcher leaves. */
  removed(w: Watcher): void {
    if (w.synced) this.unindex(w);
    if (--this.watcherCount === 0) {
      if (this.attached !== undefined) this.attached.onCommit = undefined;
      this.store().onCommit = undefined;
      this.attached = undefined;
    }
  }

  /** @internal */
  index(w: Watcher): void {
    if (w.single) {
      const set = this.singles.get(w.start);
      if (set === undefined) this.singles.set(w.start, new Set([w]));
      else set.add(w);
    } else {
      this.ranges.add(w);
    }
  }

  /** @internal */
  unindex(w: Watcher): void {
    if (w.single) {
      const set = this.singles.get(w.start);
      set?.delete(w);
      if (set?.size === 0) this.singles.delete(w.start);
    } else {
      this.ranges.delete(w);
    }
  }

  /** @internal lastRevision is the last revision whose live events were routed. */
  get lastRevision(): number {
    return this.lastRev;
  }

  private onCommit(revision: number, events: readonly mvcc.MvccEvent[]): void {
    const store = this.store();
    if (store !== this.attached) {
      this.restored(store);
      return;
    }
    this.lastRev = revision;
    if (events.length === 0) return;
    const batches = new Map<Watcher, HubEvent[]>();
    const prevs = new Map<mvcc.MvccEvent, mvcc.KeyValue | undefined>();
    const haveRanges = this.ranges.size > 0;
    for (const event of events) {
      const k = mvcc.bytesToKeyString(event.kv.key);
      const singles = this.singles.get(k);
      if (singles !== undefined) for (const w of singles) this.route(w, event, batches, prevs);
      if (haveRanges) {
        for (const w of this.ranges) {
          if (k >= w.start && (w.end === undefined || k < w.end)) {
            this.route(w, event, batches, prevs);
          }
        }
      }
    }
    for (const [w, batch] of batches) w.stream.offerLive(w, revision, batch);
  }

  private route(
    w: Watcher,
    event: mvcc.MvccEvent,
    batches: Map<Watcher, HubEvent[]>,
    prevs: Map<mvcc.MvccEvent, mvcc.KeyValue | undefined>,
  ): void {
    if (event.kv.modRevision < w.minRev) return;
    if (event.type === 'put' ? w.noPut : w.noDelete) return;
    let out: HubEvent;
    if (w.prevKv) {
      let prev = prevs.get(event);
      if (prev === undefined && !prevs.has(event)) {
        prev = prevKvOf(this.store(), event);
        prevs.set(event, prev);
      }
      out = toHubEvent(event, prev);
    } else {
      out = toHubEvent(event, undefined);
    }
    const batch = batches.get(w);
    if (batch === undefined) batches.set(w, [out]);
    else batch.push(out);
  }

  /** restored moves to a store installed by snapshot restore (see the file's comment). */
  private restored(store: mvcc.MvccStore): void {
    if (this.attached !== undefined && this.attached !== store) this.attached.onCommit = undefined;
    store.onCommit = this.listener;
    this.attached = store;
    const from = this.lastRev + 1;
    this.lastRev = store.revision;
    for (const stream of this.streams) stream.resyncAll(from);
  }

  private progressTick(): void {
    for (const stream of this.streams) stream.progressTick();
  }
}

function toHubEvent(event: mvcc.MvccEvent, prev: mvcc.KeyValue | undefined): HubEvent {
  const type = event.type === 'put' ? EventType.PUT : EventType.DELETE;
  return prev === undefined ? { type, kv: event.kv } : { type, kv: event.kv, prevKv: prev };
}

/**
 * prevKvOf is the key's state just before the event (etcd: a Range at mod_revision - 1),
 * none for the put that creates the key or when that revision was compacted.
 */
function prevKvOf(store: mvcc.MvccStore, event: mvcc.MvccEvent): mvcc.KeyValue | undefined {
  const kv = event.kv;
  if (event.type === 'put' && kv.createRevision === kv.modRevision) return undefined;
  try {
    return store.range({ key: kv.key, revision: kv.modRevision - 1 }).kvs[0];
  } catch {
    return undefined;
  }
}

/**
 * WatchStream is one Watch stream: its watchers, keyed by id, and the queue of
 * responses the gRPC layer has not taken yet.
 */
export class WatchStream {
  private readonly watchers = new Map<number, Watcher>();
  private readonly unsynced = new Set<Watcher>();
  private nextId = 0;
  private queue: HubResponse[] = [];
  private head = 0;
  private queuedEvents = 0;
  private deferredProgress = false;
  private closed = false;
  /** onTerminate is called when the server ends the stream (shutdown, internal error). */
  onTerminate: () => void = () => {};

  constructor(
    private readonly hub: WatchHub,
    private readonly wake: () => void,
  ) {}

  /** queued is the number of events waiting to be taken. */
  get queued(): number {
    return this.queuedEvents;
  }

  /** create answers a WatchCreateRequest (etcd's recvLoop and watchStream.Watch). */
  create(req: WatchCreate): void {
    if (this.closed) return;
    const store = this.hub.store();
    const rev = store.revision;
    const key = req.key === undefined || req.key.length === 0 ? ZERO_KEY : req.key;
    const rangeEnd =
      req.rangeEnd === undefined || req.rangeEnd.length === 0 ? undefined : req.rangeEnd;
    const fail = (reason: string) =>
      this.push({
        watchId: -1,
        revision: rev,
        created: true,
        canceled: true,
        cancelReason: reason,
        events: [],
      });
    if (rangeEnd !== undefined && !isAllFrom(rangeEnd) && mvcc.compareBytes(key, rangeEnd) >= 0) {
      fail(WATCH_RANGE_EMPTY);
      return;
    }
    let id = req.watchId ?? 0;
    if (id === 0) {
      while (this.watchers.has(this.nextId)) this.nextId++;
      id = this.nextId++;
    } else if (this.watchers.has(id)) {
      fail(WATCH_DUPLICATE_ID);
      return;
    }
    const filters = req.filters ?? [];
    const start = req.startRevision ?? 0;
    const w: Watcher = {
      id,
      stream: this,
      key,
      rangeEnd,
      start: mvcc.bytesToKeyString(key),
      end:
        rangeEnd === undefined || isAllFrom(rangeEnd) ? undefined : mvcc.bytesToKeyString(rangeEnd),
      single: rangeEnd === undefined,
      noPut: filters.includes(FilterType.NOPUT),
      noDelete: filters.includes(FilterType.NODELETE),
      prevKv: req.prevKv === true,
      progressNotify: req.progressNotify === true,
      fragment: req.fragment === true,
      minRev: start <= 0 ? rev + 1 : start,
      synced: false,
      progressDue: true,
    };
    this.push({ watchId: id, revision: rev, created: true, events: [] });
    this.watchers.set(id, w);
    this.hub.added();
    if (w.minRev > rev) this.makeSynced(w);
    else this.unsynced.add(w);
  }

  /** cancel answers a WatchCancelRequest; an unknown id gets no answer, as in etcd. */
  cancel(id: number): void {
    const w = this.watchers.get(id);
    if (w === undefined || this.closed) return;
    this.drop(w);
    this.push({ watchId: id, revision: this.hub.store().revision, canceled: true, events: [] });
    this.maybeDeferredProgress();
  }

  /**
   * requestProgress answers a WatchProgressRequest: a response with watch id -1 and the
   * current revision, sent once every watcher of the stream is synced (etcd 3.5), so
   * every event up to that revision was sent before it.
   */
  requestProgress(): void {
    if (this.closed) return;
    this.deferredProgress = true;
    this.maybeDeferredProgress();
  }

  /** next takes the next response, refilling the queue from history when it is empty. */
  next(): HubResponse | undefined {
    if (this.head >= this.queue.length && this.unsynced.size > 0 && !this.closed) this.catchUp();
    if (this.head >= this.queue.length) return undefined;
    const r = this.queue[this.head] as HubResponse;
    this.queue[this.head++] = undefined as unknown as HubResponse;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.queuedEvents -= r.events.length;
    return r;
  }

  /** close ends the stream from the client side: every watcher goes. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.watchers.values()]) this.drop(w);
    this.queue = [];
    this.head = 0;
    this.queuedEvents = 0;
    this.hub.forgetStream(this);
  }

  /** @internal terminate ends the stream from the server side. */
  terminate(): void {
    if (this.closed) return;
    this.close();
    this.onTerminate();
  }

  /** @internal offerLive queues one revision's events for a synced watcher. */
  offerLive(w: Watcher, revision: number, events: HubEvent[]): void {
    if (this.queuedEvents > 0 && this.queuedEvents + events.length > this.hub.maxQueuedEvents) {
      // Too far behind: drop back to reading history from this revision on.
      this.hub.unindex(w);
      w.synced = false;
      w.minRev = revision;
      this.unsynced.add(w);
      return;
    }
    w.progressDue = false;
    this.push({ watchId: w.id, revision, events, ...(w.fragment ? { fragment: true } : {}) });
  }

  /** @internal resyncAll makes every synced watcher catch up from `from` (restore). */
  resyncAll(from: number): void {
    for (const w of this.watchers.values()) {
      if (!w.synced) continue;
      this.hub.unindex(w);
      w.synced = false;
      w.minRev = Math.max(w.minRev, from);
      this.unsynced.add(w);
    }
    if (this.unsynced.size > 0) this.wake();
  }

  /** @internal progressTick sends progress_notify responses (etcd's sendLoop ticker). */
  progressTick(): void {
    const rev = this.hub.store().revision;
    for (const w of this.watchers.values()) {
      if (!w.progressNotify) continue;
      if (w.progressDue && w.synced) this.push({ watchId: w.id, revision: rev, events: [] });
      w.progressDue = true;
    }
  }

  private push(response: HubResponse): void {
    this.queue.push(response);
    this.queuedEvents += response.events.length;
    this.wake();
  }

  private drop(w: Watcher): void {
    this.watchers.delete(w.id);
    this.unsynced.delete(w);
    this.hub.removed(w);
    w.synced = false;
  }

  private makeSynced(w: Watcher): void {
    this.unsynced.delete(w);
    w.synced = true;
    this.hub.index(w);
  }

  private maybeDeferredProgress(): void {
    if (!this.deferredProgress || this.unsynced.size > 0) return;
    this.deferredProgress = false;
    this.push({ watchId: -1, revision: this.hub.store().revision, events: [] });
  }

  /** catchUp reads unsynced watchers' events from history until the queue is full. */
  private catchUp(): void {
    const store = this.hub.store();
    const cur = store.revision;
    for (const w of [...this.unsynced]) {
      while (!w.synced && this.watchers.get(w.id) === w) {
        if (this.queuedEvents >= this.hub.maxQueuedEvents) return;
        if (w.minRev > cur) {
          this.makeSynced(w);
          break;
        }
        if (w.minRev < store.compactRevision) {
          this.drop(w);
          this.push({
            watchId: w.id,
            revision: cur,
            canceled: true,
            compactRevision: store.compactRevision,
            events: [],
          });
          break;
        }
        const to = Math.min(cur, w.minRev + this.hub.batchRevisions - 1);
        const events: HubEvent[] = [];
        for (const event of store.history(w.key, w.rangeEnd, w.minRev, to)) {
          if (event.type === 'put' ? w.noPut : w.noDelete) continue;
          events.push(toHubEvent(event, w.prevKv ? prevKvOf(store, event) : undefined));
        }
        w.minRev = to + 1;
        if (events.length > 0) {
          w.progressDue = false;
          this.push({
            watchId: w.id,
            revision: to,
            events,
            ...(w.fragment ? { fragment: true } : {}),
          });
        }
      }
    }
    this.maybeDeferredProgress();
  }
}
