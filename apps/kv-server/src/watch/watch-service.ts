import { Metadata, type ServerDuplexStream, type ServiceError } from '@grpc/grpc-js';
import type * as pb from '@raftkit/rpc/etcd';
import type { WatchHandlers } from '@raftkit/rpc/etcd';
import { ETCD_ERRORS } from '../etcd-errors.js';
import { fromMvccKv, type HeaderSource } from '../etcd-mapping.js';
import { RAFTKIT_SERVER_HEADER } from '../kv-service.js';
import { type RequireLeader, requiresLeader } from '../require-leader.js';
import type { HubEvent, HubResponse, WatchCreate, WatchHub } from './watch-hub.js';

/** WatchServiceOptions are what the Watch handler needs from the member. */
export interface WatchServiceOptions {
  readonly hub: WatchHub;
  readonly header: HeaderSource;
  /** version, when given, is announced in the `raftkit-server` response header. */
  readonly version?: string;
  /** requireLeader serves etcd's `WithRequireLeader` (metadata `hasleader: true`). */
  readonly requireLeader?: RequireLeader;
  /**
   * maxFragmentBytes is the size above which a response to a watcher that asked for
   * `fragment` is split (etcd: --max-request-bytes). Default 1.5 MiB.
   */
  readonly maxFragmentBytes?: number;
}

/** EVENT_OVERHEAD_BYTES approximates an event's encoding beyond its keys and values. */
const EVENT_OVERHEAD_BYTES = 64;

function kvBytes(kv: { key: Uint8Array; value: Uint8Array } | undefined): number {
  return kv === undefined ? 0 : kv.key.length + kv.value.length + EVENT_OVERHEAD_BYTES;
}

/**
 * fragmentResponse splits a hub response whose events would exceed `maxBytes` encoded
 * into several, each within it (at least one event each), as etcd's
 * FragmentWatchResponse: every part but the last has `fragment` set, and the client
 * joins them. A response within the limit, or of a watcher that did not ask, stays whole.
 */
