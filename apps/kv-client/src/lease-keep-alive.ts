// Keeping a lease alive as etcd's clientv3 does: one LeaseKeepAlive stream, a renewal a
// third of the TTL after the last answer, an unanswered request resent every 500 ms, a
// broken stream reopened (on the next endpoint) after 500 ms, and the lease given up
// when the server answers TTL 0 (it is gone) or when a whole TTL passes without an answer.
import type * as grpc from '@grpc/grpc-js';
import type { LeaseKeepAliveRequest, LeaseKeepAliveResponse } from '@raftkit/rpc/etcd';
import { asKvClientError, type KvClientError, streamEndError, streamRetryable } from './errors.js';

/**
 * KEEP_ALIVE_RETRY_MS is how long an unanswered keep-alive request waits before it is
 * resent, and a broken stream before it is reopened (clientv3's 500 ms).
 */
export const KEEP_ALIVE_RETRY_MS = 500;

/**
 * KEEP_ALIVE_BUFFER is how many responses an iterator of a LeaseKeepAlive keeps unread;
 * beyond it the oldest are dropped (clientv3 buffers 16 and drops the newest).
 */
export const KEEP_ALIVE_BUFFER = 16;

/**
 * KeepAliveSchedule is the timing of one lease's keep-alive, as clientv3 keeps it, with
 * time passed in (milliseconds): when the next request is due and when the lease is to
 * be given up. It does no I/O; LeaseKeepAlive drives it.
 */
export class KeepAliveSchedule {
  // Invariant: both are absolute times on the caller's clock.
  #nextSendAt: number;
  #deadline: number;

  /**
   * Creates a schedule whose first request is due at once, and which gives up unless a
   * first answer comes within `firstResponseTimeoutMs`.
   */
  constructor(now: number, firstResponseTimeoutMs: number) {
    this.#nextSendAt = now;
    this.#deadline = now + firstResponseTimeoutMs;
  }

  /** nextSendAt is when the next keep-alive request is due. */
  get nextSendAt(): number {
    return this.#nextSendAt;
  }

  /** deadline is when the lease is presumed expired unless an answer renews it first. */
  get deadline(): number {
    return this.#deadline;
  }

  /** due tells whether a request should be sent at `now`. */
  due(now: number): boolean {
    return now >= this.#nextSendAt;
  }

  /** expired tells whether the deadline has passed at `now`. */
  expired(now: number): boolean {
    return now >= this.#deadline;
  }

  /** sent records a request sent at `now`: unanswered, it is due again after KEEP_ALIVE_RETRY_MS. */
  sent(now: number): void {
    this.#nextSendAt = now + KEEP_ALIVE_RETRY_MS;
  }

  /**
   * renewed records an answer at `now` with a TTL (seconds, > 0): the next request is due
   * after a third of the TTL, and the lease lives until the TTL has passed.
   */
  renewed(now: number, ttlSeconds: bigint): void {
    const ttlMs = Number(ttlSeconds) * 1000;
    this.#nextSendAt = now + ttlMs / 3;
    this.#deadline = now + ttlMs;
  }
}

/** KeepAliveStream is one open LeaseKeepAlive stream and the endpoint it goes to. */
export interface KeepAliveStream {
  /** endpoint is the endpoint as configured. */
  readonly endpoint: string;
  /** call is the bidi stream. */
  readonly call: grpc.ClientDuplexStream<LeaseKeepAliveRequest, LeaseKeepAliveResponse>;
}

/** KeepAliveStreams is how a LeaseKeepAlive reaches the servers (KvClient provides it). */
export interface KeepAliveStreams {
  /**
   * open opens a stream to the current endpoint, connecting until `deadline` (epoch ms)
   * at most; it rejects with a KvClientError (naming the endpoint) when it cannot.
   */
  open(deadline: number): Promise<KeepAliveStream>;
  /** failed reports that `endpoint` failed, so that the next `open` tries another one. */
  failed(endpoint: string | undefined): void;
}

/**
 * LeaseKeepAliveEnd is why a LeaseKeepAlive stopped. `closed`: `close()` was called (or
 * the client was closed). `leaseNotFound`: the server answered TTL 0 — the lease expired
 * or was revoked. `expired`: no answer renewed the lease within its TTL (or the first
 * answer did not come within the dial timeout plus 1 s), so it has presumably expired;
 * `lastError` is the last stream failure, if any. `failed`: the stream failed with an
 * error that retrying cannot cure (anything but UNAVAILABLE and INTERNAL).
 */
