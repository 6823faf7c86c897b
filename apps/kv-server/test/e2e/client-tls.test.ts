import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { hasOpenssl, makeTestPki, type TestPki } from '@raftkit/rpc/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bytes,
  ETCDCTL_BIN,
  EtcdApi,
  freePorts,
  Member,
  type RpcError,
  rpcError,
  text,
} from './cluster-harness.js';

const run = promisify(execFile);

// The client API over TLS (etcd's --cert-file, --key-file, --trusted-ca-file,
// --client-cert-auth): one member whose client URL is https and demands a client
// certificate signed by the test CA. Certificates come from @raftkit/rpc/testing.
describe.skipIf(!hasOpenssl())('the client API over mutual TLS', () => {
  let pki: TestPki;
  let root: string;
  let member: Member;
  const clients: EtcdApi[] = [];

  const memberArgs = (clientPort: number, peerPort: number, dataDir: string, tls: string[]) => [
    '--name',
    'tls1',
    '--data-dir',
    dataDir,
    '--listen-client-urls',
    `https://127.0.0.1:${clientPort}`,
    '--advertise-client-urls',
    `https://127.0.0.1:${clientPort}`,
    '--listen-peer-urls',
    `http://127.0.0.1:${peerPort}`,
    '--initial-advertise-peer-urls',
    `http://127.0.0.1:${peerPort}`,
    '--initial-cluster',
    `tls1=http://127.0.0.1:${peerPort}`,
    '--heartbeat-interval',
    '50',
    '--election-timeout',
    '500',
    ...tls,
  ];

  const client = (credentials: grpc.ChannelCredentials): EtcdApi => {
    const api = new EtcdApi(member.address, credentials);
    clients.push(api);
    return api;
  };

  beforeAll(async () => {
    pki = makeTestPki(['server', 'client']);
    root = await mkdtemp(join(tmpdir(), 'raftkit-e2e-tls-'));
    const [clientPort, peerPort] = await freePorts(2);
    const server = pki.leaves.server!;
    const own = pki.leaves.client!;
    member = new Member(
      0,
      'tls1',
      clientPort!,
      peerPort!,
      join(root, 'tls1'),
      memberArgs(clientPort!, peerPort!, join(root, 'tls1'), [
        '--cert-file',
        server.certFile,
        '--key-file',
        server.keyFile,
        '--trusted-ca-file',
        pki.caFile,
        '--client-cert-auth',
      ]),
      undefined,
      grpc.credentials.createSsl(Buffer.from(pki.ca), Buffer.from(own.key), Buffer.from(own.cert)),
    );
    member.start();
    await member.waitReady(20_000);
  }, 30_000);

  afterAll(async () => {
    for (const api of clients) api.close();
    member?.api.close();
    await member?.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
    pki?.remove();
  });

  it('serves a client that presents a certificate the CA signed', async () => {
    await member.api.put({ key: bytes('tls/a'), value: bytes('over TLS') });
    const read = await member.api.range({ key: bytes('tls/a') });
    expect(text(read.kvs[0]?.value)).toBe('over TLS');
  });

  it('refuses a client without a certificate, with another CA’s, and in plaintext', async () => {
    const ca = Buffer.from(pki.ca);
    const attempts: Record<string, grpc.ChannelCredentials> = {
      'no client certificate': grpc.credentials.createSsl(ca),
      'a certificate of another CA': grpc.credentials.createSsl(
        ca,
        Buffer.from(pki.rogue.key),
        Buffer.from(pki.rogue.cert),
      ),
      plaintext: grpc.credentials.createInsecure(),
    };
    for (const [what, credentials] of Object.entries(attempts)) {
      const error: RpcError = await rpcError(
        client(credentials).range({ key: bytes('tls/a') }, { timeoutMs: 2000 }),
      );
      expect([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED], what).toContain(error.code);
    }
    // The member is still serving the good client.
    const read = await member.api.range({ key: bytes('tls/a') });
    expect(Number(read.count)).toBe(1);
  });

  it.skipIf(!existsSync(ETCDCTL_BIN))('works with etcdctl --cacert --cert --key', async () => {
    const own = pki.leaves.client!;
    const tls = ['--cacert', pki.caFile, '--cert', own.certFile, '--key', own.keyFile];
    const endpoint = `--endpoints=https://${member.address}`;
    const put = await run(ETCDCTL_BIN, [endpoint, ...tls, 'put', 'tls/b', 'from etcdctl'], {
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    expect(put.stdout).toBe('OK\n');
    const get = await run(ETCDCTL_BIN, [endpoint, ...tls, 'get', 'tls/b'], {
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    expect(get.stdout).toBe('tls/b\nfrom etcdctl\n');
  });

  it('refuses to start with a key that is not the certificate’s, before touching the data dir', async () => {
    const [clientPort, peerPort] = await freePorts(2);
    const dataDir = join(root, 'mismatched');
    const server = pki.leaves.server!;
    const wrong = new Member(
      1,
      'tls1',
      clientPort!,
      peerPort!,
      dataDir,
      memberArgs(clientPort!, peerPort!, dataDir, [
        '--cert-file',
        server.certFile,
        '--key-file',
        pki.leaves.client!.keyFile,
      ]),
    );
    try {
      wrong.start();
      const exit = await wrong.process!.exited;
      expect(exit.code).toBe(1);
      expect(wrong.logs()).toMatch(
        /could not start: RPC_TLS_CONFIG: .*the private key .*client\.key does not belong to .*server\.crt/,
      );
      await expect(readdir(dataDir)).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      wrong.api.close();
      await wrong.kill('SIGKILL');
    }
  });
});
