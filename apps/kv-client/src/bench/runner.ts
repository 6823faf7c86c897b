// The load generator: closed-loop clients over raw grpc-js unary calls (no retries,
// no response decoding), and the watch-latency workload over etcd's Watch stream.
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { KV_SERVICE, WATCH_SERVICE, type WatchResponse } from '@raftkit/rpc/etcd';
import type { BenchOptions } from './args.js';
import {
  encodePutRequest,
  encodeRangeRequest,
  encodeTxnPutRequest,
  KeySource,
  makeValue,
} from './encode.js';
import { renderProgress } from './report.js';
import { type BenchResult, codeName, cpuSummary, Recorder } from './stats.js';

/** ProgressSink receives progress lines (a terminal's stderr), or nothing. */
export interface ProgressSink {
  write(chunk: string): unknown;
}

interface Connection {
  readonly endpoint: string;
  readonly client: grpc.Client;
}

const identity = (bytes: Buffer): Buffer => bytes;

function openConnections(options: BenchOptions): Connection[] {
  const connections: Connection[] = [];
  for (let i = 0; i < options.conns; i++) {
    const endpoint = options.endpoints[i % options.endpoints.length];
    if (endpoint === undefined) throw new Error('no endpoints');
    const credentials = endpoint.secure
      ? grpc.credentials.createSsl()
      : grpc.credentials.createInsecure();
    const client = new grpc.Client(endpoint.target, credentials, {
      // Without a local pool grpc-js would share one HTTP/2 transport per target
      // between all clients, and --conns would mean nothing.
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_receive_message_length': -1,
    });
    connections.push({ endpoint: endpoint.text, client });
  }
  return connections;
}

