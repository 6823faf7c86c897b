// Watching keys as etcd's clientv3 does, one watch per Watch stream: the created answer
// is awaited, batches of events are delivered in order, fragments are joined, and a
// stream that breaks (UNAVAILABLE or INTERNAL, or ended by the server) is reopened on
// the next endpoint with the watch resumed at the revision after the last one delivered,
// so that no event is lost or repeated. A server's cancel (e.g. the revision was
// compacted) ends the watch with a WatchCanceledError.
import type * as grpc from '@grpc/grpc-js';
import type { Event, WatchCreateRequest, WatchRequest, WatchResponse } from '@raftkit/rpc/etcd';
import {
  asKvClientError,
  type KvClientError,
  streamEndError,
  streamRetryable,
  WatchCanceledError,
} from './errors.js';

/**
 * WATCH_BUFFER is how many batches a Watch keeps unread before it pauses its stream
 * (gRPC flow control then holds the server back); none is dropped. Reading resumes once
 * half of them have been read.
 */
export const WATCH_BUFFER = 256;

/**
 * WATCH_CANCEL_WAIT_MS is how long a closed Watch waits for the server to confirm its
 * WatchCancelRequest before it drops the stream anyway.
 */
export const WATCH_CANCEL_WAIT_MS = 1000;

/**
 * WatchBatch is one WatchResponse as a watch delivers it: the server's response with its
 * fragments joined (`fragment` false), plus `progressNotify`, true for a progress
 * notification (no events, not created or canceled; `header.revision` is the revision
 * the watch has caught up with). `watchId` is the id on the current stream, which
 * changes when the watch is resumed on another one.
 */
export interface WatchBatch extends WatchResponse {
  /** progressNotify tells whether this is a progress notification. */
  readonly progressNotify: boolean;
}

/** WatchStream is one open Watch stream and the endpoint it goes to. */
export interface WatchStream {
  /** endpoint is the endpoint as configured. */
  readonly endpoint: string;
  /** call is the bidi stream. */
  readonly call: grpc.ClientDuplexStream<WatchRequest, WatchResponse>;
}

/** WatchStreams is how a Watch reaches the servers (KvClient provides it). */
export interface WatchStreams {
  /** open opens a stream to the current endpoint; it rejects with a KvClientError when it cannot. */
  open(): Promise<WatchStream>;
  /** failed reports that `endpoint` failed, so that the next `open` tries another one. */
  failed(endpoint: string | undefined): void;
  /** retryDelayMs is the pause before reopening after `attempt` failures in a row (1-based). */
  retryDelayMs(attempt: number): number;
}

/**
 * WatchEnd is why a Watch stopped. `closed`: `close()` was called (or the client was
 * closed, or an iteration was left early). `canceled`: the server canceled the watch
 * (`error.reason` is `compacted` when its revision was compacted). `failed`: the
 * stream failed with an error that reconnecting cannot cure (anything but UNAVAILABLE
 * and INTERNAL, e.g. PERMISSION_DENIED or UNIMPLEMENTED).
 */
export type WatchEnd =
  | { readonly reason: 'closed' }
  | { readonly reason: 'canceled'; readonly error: WatchCanceledError }
  | { readonly reason: 'failed'; readonly error: KvClientError };

/** WatchHandleOptions are the Watch's own switches (the rest is in the create request). */
export interface WatchHandleOptions {
  /** createdNotify also delivers the answer to the first creation. */
  readonly createdNotify?: boolean;
}

/**
 * WatchCursor is where a watch resumes: the revision after the last one it has seen
 * complete. Before the first answer it is the requested start revision (0: "from now").
 * It does no I/O; Watch drives it.
 */
export class WatchCursor {
  // Invariant: 0n means "not known yet"; otherwise the next revision to deliver.
  #next: bigint;

  /** Creates a cursor for a watch that starts at `startRevision` (0: from now). */
  constructor(startRevision: bigint) {
    this.#next = startRevision > 0n ? startRevision : 0n;
  }

  /** nextRevision is the first revision not delivered yet (0 before a watch from now is created). */
  get nextRevision(): bigint {
    return this.#next;
  }

