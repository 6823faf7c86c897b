#!/usr/bin/env node
// CPU per request of kv-server's own request path, in one process (by hand, not a test):
//
//   node apps/kv-server/bench/request-path.mjs [--tree DIR[,DIR]] [--ops 40000]
//        [--clients 64] [--repeat 5] [--workload put|range|both]
//
// Three RaftNodes with MemoryLogStores and a loopback transport (no disk, no sockets),
// a KvStateMachine each, and the leader's KV service handlers (createKvService) called
// the way grpc-js calls them: the request bytes go through the service definition's
// requestDeserialize, the response through responseSerialize. So it measures what the
// kv-server code adds per request — decode, validation, the command, proposing,
// applying on three replicas (MVCC), the response — plus the raft core, and not
// grpc-js, HTTP/2 or LevelDB, which a shared machine makes too noisy to compare
// small changes with. `--clients` closed-loop clients keep one request in flight each.
//
// Reports process CPU (user+sys) per request, the median and the spread over
// --repeat runs, each in a fresh process. With two trees (e.g. a copy of the repository
// before a change, built) the runs alternate between them.
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: flags } = parseArgs({
  options: {
    tree: { type: 'string' },
    ops: { type: 'string', default: '40000' },
    clients: { type: 'string', default: '64' },
    repeat: { type: 'string', default: '5' },
    workload: { type: 'string', default: 'both' },
    'val-size': { type: 'string', default: '256' },
    'key-space': { type: 'string', default: '100000' },
    child: { type: 'string' },
  },
});
const here = fileURLToPath(new URL('../../..', import.meta.url));
const trees = (flags.tree ?? here).split(',');
const ops = Number(flags.ops);
const clients = Number(flags.clients);
const valSize = Number(flags['val-size']);
const keySpace = Number(flags['key-space']);

async function load(tree) {
  const dir = `${tree.replace(/\/$/, '')}/apps/kv-server/dist`;
  const service = await import(`${dir}/kv-service.js`);
  const { KvStateMachine } = await import(`${dir}/kv-state-machine.js`);
  const core = await import(`${dir}/../node_modules/@raftkit/core/dist/index.js`);
  const grpc = await import(`${dir}/../node_modules/@grpc/grpc-js/build/src/index.js`);
  return { service, KvStateMachine, core, grpc: grpc.default ?? grpc };
}

async function cluster(mod) {
  const { core, KvStateMachine } = mod;
  const ids = [1, 2, 3];
  const nodes = new Map();
  const machines = [];
  for (const id of ids) {
    const store = new core.MemoryLogStore({
      voters: ids,
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    });
    const machine = new KvStateMachine();
    const node = new core.RaftNode({
      config: { id, peers: ids, electionTicks: 10, heartbeatTicks: 1 },
      store,
      stateMachine: machine,
      transport: {
        send: (messages) => {
          for (const m of messages) setImmediate(() => nodes.get(m.to)?.step(m));
        },
      },
      ticker: { start() {}, stop() {} },
    });
    nodes.set(id, node);
    machines.push(machine);
    node.start();
  }
  const leader = nodes.get(1);
  leader.campaign();
  for (let i = 0; i < 1000 && !leader.isLeader(); i++) await new Promise(setImmediate);
  if (!leader.isLeader()) throw new Error('no leader');
  return { nodes, leader, machine: machines[0] };
}

function makeCall(grpc, request) {
  return {
    request,
    metadata: new grpc.Metadata(),
    getDeadline: () => Number.POSITIVE_INFINITY,
    sendMetadata() {},
  };
}

async function run(mod, workload) {
  const { service, grpc } = mod;
  const { nodes, leader, machine } = await cluster(mod);
  const definition = service.kvServiceDefinition();
  const header = (revision) => ({
    clusterId: 0xfedcba9876543210n,
    memberId: 0x1234567890abcdefn,
    revision: BigInt(revision),
    raftTerm: BigInt(leader.term()),
  });
  const handlers = service.withServerHeader(
    service.createKvService({
      node: leader,
      stateMachine: machine,
      header,
      maxRequestBytes: 1_572_864,
      maxTxnOps: 128,
      observe: () => {},
    }),
    '3.5.0',
  );
  const value = Buffer.alloc(valSize, 0x61);
  const keyOf = (i) => Buffer.from(String(i).padStart(8, '0'));
  const putBytes = (i) => definition.put.requestSerialize({ key: keyOf(i % keySpace), value });
  const rangeKeys = 1000;
  const rangeBytes = (i) => definition.range.requestSerialize({ key: keyOf(i % rangeKeys) });
  const oneCall = (method, bytes) =>
    new Promise((resolve, reject) => {
      const def = definition[method];
      const request = def.requestDeserialize(bytes);
      handlers[method](makeCall(grpc, request), (error, response) => {
        if (error) reject(error);
        else resolve(def.responseSerialize(response));
      });
    });
  // Prefill for reads.
  if (workload === 'range') {
    for (let i = 0; i < rangeKeys; i += 64) {
      await Promise.all(
        Array.from({ length: Math.min(64, rangeKeys - i) }, (_, j) =>
          oneCall('put', definition.put.requestSerialize({ key: keyOf(i + j), value })),
        ),
      );
    }
  }
  const method = workload === 'range' ? 'range' : 'put';
  const bytesFor = workload === 'range' ? rangeBytes : putBytes;
  let next = 0;
  const loop = async (total) => {
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (next < total) {
          const i = next++;
          await oneCall(method, bytesFor(Math.floor(Math.random() * 1e9) + i));
        }
      }),
    );
  };
  await loop(Math.min(5000, ops)); // warm-up
  next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await loop(ops);
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  for (const node of nodes.values()) await node.stop();
  return { usPerOp: (cpu.user + cpu.system) / ops, opsPerSec: (ops / wall) * 1000 };
}

if (flags.child !== undefined) {
  // One measurement in a fresh process (fresh heap), reported to the parent.
  const result = await run(await load(trees[0]), flags.child);
  process.stdout.write(JSON.stringify(result));
  process.exit(0);
}

const workloads = flags.workload === 'both' ? ['put', 'range'] : [flags.workload];
const self = fileURLToPath(import.meta.url);
const measure = (tree, workload) => {
  const out = execFileSync(
    process.execPath,
    [
      self,
      '--child',
      workload,
      '--tree',
      tree,
      '--ops',
      String(ops),
      '--clients',
      String(clients),
      '--val-size',
      String(valSize),
      '--key-space',
      String(keySpace),
    ],
    { encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  return JSON.parse(out);
};
for (const workload of workloads) {
  const results = trees.map(() => []);
  for (let r = 0; r < Number(flags.repeat); r++) {
    const order = trees.map((_, i) => i);
    if (r % 2 === 1) order.reverse();
    for (const i of order) results[i].push(measure(trees[i], workload));
  }
  trees.forEach((tree, i) => {
    const us = results[i].map((x) => x.usPerOp).sort((a, b) => a - b);
    const median = us[us.length >> 1];
    console.log(
      `${workload.padEnd(6)} ${tree.padEnd(40)} CPU ${median.toFixed(1)} µs/op (runs: ${us.map((x) => x.toFixed(1)).join(' ')})`,
    );
  });
}
process.exit(0);
