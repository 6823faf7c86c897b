import type { AutoCompactionMode, ServerConfig } from '@raftkit/config';
import type { RaftNode } from '@raftkit/core';
import { encodeEtcdMessage } from '@raftkit/rpc/etcd';
import { type Clock, realClock, type TimerHandle } from '@raftkit/timer';
import { encodeKvCommand } from './kv-command.js';
import type { KvResult, KvStateMachine } from './kv-state-machine.js';
import type { ServerLogger } from './logger.js';
import { isMvccError } from './mvcc/index.js';

/** HOUR_MS caps the periodic compactor's interval, as etcd's. */
const HOUR_MS = 3_600_000;

/**
 * REVISION_CHECK_INTERVAL_MS is how often the revision compactor looks at the revision
 * (etcd's `revInterval`, 5 minutes): it compacts to `current − retention` when that moved.
 */
export const REVISION_CHECK_INTERVAL_MS = 5 * 60_000;

/** CompactorLogger is the part of the server's logger a Compactor uses. */
export interface CompactorLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

/** CompactorOptions say what to keep and how to read and compact the store. */
export interface CompactorOptions {
  readonly mode: AutoCompactionMode;
  /** retention: milliseconds of history ('periodic') or a number of revisions ('revision'); > 0. */
  readonly retention: number;
  /** revision returns the store's current revision. */
  readonly revision: () => number;
  /** compactedRevision returns the store's last compaction (-1 before any). */
  readonly compactedRevision: () => number;
  /**
   * compact proposes a Compact to `revision` through Raft, as a client's
   * KV.Compact does, and settles once it is applied here (rejecting with the store's
   * error, e.g. ErrCompacted, when it is refused).
   */
  readonly compact: (revision: number) => Promise<void>;
  /** active says whether this member compacts now: only the leader does, as in etcd. */
  readonly active: () => boolean;
  readonly clock?: Clock;
  readonly logger?: CompactorLogger;
  /** revisionCheckIntervalMs overrides REVISION_CHECK_INTERVAL_MS (tests). */
  readonly revisionCheckIntervalMs?: number;
}

/**
 * Compactor is etcd's auto-compaction (`--auto-compaction-mode`,
 * `--auto-compaction-retention`, etcd's `v3compactor`), run on the leader; a member that
 * is not the leader keeps sampling but does not compact.
 *
 * - periodic: keeps `retention` of history. It samples the revision every tenth of
 *   min(retention, 1 h) and, once `retention` has passed since it started (then every
 *   min(retention, 1 h)), compacts to the revision sampled `retention` ago.
 * - revision: keeps `retention` revisions. Every 5 minutes it compacts to
 *   `current revision − retention` if that is positive and moved since the last time.
 *
 * A compaction that fails is retried on the next check; one refused as already
 * compacted counts as done.
 */
export class Compactor {
  private readonly clock: Clock;
  private timer: TimerHandle | undefined;
  private stopped = true;
  /** Revisions sampled by the periodic compactor, oldest first. */
  private readonly samples: number[] = [];
  private lastSuccess = 0;
  private baseInterval = 0;
  private lastRevision = 0;
  private inFlight = false;

  constructor(private readonly options: CompactorOptions) {
    if (!(options.retention > 0)) throw new RangeError('a Compactor needs a positive retention');
    this.clock = options.clock ?? realClock;
  }

  /** start begins checking. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    if (this.options.mode === 'periodic') {
      this.lastSuccess = this.clock.now();
      this.baseInterval = this.options.retention;
      this.periodicTick();
    } else {
      this.schedule(() => this.revisionTick(), this.revisionInterval());
    }
  }

  /** stop cancels the next check; a compaction already proposed still completes. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** compactInterval is min(retention, 1 h): how often the periodic compactor compacts. */
  private compactInterval(): number {
    return Math.min(this.options.retention, HOUR_MS);
  }

  /** retryInterval is a tenth of the compact interval: how often it samples. */
  private retryInterval(): number {
    return this.compactInterval() / 10;
  }

  private revisionInterval(): number {
    return this.options.revisionCheckIntervalMs ?? REVISION_CHECK_INTERVAL_MS;
  }

