// Free TCP ports on 127.0.0.1, found by letting the kernel pick and releasing them.
import { createServer, type Server } from 'node:net';

/**
 * Ports this process has handed out. Members are created during a run (membership
 * changes), so a port released by a member that is gone — or a port handed out but not
 * bound yet — must never be handed out again.
 */
const portsGiven = new Set<number>();

/**
 * freePorts returns `count` distinct ports that were free on 127.0.0.1 a moment ago and
 * that this process never returned before.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  const ports: number[] = [];
  try {
    while (ports.length < count) {
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      servers.push(server);
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('freePorts: no port');
      if (portsGiven.has(address.port)) continue;
      portsGiven.add(address.port);
      ports.push(address.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}
