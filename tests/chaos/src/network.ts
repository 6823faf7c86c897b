// The network between members: each member advertises a proxy port as its peer URL and
// listens on a private one, so every peer connection passes through a proxy here. The
// proxy tells which member dialled (socket-owner.ts) and forwards, refuses or cuts the
// connection according to the set of cut directed links.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { ownerOfConnection } from './socket-owner.js';

/** ProxyTarget is one member as the network sees it. */
export interface ProxyTarget {
  readonly name: string;
  /** proxyPort is the advertised peer port (what the other members dial). */
  readonly proxyPort: number;
  /** peerPort is the member's real listening peer port. */
  readonly peerPort: number;
}

interface Pipe {
  readonly from: string;
  readonly to: string;
  readonly downstream: Socket;
  readonly upstream: Socket;
}

/**
 * Network holds one proxy per member and the cut links. A cut destroys the proxied
 * connections of that link at once (a long-lived peer stream must not survive a
 * partition) and refuses new ones until healed.
 */
export class Network {
  private readonly servers: Server[] = [];
  private readonly cut = new Set<string>();
  private readonly pipes = new Set<Pipe>();
  private readonly sockets = new Set<Socket>();
  private stopped = false;
  /** unidentified counts accepted connections whose dialler could not be identified. */
  unidentified = 0;

  /**
   * Creates the network for `targets`; `pids` reports each member's current process id
   * (it changes across restarts).
   */
  constructor(
    targets: readonly ProxyTarget[],
    private readonly pids: () => ReadonlyMap<string, number>,
  ) {
    this.targets = [...targets];
  }

  private readonly targets: ProxyTarget[];

  /** start listens on every proxy port. */
  async start(): Promise<void> {
    for (const target of this.targets) await this.listen(target);
  }

  private async listen(target: ProxyTarget): Promise<void> {
    const server = createServer((socket) => void this.accept(target, socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(target.proxyPort, '127.0.0.1', () => resolve());
    });
    this.servers.push(server);
  }

  /**
   * addTarget puts a proxy in front of a member created during the run (a membership
   * change); it starts with no link cut, so it reaches both sides of a partition in force.
   */
  async addTarget(target: ProxyTarget): Promise<void> {
    if (this.stopped) throw new Error('network: stopped');
    if (this.targets.some((t) => t.name === target.name)) return;
    this.targets.push(target);
    await this.listen(target);
  }

  private async accept(target: ProxyTarget, downstream: Socket): Promise<void> {
    downstream.pause();
    this.sockets.add(downstream);
    downstream.on('close', () => this.sockets.delete(downstream));
    downstream.on('error', () => downstream.destroy());
    if (this.stopped) {
      downstream.destroy();
      return;
    }
    const clientPort = downstream.remotePort ?? 0;
    let from = await ownerOfConnection(clientPort, target.proxyPort, this.pids());
    if (from === undefined) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      from = await ownerOfConnection(clientPort, target.proxyPort, this.pids());
    }
    if (from === undefined) {
      // Fail closed: an unidentified dialler could bypass a partition.
      this.unidentified++;
      downstream.destroy();
      return;
    }
    if (this.stopped || downstream.destroyed || this.isCut(from, target.name)) {
      downstream.destroy();
      return;
    }
    const upstream = createConnection({ host: '127.0.0.1', port: target.peerPort });
    this.sockets.add(upstream);
    upstream.on('close', () => this.sockets.delete(upstream));
    const pipe: Pipe = { from, to: target.name, downstream, upstream };
    this.pipes.add(pipe);
    const close = () => {
      this.pipes.delete(pipe);
      downstream.destroy();
      upstream.destroy();
    };
    upstream.on('error', close);
    upstream.on('close', close);
    downstream.on('close', close);
    downstream.pipe(upstream);
    upstream.pipe(downstream);
    downstream.resume();
  }

  /** isCut is true when connections from `from` to `to` are refused. */
  isCut(from: string, to: string): boolean {
    return this.cut.has(`${from}>${to}`);
  }

  /** cutLink cuts one direction: `from` can no longer open or use connections to `to`. */
  cutLink(from: string, to: string): void {
    this.cut.add(`${from}>${to}`);
    for (const pipe of this.pipes) {
      if (pipe.from === from && pipe.to === to) {
        pipe.downstream.destroy();
        pipe.upstream.destroy();
        this.pipes.delete(pipe);
      }
    }
  }

  /** cutBetween cuts both directions between a and b. */
  cutBetween(a: string, b: string): void {
    this.cutLink(a, b);
    this.cutLink(b, a);
  }

  /** partition cuts every link between members of different groups. */
  partition(groups: readonly (readonly string[])[]): void {
    for (const [i, group] of groups.entries()) {
      for (const other of groups.slice(i + 1)) {
        for (const a of group) for (const b of other) this.cutBetween(a, b);
      }
    }
  }

  /** isolate cuts every link to and from one member. */
  isolate(name: string): void {
    for (const target of this.targets) if (target.name !== name) this.cutBetween(name, target.name);
  }

  /** heal restores every link. */
  heal(): void {
    this.cut.clear();
  }

  /** cutLinks lists the cut directed links as `from>to`. */
  cutLinks(): string[] {
    return [...this.cut].sort();
  }

  /** stop closes the proxies and every proxied connection. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    this.pipes.clear();
    await Promise.all(
      this.servers.map((server) => new Promise((resolve) => server.close(() => resolve(null)))),
    );
    this.servers.length = 0;
  }
}
