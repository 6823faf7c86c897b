import { afterEach, describe, expect, it } from 'vitest';
import type {
  Entry,
  LogUpdate,
  Message,
  NodeId,
  StateMachine,
  Ticker,
  Transport,
} from '../src/index.js';
import {
  MemoryLogStore,
  NodeStoppedError,
  ProposalDroppedError,
  RaftNode,
  ReadIndexError,
  seededRandom,
  snapshotDue,
} from '../src/index.js';

const text = (value: string) => new TextEncoder().encode(value);
const decode = (value: Uint8Array) => new TextDecoder().decode(value);

/** A ticker the test advances by hand. */
class HandTicker implements Ticker {
  private onTick: (() => void) | undefined;
  start(onTick: () => void): void {
    this.onTick = onTick;
  }
  stop(): void {
    this.onTick = undefined;
  }
  tick(): void {
    this.onTick?.();
  }
  get running(): boolean {
    return this.onTick !== undefined;
  }
}

/** A state machine that appends commands to a list and returns the new length. */
class ListMachine implements StateMachine<number> {
  commands: string[] = [];
  restores = 0;
  apply(entries: readonly Entry[]): number[] {
    return entries.map((entry) => this.commands.push(decode(entry.data)));
  }
  snapshot(): Uint8Array {
    return text(this.commands.join('\n'));
  }
  restore(snapshot: { data: Uint8Array }): void {
    this.restores++;
    this.commands = snapshot.data.length === 0 ? [] : decode(snapshot.data).split('\n');
  }
}

/** An in-process network: delivery on a later macrotask, links can be cut. */
class LoopbackNetwork {
  readonly nodes = new Map<NodeId, RaftNode<number>>();
  readonly cut = new Set<NodeId>();
  sent = 0;
  transport(from: NodeId): Transport {
    return {
      send: (messages: readonly Message[]) => {
        for (const message of messages) {
          this.sent++;
          if (this.cut.has(from) || this.cut.has(message.to)) continue;
          setImmediate(() => this.nodes.get(message.to)?.step(message));
        }
      },
    };
  }
}

interface TestCluster {
  network: LoopbackNetwork;
  nodes: RaftNode<number>[];
  tickers: HandTicker[];
  machines: ListMachine[];
  stores: MemoryLogStore[];
}

const clusters: TestCluster[] = [];

function createCluster(
  size: number,
  saveDelay = 0,
  snapshot?: { everyEntries: number; keepEntries: number },
): TestCluster {
  const ids = Array.from({ length: size }, (_, i) => i + 1);
  const network = new LoopbackNetwork();
  const cluster: TestCluster = { network, nodes: [], tickers: [], machines: [], stores: [] };
  for (const id of ids) {
    const store = new MemoryLogStore({
      voters: ids,
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    });
    if (saveDelay > 0) {
      const save = store.save.bind(store);
      store.save = (update: LogUpdate) =>
        new Promise((resolve) => setTimeout(() => resolve(save(update)), saveDelay));
    }
    const ticker = new HandTicker();
    const machine = new ListMachine();
    const node = new RaftNode<number>({
      config: { id, peers: ids, electionTicks: 10, heartbeatTicks: 1, random: seededRandom(id) },
      store,
      stateMachine: machine,
      transport: network.transport(id),
      ticker,
      ...(snapshot !== undefined ? { snapshot } : {}),
    });
    network.nodes.set(id, node);
    cluster.nodes.push(node);
    cluster.tickers.push(ticker);
    cluster.machines.push(machine);
    cluster.stores.push(store);
    node.start();
  }
  clusters.push(cluster);
  return cluster;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 2));

async function tickAll(cluster: TestCluster, times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    cluster.tickers.forEach((ticker, index) => {
      if (!cluster.network.cut.has(index + 1)) ticker.tick();
    });
    await settle();
  }
}

async function electLeader(cluster: TestCluster): Promise<RaftNode<number>> {
  for (let round = 0; round < 100; round++) {
    const leaders = cluster.nodes.filter(
      (node) => node.isLeader() && !cluster.network.cut.has(node.id),
    );
    if (
      leaders.length === 1 &&
      cluster.nodes.every(
        (node) => cluster.network.cut.has(node.id) || node.leader() === leaders[0]!.id,
      )
    ) {
      return leaders[0]!;
    }
    await tickAll(cluster, 1);
  }
  throw new Error('no leader elected');
}

