// Shared by the hand-run benches in this folder, with no side effects on import: a free
// port on 127.0.0.1, and the etcd flags that start one member of a cluster on loopback.
import { createServer } from 'node:net';

/** freePort resolves with a TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** initialClusterOf is `--initial-cluster` for members `{ name, peer }` on 127.0.0.1. */
export function initialClusterOf(members) {
  return members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
}

/**
 * memberFlags are the kv-server (and etcd) flags of one member on 127.0.0.1: its name,
 * data dir, client and peer ports (listened on and advertised), the initial cluster,
 * the cluster token and state.
 */
export function memberFlags({ name, dataDir, client, peer, initialCluster, token, state = 'new' }) {
  return [
    '--name',
    name,
    '--data-dir',
    dataDir,
    '--listen-client-urls',
    `http://127.0.0.1:${client}`,
    '--advertise-client-urls',
    `http://127.0.0.1:${client}`,
    '--listen-peer-urls',
    `http://127.0.0.1:${peer}`,
    '--initial-advertise-peer-urls',
    `http://127.0.0.1:${peer}`,
    '--initial-cluster',
    initialCluster,
    '--initial-cluster-token',
    token,
    '--initial-cluster-state',
    state,
  ];
}
