import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SnapshotMetadata } from '@raftkit/core';
import { describe, expect, it } from 'vitest';
import { SnapshotChecksumError, type SnapshotFileInfo, SnapshotStore } from '../src/index.js';
import { CONF, useTempDirs } from './temp-dirs.js';

const { makeDir } = useTempDirs();
const metadata: SnapshotMetadata = { index: 42, term: 7, confState: CONF };

async function written(data: Uint8Array = new Uint8Array(5000).map((_, i) => i * 13)) {
  const store = await SnapshotStore.open(makeDir());
  const info = await store.write(metadata, data);
  return { store, info, data };
}

/** expectRefused checks that every way of reading `info` fails with SnapshotChecksumError. */
async function expectRefused(store: SnapshotStore, info: SnapshotFileInfo, reason: RegExp) {
  await expect(store.read(info)).rejects.toThrow(SnapshotChecksumError);
  await expect(store.verify(info)).rejects.toThrow(reason);
  expect(() => store.readSync(info)).toThrow(SnapshotChecksumError);
}

describe('SnapshotStore', () => {
  it('writes atomically and reads back verified, sync and async', async () => {
    const { store, info, data } = await written();
    expect(info.path).toBe(join(store.dir, 'snap-000000000000002a-0000000000000007.snap'));
    expect(readdirSync(store.dir)).toEqual(['snap-000000000000002a-0000000000000007.snap']);
    expect(await store.list()).toEqual([info]);
    const snapshot = await store.read(info);
    expect(snapshot.metadata).toEqual(metadata);
    expect(Buffer.from(snapshot.data).equals(Buffer.from(data))).toBe(true);
    expect(Buffer.from(store.readSync(info).data).equals(Buffer.from(data))).toBe(true);
    expect(await store.readMetadata(info)).toEqual(metadata);
  });

  it('streams a snapshot larger than its chunks in and out without holding it whole', async () => {
    const store = await SnapshotStore.open(makeDir());
    const chunkCount = 48; // 48 MiB through 1 MiB chunks
    const source = createHash('sha256');
    async function* produce() {
      for (let i = 0; i < chunkCount; i++) {
        const chunk = new Uint8Array(1 << 20).fill(i);
        source.update(chunk);
        yield chunk;
      }
    }
    const info = await store.write(metadata, produce());
    const sink = createHash('sha256');
    let chunks = 0;
    let largest = 0;
    for await (const chunk of store.chunks(info, 256 * 1024)) {
      sink.update(chunk);
      chunks++;
      largest = Math.max(largest, chunk.byteLength);
    }
    expect(chunks).toBe(chunkCount * 4);
    expect(largest).toBe(256 * 1024);
    expect(sink.digest('hex')).toBe(source.digest('hex'));
  });

  it('refuses a file truncated anywhere', async () => {
    const { store, info } = await written();
    const size = statSync(info.path).size;
    const original = readFileSync(info.path);
    for (const cut of [0, 10, 40, 200, size - 40, size - 1]) {
      writeFileSync(info.path, original);
      truncateSync(info.path, cut);
      await expectRefused(store, info, /truncated|trailer/);
    }
  });

  it('refuses a file with a flipped bit in header, metadata, data or trailer', async () => {
    const { store, info } = await written();
    const original = readFileSync(info.path);
    const size = original.byteLength;
    for (const [offset, reason] of [
      [2, /magic/],
      [30, /metadata is damaged/],
      [1000, /digest mismatch/],
      [size - 30, /digest mismatch/],
      [size - 2, /trailer/],
    ] as const) {
      const damaged = Buffer.from(original);
      damaged[offset]! ^= 0x10;
      writeFileSync(info.path, damaged);
      await expectRefused(store, info, reason);
    }
  });

  it('fails a streaming read at its end, so a half-built restore is never committed', async () => {
    const { store, info } = await written(new Uint8Array(3 << 20).fill(1));
    const damaged = readFileSync(info.path);
    damaged[(2 << 20) + 17]! ^= 1;
    writeFileSync(info.path, damaged);
    const received: number[] = [];
    const consume = async () => {
      for await (const chunk of store.chunks(info, 1 << 20)) received.push(chunk.byteLength);
    };
    await expect(consume()).rejects.toThrow(SnapshotChecksumError);
    expect(received).toHaveLength(3);
  });

  it('refuses a file whose name does not match its content, and a missing file', async () => {
    const { store, info } = await written();
    const renamed = store.fileFor(43, 7);
    writeFileSync(renamed.path, readFileSync(info.path));
    await expect(store.verify(renamed)).rejects.toThrow(/not what its name says/);
    await expect(store.verify(store.fileFor(1, 1))).rejects.toThrow(/missing/);
  });

  it('removes unfinished temporary files at open and prunes all but one snapshot', async () => {
    const { store, info } = await written();
    writeFileSync(join(store.dir, 'snap-00000000000000ff-0000000000000009.snap.abc.partial'), 'x');
    const reopened = await SnapshotStore.open(store.dir);
    expect(readdirSync(store.dir)).toHaveLength(1);
    const newer = await reopened.write({ ...metadata, index: 50 }, new Uint8Array([1]));
    expect((await reopened.list()).map((file) => file.index)).toEqual([42, 50]);
    await reopened.prune(newer);
    expect(await reopened.list()).toEqual([newer]);
    expect(info.index).toBe(42);
  });

  it('leaves no file behind when the data source fails', async () => {
    const store = await SnapshotStore.open(makeDir());
    async function* failing() {
      yield new Uint8Array(100);
      throw new Error('source broke');
    }
    await expect(store.write(metadata, failing())).rejects.toThrow('source broke');
    expect(readdirSync(store.dir)).toEqual([]);
  });
});
