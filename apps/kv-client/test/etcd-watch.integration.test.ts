import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Socket, connect as tcpConnect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  EventType,
  isKvClientError,
  KvClient,
  type Watch,
  type WatchBatch,
  WatchCanceledError,
} from '../src/index.js';
import {
  type CliProcess,
  hasEtcdctl,
  REAL_SERVERS,
  type RealEtcd,
  type RealServerKind,
  runProcess,
  startCliProcess,
  useRealServer,
} from './etcd-harness.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const hasCli = existsSync(CLI);

for (const kind of REAL_SERVERS) {
  if (kind.skip !== undefined) {
    console.log(`[kv-client] skipping real-${kind.name} watch tests: ${kind.skip}`);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const text = (bytes: Uint8Array | undefined): string => Buffer.from(bytes ?? []).toString();

// Reads batches until `events` events have come (15 s at most), then closes the watch.
async function collect(watch: Watch, events: number): Promise<WatchBatch[]> {
  const batches: WatchBatch[] = [];
  let seen = 0;
  const timer = setTimeout(() => watch.close(), 15_000);
  try {
    for await (const batch of watch) {
      batches.push(batch);
      seen += batch.events.length;
      if (seen >= events) break;
    }
  } finally {
    clearTimeout(timer);
  }
  if (seen < events) throw new Error(`got ${seen} of ${events} events`);
  return batches;
}

// The next batch, or an error after 15 s instead of waiting forever.
async function nextBatch(iterator: AsyncIterator<WatchBatch>): Promise<WatchBatch> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('no watch batch within 15 s')), 15_000);
  });
  try {
    const next = await Promise.race([iterator.next(), timeout]);
    if (next.done === true) throw new Error('the watch ended');
    return next.value;
  } finally {
    clearTimeout(timer);
  }
}

const eventsOf = (batches: WatchBatch[]) =>
  batches.flatMap((batch) =>
    batch.events.map((event) => ({
      type: event.type === EventType.PUT ? 'PUT' : 'DELETE',
      key: text(event.kv?.key),
      value: text(event.kv?.value),
      revision: event.kv?.modRevision,
      prev: event.prevKv === null ? null : text(event.prevKv.value),
    })),
  );

/** Proxy forwards TCP to an endpoint until `cut()` drops every connection and stops listening. */
interface Proxy {
  readonly endpoint: string;
  cut(): void;
}