  /**
   * created records the server's created answer: a watch from now starts after the
   * revision in its header.
   */
  created(response: WatchResponse): void {
    const revision = response.header?.revision ?? 0n;
    if (this.#next === 0n && revision > 0n) this.#next = revision + 1n;
  }

  /**
   * delivered records a complete batch: after events, the revision after the last
   * one; after a progress notification, the revision after its header's.
   */
  delivered(response: WatchResponse): void {
    const last = response.events.at(-1)?.kv?.modRevision;
    if (last !== undefined) {
      this.#next = last + 1n;
      return;
    }
    const revision = response.header?.revision ?? 0n;
    if (revision + 1n > this.#next) this.#next = revision + 1n;
  }

  /** resumeRequest is `request` with its start revision moved to where the watch is. */
  resumeRequest(request: WatchCreateRequest): WatchCreateRequest {
    return this.#next === 0n ? request : { ...request, startRevision: this.#next };
  }
}

function isProgressNotify(response: WatchResponse): boolean {
  return (
    response.events.length === 0 &&
    !response.created &&
    !response.canceled &&
    response.compactRevision === 0n &&
    (response.header?.revision ?? 0n) !== 0n
  );
}

/**
 * Watch is one watch on a key or range: an async iterable of WatchBatch (`for await
 * (const batch of watch)`), iterable once, that ends when the watch does — normally
 * after `close()`, by throwing the error when the server canceled it (a
 * WatchCanceledError, reason `compacted` for a compacted revision) or when the stream
 * `failed`. Leaving the loop early closes the watch. `done` says why it stopped. Get
 * one from `KvClient.watch`.
 */
export class Watch implements AsyncIterable<WatchBatch> {
  /** done resolves (never rejects) once the watch has stopped, with the reason. */
  readonly done: Promise<WatchEnd>;
  readonly #request: WatchCreateRequest;
  readonly #streams: WatchStreams;
  readonly #createdNotify: boolean;
  readonly #cursor: WatchCursor;
  readonly #queue: WatchBatch[] = [];
  readonly #resolveDone: (end: WatchEnd) => void;
  #wake: (() => void) | undefined;
  #iterated = false;
  // Invariant: while running, either #stream is set, or #connect is under way, or
  // #timer will call it.
  #stream: WatchStream | undefined;
  #watchId: bigint | undefined;
  #fragments: Event[] = [];
  #notified = false;
  #paused = false;
  #attempts = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastError: KvClientError | undefined;
  #end: WatchEnd | undefined;

  /** Starts watching: opens a stream over `streams` and sends `request` on it. */
  constructor(
    request: WatchCreateRequest,
    streams: WatchStreams,
    options: WatchHandleOptions = {},
  ) {
    this.#request = request;
    this.#streams = streams;
    this.#createdNotify = options.createdNotify === true;
    this.#cursor = new WatchCursor(request.startRevision ?? 0n);
    let resolveDone: (end: WatchEnd) => void = () => {};
    this.done = new Promise((resolve) => {
      resolveDone = resolve;
    });
    this.#resolveDone = resolveDone;
    void this.#connect();
  }

  /**
   * nextRevision is the revision the watch would resume at: the one after the last
   * revision delivered (0 while a watch from now has not been created yet).
   */
  get nextRevision(): bigint {
    return this.#cursor.nextRevision;
  }

  /** lastError is the last stream failure since the watch was last (re)created, if any. */
  get lastError(): KvClientError | undefined {
    return this.#lastError;
  }

  /**
   * requestProgress asks the server for a progress notification now (etcd 3.4+); it is
   * delivered as a batch with `progressNotify`. Ignored while the watch is reconnecting.
   */
  requestProgress(): void {
    if (this.#end !== undefined || this.#watchId === undefined) return;
    try {
      this.#stream?.call.write({ progressRequest: {} });
    } catch {
      // The stream is failing; its 'status' reconnects.
    }
  }

  /**
   * close stops the watch: it sends a WatchCancelRequest (the stream is dropped once the
   * server confirms, or after WATCH_CANCEL_WAIT_MS) and ends the iteration; unread
   * batches are discarded.
   */
  close(): void {
    this.#finish({ reason: 'closed' });
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchBatch> {
    if (this.#iterated) throw new TypeError('a Watch can be iterated once');
    this.#iterated = true;
    return {
      next: async () => {
        for (;;) {
          const value = this.#queue.shift();
          if (value !== undefined) {
            this.#resumeReading();
            return { value, done: false };
          }
          const end = this.#end;
          if (end !== undefined) {
            if (end.reason !== 'closed') throw end.error;
            return { value: undefined, done: true };
          }
          await new Promise<void>((resolve) => {
            this.#wake = resolve;
          });
          this.#wake = undefined;
        }
      },
      return: async () => {
        this.close();
        return { value: undefined, done: true };
      },
    };
  }

  async #connect(): Promise<void> {
    this.#timer = undefined;
    let stream: WatchStream;
    try {
      stream = await this.#streams.open();
    } catch (error) {
      const failure = asKvClientError(error);
      this.#streamFailed(failure, failure.endpoint);
      return;
    }
    if (this.#end !== undefined) {
      stream.call.cancel();
      return;
    }
    this.#stream = stream;
    this.#watchId = undefined;
    this.#fragments = [];
    const { call, endpoint } = stream;
    call.on('data', (response: WatchResponse) => {
      if (this.#stream === stream) this.#handleResponse(response, endpoint);
    });
    // Failures arrive once more as 'status', which is handled; this keeps 'error' from throwing.
    call.on('error', () => {});
    call.on('status', (status: grpc.StatusObject) => {
      if (this.#stream !== stream) return;
      this.#streamFailed(streamEndError(status, endpoint, 'watch'), endpoint);
    });
    if (this.#paused) call.pause();
    try {
      call.write({ createRequest: this.#cursor.resumeRequest(this.#request) });
    } catch {
      // The stream is failing; its 'status' reconnects.
    }
  }

  #handleResponse(response: WatchResponse, endpoint: string): void {
    if (response.canceled) {
      this.#finish({ reason: 'canceled', error: new WatchCanceledError(response, endpoint) });
      return;
    }
    if (response.created) {
      this.#watchId = response.watchId;
      this.#attempts = 0;
      this.#lastError = undefined;
      this.#cursor.created(response);
      if (this.#createdNotify && !this.#notified) {
        this.#notified = true;
        this.#deliver({ ...response, progressNotify: false });
      }
      return;
    }
    if (response.fragment) {
      this.#fragments.push(...response.events);
      return;
    }
    let whole = response;
    if (this.#fragments.length > 0) {
      whole = { ...response, events: [...this.#fragments, ...response.events] };
      this.#fragments = [];
    }
    this.#cursor.delivered(whole);
    this.#deliver({ ...whole, progressNotify: isProgressNotify(whole) });
  }

  #deliver(batch: WatchBatch): void {
    this.#queue.push(batch);
    if (this.#queue.length >= WATCH_BUFFER && !this.#paused) {
      this.#paused = true;
      this.#stream?.call.pause();
    }
    this.#wake?.();
  }

  #resumeReading(): void {
    if (!this.#paused || this.#queue.length > WATCH_BUFFER / 2) return;
    this.#paused = false;
    this.#stream?.call.resume();
  }

  #streamFailed(error: KvClientError, endpoint: string | undefined): void {
    if (this.#end !== undefined) return;
    this.#stream?.call.cancel();
    this.#stream = undefined;
    this.#watchId = undefined;
    this.#fragments = [];
    if (!streamRetryable(error)) {
      this.#finish({ reason: 'failed', error });
      return;
    }
    this.#lastError = error;
    this.#streams.failed(endpoint);
    this.#attempts++;
    this.#timer = setTimeout(
      () => void this.#connect(),
      this.#streams.retryDelayMs(this.#attempts),
    );
  }

  // Drops a stream; a watch the server knows is canceled first, as clientv3 does.
  #release(stream: WatchStream, watchId: bigint | undefined): void {
    const { call } = stream;
    if (watchId === undefined) {
      call.cancel();
      return;
    }
    const drop = (): void => {
      clearTimeout(timer);
      call.cancel();
    };
    const timer = setTimeout(drop, WATCH_CANCEL_WAIT_MS);
    timer.unref();
    call.on('data', (response: WatchResponse) => {
      if (response.canceled) drop();
    });
    call.on('status', () => clearTimeout(timer));
    call.resume();
    try {
      call.write({ cancelRequest: { watchId } });
      call.end();
    } catch {
      drop();
    }
  }

  #finish(end: WatchEnd): void {
    if (this.#end !== undefined) return;
    this.#end = end;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const stream = this.#stream;
    this.#stream = undefined;
    if (stream !== undefined) {
      this.#release(stream, end.reason === 'closed' ? this.#watchId : undefined);
    }
    this.#watchId = undefined;
    if (end.reason === 'closed') this.#queue.length = 0;
    this.#wake?.();
    this.#resolveDone(end);
  }
}