afterEach(async () => {
  for (const cluster of clusters.splice(0)) {
    await Promise.all(cluster.nodes.map((node) => node.stop()));
  }
});

describe('snapshotDue', () => {
  it('is every N entries without a phase, and at phase + k·N with one', () => {
    const plain = { everyEntries: 10, keepEntries: 0 };
    expect(snapshotDue(plain, 0, 9)).toBe(false);
    expect(snapshotDue(plain, 0, 10)).toBe(true);
    expect(snapshotDue(plain, 5, 15)).toBe(true);
    const phased = { everyEntries: 10, keepEntries: 0, phase: 3 };
    expect(snapshotDue(phased, 1, 2)).toBe(false);
    expect(snapshotDue(phased, 1, 3)).toBe(true);
    expect(snapshotDue(phased, 3, 12)).toBe(false);
    expect(snapshotDue(phased, 3, 13)).toBe(true);
    // A batch that overshoots keeps the schedule: the next point is still 23.
    expect(snapshotDue(phased, 17, 22)).toBe(false);
    expect(snapshotDue(phased, 17, 23)).toBe(true);
    // Members with different phases never snapshot at the same applied indexes.
    const due = (phase: number) =>
      Array.from({ length: 60 }, (_, i) => i + 1).filter((applied) =>
        snapshotDue({ everyEntries: 10, keepEntries: 0, phase }, applied - 1, applied),
      );
    expect(due(3)).toEqual([3, 13, 23, 33, 43, 53]);
    expect(due(7)).toEqual([7, 17, 27, 37, 47, 57]);
  });
});

