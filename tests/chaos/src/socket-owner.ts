// Which process owns the other end of an accepted loopback connection: the proxy for a
// member sees every peer connect from 127.0.0.1 and an ephemeral port, so it finds the
// socket with that local port in /proc/net/tcp and the process holding its inode.
import { readdir, readFile, readlink } from 'node:fs/promises';

function portHex(port: number): string {
  return port.toString(16).toUpperCase().padStart(4, '0');
}

async function inodeOf(localPort: number, remotePort: number): Promise<string | undefined> {
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = await readFile(table, 'utf8');
    } catch {
      continue;
    }
    const local = `:${portHex(localPort)}`;
    const remote = `:${portHex(remotePort)}`;
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[1]?.endsWith(local) && fields[2]?.endsWith(remote)) return fields[9];
    }
  }
  return undefined;
}

/**
 * ownerOfConnection returns which of `candidates` (name → pid) holds the client socket
 * whose local port is `clientPort` connected to `serverPort`, or undefined.
 */
export async function ownerOfConnection(
  clientPort: number,
  serverPort: number,
  candidates: ReadonlyMap<string, number>,
): Promise<string | undefined> {
  const inode = await inodeOf(clientPort, serverPort);
  if (inode === undefined || inode === '0') return undefined;
  const wanted = `socket:[${inode}]`;
  for (const [name, pid] of candidates) {
    let fds: string[];
    try {
      fds = await readdir(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if ((await readlink(`/proc/${pid}/fd/${fd}`)) === wanted) return name;
      } catch {
        // The descriptor closed while we looked.
      }
    }
  }
  return undefined;
}