function waitReady(connections: readonly Connection[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return Promise.all(
    connections.map(
      (connection) =>
        new Promise<void>((resolve, reject) =>
          connection.client.waitForReady(deadline, (error) =>
            error
              ? reject(new Error(`cannot connect to ${connection.endpoint}: ${error.message}`))
              : resolve(),
          ),
        ),
    ),
  ).then(() => undefined);
}

class Progress {
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #sink: ProgressSink | undefined;

  constructor(sink: ProgressSink | undefined, line: () => string) {
    this.#sink = sink;
    if (sink !== undefined) {
      this.#timer = setInterval(() => sink.write(`\r\x1b[K${line()}`), 200);
      this.#timer.unref();
    }
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#sink?.write('\r\x1b[K');
  }
}

interface LoopPlan {
  readonly label: string;
  readonly path: string;
  readonly next: () => Buffer;
  readonly total: number | undefined;
  readonly durationMs: number | undefined;
  readonly warmupMs: number;
}

interface LoopOutcome {
  readonly startedAt: number;
  readonly measuredMs: number;
  readonly cpu: NodeJS.CpuUsage;
}

function closedLoop(
  connections: readonly Connection[],
  options: BenchOptions,
  plan: LoopPlan,
  recorder: Recorder,
  sink: ProgressSink | undefined,
): Promise<LoopOutcome> {
  return new Promise((resolve) => {
    const start = performance.now();
    const measureFrom = start + plan.warmupMs;
    const endAt =
      plan.durationMs === undefined ? Number.POSITIVE_INFINITY : measureFrom + plan.durationMs;
    const total = plan.total;
    let cpuAtStart = process.cpuUsage();
    if (plan.warmupMs > 0) {
      setTimeout(() => {
        cpuAtStart = process.cpuUsage();
      }, plan.warmupMs).unref();
    }
    let issued = 0;
    let done = 0;
    let lastDone = measureFrom;
    let running = options.clients;
    const progress = new Progress(sink, () =>
      renderProgress({
        label: plan.label,
        done,
        errors: recorder.errors,
        elapsedMs: performance.now() - measureFrom,
        total,
        durationMs: plan.durationMs,
      }),
    );
    const finishOne = (): void => {
      running--;
      if (running > 0) return;
      progress.stop();
      resolve({
        startedAt: performance.timeOrigin + measureFrom,
        measuredMs: Math.max(0, lastDone - measureFrom),
        cpu: process.cpuUsage(cpuAtStart),
      });
    };
    const worker = (connection: Connection): void => {
      const issue = (): void => {
        const sentAt = performance.now();
        const measured = sentAt >= measureFrom;
        if (measured) {
          if (total === undefined ? sentAt >= endAt : issued >= total) {
            finishOne();
            return;
          }
          issued++;
        }
        connection.client.makeUnaryRequest<Buffer, Buffer>(
          plan.path,
          identity,
          identity,
          plan.next(),
          new grpc.Metadata(),
          { deadline: Date.now() + options.requestTimeoutMs },
          (error) => {
            if (measured) {
              const now = performance.now();
              done++;
              lastDone = now;
              if (error) recorder.failure(codeName(error.code), error.details);
              else recorder.success(now - sentAt);
            }
            issue();
          },
        );
      };
      issue();
    };
    for (let i = 0; i < options.clients; i++) {
      worker(connections[i % connections.length] as Connection);
    }
  });
}

type RunSettings = Pick<
  BenchResult,
  | 'workload'
  | 'endpoints'
  | 'conns'
  | 'clients'
  | 'keySize'
  | 'valSize'
  | 'keySpaceSize'
  | 'sequentialKeys'
  | 'details'
>;

function baseResult(options: BenchOptions): RunSettings {
  const details: Record<string, string | number | boolean> = {};
  if (options.workload === 'range') {
    details.consistency = options.serializable ? 'serializable' : 'linearizable';
    if (options.prefill) details.prefill = true;
  }
  if (options.workload === 'txn-put') details.txnOps = options.txnOps;
  if (options.workload === 'watch-latency') {
    details.watchers = options.watchers;
    details.rate = options.rate;
  }
  if (options.warmupMs > 0) details.warmupMs = options.warmupMs;
  return {
    workload: options.workload,
    endpoints: options.endpoints.map((endpoint) => endpoint.text),
    conns: options.conns,
    clients: options.workload === 'watch-latency' ? options.watchers : options.clients,
    keySize: options.keySize,
    valSize: options.valSize,
    keySpaceSize: options.keySpaceSize,
    sequentialKeys: options.sequentialKeys,
    details,
  };
}

function finish(
  options: BenchOptions,
  recorder: Recorder,
  startedAt: number,
  measuredMs: number,
  cpu: NodeJS.CpuUsage,
): BenchResult {
  const requests = recorder.count;
  return {
    ...baseResult(options),
    status: 'ok',
    startedAt: Math.round(startedAt),
    endedAt: Math.round(startedAt + measuredMs),
    requests,
    errors: recorder.errors,
    errorsByCode: { ...recorder.errorsByCode },
    errorSamples: { ...recorder.errorSamples },
    durationSec: Math.round(measuredMs) / 1000,
    throughput: measuredMs > 0 ? Math.round((requests / measuredMs) * 10_000) / 10 : 0,
    latencyMs: recorder.latency(),
    clientCpu: cpuSummary(cpu, measuredMs),
  };
}

/**
 * runBench runs one workload against the endpoints and returns its figures. Progress
 * lines go to `sink` when given. It throws when the endpoints cannot be reached or a
 * prefill fails; request errors during the run are counted, not thrown.
 */
export async function runWorkload(
  options: BenchOptions,
  sink?: ProgressSink,
): Promise<BenchResult> {
  const connections = openConnections(options);
  try {
    await waitReady(connections, Math.max(5000, options.requestTimeoutMs));
    if (options.workload === 'watch-latency') return await watchLatency(connections, options, sink);
    const keys = new KeySource(options.keySize, options.keySpaceSize, options.sequentialKeys);
    const value = makeValue(options.valSize);
    if (options.workload === 'range' && options.prefill) {
      const fill = new KeySource(options.keySize, options.keySpaceSize, true);
      const scratch = new Recorder();
      await closedLoop(
        connections,
        options,
        {
          label: 'prefill',
          path: KV_SERVICE.put.path,
          next: () => encodePutRequest(fill.next(), value),
          total: options.keySpaceSize,
          durationMs: undefined,
          warmupMs: 0,
        },
        scratch,
        sink,
      );
      if (scratch.errors > 0) {
        const [code, message] = Object.entries(scratch.errorSamples)[0] ?? ['?', '?'];
        throw new Error(`prefill failed: ${scratch.errors} errors (${code}: ${message})`);
      }
    }
    let path: string;
    let next: () => Buffer;
    switch (options.workload) {
      case 'put':
        path = KV_SERVICE.put.path;
        next = () => encodePutRequest(keys.next(), value);
        break;
      case 'range':
        path = KV_SERVICE.range.path;
        next = () => encodeRangeRequest(keys.next(), options.serializable);
        break;
      case 'txn-put':
        path = KV_SERVICE.txn.path;
        next = () => encodeTxnPutRequest(keys.distinct(options.txnOps), value);
        break;
    }
    const recorder = new Recorder();
    const outcome = await closedLoop(
      connections,
      options,
      {
        label: options.workload,
        path,
        next,
        total: options.total,
        durationMs: options.durationMs,
        warmupMs: options.warmupMs,
      },
      recorder,
      sink,
    );
    return finish(options, recorder, outcome.startedAt, outcome.measuredMs, outcome.cpu);
  } finally {
    for (const connection of connections) connection.client.close();
  }
}

/** SEQ_DIGITS is how many leading value bytes carry a watch-latency put's sequence number. */
const SEQ_DIGITS = 12;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/**
 * watchLatency: `watchers` streams watch one key; puts to it go out at `rate` per
 * second (open loop: not waiting for the previous put); each event's latency is from
 * sending its put to a watcher receiving it. Events missing 5 s after the last put
 * count as `LOST` errors; put failures count under their code.
 */
async function watchLatency(
  connections: readonly Connection[],
  options: BenchOptions,
  sink: ProgressSink | undefined,
): Promise<BenchResult> {
  const key = new KeySource(options.keySize, 1, true).keyAt(0);
  const method = WATCH_SERVICE.watch;
  const recorder = new Recorder();
  const sentAt = new Map<number, number>();
  let received = 0;
  const streams: grpc.ClientDuplexStream<unknown, WatchResponse>[] = [];
  let unsupported: string | undefined;
  try {
    await Promise.all(
      Array.from({ length: options.watchers }, (_, i) => {
        const connection = connections[i % connections.length] as Connection;
        const stream = connection.client.makeBidiStreamRequest<unknown, WatchResponse>(
          method.path,
          method.requestSerialize,
          method.responseDeserialize,
          new grpc.Metadata(),
        );
        streams.push(stream);
        return new Promise<void>((resolve, reject) => {
          let created = false;
          stream.on('data', (response: WatchResponse) => {
            if (!created && response.created) {
              created = true;
              resolve();
            }
            const now = performance.now();
            for (const event of response.events) {
              const value = event.kv?.value;
              if (value === undefined) continue;
              const seq = Number(Buffer.from(value.subarray(0, SEQ_DIGITS)).toString('latin1'));
              const sent = sentAt.get(seq);
              if (sent !== undefined) {
                received++;
                recorder.success(now - sent);
              }
            }
          });
          stream.on('error', (error: grpc.ServiceError) => {
            if (error.code === grpc.status.UNIMPLEMENTED) {
              unsupported = `the Watch service answers UNIMPLEMENTED (${error.details})`;
            }
            if (!created) reject(error);
          });
          stream.write({ createRequest: { key } });
        });
      }),
    );
  } catch (error) {
    for (const stream of streams) stream.cancel();
    if (unsupported !== undefined) {
      return {
        ...baseResult(options),
        status: 'unsupported',
        unsupported,
        startedAt: Date.now(),
        endedAt: Date.now(),
        requests: 0,
        errors: 0,
        errorsByCode: {},
        errorSamples: {},
        durationSec: 0,
        throughput: 0,
        latencyMs: recorder.latency(),
        clientCpu: cpuSummary({ user: 0, system: 0 }, 0),
      };
    }
    throw new Error(`watch failed: ${(error as Error).message}`);
  }

  const value = makeValue(Math.max(options.valSize, SEQ_DIGITS));
  const interval = 1000 / options.rate;
  const start = performance.now();
  const cpuAtStart = process.cpuUsage();
  const endAt =
    options.durationMs === undefined ? Number.POSITIVE_INFINITY : start + options.durationMs;
  let puts = 0;
  let putsDone = 0;
  const progress = new Progress(sink, () =>
    renderProgress({
      label: 'watch-latency',
      done: putsDone,
      errors: recorder.errors,
      elapsedMs: performance.now() - start,
      total: options.total,
      durationMs: options.durationMs,
    }),
  );
  const pending: Promise<void>[] = [];
  const connection = connections[0] as Connection;
  for (;;) {
    if (options.total === undefined ? performance.now() >= endAt : puts >= options.total) break;
    const seq = puts++;
    await sleep(start + seq * interval - performance.now());
    const body = Buffer.from(value);
    body.write(String(seq).padStart(SEQ_DIGITS, '0'), 0, 'latin1');
    sentAt.set(seq, performance.now());
    pending.push(
      new Promise<void>((resolve) => {
        connection.client.makeUnaryRequest<Buffer, Buffer>(
          KV_SERVICE.put.path,
          identity,
          identity,
          encodePutRequest(key, body),
          new grpc.Metadata(),
          { deadline: Date.now() + options.requestTimeoutMs },
          (error) => {
            putsDone++;
            if (error) {
              sentAt.delete(seq);
              recorder.failure(codeName(error.code), error.details);
            }
            resolve();
          },
        );
      }),
    );
  }
  await Promise.all(pending);
  const expected = () => sentAt.size * options.watchers;
  const waitUntil = performance.now() + 5000;
  while (received < expected() && performance.now() < waitUntil) await sleep(20);
  const measuredMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuAtStart);
  progress.stop();
  const lost = expected() - received;
  for (let i = 0; i < lost; i++) recorder.failure('LOST', 'event not received within 5 s');
  for (const stream of streams) stream.cancel();
  return finish(options, recorder, performance.timeOrigin + start, measuredMs, cpu);
}