describe('RaftNode snapshots', () => {
  it('snapshots and compacts by policy, and catches a cut-off follower up by InstallSnapshot', async () => {
    const cluster = createCluster(3, 0, { everyEntries: 10, keepEntries: 2 });
    const leader = await electLeader(cluster);
    const lagging = cluster.nodes.find((node) => node !== leader)!;
    cluster.network.cut.add(lagging.id);
    for (let i = 0; i < 40; i++) await leader.propose(text(`v${i}`));
    await tickAll(cluster, 2);
    const leaderStore = cluster.stores[leader.id - 1]!;
    expect(leaderStore.snapshot().metadata.index).toBeGreaterThanOrEqual(30);
    expect(leaderStore.firstIndex()).toBeGreaterThan(20);
    cluster.network.cut.delete(lagging.id);
    const expected = Array.from({ length: 40 }, (_, i) => `v${i}`);
    for (let round = 0; round < 100; round++) {
      if (cluster.machines[lagging.id - 1]!.commands.length === 40) break;
      await tickAll(cluster, 1);
    }
    expect(cluster.machines[lagging.id - 1]!.commands).toEqual(expected);
    expect(cluster.machines[lagging.id - 1]!.restores).toBe(1);
  });

  it('with captureSnapshot, keeps applying while the image is produced, and stores the captured state', async () => {
    const store = new MemoryLogStore({
      voters: [1],
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    });
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let captures = 0;
    const machine = new (class extends ListMachine {
      captureSnapshot(): () => Promise<Uint8Array> {
        captures++;
        const pinned = [...this.commands];
        return async () => {
          await gate;
          return text(pinned.join('\n'));
        };
      }
    })();
    const ticker = new HandTicker();
    const node = new RaftNode<number>({
      config: { id: 1, peers: [1], electionTicks: 10, heartbeatTicks: 1, random: seededRandom(1) },
      store,
      stateMachine: machine,
      transport: { send() {} },
      ticker,
      snapshot: { everyEntries: 5, keepEntries: 1 },
    });
    clusters.push({
      network: new LoopbackNetwork(),
      nodes: [node],
      tickers: [ticker],
      machines: [machine],
      stores: [store],
    });
    node.start();
    for (let i = 0; i < 25 && !node.isLeader(); i++) {
      ticker.tick();
      await settle();
    }
    for (let i = 0; i < 6; i++) await node.propose(text(`c${i}`));
    expect(captures).toBe(1);
    // The image is not produced yet, and the node goes on applying.
    for (let i = 6; i < 20; i++) await node.propose(text(`c${i}`));
    expect(machine.commands).toHaveLength(20);
    expect(captures).toBe(1);
    expect(store.snapshot().metadata.index).toBe(0);
    release();
    for (let i = 0; i < 20 && store.snapshot().metadata.index === 0; i++) await settle();
    const snapshot = store.snapshot();
    // Exactly the commands applied at the capture, and the snapshot's index is theirs
    // (plus the leader's empty entry at index 1).
    const imaged = decode(snapshot.data).split('\n');
    expect(imaged).toEqual(machine.commands.slice(0, imaged.length));
    expect(imaged.length).toBeGreaterThanOrEqual(4);
    expect(imaged.length).toBeLessThanOrEqual(6);
    expect(snapshot.metadata.index).toBe(imaged.length + 1);
    // The next capture happens once the policy allows it again.
    await node.propose(text('c20'));
    await settle();
    expect(captures).toBe(2);
  });

  it('restores the state machine from the stored snapshot on restart', async () => {
    const store = new MemoryLogStore({
      voters: [1],
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    });
    const start = (machine: ListMachine, ticker: HandTicker) => {
      const node = new RaftNode<number>({
        config: {
          id: 1,
          peers: [1],
          electionTicks: 10,
          heartbeatTicks: 1,
          random: seededRandom(1),
        },
        store,
        stateMachine: machine,
        transport: { send() {} },
        ticker,
        snapshot: { everyEntries: 5, keepEntries: 1 },
      });
      node.start();
      return node;
    };
    const firstTicker = new HandTicker();
    const first = start(new ListMachine(), firstTicker);
    for (let i = 0; i < 25 && !first.isLeader(); i++) {
      firstTicker.tick();
      await settle();
    }
    for (let i = 0; i < 12; i++) await first.propose(text(`c${i}`));
    await settle();
    await first.stop();
    expect(store.snapshot().metadata.index).toBeGreaterThanOrEqual(10);

    const machine = new ListMachine();
    const ticker = new HandTicker();
    const second = start(machine, ticker);
    clusters.push({
      network: new LoopbackNetwork(),
      nodes: [second],
      tickers: [ticker],
      machines: [machine],
      stores: [store],
    });
    for (let i = 0; i < 25 && machine.commands.length < 12; i++) {
      ticker.tick();
      await settle();
    }
    expect(machine.restores).toBe(1);
    expect(machine.commands).toEqual(Array.from({ length: 12 }, (_, i) => `c${i}`));
  });
});

