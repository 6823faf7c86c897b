import { afterEach, describe, expect, it } from 'vitest';
import {
  DecodeError,
  decodeMembersResponse,
  encodeMembersResponse,
  fetchMembers,
  type PeerMembership,
} from '../src/index.js';
import { address, CLUSTER, Fixture, heartbeat, waitFor } from './harness.js';

const fixture = new Fixture();
afterEach(() => fixture.close());

const MEMBERSHIP: PeerMembership = {
  clusterId: CLUSTER,
  members: [
    {
      id: 0x8e9e05c52164694dn,
      name: 'infra0',
      peerUrls: ['http://127.0.0.1:2380', 'http://[::1]:2380'],
      clientUrls: ['http://127.0.0.1:2379'],
      isLearner: false,
    },
    {
      id: 0xffff_ffff_ffff_fff1n,
      name: '',
      peerUrls: ['http://127.0.0.1:32380'],
      clientUrls: [],
      isLearner: true,
    },
  ],
  removed: [0x1234n, 0xfedc_ba98_7654_3210n],
};

describe('Members rpc', () => {
  it('round-trips a membership through the codec, including 64-bit ids', () => {
    expect(decodeMembersResponse(encodeMembersResponse(MEMBERSHIP))).toEqual(MEMBERSHIP);
    expect(decodeMembersResponse(new Uint8Array(0))).toEqual({
      clusterId: 0n,
      members: [],
      removed: [],
    });
  });

  it('refuses malformed answers with DecodeError', () => {
    const bytes = encodeMembersResponse(MEMBERSHIP);
    expect(() => decodeMembersResponse(bytes.subarray(0, bytes.length - 3))).toThrow(DecodeError);
    // A member without an id.
    expect(() => decodeMembersResponse(Uint8Array.of(0x12, 0x02, 0x28, 0x01))).toThrow(/no id/);
  });

  it('fetchMembers asks a RaftServer for its membership', async () => {
    const { server } = await fixture.server(2, { membership: () => MEMBERSHIP });
    expect(await fetchMembers(address(server))).toEqual(MEMBERSHIP);
    expect(await fetchMembers(`http://${address(server)}`)).toEqual(MEMBERSHIP);
  });

  it('fetchMembers fails with UNIMPLEMENTED when the server does not serve it, and on no server', async () => {
    const { server } = await fixture.server(2);
    await expect(fetchMembers(address(server))).rejects.toMatchObject({ code: 12 });
    await expect(fetchMembers('127.0.0.1:1', { timeoutMs: 500 })).rejects.toBeDefined();
  });
});

describe('a removed member', () => {
  it('is refused with the removed marker, and its transport reports onRemoved', async () => {
    const { server, received } = await fixture.server(2);
    const removedBy: number[] = [];
    const { transport } = fixture.transport(
      1,
      { 2: address(server) },
      {
        onRemoved: (peer) => removedBy.push(peer),
      },
    );
    transport.send([heartbeat(1, 2)]);
    await waitFor(() => received.length === 1, 5_000, 'first delivery');
    server.markRemoved(1);
    expect(server.isMember(1)).toBe(false);
    await waitFor(() => removedBy.length > 0, 5_000, 'onRemoved');
    expect(removedBy[0]).toBe(2);
    // It stays refused when it redials; other refusals do not look like removal.
    transport.send([heartbeat(1, 2)]);
    await waitFor(() => removedBy.length > 1, 5_000, 'onRemoved again');
    expect(received.length).toBe(1);
  });

  it('setAdmitNonMembers admits unknown nodes but still refuses removed ones', async () => {
    const { server, received } = await fixture.server(2, { members: [2] });
    server.setAdmitNonMembers(true);
    const { transport } = fixture.transport(1, { 2: address(server) });
    transport.send([heartbeat(1, 2)]);
    await waitFor(() => received.length === 1, 5_000, 'admitted non-member');
    server.markRemoved(1);
    const removedBy: number[] = [];
    const other = fixture.transport(
      1,
      { 2: address(server) },
      {
        onRemoved: (peer) => removedBy.push(peer),
      },
    );
    other.transport.send([heartbeat(1, 2)]);
    await waitFor(() => removedBy.length > 0, 5_000, 'removed refusal');
    expect(received.length).toBe(1);
  });

  it('the admitNonMembers option admits unknown senders, and onStreamAdmitted gets their announced URL', async () => {
    const admitted: [number, string | undefined][] = [];
    const { server, received } = await fixture.server(2, {
      members: [2],
      admitNonMembers: true,
      onStreamAdmitted: (id, peerUrl) => admitted.push([id, peerUrl]),
    });
    const { transport } = fixture.transport(
      7,
      { 2: address(server) },
      { selfUrl: 'http://127.0.0.1:12380' },
    );
    transport.send([heartbeat(7, 2)]);
    await waitFor(() => received.length === 1, 5_000, 'admitted non-member');
    expect(admitted).toEqual([[7, 'http://127.0.0.1:12380']]);
    expect(server.isMember(7)).toBe(false);
    // A sender that announces nothing is admitted all the same.
    const quiet = fixture.transport(8, { 2: address(server) });
    quiet.transport.send([heartbeat(8, 2)]);
    await waitFor(() => received.length === 2, 5_000, 'second sender');
    expect(admitted[1]).toEqual([8, undefined]);
  });

  it('a throwing onStreamAdmitted is logged and the stream goes on', async () => {
    const { server, received, logger } = await fixture.server(2, {
      onStreamAdmitted: () => {
        throw new Error('boom');
      },
    });
    const { transport } = fixture.transport(1, { 2: address(server) }, { selfUrl: 'http://x:1' });
    transport.send([heartbeat(1, 2)]);
    await waitFor(() => received.length === 1, 5_000, 'delivery');
    expect(logger.text()).toMatch(/onStreamAdmitted threw/);
  });

  it('a plain non-member refusal does not report removal', async () => {
    const { server } = await fixture.server(2, { members: [2, 3] });
    const removedBy: number[] = [];
    const unreachable: number[] = [];
    const { transport } = fixture.transport(
      1,
      { 2: address(server) },
      {
        onRemoved: (peer) => removedBy.push(peer),
        onUnreachable: (peer) => unreachable.push(peer),
      },
    );
    transport.send([heartbeat(1, 2)]);
    await waitFor(() => unreachable.length > 0, 5_000, 'refusal');
    expect(removedBy).toEqual([]);
  });
});
