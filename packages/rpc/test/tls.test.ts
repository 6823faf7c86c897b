import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  channelCredentials,
  RaftServer,
  serverCredentials,
  TlsConfigError,
  type TlsOptions,
} from '../src/index.js';
import { address, CLUSTER, Fixture, heartbeat, sleep, waitFor } from './harness.js';

// Certificates are made at test time with the openssl CLI: a cluster CA and one cert per
// node usable as server and client (as etcd peer certs are), plus a rogue CA with a
// cert that looks the same but is signed by the wrong authority.
function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface Pki {
  readonly dir: string;
  readonly ca: string;
  readonly node1: { cert: string; key: string };
  readonly node2: { cert: string; key: string };
  readonly rogue: { cert: string; key: string; ca: string };
}

function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'raftkit-rpc-tls-'));
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  writeFileSync(
    join(dir, 'peer.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n',
  );
  const authority = (name: string) =>
    run(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-days',
      '3650',
      '-subj',
      `/CN=${name}`,
    );
  const leaf = (name: string, ca: string) => {
    run('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    run(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.crt`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '3650',
      '-extfile',
      'peer.ext',
    );
  };
  authority('raftkit-test-ca');
  authority('rogue-ca');
  leaf('node1', 'raftkit-test-ca');
  leaf('node2', 'raftkit-test-ca');
  leaf('rogue', 'rogue-ca');
  const read = (file: string) => readFileSync(join(dir, file), 'utf8');
  return {
    dir,
    ca: read('raftkit-test-ca.crt'),
    node1: { cert: read('node1.crt'), key: read('node1.key') },
    node2: { cert: read('node2.crt'), key: read('node2.key') },
    rogue: { cert: read('rogue.crt'), key: read('rogue.key'), ca: read('rogue-ca.crt') },
  };
}

const fixture = new Fixture();
afterEach(() => fixture.close());

describe.skipIf(!hasOpenssl())('TLS and mutual TLS for peer traffic', () => {
  let pki: Pki;
  beforeAll(() => {
    pki = makePki();
  });
  afterAll(() => rmSync(pki.dir, { recursive: true, force: true }));

  const mtlsServer = (): TlsOptions => ({
    cert: pki.node2.cert,
    key: pki.node2.key,
    ca: pki.ca,
    clientCertAuth: true,
  });

  it('carries messages over TLS, the client verifying the server against the CA', async () => {
    const { server, received } = await fixture.server(2, {
      tls: { cert: pki.node2.cert, key: pki.node2.key },
    });
    const { transport } = fixture.transport(
      1,
      { 2: address(server) },
      { tls: { ca: pki.ca, serverNameOverride: 'localhost' } },
    );
    transport.send([heartbeat(1, 2, 1)]);
    await waitFor(() => received.length === 1, 5_000, 'delivery over TLS');
  });

  it('carries messages and snapshots over mutual TLS configured from files', async () => {
    const { server, received } = await fixture.server(2, {
      tls: {
        certFile: join(pki.dir, 'node2.crt'),
        keyFile: join(pki.dir, 'node2.key'),
        caFile: join(pki.dir, 'raftkit-test-ca.crt'),
        clientCertAuth: true,
      },
    });
    const { transport } = fixture.transport(
      1,
      { 2: address(server) },
      {
        tls: {
          certFile: join(pki.dir, 'node1.crt'),
          keyFile: join(pki.dir, 'node1.key'),
          caFile: join(pki.dir, 'raftkit-test-ca.crt'),
          serverNameOverride: 'localhost',
        },
      },
    );
    transport.send([heartbeat(1, 2, 1)]);
    await waitFor(() => received.length === 1, 5_000, 'delivery over mTLS');
    const data = new Uint8Array(100_000).fill(3);
    await transport.sendSnapshot({
      type: 'MsgSnap',
      from: 1,
      to: 2,
      term: 1,
      snapshot: {
        metadata: {
          index: 9,
          term: 1,
          confState: {
            voters: [1, 2],
            learners: [],
            votersOutgoing: [],
            learnersNext: [],
            autoLeave: false,
          },
        },
        data,
      },
    });
    await waitFor(() => received.length === 2);
  });

  it('refuses a peer without a client certificate under mutual TLS', async () => {
    const { server, received } = await fixture.server(2, { tls: mtlsServer() });
    const { transport, unreachable } = fixture.transport(
      1,
      { 2: address(server) },
      { tls: { ca: pki.ca, serverNameOverride: 'localhost' } },
    );
    transport.send([heartbeat(1, 2)]);
    await waitFor(() => unreachable.length > 0, 5_000, 'the refusal');
    await sleep(100);
    expect(received).toEqual([]);
    expect(transport.peerStats(2)!.connects).toBe(0);
    expect(transport.peerStats(2)!.lastError).toMatch(/UNAVAILABLE/);
  });

  it('refuses a peer whose certificate another CA signed', async () => {
    const { server, received } = await fixture.server(2, { tls: mtlsServer() });
    const { transport, unreachable } = fixture.transport(
      1,
      { 2: address(server) },
      {
        tls: {
          cert: pki.rogue.cert,
          key: pki.rogue.key,
          ca: pki.ca,
          serverNameOverride: 'localhost',
        },
      },
    );
    transport.send([heartbeat(1, 2)]);
    await waitFor(() => unreachable.length > 0, 5_000, 'the refusal');
    await sleep(100);
    expect(received).toEqual([]);
    expect(transport.peerStats(2)!.connects).toBe(0);
  });

  it('refuses a server the client cannot verify, and plaintext against TLS', async () => {
    const { server, received } = await fixture.server(2, {
      tls: { cert: pki.rogue.cert, key: pki.rogue.key },
    });
    const verifying = fixture.transport(
      1,
      { 2: address(server) },
      { tls: { ca: pki.ca, serverNameOverride: 'localhost' } },
    );
    verifying.transport.send([heartbeat(1, 2)]);
    await waitFor(() => verifying.unreachable.length > 0, 5_000, 'the verification failure');
    const plaintext = fixture.transport(3, { 2: address(server) });
    plaintext.transport.send([heartbeat(3, 2)]);
    await waitFor(() => plaintext.unreachable.length > 0, 5_000, 'the plaintext refusal');
    expect(received).toEqual([]);
  });

  it('explains incomplete TLS options', async () => {
    expect(() => serverCredentials({ ca: pki.ca })).toThrow(TlsConfigError);
    expect(() =>
      serverCredentials({ cert: pki.node2.cert, key: pki.node2.key, clientCertAuth: true }),
    ).toThrow(/clientCertAuth needs caFile/);
    expect(() => channelCredentials({ cert: pki.node1.cert })).toThrow(/together/);
    expect(() => channelCredentials({ caFile: join(pki.dir, 'missing.crt') })).toThrow(
      /cannot read the CA file/,
    );
    await expect(
      RaftServer.listen('127.0.0.1:0', {
        clusterId: CLUSTER,
        selfId: 2,
        members: [1],
        onMessage: () => {},
        tls: { certFile: join(pki.dir, 'nope.crt'), keyFile: join(pki.dir, 'node2.key') },
      }),
    ).rejects.toBeInstanceOf(TlsConfigError);
  });
});
