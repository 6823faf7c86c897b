import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

// Issue "timer, config, rpc" done-when: RaftNodes in separate processes, wired with the
// real adapters (gRPC transport and server, interval ticker, etcd-style config) over
// MemoryLogStore, elect a leader and replicate; killing the leader's process yields a
// new leader; a member started with the wrong cluster token is refused and says why.
const memberScript = fileURLToPath(new URL('./fixtures/raft-member.mjs', import.meta.url));

interface Member {
  name: string;
  process: ChildProcess;
  events: Record<string, unknown>[];
  stderr: string;
}

const members: Member[] = [];

afterEach(() => {
  for (const member of members.splice(0)) member.process.kill('SIGKILL');
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        resolve(typeof address === 'object' && address !== null ? address.port : 0),
      );
    });
  });
}

function startMember(
  name: string,
  peerPort: number,
  initialCluster: string,
  token: string,
): Member {
  const child = spawn(
    process.execPath,
    [
      memberScript,
      '--name',
      name,
      '--listen-peer-urls',
      `http://127.0.0.1:${peerPort}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${peerPort}`,
      '--initial-cluster',
      initialCluster,
      '--initial-cluster-token',
      token,
      '--heartbeat-interval',
      '50',
      '--election-timeout',
      '500',
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const member: Member = { name, process: child, events: [], stderr: '' };
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      member.events.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // not ours
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    member.stderr += chunk.toString();
  });
  members.push(member);
  return member;
}

async function waitFor<T>(
  what: string,
  probe: () => T | undefined,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      const detail = members
        .map((m) => `${m.name}: ${JSON.stringify(m.events.slice(-3))} ${m.stderr.slice(-600)}`)
        .join('\n');
      throw new Error(`timed out waiting for ${what}\n${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const lastSoftState = (member: Member) =>
  [...member.events].reverse().find((event) => event.event === 'softState') as
    | { leader: number; role: string }
    | undefined;
const nodeIdOf = (member: Member) =>
  member.events.find((event) => event.event === 'ready')?.nodeId as number;
const appliedData = (member: Member) =>
  member.events.filter((event) => event.event === 'applied').map((event) => event.data);

function leaderAmong(group: Member[]): Member | undefined {
  const leader = group.find((member) => lastSoftState(member)?.role === 'leader');
  if (leader === undefined) return undefined;
  const id = nodeIdOf(leader);
  return group.every((member) => lastSoftState(member)?.leader === id) ? leader : undefined;
}

describe('three RaftNodes in three processes over real gRPC', () => {
  it('elect, replicate, survive the leader being killed, and refuse a member of another cluster', async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    const names = ['m1', 'm2', 'm3'];
    const initialCluster = names.map((name, i) => `${name}=http://127.0.0.1:${ports[i]}`).join(',');
    const group = names.map((name, i) =>
      startMember(name, ports[i]!, initialCluster, 'it-cluster'),
    );

    const leader = await waitFor('a leader all agree on', () => leaderAmong(group));
    leader.process.stdin!.write('propose hello\n');
    for (const member of group) {
      await waitFor(`${member.name} to apply hello`, () => appliedData(member).includes('hello'));
    }

    leader.process.kill('SIGKILL');
    const survivors = group.filter((member) => member !== leader);
    const next = await waitFor('a new leader among the survivors', () => {
      const candidate = leaderAmong(survivors);
      return candidate !== undefined && candidate !== leader ? candidate : undefined;
    });
    next.process.stdin!.write('propose after-failover\n');
    for (const member of survivors) {
      await waitFor(`${member.name} to apply after-failover`, () =>
        appliedData(member).includes('after-failover'),
      );
      expect(appliedData(member).indexOf('hello')).toBeLessThan(
        appliedData(member).indexOf('after-failover'),
      );
    }

    // The killed member's name and port, but another cluster token: another cluster id.
    const intruderIndex = group.indexOf(leader);
    const intruder = startMember(
      names[intruderIndex]!,
      ports[intruderIndex]!,
      initialCluster,
      'another-token',
    );
    await waitFor(
      'the intruder to be refused for its cluster id',
      () =>
        /cluster/i.test(intruder.stderr) &&
        /refused|mismatch|another cluster|FAILED_PRECONDITION/i.test(intruder.stderr),
    );
    // The healthy pair keeps its leader and is not disturbed by the refused member.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(leaderAmong(survivors)).toBe(next);
  }, 60_000);
});
