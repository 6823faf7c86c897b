import { createHash, type Hash, randomBytes } from 'node:crypto';
import { closeSync, promises as fs, fstatSync, openSync, readSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Snapshot, SnapshotMetadata } from '@raftkit/core';
import { CorruptValueError, decodeSnapshotMetadata, encodeSnapshotMetadata } from './codec.js';
import { SnapshotChecksumError, StorageFormatError } from './errors.js';

// A snapshot file is `header ‖ metadata ‖ data ‖ trailer`:
//   header   "RAFTSNAP" · u32 file version · u32 metadata length
//   metadata the codec's snapshot-metadata record (index, term, ConfState; CRC-protected)
//   data     the state-machine image, any length
//   trailer  u64 data length · SHA-256 · "SNAPDONE"
// The digest covers header, metadata, data and the data length. Putting the length and
// digest in a trailer lets a writer stream data of unknown size in one pass, and a file cut
// short anywhere loses its trailer, so truncation is caught before any byte is trusted.

const HEADER_MAGIC = Buffer.from('RAFTSNAP', 'latin1');
const TRAILER_MAGIC = Buffer.from('SNAPDONE', 'latin1');
const HEADER_BYTES = 16;
const TRAILER_BYTES = 8 + 32 + 8;
const FILE_VERSION = 1;
const NAME_PATTERN = /^snap-([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;
const PARTIAL_SUFFIX = '.partial';
const DEFAULT_CHUNK_BYTES = 1 << 20;

/** SnapshotFileInfo names one snapshot file: where it is and which log position it covers. */
export interface SnapshotFileInfo {
  readonly path: string;
  readonly index: number;
  readonly term: number;
}

/** SnapshotSource is snapshot data: one buffer, or chunks produced on demand (streaming). */
export type SnapshotSource = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/** SnapshotStoreOptions configures a SnapshotStore. */
export interface SnapshotStoreOptions {
  /** sync fsyncs each file and the directory before a write resolves (default true). */
  readonly sync?: boolean;
}

interface Layout {
  readonly metadata: SnapshotMetadata;
  readonly dataStart: number;
  readonly dataLength: number;
  readonly digest: Buffer;
}

/**
 * SnapshotStore keeps snapshots as checksummed files in one directory. A write goes to a
 * temporary file that is fsynced and then atomically renamed, and the directory is
 * fsynced, so a crash leaves either the whole new file or none of it. Reads verify the
 * SHA-256 digest; a file that fails is never returned as a snapshot. Data is streamed in
 * chunks both ways, so a snapshot larger than memory can be written and read.
 */
export class SnapshotStore {
  /** dir is the directory that holds the snapshot files. */
  readonly dir: string;
  private readonly sync: boolean;

  private constructor(dir: string, sync: boolean) {
    this.dir = dir;
    this.sync = sync;
  }

  /**
   * open creates `dir` if needed and removes unfinished temporary files left by a crash
   * (they were never renamed into place, so nothing relied on them).
   */
  static async open(dir: string, options: SnapshotStoreOptions = {}): Promise<SnapshotStore> {
    const sync = options.sync ?? true;
    const created = await fs.mkdir(dir, { recursive: true });
    // A new directory's own entry must be durable too, or a power loss could drop it along
    // with every snapshot later renamed into it.
    if (created !== undefined && sync) await syncDirectory(dirname(dir));
    for (const name of await fs.readdir(dir)) {
      if (name.endsWith(PARTIAL_SUFFIX)) await fs.rm(join(dir, name), { force: true });
    }
    return new SnapshotStore(dir, sync);
  }

  /** fileFor returns where the snapshot at `index` and `term` lives (whether or not it exists). */
  fileFor(index: number, term: number): SnapshotFileInfo {
    return { path: join(this.dir, fileName(index, term)), index, term };
  }

  /** list returns the snapshot files present, oldest (lowest index) first. */
  async list(): Promise<SnapshotFileInfo[]> {
    const found: SnapshotFileInfo[] = [];
    for (const name of await fs.readdir(this.dir)) {
      const match = NAME_PATTERN.exec(name);
      if (match === null) continue;
      found.push({
        path: join(this.dir, name),
        index: Number.parseInt(match[1]!, 16),
        term: Number.parseInt(match[2]!, 16),
      });
    }
    return found.sort((a, b) => a.index - b.index || a.term - b.term);
  }

  /**
   * write stores a snapshot durably and returns its file. `data` may be a buffer or an
   * (async) iterable of chunks; chunks are written as they arrive and never held together.
   * An existing file for the same index and term is replaced atomically.
   */
  async write(metadata: SnapshotMetadata, data: SnapshotSource): Promise<SnapshotFileInfo> {
    const info = this.fileFor(metadata.index, metadata.term);
    const temporary = `${info.path}.${randomBytes(6).toString('hex')}${PARTIAL_SUFFIX}`;
    const handle = await fs.open(temporary, 'wx');
    try {
      const hash = createHash('sha256');
      let position = 0;
      const put = async (bytes: Uint8Array, hashed: boolean): Promise<void> => {
        if (hashed) hash.update(bytes);
        let written = 0;
        while (written < bytes.byteLength) {
          const result = await handle.write(bytes, written, bytes.byteLength - written, position);
          written += result.bytesWritten;
          position += result.bytesWritten;
        }
      };
      const metadataBytes = encodeSnapshotMetadata(metadata);
      const header = Buffer.allocUnsafe(HEADER_BYTES);
      HEADER_MAGIC.copy(header, 0);
      header.writeUInt32BE(FILE_VERSION, 8);
      header.writeUInt32BE(metadataBytes.byteLength, 12);
      await put(header, true);
      await put(metadataBytes, true);
      let dataLength = 0;
      for await (const chunk of chunksOf(data)) {
        await put(chunk, true);
        dataLength += chunk.byteLength;
      }
      const length = u64(dataLength);
      hash.update(length);
      await put(Buffer.concat([length, hash.digest(), TRAILER_MAGIC]), false);
      if (this.sync) await handle.sync();
      await handle.close();
    } catch (error) {
      await handle.close().catch(() => {});
      await fs.rm(temporary, { force: true });
      throw error;
    }
    await fs.rename(temporary, info.path);
    // The rename is only durable once the directory entry is; without this a power loss
    // could leave the old name set even though the caller was told the file exists.
    if (this.sync) await syncDirectory(this.dir);
    return info;
  }

  /** readMetadata checks a file's framing and returns its metadata (data is not verified). */
  async readMetadata(info: SnapshotFileInfo): Promise<SnapshotMetadata> {
    const handle = await openForRead(info.path);
    try {
      return (await readLayout(handle, info)).layout.metadata;
    } finally {
      await handle.close();
    }
  }

  /**
   * chunks streams a snapshot's data. The digest is checked after the last chunk, and the
   * iteration throws SnapshotChecksumError instead of finishing when it fails, so a
   * consumer must not commit what it built until the loop has completed.
   */
  async *chunks(
    info: SnapshotFileInfo,
    chunkBytes = DEFAULT_CHUNK_BYTES,
  ): AsyncGenerator<Uint8Array, SnapshotMetadata, undefined> {
    const handle = await openForRead(info.path);
    try {
      const { layout, hash } = await readLayout(handle, info);
      let position = layout.dataStart;
      let remaining = layout.dataLength;
      while (remaining > 0) {
        const size = Math.min(chunkBytes, remaining);
        const chunk = Buffer.allocUnsafe(size);
        let filled = 0;
        while (filled < size) {
          const { bytesRead } = await handle.read(chunk, filled, size - filled, position + filled);
          if (bytesRead === 0) throw new SnapshotChecksumError(info.path, 'file shrank while read');
          filled += bytesRead;
        }
        hash.update(chunk);
        position += size;
        remaining -= size;
        yield new Uint8Array(chunk.buffer, chunk.byteOffset, size);
      }
      checkDigest(hash, layout, info.path);
      return layout.metadata;
    } finally {
      await handle.close();
    }
  }

  /** verify reads a whole file in chunks and checks its digest, without keeping the data. */
  async verify(info: SnapshotFileInfo): Promise<SnapshotMetadata> {
    const iterator = this.chunks(info);
    for (;;) {
      const step = await iterator.next();
      if (step.done === true) return step.value;
    }
  }

  /** read loads a whole snapshot into memory, verified. */
  async read(info: SnapshotFileInfo): Promise<Snapshot> {
    const parts: Uint8Array[] = [];
    const iterator = this.chunks(info);
    for (;;) {
      const step = await iterator.next();
      if (step.done === true) return { metadata: step.value, data: concat(parts) };
      parts.push(step.value);
    }
  }

  /** readSync loads a whole snapshot into memory, verified, blocking the event loop. */
  readSync(info: SnapshotFileInfo): Snapshot {
    let fd: number;
    try {
      fd = openSync(info.path, 'r');
    } catch (error) {
      throw missingFile(info.path, error);
    }
    try {
      const size = fstatSync(fd).size;
      const readAt = (position: number, length: number): Buffer => {
        const buffer = Buffer.allocUnsafe(length);
        let filled = 0;
        while (filled < length) {
          const read = readSync(fd, buffer, filled, length - filled, position + filled);
          if (read === 0) throw new SnapshotChecksumError(info.path, 'file shrank while read');
          filled += read;
        }
        return buffer;
      };
      const header = readAt(0, Math.min(HEADER_BYTES, size));
      const metadataLength = parseHeader(header, size, info.path);
      const trailer = readAt(size - TRAILER_BYTES, TRAILER_BYTES);
      const hash = createHash('sha256');
      const metadataBytes = readAt(HEADER_BYTES, metadataLength);
      const layout = parseLayout(header, metadataBytes, trailer, size, info, hash);
      const data = readAt(layout.dataStart, layout.dataLength);
      hash.update(data);
      checkDigest(hash, layout, info.path);
      return {
        metadata: layout.metadata,
        data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      };
    } finally {
      closeSync(fd);
    }
  }

  /**
   * prune deletes every snapshot file except `keep` (and any unfinished temporary file):
   * once a newer snapshot is recorded, older ones can no longer be needed by the log.
   */
  async prune(keep: SnapshotFileInfo | undefined): Promise<void> {
    for (const name of await fs.readdir(this.dir)) {
      const path = join(this.dir, name);
      if (path === keep?.path) continue;
      if (NAME_PATTERN.test(name) || name.endsWith(PARTIAL_SUFFIX)) {
        await fs.rm(path, { force: true });
      }
    }
  }
}

function fileName(index: number, term: number): string {
  return `snap-${index.toString(16).padStart(16, '0')}-${term.toString(16).padStart(16, '0')}.snap`;
}

function u64(value: number): Buffer {
  const buffer = Buffer.allocUnsafe(8);
  buffer.writeUInt32BE(Math.floor(value / 0x1_0000_0000), 0);
  buffer.writeUInt32BE(value >>> 0, 4);
  return buffer;
}

async function* chunksOf(data: SnapshotSource): AsyncGenerator<Uint8Array> {
  if (data instanceof Uint8Array) {
    yield data;
    return;
  }
  for await (const chunk of data) yield chunk;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const joined = Buffer.concat(parts);
  return new Uint8Array(joined.buffer, joined.byteOffset, joined.byteLength);
}

async function openForRead(path: string): Promise<fs.FileHandle> {
  try {
    return await fs.open(path, 'r');
  } catch (error) {
    throw missingFile(path, error);
  }
}

function missingFile(path: string, error: unknown): unknown {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
    return new SnapshotChecksumError(path, 'the file is missing');
  }
  return error;
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** parseHeader validates the fixed header and returns the metadata length. */
function parseHeader(header: Buffer, size: number, path: string): number {
  if (size < HEADER_BYTES + TRAILER_BYTES) {
    throw new SnapshotChecksumError(path, `file is truncated (${size} bytes)`);
  }
  if (!header.subarray(0, 8).equals(HEADER_MAGIC)) {
    throw new SnapshotChecksumError(path, 'bad header magic: not a snapshot file');
  }
  const version = header.readUInt32BE(8);
  if (version !== FILE_VERSION) throw new StorageFormatError(path, version, FILE_VERSION);
  const metadataLength = header.readUInt32BE(12);
  if (HEADER_BYTES + metadataLength + TRAILER_BYTES > size) {
    throw new SnapshotChecksumError(path, `file is truncated (${size} bytes)`);
  }
  return metadataLength;
}

/** parseLayout validates metadata and trailer and primes `hash` with header and metadata. */
function parseLayout(
  header: Buffer,
  metadataBytes: Buffer,
  trailer: Buffer,
  size: number,
  info: SnapshotFileInfo,
  hash: Hash,
): Layout {
  if (!trailer.subarray(40).equals(TRAILER_MAGIC)) {
    throw new SnapshotChecksumError(info.path, 'trailer missing: the file is truncated');
  }
  const dataStart = HEADER_BYTES + metadataBytes.byteLength;
  const dataLength = trailer.readUInt32BE(0) * 0x1_0000_0000 + trailer.readUInt32BE(4);
  if (dataStart + dataLength + TRAILER_BYTES !== size) {
    throw new SnapshotChecksumError(
      info.path,
      `file is ${size} bytes but its trailer describes ${dataStart + dataLength + TRAILER_BYTES}`,
    );
  }
  let metadata: SnapshotMetadata;
  try {
    metadata = decodeSnapshotMetadata(metadataBytes);
  } catch (error) {
    if (!(error instanceof CorruptValueError)) throw error;
    throw new SnapshotChecksumError(info.path, `metadata is damaged: ${error.message}`);
  }
  if (metadata.index !== info.index || metadata.term !== info.term) {
    throw new SnapshotChecksumError(
      info.path,
      `it holds index ${metadata.index} term ${metadata.term}, not what its name says`,
    );
  }
  hash.update(header);
  hash.update(metadataBytes);
  return { metadata, dataStart, dataLength, digest: trailer.subarray(8, 40) };
}

async function readLayout(
  handle: fs.FileHandle,
  info: SnapshotFileInfo,
): Promise<{ layout: Layout; hash: Hash }> {
  const size = (await handle.stat()).size;
  const readAt = async (position: number, length: number): Promise<Buffer> => {
    const buffer = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
      if (bytesRead === 0) throw new SnapshotChecksumError(info.path, 'file shrank while read');
      filled += bytesRead;
    }
    return buffer;
  };
  const header = await readAt(0, Math.min(HEADER_BYTES, size));
  const metadataLength = parseHeader(header, size, info.path);
  const metadataBytes = await readAt(HEADER_BYTES, metadataLength);
  const trailer = await readAt(size - TRAILER_BYTES, TRAILER_BYTES);
  const hash = createHash('sha256');
  return { layout: parseLayout(header, metadataBytes, trailer, size, info, hash), hash };
}

function checkDigest(hash: Hash, layout: Layout, path: string): void {
  hash.update(u64(layout.dataLength));
  if (!hash.digest().equals(layout.digest)) {
    throw new SnapshotChecksumError(path, 'SHA-256 digest mismatch: the data is damaged');
  }
}