export type LeaseKeepAliveEnd =
  | { readonly reason: 'closed' }
  | { readonly reason: 'leaseNotFound' }
  | { readonly reason: 'expired'; readonly lastError?: KvClientError }
  | { readonly reason: 'failed'; readonly error: KvClientError };

/** LeaseKeepAliveOptions shape a LeaseKeepAlive. */
export interface LeaseKeepAliveOptions {
  /** onResponse is called with every renewal (TTL > 0), in order. */
  readonly onResponse?: (response: LeaseKeepAliveResponse) => void;
}

interface Subscriber {
  readonly queue: LeaseKeepAliveResponse[];
  wake: (() => void) | undefined;
}

/**
 * LeaseKeepAlive keeps one lease alive until `close()`, the lease is gone, or it cannot
 * be renewed in time (see LeaseKeepAliveEnd); `done` says which. Each renewal goes to
 * `onResponse` and to every async iterator (`for await (const r of keepAlive)`), which
 * ends when the keep-alive does (throwing the error when it `failed`). Leaving such a
 * loop early does not stop the keep-alive: `close()` does. Get one from
 * `KvClient.leaseKeepAlive`.
 */
export class LeaseKeepAlive implements AsyncIterable<LeaseKeepAliveResponse> {
  /** id is the lease kept alive. */
  readonly id: bigint;
  /** done resolves (never rejects) once the keep-alive has stopped, with the reason. */
  readonly done: Promise<LeaseKeepAliveEnd>;
  readonly #streams: KeepAliveStreams;
  readonly #schedule: KeepAliveSchedule;
  readonly #onResponse: ((response: LeaseKeepAliveResponse) => void) | undefined;
  readonly #subscribers = new Set<Subscriber>();
  readonly #resolveDone: (end: LeaseKeepAliveEnd) => void;
  // Invariant: at most one of #stream, #opening, #reconnectAt is set while running.
  #stream: KeepAliveStream | undefined;
  #opening = false;
  #reconnectAt: number | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastError: KvClientError | undefined;
  #last: LeaseKeepAliveResponse | undefined;
  #end: LeaseKeepAliveEnd | undefined;

  /**
   * Starts keeping lease `id` alive over `streams`; the first request goes out at once
   * and must be answered within `firstResponseTimeoutMs`.
   */
  constructor(
    id: bigint,
    streams: KeepAliveStreams,
    firstResponseTimeoutMs: number,
    options: LeaseKeepAliveOptions = {},
  ) {
    this.id = id;
    this.#streams = streams;
    this.#schedule = new KeepAliveSchedule(Date.now(), firstResponseTimeoutMs);
    this.#onResponse = options.onResponse;
    let resolveDone: (end: LeaseKeepAliveEnd) => void = () => {};
    this.done = new Promise((resolve) => {
      resolveDone = resolve;
    });
    this.#resolveDone = resolveDone;
    void this.#connect();
  }

  /** ttl is the TTL (seconds) of the last renewal, or undefined before the first. */
  get ttl(): bigint | undefined {
    return this.#last?.TTL;
  }

  /** lastResponse is the last renewal, or undefined before the first. */
  get lastResponse(): LeaseKeepAliveResponse | undefined {
    return this.#last;
  }

  /** close stops keeping the lease alive (the lease then expires after its TTL). */
  close(): void {
    this.#finish({ reason: 'closed' });
  }

