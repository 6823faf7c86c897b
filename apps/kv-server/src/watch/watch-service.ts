import { Metadata, type ServerDuplexStream, type ServiceError } from '@grpc/grpc-js';
import type * as pb from '@raftkit/rpc/etcd';
import type { WatchHandlers } from '@raftkit/rpc/etcd';
import { ETCD_ERRORS } from '../etcd-errors.js';
import { fromMvccKv, type HeaderSource } from '../etcd-mapping.js';
import { RAFTKIT_SERVER_HEADER } from '../kv-service.js';
import { type RequireLeader, requiresLeader } from '../require-leader.js';
import type { HubResponse, WatchCreate, WatchHub } from './watch-hub.js';

/** WatchServiceOptions are what the Watch handler needs from the member. */
export interface WatchServiceOptions {
  readonly hub: WatchHub;
  readonly header: HeaderSource;
  /** version, when given, is announced in the `raftkit-server` response header. */
  readonly version?: string;
  /** requireLeader serves etcd's `WithRequireLeader` (metadata `hasleader: true`). */
  readonly requireLeader?: RequireLeader;
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
 * A client's half-close keeps the stream open, as etcd does; `fragment` is accepted
 * but responses are never fragmented.
 */
export function createWatchService(options: WatchServiceOptions): WatchHandlers {
  const { hub, header } = options;
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
          if (!call.write(toWatchResponse(response, header))) {
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
