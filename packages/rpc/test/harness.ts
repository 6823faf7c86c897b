// Test plumbing for real gRPC on 127.0.0.1: servers and transports that every test
// closes in afterEach, a recording logger, and polling.
import { createServer, type Server, type Socket } from 'node:net';
import type { LogFields, Logger, MsgApp, MsgHeartbeat, NodeId } from '@raftkit/core';
import {
  GrpcTransport,
  type GrpcTransportOptions,
  type PeerMessage,
  RaftServer,
  type RaftServerOptions,
} from '../src/index.js';

/** CLUSTER is the cluster id the tests' nodes share. */
export const CLUSTER = 0xc1a55e5n;

/** LogLine is one line a RecordingLogger kept. */
export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields: LogFields | undefined;
}

/** RecordingLogger keeps every line, to assert on logged reasons. */
export class RecordingLogger implements Logger {
  readonly lines: LogLine[] = [];
  debug(message: string, fields?: LogFields): void {
    this.lines.push({ level: 'debug', message, fields });
  }
  info(message: string, fields?: LogFields): void {
    this.lines.push({ level: 'info', message, fields });
  }
  warn(message: string, fields?: LogFields): void {
    this.lines.push({ level: 'warn', message, fields });
  }
  error(message: string, fields?: LogFields): void {
    this.lines.push({ level: 'error', message, fields });
  }
  /** text renders the lines at `levels` as one searchable string. */
  text(levels: readonly LogLine['level'][] = ['warn', 'error']): string {
    return this.lines
      .filter((line) => levels.includes(line.level))
      .map((line) => `${line.message} ${JSON.stringify(line.fields)}`)
      .join('\n');
  }
}

/** waitFor polls `predicate` until it holds, failing after `timeoutMs`. */
export async function waitFor(
  predicate: () => boolean,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** sleep resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** nextTurn resolves after the current event-loop turn's immediates ran. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** heartbeat builds a small MsgHeartbeat. */
export function heartbeat(from: NodeId, to: NodeId, commit = 0): MsgHeartbeat {
  return { type: 'MsgHeartbeat', from, to, term: 1, commit, context: new Uint8Array() };
}

/** append builds a MsgApp with `count` entries of `size` bytes. */
export function append(from: NodeId, to: NodeId, index: number, count = 1, size = 100): MsgApp {
  const entries = Array.from({ length: count }, (_, i) => ({
    term: 1,
    index: index + i + 1,
    type: 'normal' as const,
    data: new Uint8Array(size).fill((index + i) & 0xff),
  }));
  return { type: 'MsgApp', from, to, term: 1, logTerm: 1, index, entries, commit: index };
}

/**
 * Fixture tracks what a test opened so that afterEach can close all of it, even when
 * the test failed halfway.
 */
export class Fixture {
  private readonly servers: RaftServer[] = [];
  private readonly transports: GrpcTransport[] = [];
  private readonly netServers: Server[] = [];
  private readonly sockets: Socket[] = [];

  /** server starts a RaftServer on 127.0.0.1 (port 0 unless given) recording messages. */
  async server(
    selfId: NodeId,
    options: Partial<RaftServerOptions> = {},
    port = 0,
  ): Promise<{ server: RaftServer; received: PeerMessage[]; logger: RecordingLogger }> {
    const received: PeerMessage[] = [];
    const logger = new RecordingLogger();
    const server = await RaftServer.listen(`127.0.0.1:${port}`, {
      clusterId: CLUSTER,
      selfId,
      members: [1, 2, 3, 4, 5],
      onMessage: (message) => received.push(message),
      logger,
      ...options,
    });
    this.servers.push(server);
    return { server, received, logger };
  }

  /** transport starts a GrpcTransport with fast backoff for tests. */
  transport(
    selfId: NodeId,
    peers: Record<number, string>,
    options: Partial<GrpcTransportOptions> = {},
  ): { transport: GrpcTransport; unreachable: NodeId[]; logger: RecordingLogger } {
    const unreachable: NodeId[] = [];
    const logger = new RecordingLogger();
    const transport = new GrpcTransport({
      clusterId: CLUSTER,
      selfId,
      peers: new Map(Object.entries(peers).map(([id, address]) => [Number(id), address])),
      logger,
      backoff: { baseMs: 20, maxMs: 200 },
      handshakeTimeoutMs: 1_000,
      onUnreachable: (peerId) => unreachable.push(peerId),
      ...options,
    });
    this.transports.push(transport);
    return { transport, unreachable, logger };
  }

  /** deadAddress returns a loopback address where nothing listens. */
  async deadAddress(): Promise<string> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return `127.0.0.1:${port}`;
  }

  /** blackholeAddress returns an address that accepts TCP and then never says a word. */
  async blackholeAddress(): Promise<string> {
    const server = createServer((socket) => {
      this.sockets.push(socket);
      socket.on('error', () => {});
    });
    this.netServers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    return `127.0.0.1:${port}`;
  }

  /** close releases everything the fixture opened. */
  async close(): Promise<void> {
    await Promise.all(this.transports.splice(0).map((transport) => transport.close()));
    await Promise.all(this.servers.splice(0).map((server) => server.close(100)));
    for (const socket of this.sockets.splice(0)) socket.destroy();
    await Promise.all(
      this.netServers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))),
    );
  }
}

/** address renders a server's loopback address. */
export function address(server: RaftServer): string {
  return `127.0.0.1:${server.port}`;
}