describe('RaftNode (the Ready-loop driver)', () => {
  it('elects a leader and applies a proposal on every node, resolving with the state machine result', async () => {
    const cluster = createCluster(3);
    const leader = await electLeader(cluster);
    const result = await leader.propose(text('first'));
    expect(result).toBe(1);
    await tickAll(cluster, 3);
    for (const machine of cluster.machines) expect(machine.commands).toEqual(['first']);
  });

  it('forwards a follower proposal to the leader and resolves it on the follower once applied', async () => {
    const cluster = createCluster(3);
    const leader = await electLeader(cluster);
    const follower = cluster.nodes.find((node) => node !== leader)!;
    const result = await follower.propose(text('via-follower'));
    expect(result).toBe(1);
    expect(cluster.machines[follower.id - 1]!.commands).toEqual(['via-follower']);
  });

  it('batches proposals made in one turn into one append and one MsgApp per peer', async () => {
    const cluster = createCluster(3, 1);
    const leader = await electLeader(cluster);
    await tickAll(cluster, 2);
    const lastBefore = leader.status().lastIndex;
    const sentBefore = cluster.network.sent;
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => leader.propose(text(`p${i}`))),
    );
    expect(results).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(leader.status().lastIndex).toBe(lastBefore + 200);
    // One MsgApp per follower carries the batch, plus their acks and the commit update:
    // far fewer messages than proposals.
    expect(cluster.network.sent - sentBefore).toBeLessThan(20);
  });

  it('serves linearizable reads: a read observes every write acknowledged before it', async () => {
    const cluster = createCluster(3);
    const leader = await electLeader(cluster);
    const follower = cluster.nodes.find((node) => node !== leader)!;
    await leader.propose(text('a'));
    await leader.propose(text('b'));
    const readIndex = await follower.read();
    expect(follower.applied()).toBeGreaterThanOrEqual(readIndex);
    expect(cluster.machines[follower.id - 1]!.commands).toEqual(['a', 'b']);
    const leaderRead = await leader.read();
    expect(leaderRead).toBe(readIndex);
  });

  it('rejects a proposal with ProposalDroppedError when no leader is known', async () => {
    const cluster = createCluster(3);
    await expect(cluster.nodes[0]!.propose(text('x'))).rejects.toBeInstanceOf(ProposalDroppedError);
    await expect(cluster.nodes[0]!.read()).rejects.toBeInstanceOf(ReadIndexError);
  });

  it('elects a new leader when the leader is cut off, and keeps acknowledged writes', async () => {
    const cluster = createCluster(3);
    const leader = await electLeader(cluster);
    await leader.propose(text('before'));
    cluster.network.cut.add(leader.id);
    const next = await electLeader(cluster);
    expect(next.id).not.toBe(leader.id);
    await next.propose(text('after'));
    await tickAll(cluster, 2);
    for (const node of cluster.nodes) {
      if (node === leader) continue;
      expect(cluster.machines[node.id - 1]!.commands).toEqual(['before', 'after']);
    }
  });

  it('times out a proposal whose outcome it cannot learn', async () => {
    const cluster = createCluster(3);
    const leader = await electLeader(cluster);
    const follower = cluster.nodes.find((node) => node !== leader)!;
    cluster.network.cut.add(leader.id);
    const pending = follower.propose(text('lost?'));
    const outcome = pending.then(
      () => 'resolved',
      (error: unknown) => (error as Error).constructor.name,
    );
    for (let i = 0; i < 60; i++) cluster.tickers[follower.id - 1]!.tick();
    await settle();
    expect(await outcome).toMatch(/ProposalTimeoutError|ProposalDroppedError/);
  });

  it('stop() fails pending requests with NodeStoppedError and stops the ticker', async () => {
    const cluster = createCluster(3);
    const leader = await electLeader(cluster);
    cluster.network.cut.add(leader.id);
    const pending = leader.propose(text('never'));
    await leader.stop();
    await expect(pending).rejects.toBeInstanceOf(NodeStoppedError);
    expect(cluster.tickers[leader.id - 1]!.running).toBe(false);
    await expect(leader.propose(text('after stop'))).rejects.toBeInstanceOf(NodeStoppedError);
  });

  it('stops on a failed save and reports the fatal error, never acknowledging the write', async () => {
    const cluster = createCluster(1);
    const node = cluster.nodes[0]!;
    await tickAll(cluster, 25);
    expect(node.isLeader()).toBe(true);
    cluster.stores[0]!.save = () => Promise.reject(new Error('disk full'));
    await expect(node.propose(text('x'))).rejects.toBeInstanceOf(NodeStoppedError);
    expect(String(node.error())).toContain('disk full');
  });
});

describe('RaftNode read retries', () => {
  it('asks again for a read point whose request was lost, instead of waiting for the deadline', async () => {
    const cluster = createCluster(3);
    const leader = await electLeader(cluster);
    const follower = cluster.nodes.find((node) => node !== leader)!;
    await leader.propose(text('x'));
    // Lose the follower's first MsgReadIndex on its way to the leader.
    const transport = cluster.network.transport(follower.id);
    let dropped = 0;
    (follower as unknown as { options: { transport: Transport } }).options.transport = {
      send: (messages) => {
        const kept = messages.filter((message) => {
          if (message.type === 'MsgReadIndex' && dropped === 0) {
            dropped++;
            return false;
          }
          return true;
        });
        transport.send(kept);
      },
    };
    const read = follower.read();
    let resolved = false;
    read.then(() => {
      resolved = true;
    });
    await tickAll(cluster, 3);
    expect(resolved).toBe(false);
    await tickAll(cluster, 12);
    expect(dropped).toBe(1);
    expect(await read).toBeGreaterThanOrEqual(2);
  });
});