  private schedule(run: () => void, delayMs: number): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(run, delayMs, { unref: true });
  }

  /** periodicTick samples the revision, then (one retry interval later) maybe compacts. */
  private periodicTick(): void {
    const samples = this.samples;
    samples.push(this.options.revision());
    // samples[0] is the revision `retention` ago once the window is full.
    const window = Math.floor(this.options.retention / this.retryInterval()) + 1;
    if (samples.length > window) samples.splice(0, samples.length - window);
    this.schedule(() => {
      if (this.options.active() && this.clock.now() - this.lastSuccess >= this.baseInterval) {
        // After the first full retention, compact every compact interval.
        this.baseInterval = this.compactInterval();
        this.run(samples[0]!, () => {
          this.lastSuccess = this.clock.now();
        });
      }
      this.periodicTick();
    }, this.retryInterval());
  }

  private revisionTick(): void {
    if (this.options.active()) {
      const target = this.options.revision() - this.options.retention;
      if (target > 0 && target !== this.lastRevision) {
        this.run(target, () => {
          this.lastRevision = target;
        });
      }
    }
    this.schedule(() => this.revisionTick(), this.revisionInterval());
  }

  /** run proposes one compaction unless one is in flight or it would change nothing. */
  private run(revision: number, onDone: () => void): void {
    if (this.inFlight) return;
    if (revision <= this.options.compactedRevision()) {
      onDone(); // already compacted that far: etcd's ErrCompacted, which counts as done
      return;
    }
    const logger = this.options.logger;
    const started = this.clock.now();
    this.inFlight = true;
    logger?.info({ revision, mode: this.options.mode }, 'starting auto compaction');
    this.options.compact(revision).then(
      () => {
        this.inFlight = false;
        onDone();
        logger?.info(
          { revision, tookMs: Math.round(this.clock.now() - started) },
          'finished auto compaction',
        );
      },
      (error: unknown) => {
        this.inFlight = false;
        if (isMvccError(error, 'ErrCompacted')) {
          onDone();
          return;
        }
        logger?.warn({ revision, error: String(error) }, 'auto compaction failed; will retry');
      },
    );
  }
}

/** AutoCompactionParts are what a member's compactor works on. */
export interface AutoCompactionParts {
  readonly config: Pick<ServerConfig, 'autoCompactionMode' | 'autoCompactionRetention'>;
  readonly node: RaftNode<KvResult>;
  readonly stateMachine: KvStateMachine;
  readonly logger?: ServerLogger;
  /** clock and revisionCheckIntervalMs replace the real ones (tests). */
  readonly clock?: Clock;
  readonly revisionCheckIntervalMs?: number;
}

/**
 * startAutoCompaction starts the member's Compactor per `--auto-compaction-mode` and
 * `--auto-compaction-retention`, or returns undefined when the retention is 0 (off, the
 * default). Compactions are proposed through Raft like a client's KV.Compact, so every
 * member applies them at the same point of the log.
 */
export function startAutoCompaction(parts: AutoCompactionParts): Compactor | undefined {
  const { config, node, stateMachine } = parts;
  if (!(config.autoCompactionRetention > 0)) return undefined;
  const logger = parts.logger?.child({ component: 'compactor' });
  const compactor = new Compactor({
    mode: config.autoCompactionMode,
    retention: config.autoCompactionRetention,
    // Read through the state machine: a restored snapshot replaces its store.
    revision: () => stateMachine.store.revision,
    compactedRevision: () => stateMachine.store.compactRevision,
    compact: (revision) =>
      node
        .propose(
          encodeKvCommand(
            'compaction',
            undefined,
            encodeEtcdMessage('CompactionRequest', { revision: BigInt(revision) }),
          ),
        )
        .then((result) => {
          if (result.kind === 'error') throw result.error;
        }),
    active: () => node.isLeader(),
    ...(logger !== undefined ? { logger } : {}),
    ...(parts.clock !== undefined ? { clock: parts.clock } : {}),
    ...(parts.revisionCheckIntervalMs !== undefined
      ? { revisionCheckIntervalMs: parts.revisionCheckIntervalMs }
      : {}),
  });
  compactor.start();
  return compactor;
}
