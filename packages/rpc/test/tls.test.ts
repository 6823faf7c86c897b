import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  channelCredentials,
  checkTlsOptions,
  RaftServer,
  serverCredentials,
  TlsConfigError,
  type TlsOptions,
} from '../src/index.js';
import {
  hasOpenssl,
  makeTestPki,
  type TestCertificate,
  type TestPki,
} from '../src/testing/index.js';
import { address, CLUSTER, Fixture, heartbeat, sleep, waitFor } from './harness.js';

// Certificates are made at test time with the openssl CLI (`@raftkit/rpc/testing`): a
// cluster CA and one cert per node usable as server and client (as etcd peer certs are),
// plus a rogue CA with a cert that looks the same but is signed by the wrong authority.
const fixture = new Fixture();
afterEach(() => fixture.close());

describe.skipIf(!hasOpenssl())('TLS and mutual TLS for peer traffic', () => {
  let pki: TestPki;
  let node1: TestCertificate;
  let node2: TestCertificate;
  beforeAll(() => {
    pki = makeTestPki(['node1', 'node2']);
    node1 = pki.leaves.node1!;
    node2 = pki.leaves.node2!;
  });
  afterAll(() => pki.remove());

  const mtlsServer = (): TlsOptions => ({
    cert: node2.cert,
    key: node2.key,
    ca: pki.ca,
    clientCertAuth: true,
  });

  it('carries messages over TLS, the client verifying the server against the CA', async () => {
    const { server, received } = await fixture.server(2, {
      tls: { cert: node2.cert, key: node2.key },
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
        certFile: node2.certFile,
        keyFile: node2.keyFile,
        caFile: pki.caFile,
        clientCertAuth: true,
      },
    });
    const { transport } = fixture.transport(
      1,
      { 2: address(server) },
      {
        tls: {
          certFile: node1.certFile,
          keyFile: node1.keyFile,
          caFile: pki.caFile,
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
      serverCredentials({ cert: node2.cert, key: node2.key, clientCertAuth: true }),
    ).toThrow(/clientCertAuth needs caFile/);
    expect(() => channelCredentials({ cert: node1.cert })).toThrow(/together/);
    expect(() => channelCredentials({ caFile: join(pki.dir, 'missing.crt') })).toThrow(
      /cannot read the CA file/,
    );
    await expect(
      RaftServer.listen('127.0.0.1:0', {
        clusterId: CLUSTER,
        selfId: 2,
        members: [1],
        onMessage: () => {},
        tls: { certFile: join(pki.dir, 'nope.crt'), keyFile: node2.keyFile },
      }),
    ).rejects.toBeInstanceOf(TlsConfigError);
  });

  it('refuses a file that is not the PEM it should be, or a key of another certificate', () => {
    const file = (name: string) => join(pki.dir, name);
    expect(() => checkTlsOptions({ certFile: node1.keyFile, keyFile: node1.keyFile })).toThrow(
      /node1\.key is not a PEM certificate/,
    );
    expect(() => checkTlsOptions({ certFile: node1.certFile, keyFile: node1.certFile })).toThrow(
      /node1\.crt is not an unencrypted PEM private key/,
    );
    expect(() => checkTlsOptions({ certFile: node1.certFile, keyFile: node2.keyFile })).toThrow(
      /the private key .*node2\.key does not belong to .*node1\.crt/,
    );
    expect(() =>
      checkTlsOptions({
        certFile: node1.certFile,
        keyFile: node1.keyFile,
        caFile: file('leaf.ext'),
        clientCertAuth: true,
      }),
    ).toThrow(/leaf\.ext is not a PEM CA certificate/);
    expect(() => channelCredentials({ ca: 'not a certificate' })).toThrow(
      /the given PEM is not a PEM CA certificate/,
    );
    // The good set passes, from files and from PEM contents.
    checkTlsOptions({
      certFile: node1.certFile,
      keyFile: node1.keyFile,
      caFile: pki.caFile,
      clientCertAuth: true,
    });
    checkTlsOptions({ cert: pki.rogue.cert, key: pki.rogue.key, ca: pki.rogueCa });
  });
});