export function fragmentResponse(
  response: HubResponse,
  maxBytes: number,
): { response: HubResponse; fragment: boolean }[] {
  if (response.fragment !== true || response.events.length < 2) {
    return [{ response, fragment: false }];
  }
  const sizes = response.events.map((event) => kvBytes(event.kv) + kvBytes(event.prevKv));
  const total = sizes.reduce((sum, size) => sum + size, 0);
  if (total <= maxBytes) return [{ response, fragment: false }];
  const parts: HubEvent[][] = [];
  let part: HubEvent[] = [];
  let size = 0;
  response.events.forEach((event, i) => {
    const eventSize = sizes[i]!;
    if (part.length > 0 && size + eventSize > maxBytes) {
      parts.push(part);
      part = [];
      size = 0;
    }
    part.push(event);
    size += eventSize;
  });
  parts.push(part);
  return parts.map((events, i) => ({
    response: { ...response, events },
    fragment: i < parts.length - 1,
  }));
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function toNumber(value: bigint | undefined): number {
  if (value === undefined) return 0;
  if (value > MAX_SAFE) return Number.MAX_SAFE_INTEGER;
  if (value < -MAX_SAFE) return -Number.MAX_SAFE_INTEGER;
  return Number(value);
}

/** toWatchCreate maps a wire WatchCreateRequest to the hub's. */
export function toWatchCreate(request: pb.WatchCreateRequest): WatchCreate {
  return {
    ...(request.key !== undefined ? { key: request.key } : {}),
    ...(request.rangeEnd !== undefined ? { rangeEnd: request.rangeEnd } : {}),
    startRevision: toNumber(request.startRevision),
    progressNotify: request.progressNotify === true,
    filters: request.filters ?? [],
    prevKv: request.prevKv === true,
    watchId: toNumber(request.watchId),
    fragment: request.fragment === true,
  };
}

/** toWatchResponse maps a hub response to the wire's. */
export function toWatchResponse(response: HubResponse, header: HeaderSource): pb.WatchResponse {
  return {
    header: header(response.revision),
    watchId: BigInt(response.watchId),
    created: response.created === true,
    canceled: response.canceled === true,
    compactRevision: BigInt(response.compactRevision ?? 0),
    cancelReason: response.cancelReason ?? '',
    fragment: false,
    events: response.events.map((event) => ({
      type: event.type,
      kv: fromMvccKv(event.kv),
      prevKv: event.prevKv === undefined ? null : fromMvccKv(event.prevKv),
    })),
  };
}

/**
 * createWatchService implements etcd's Watch service (one bidi stream per call) over a
 * WatchHub. Responses are written while gRPC accepts them; when its buffer is full the
 * handler waits for `drain` and the hub keeps (a bounded number of) events queued.
 * A client's half-close keeps the stream open, as etcd does; a watcher created with
 * `fragment` gets a response larger than `maxFragmentBytes` in parts.
 */
export function createWatchService(options: WatchServiceOptions): WatchHandlers {
  const { hub, header } = options;
  const maxFragmentBytes = options.maxFragmentBytes ?? 1.5 * 1024 * 1024;
  const metadata = new Metadata();
  if (options.version !== undefined) metadata.set(RAFTKIT_SERVER_HEADER, options.version);
  return {
    watch: (call: ServerDuplexStream<pb.WatchRequest, pb.WatchResponse>) => {
      if (options.version !== undefined) call.sendMetadata(metadata);
      const monitor =
        options.requireLeader !== undefined && requiresLeader(call.metadata)
          ? options.requireLeader
          : undefined;
      if (monitor !== undefined && !monitor.leaderKnown()) {
        call.emit('error', { ...ETCD_ERRORS.noLeader, metadata: new Metadata() } as ServiceError);
        return;
      }
      let ended = false;
      let scheduled = false;
      let waitingDrain = false;
      const pump = () => {
        scheduled = false;
        if (ended || waitingDrain) return;
        for (;;) {
          const response = stream.next();
          if (response === undefined) return;
          let writable = true;
          for (const part of fragmentResponse(response, maxFragmentBytes)) {
            const wire = toWatchResponse(part.response, header);
            if (part.fragment) wire.fragment = true;
            writable = call.write(wire);
          }
          if (!writable) {
            waitingDrain = true;
            call.once('drain', () => {
              waitingDrain = false;
              pump();
            });
            return;
          }
        }
      };
      const stream = hub.openStream(() => {
        if (scheduled || ended) return;
        scheduled = true;
        queueMicrotask(pump);
      });
      const unwatch = monitor?.watch(() => {
        if (ended) return;
        ended = true;
        stream.close();
        call.emit('error', { ...ETCD_ERRORS.noLeader, metadata: new Metadata() } as ServiceError);
      });
      const finish = () => {
        ended = true;
        unwatch?.();
        stream.close();
      };
      stream.onTerminate = () => {
        if (ended) return;
        ended = true;
        unwatch?.();
        call.emit('error', { ...ETCD_ERRORS.stopped, metadata: new Metadata() } as ServiceError);
      };
      call.on('data', (request: pb.WatchRequest) => {
        switch (request.requestUnion) {
          case 'createRequest':
            stream.create(toWatchCreate(request.createRequest));
            break;
          case 'cancelRequest':
            stream.cancel(toNumber(request.cancelRequest.watchId));
            break;
          case 'progressRequest':
            stream.requestProgress();
            break;
          default:
            // etcd ignores a request it does not know rather than end the stream.
            break;
        }
        // A catch-up may be due even when nothing new was queued.
        if (!scheduled && !ended) {
          scheduled = true;
          queueMicrotask(pump);
        }
      });
      call.on('cancelled', finish);
      call.on('error', finish);
      call.on('close', finish);
    },
  };
}