async function startProxy(target: string): Promise<Proxy> {
  const [host, port] = target.split(':') as [string, string];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = tcpConnect(Number(port), host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const listening = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    endpoint: `127.0.0.1:${listening}`,
    cut() {
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}

type WatchProcess = CliProcess;

const running: ChildProcess[] = [];

function startWatch(file: string, args: string[]): WatchProcess {
  const started = startCliProcess(file, args);
  running.push(started.child);
  return started;
}

// The same suite against a real etcd 3.4 and against raftkit's own kv-server; `etcd` below
// is whichever server this run is against.
for (const kind of REAL_SERVERS) describeWatch(kind);

function describeWatch(kind: RealServerKind): void {
  describe.skipIf(kind.skip !== undefined)(`watch against a real ${kind.name}`, () => {
    let etcd: RealEtcd;
    let kv: KvClient;

    useRealServer(kind.start, (started, client) => {
      etcd = started;
      kv = client;
    });

    afterEach(() => {
      for (const child of running.splice(0)) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    });

    // The server's gauge of the watchers it serves (etcd_debugging_mvcc_watcher_total on
    // etcd, raftkit_watchers on raftkit).
    async function watchers(): Promise<number> {
      const metrics = await (await fetch(etcd.metricsUrl)).text();
      const match = new RegExp(`^${kind.watchersMetric} (\\d+)$`, 'm').exec(metrics);
      if (match === null) throw new Error(`${kind.name} reports no ${kind.watchersMetric}`);
      return Number(match[1]);
    }

    async function waitForWatchers(count: number): Promise<void> {
      const end = Date.now() + 20_000;
      while ((await watchers()) !== count) {
        if (Date.now() > end) {
          throw new Error(`${kind.name} has ${await watchers()} watchers, not ${count}`);
        }
        await sleep(50);
      }
    }

    describe('KvClient', () => {
      it('watches a prefix: puts and deletes in order, with prev_kv, nothing outside it', async () => {
        const watch = kv.watch('wp/a/', { prefix: true, prevKv: true, createdNotify: true });
        const iterator = watch[Symbol.asyncIterator]();
        expect(await nextBatch(iterator)).toMatchObject({ created: true, events: [] });
        const first = await kv.put('wp/a/1', 'v1');
        await kv.put('wp/b/1', 'outside');
        await kv.put('wp/a/1', 'v2');
        await kv.put('wp/a/2', 'w1');
        await kv.delete('wp/a/', { prefix: true });
        const batches: WatchBatch[] = [];
        let count = 0;
        while (count < 5) {
          const batch = await nextBatch(iterator);
          batches.push(batch);
          count += batch.events.length;
        }
        watch.close();
        const rev = first.header?.revision ?? 0n;
        expect(eventsOf(batches)).toEqual([
          { type: 'PUT', key: 'wp/a/1', value: 'v1', revision: rev, prev: null },
          { type: 'PUT', key: 'wp/a/1', value: 'v2', revision: rev + 2n, prev: 'v1' },
          { type: 'PUT', key: 'wp/a/2', value: 'w1', revision: rev + 3n, prev: null },
          { type: 'DELETE', key: 'wp/a/1', value: '', revision: rev + 4n, prev: 'v2' },
          { type: 'DELETE', key: 'wp/a/2', value: '', revision: rev + 4n, prev: 'w1' },
        ]);
        // One delete is one revision, so one batch.
        expect(batches.at(-1)?.events).toHaveLength(2);
        expect(Buffer.isBuffer(batches[0]?.events[0]?.kv?.key)).toBe(true);
        expect(await watch.done).toEqual({ reason: 'closed' });
      });

      it('replays history from a start revision, with filters', async () => {
        const start = (await kv.put('wr/k', '1')).header?.revision ?? 0n;
        await kv.put('wr/k', '2');
        await kv.delete('wr/k');
        await kv.put('wr/k', '3');
        const all = await collect(kv.watch('wr/k', { revision: start }), 4);
        expect(eventsOf(all).map((event) => [event.type, event.value, event.revision])).toEqual([
          ['PUT', '1', start],
          ['PUT', '2', start + 1n],
          ['DELETE', '', start + 2n],
          ['PUT', '3', start + 3n],
        ]);
        const deletes = await collect(kv.watch('wr/k', { revision: start, filters: ['noPut'] }), 1);
        expect(eventsOf(deletes).map((event) => event.type)).toEqual(['DELETE']);
        const later = await collect(kv.watch('wr/', { prefix: true, revision: start + 2n }), 2);
        expect(eventsOf(later).map((event) => event.revision)).toEqual([start + 2n, start + 3n]);
      });

      it('a compacted start revision ends the watch with WatchCanceledError (compacted)', async () => {
        await kv.put('wc/k', '1');
        const current = (await kv.put('wc/k', '2')).header?.revision ?? 0n;
        await kv.compact(current);
        const watch = kv.watch('wc/k', { revision: current - 1n });
        const error = await (async () => {
          for await (const _ of watch) throw new Error('no batch expected');
        })().catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(WatchCanceledError);
        expect(isKvClientError(error, 'compacted')).toBe(true);
        expect(error).toMatchObject({
          compactRevision: current,
          details: 'etcdserver: mvcc: required revision has been compacted',
          endpoint: etcd.endpoint,
        });
        expect((await watch.done).reason).toBe('canceled');
        // From the compacted revision itself on, history is still there.
        const kept = await collect(kv.watch('wc/k', { revision: current }), 1);
        expect(eventsOf(kept)[0]).toMatchObject({ value: '2', revision: current });
      });

      it('close() cancels the watch on the server', async () => {
        // The earlier tests' watches are all closed: the server drops them shortly.
        await waitForWatchers(0);
        const watch = kv.watch('wx/k', { createdNotify: true });
        await nextBatch(watch[Symbol.asyncIterator]());
        // etcd counts the watcher before it answers `created`; raftkit's gauge is a copy
        // refreshed once a second, so wait for it rather than read it once.
        await waitForWatchers(1);
        watch.close();
        await waitForWatchers(0);
      });

      it('resumes on the next endpoint when the stream breaks: no event lost or repeated', async () => {
        const proxy = await startProxy(etcd.endpoint);
        const failover = new KvClient({ endpoints: [proxy.endpoint, etcd.endpoint] });
        try {
          const watch = failover.watch('wf/', { prefix: true, createdNotify: true });
          const iterator = watch[Symbol.asyncIterator]();
          await nextBatch(iterator);
          const revisions: bigint[] = [];
          for (let i = 0; i < 3; i++) {
            revisions.push((await kv.put(`wf/${i}`, 'before')).header?.revision ?? 0n);
          }
          const seen: bigint[] = [];
          while (seen.length < 3) {
            for (const event of (await nextBatch(iterator)).events) {
              seen.push(event.kv?.modRevision ?? 0n);
            }
          }
          proxy.cut();
          for (let i = 0; i < 5; i++) {
            revisions.push((await kv.put(`wf/${i}`, 'after')).header?.revision ?? 0n);
          }
          while (seen.length < revisions.length) {
            for (const event of (await nextBatch(iterator)).events) {
              seen.push(event.kv?.modRevision ?? 0n);
            }
          }
          expect(seen).toEqual(revisions);
          expect(watch.nextRevision).toBe((revisions.at(-1) ?? 0n) + 1n);
          watch.close();
        } finally {
          failover.close();
        }
      });
    });

    describe.skipIf(!hasCli || !hasEtcdctl)('raftkitctl watch next to etcdctl 3.4', () => {
      const ours = (args: string[]) =>
        startWatch(process.execPath, [CLI, '--endpoints', etcd.endpoint, 'watch', ...args]);
      const theirs = (args: string[]) =>
        startWatch('etcdctl', ['--endpoints', etcd.endpoint, 'watch', ...args]);

      // Both started, the writes done, `lines` lines printed by each: SIGINT, compare.
      async function compareUntilInterrupted(
        pairs: [WatchProcess, WatchProcess][],
        lines: number[],
      ): Promise<void> {
        await Promise.all(
          pairs.flatMap(([a, b], i) => [
            a.waitForLines(lines[i] ?? 0),
            b.waitForLines(lines[i] ?? 0),
          ]),
        );
        for (const [a, b] of pairs) {
          a.child.kill('SIGINT');
          b.child.kill('SIGINT');
        }
        for (const [a, b] of pairs) {
          const [ourExit, theirExit] = await Promise.all([a.exited, b.exited]);
          expect(ourExit).toEqual(theirExit);
          expect(ourExit).toEqual({ code: null, signal: 'SIGINT' });
          expect(a.stdout().toString('latin1')).toBe(b.stdout().toString('latin1'));
          expect(a.stdout().equals(b.stdout())).toBe(true);
        }
      }

      it('live: watch --prefix --prev-kv and -w json print the same bytes as etcdctl', async () => {
        await kv.put('cw/a', 'old');
        await waitForWatchers(0);
        const simple: [WatchProcess, WatchProcess] = [
          ours(['cw/', '--prefix', '--prev-kv']),
          theirs(['cw/', '--prefix', '--prev-kv']),
        ];
        const json: [WatchProcess, WatchProcess] = [
          ours(['cw/', '--prefix', '-w', 'json']),
          theirs(['cw/', '--prefix', '-w', 'json']),
        ];
        await waitForWatchers(4);
        await kv.put('cw/a', 'new');
        await kv.put('cw/b', Uint8Array.of(0xff, 0x00, 0x0a, 0x41));
        await kv.put('other', 'x');
        await kv.delete('cw/', { prefix: true });
        await kv.put('cw/a', 'again');
        // Simple: PUT with the previous pair (5 lines); PUT (4: the value holds a \n);
        // the two DELETEs with their previous pairs (5, and 6 for the value with a \n);
        // PUT (3). JSON: one line per revision (deleting two keys is one revision).
        await compareUntilInterrupted([simple, json], [5 + 4 + 11 + 3, 4]);
      });

      it('--rev replay, a range_end, simple and -w json: the same bytes as etcdctl', async () => {
        const start = (await kv.put('cr/1', 'a')).header?.revision ?? 0n;
        await kv.put('cr/2', 'b');
        await kv.put('cr/3', 'c');
        await kv.delete('cr/1');
        const rev = String(start);
        const args = [
          ['cr/', '--prefix', '--rev', rev, '--prev-kv'],
          ['cr/1', 'cr/3', '--rev', rev],
          ['cr/', '--prefix', '--rev', rev, '-w', 'json'],
        ];
        const pairs = args.map(
          (list) => [ours(list), theirs(list)] as [WatchProcess, WatchProcess],
        );
        await compareUntilInterrupted(pairs, [3 * 3 + 5, 3 * 3, 1]);
      });

      it('a compacted --rev: the same stderr, stdout and exit code 5 as etcdctl', async () => {
        const current = (await kv.put('cc/k', '1')).header?.revision ?? 0n;
        await kv.compact(current);
        for (const format of ['simple', 'json']) {
          const args = ['--endpoints', etcd.endpoint, 'watch', 'cc/k', '--rev', '1', '-w', format];
          const [a, b] = await Promise.all([
            runProcess(process.execPath, [CLI, ...args]),
            runProcess('etcdctl', args),
          ]);
          expect(a).toEqual(b);
          expect(a.code).toBe(5);
          expect(a.stderr).toBe(
            'watch was canceled (etcdserver: mvcc: required revision has been compacted)\n' +
              'Error: watch is canceled by the server\n',
          );
        }
      });

      it('bad arguments: the same message and exit code as etcdctl', async () => {
        for (const args of [
          ['watch'],
          ['watch', 'a', 'b', '--prefix'],
          ['watch', '--rev', 'x', 'a'],
        ]) {
          const argv = ['--endpoints', etcd.endpoint, ...args];
          const [a, b] = await Promise.all([
            runProcess(process.execPath, [CLI, ...argv]),
            runProcess('etcdctl', argv),
          ]);
          expect(a.code).toBe(b.code);
          // On a bad flag value etcdctl (cobra) adds its usage text; raftkitctl does not.
          if (b.code !== 1) expect(a.stdout).toBe(b.stdout);
          expect(a.stdout).toBe('');
          expect(a.stderr.split('\n')[0]).toBe(b.stderr.split('\n')[0]);
        }
      });
    });
  });
}
