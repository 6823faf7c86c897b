import { fetchMembers } from '@raftkit/rpc';
import { hasOpenssl, makeTestPki, type TestPki } from '@raftkit/rpc/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytes, Cluster, text, waitFor } from './cluster-harness.js';

// Peer traffic over mutual TLS across real processes (etcd's --peer-cert-file,
// --peer-key-file, --peer-trusted-ca-file, --peer-client-cert-auth): the members elect,
// replicate, survive the leader's death and take a joiner, all over https peer URLs;
// a peer endpoint answers only a caller whose certificate the cluster CA signed.
describe.skipIf(!hasOpenssl())('peer traffic over mutual TLS', () => {
  let pki: TestPki;
  let cluster: Cluster;

  beforeAll(async () => {
    pki = makeTestPki(['peer']);
    const peer = pki.leaves.peer!;
    cluster = await Cluster.start({
      size: 3,
      peerTls: {
        certFile: peer.certFile,
        keyFile: peer.keyFile,
        trustedCaFile: pki.caFile,
        clientCertAuth: true,
      },
    });
  }, 60_000);

  afterAll(async () => {
    await cluster?.destroy();
    pki?.remove();
  });

  it('replicates, elects a new leader after a kill, and takes a joiner over https peer URLs', async () => {
    const leader = await cluster.waitForLeader();
    for (let i = 0; i < 20; i++) {
      await leader.api.put({ key: bytes(`tls/${i}`), value: bytes(`v${i}`) });
    }
    const committed = await leader.api.status();
    for (const follower of cluster.followersOf(leader)) {
      await waitFor(
        `${follower.name} to apply the writes`,
        async () => {
          const status = await follower.api.status({ timeoutMs: 1000 });
          return status.raftAppliedIndex >= committed.raftIndex ? status : undefined;
        },
        20_000,
      );
      const read = await follower.api.range({ key: bytes('tls/7'), serializable: true });
      expect(text(read.kvs[0]?.value)).toBe('v7');
    }

    await leader.kill('SIGKILL');
    const next = await cluster.waitForLeader();
    expect(next).not.toBe(leader);
    await next.api.put({ key: bytes('tls/after'), value: bytes('new leader') });
    leader.start();
    await leader.waitReady();

    const { member: joiner, peerUrl } = await cluster.joiner('m4');
    expect(peerUrl.startsWith('https://')).toBe(true);
    await next.api.memberAdd({ peerURLs: [peerUrl], isLearner: false });
    joiner.start();
    await waitFor(
      'the joiner to serve the new leader’s write',
      async () => {
        if (!joiner.running) throw new Error(`m4 exited:\n${joiner.logs()}`);
        const read = await joiner.api
          .range({ key: bytes('tls/after'), serializable: true }, { timeoutMs: 1000 })
          .catch(() => undefined);
        return text(read?.kvs[0]?.value) === 'new leader' ? read : undefined;
      },
      40_000,
    );
  }, 90_000);

  it('answers a peer call only with a certificate the cluster CA signed', async () => {
    const member = cluster.running[0]!;
    const address = `127.0.0.1:${member.peerPort}`;
    const peer = pki.leaves.peer!;
    const trusted = await fetchMembers(address, {
      timeoutMs: 3000,
      tls: { certFile: peer.certFile, keyFile: peer.keyFile, caFile: pki.caFile },
    });
    expect(trusted.members.length).toBeGreaterThanOrEqual(3);
    const refused = {
      'no client certificate': { caFile: pki.caFile },
      'another CA’s certificate': {
        cert: pki.rogue.cert,
        key: pki.rogue.key,
        caFile: pki.caFile,
      },
    };
    for (const [what, tls] of Object.entries(refused)) {
      await expect(fetchMembers(address, { timeoutMs: 3000, tls }), what).rejects.toThrow();
    }
    await expect(fetchMembers(address, { timeoutMs: 3000 }), 'plaintext').rejects.toThrow();
  });
});