  [Symbol.asyncIterator](): AsyncIterator<LeaseKeepAliveResponse> {
    const subscriber: Subscriber = { queue: [], wake: undefined };
    if (this.#end === undefined) this.#subscribers.add(subscriber);
    return {
      next: async () => {
        for (;;) {
          const value = subscriber.queue.shift();
          if (value !== undefined) return { value, done: false };
          if (this.#end !== undefined) {
            if (this.#end.reason === 'failed') throw this.#end.error;
            return { value: undefined, done: true };
          }
          await new Promise<void>((resolve) => {
            subscriber.wake = resolve;
          });
          subscriber.wake = undefined;
        }
      },
      return: async () => {
        this.#subscribers.delete(subscriber);
        subscriber.queue.length = 0;
        return { value: undefined, done: true };
      },
    };
  }

  async #connect(): Promise<void> {
    this.#reconnectAt = undefined;
    this.#opening = true;
    let stream: KeepAliveStream;
    try {
      stream = await this.#streams.open(this.#schedule.deadline);
    } catch (error) {
      this.#opening = false;
      const failure = asKvClientError(error);
      this.#streamFailed(failure, failure.endpoint);
      return;
    }
    this.#opening = false;
    if (this.#end !== undefined) {
      stream.call.cancel();
      return;
    }
    this.#stream = stream;
    const { call, endpoint } = stream;
    call.on('data', (response: LeaseKeepAliveResponse) => {
      if (this.#stream === stream) this.#handleResponse(response);
    });
    // Failures arrive once more as 'status', which is handled; this keeps 'error' from throwing.
    call.on('error', () => {});
    call.on('status', (status: grpc.StatusObject) => {
      if (this.#stream !== stream) return;
      this.#streamFailed(streamEndError(status, endpoint, 'keep-alive'), endpoint);
    });
    this.#tick();
  }

  #handleResponse(response: LeaseKeepAliveResponse): void {
    if (response.TTL <= 0n) {
      this.#finish({ reason: 'leaseNotFound' });
      return;
    }
    this.#schedule.renewed(Date.now(), response.TTL);
    this.#last = response;
    this.#lastError = undefined;
    for (const subscriber of this.#subscribers) {
      if (subscriber.queue.length >= KEEP_ALIVE_BUFFER) subscriber.queue.shift();
      subscriber.queue.push(response);
      subscriber.wake?.();
    }
    if (this.#onResponse !== undefined) {
      try {
        this.#onResponse(response);
      } catch (error) {
        // A throwing callback must not break the stream: report it as an event listener would.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    this.#arm();
  }

  #streamFailed(error: KvClientError, endpoint: string | undefined): void {
    if (this.#end !== undefined) return;
    this.#stream?.call.cancel();
    this.#stream = undefined;
    if (error.reason === 'leaseNotFound') {
      this.#finish({ reason: 'leaseNotFound' });
      return;
    }
    if (!streamRetryable(error)) {
      this.#finish({ reason: 'failed', error });
      return;
    }
    this.#lastError = error;
    this.#streams.failed(endpoint);
    this.#reconnectAt = Date.now() + KEEP_ALIVE_RETRY_MS;
    this.#arm();
  }

  #tick(): void {
    if (this.#end !== undefined) return;
    const now = Date.now();
    if (this.#schedule.expired(now)) {
      const lastError = this.#lastError;
      this.#finish(
        lastError === undefined ? { reason: 'expired' } : { reason: 'expired', lastError },
      );
      return;
    }
    if (this.#stream !== undefined) {
      if (this.#schedule.due(now)) {
        this.#schedule.sent(now);
        try {
          this.#stream.call.write({ ID: this.id });
        } catch {
          // The stream is failing; its 'status' reopens it.
        }
      }
    } else if (!this.#opening && this.#reconnectAt !== undefined && now >= this.#reconnectAt) {
      void this.#connect();
      return;
    }
    this.#arm();
  }

  #arm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#end !== undefined) return;
    let wakeAt = this.#schedule.deadline;
    if (this.#stream !== undefined) wakeAt = Math.min(wakeAt, this.#schedule.nextSendAt);
    else if (this.#reconnectAt !== undefined) wakeAt = Math.min(wakeAt, this.#reconnectAt);
    // Node's timers hold 2^31 − 1 ms at most; a longer wait wakes early and re-arms.
    const delay = Math.min(Math.max(0, wakeAt - Date.now()), 2 ** 31 - 1);
    this.#timer = setTimeout(() => this.#tick(), delay);
  }

  #finish(end: LeaseKeepAliveEnd): void {
    if (this.#end !== undefined) return;
    this.#end = end;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#stream?.call.cancel();
    this.#stream = undefined;
    this.#reconnectAt = undefined;
    for (const subscriber of this.#subscribers) subscriber.wake?.();
    this.#subscribers.clear();
    this.#resolveDone(end);
  }
}
