import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { RaftError } from '@raftkit/core';

/**
 * A backup is what Maintenance.Snapshot streams (`etcdctl snapshot save` writes it to a
 * file as it comes): the state machine's image — the MVCC store with its history, the
 * leases, the membership and the recent request ids, format `RKSM` — then zero padding
 * and the image's length (8 bytes, big-endian) up to a multiple of 512 bytes, then the
 * SHA-256 of all that, 32 bytes. The padding is etcdctl's: it takes a stream whose size
 * modulo 512 is 32 for one that ends with its SHA-256 (bbolt files are page-aligned) and
 * refuses any other. It is not a bbolt file: `etcdctl snapshot status/restore` cannot
 * read it; `--initial-snapshot-file` bootstraps a new raftkit cluster from it.
 */

/** BACKUP_CHUNK_BYTES is the blob size of Maintenance.Snapshot (etcd's 32 KiB). */
export const BACKUP_CHUNK_BYTES = 32 * 1024;

const DIGEST_BYTES = 32;
const LENGTH_BYTES = 8;
const ALIGN = 512;
const MAGIC = Buffer.from('RKSM', 'latin1');

/** BackupError: a file given as a backup is not a complete, intact raftkit backup. */
export class BackupError extends RaftError {
  constructor(path: string, problem: string) {
    super('KV_BACKUP', `${path} is not a usable raftkit backup: ${problem}`);
  }
}

/** sealBackup pads the image and appends the SHA-256: the bytes Maintenance.Snapshot streams. */
export function sealBackup(image: Uint8Array): Buffer {
  const bodyLength = Math.ceil((image.length + LENGTH_BYTES) / ALIGN) * ALIGN;
  const sealed = Buffer.alloc(bodyLength + DIGEST_BYTES);
  sealed.set(image, 0);
  sealed.writeBigUInt64BE(BigInt(image.length), bodyLength - LENGTH_BYTES);
  createHash('sha256').update(sealed.subarray(0, bodyLength)).digest().copy(sealed, bodyLength);
  return sealed;
}

/**
 * openBackup checks a backup's digest, padding and format and returns the image in it;
 * BackupError for a truncated, altered or foreign file (an etcd bbolt snapshot, say).
 */
export function openBackup(bytes: Uint8Array, path: string): Uint8Array {
  const bodyLength = bytes.length - DIGEST_BYTES;
  if (bodyLength < ALIGN || bodyLength % ALIGN !== 0) {
    throw new BackupError(path, `its size (${bytes.length} bytes) is not that of a backup`);
  }
  const body = Buffer.from(bytes.buffer, bytes.byteOffset, bodyLength);
  const digest = createHash('sha256').update(body).digest();
  if (!digest.equals(bytes.subarray(bodyLength))) {
    throw new BackupError(path, 'its SHA-256 does not match (truncated or altered)');
  }
  if (!body.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new BackupError(
      path,
      'it does not hold a raftkit state machine image (an etcd snapshot cannot be restored into raftkit)',
    );
  }
  const length = body.readBigUInt64BE(bodyLength - LENGTH_BYTES);
  if (
    length > BigInt(bodyLength - LENGTH_BYTES) ||
    length + BigInt(ALIGN) <= BigInt(bodyLength - LENGTH_BYTES)
  ) {
    throw new BackupError(path, 'its recorded image length does not fit its size');
  }
  const image = body.subarray(0, Number(length));
  if (body.subarray(Number(length), bodyLength - LENGTH_BYTES).some((byte) => byte !== 0)) {
    throw new BackupError(path, 'its padding is not zero');
  }
  return image;
}

/** readBackup reads and checks a backup file (see openBackup). */
export async function readBackup(path: string): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new BackupError(path, (error as Error).message);
  }
  return openBackup(bytes, path);
}
