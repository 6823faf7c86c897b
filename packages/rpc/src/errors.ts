import { RaftError } from '@raftkit/core';

/**
 * DecodeError: bytes from the network are not a valid raftkit message (truncated,
 * unknown message kind, missing required field, id or number out of range). The
 * receiver drops the input and refuses the stream; the process never crashes on it.
 */
export class DecodeError extends RaftError {
  constructor(detail: string) {
    super('RPC_DECODE', `malformed peer message: ${detail}`);
  }
}

/**
 * EncodeError: a message cannot be put on the wire (a local kind such as MsgHup, or a
 * number that is not a non-negative safe integer). It signals a bug in the caller;
 * `GrpcTransport.send` catches it, logs it and drops the message.
 */
export class EncodeError extends RaftError {
  constructor(detail: string) {
    super('RPC_ENCODE', `cannot encode peer message: ${detail}`);
  }
}

/** SnapshotTransferReason says why a snapshot transfer did not complete. */
export type SnapshotTransferReason =
  | 'unreachable'
  | 'rejected'
  | 'busy'
  | 'closed'
  | 'tooLarge'
  | 'unknownPeer';

/**
 * SnapshotTransferError: a snapshot did not reach the peer intact. Transfers are
 * restartable, not resumable: the leader's next MsgSnap starts again at offset 0.
 */
export class SnapshotTransferError extends RaftError {
  readonly reason: SnapshotTransferReason;
  constructor(reason: SnapshotTransferReason, detail: string) {
    super('RPC_SNAPSHOT_TRANSFER', `snapshot transfer failed (${reason}): ${detail}`);
    this.reason = reason;
  }
}

/** TlsConfigError: TLS options are incomplete or a certificate file cannot be read. */
export class TlsConfigError extends RaftError {
  constructor(detail: string) {
    super('RPC_TLS_CONFIG', `invalid TLS configuration: ${detail}`);
  }
}

/** RpcConfigError: a transport or server option is out of range; the message names it. */
export class RpcConfigError extends RaftError {
  constructor(detail: string) {
    super('RPC_CONFIG', `invalid rpc option: ${detail}`);
  }
}

/** SnapshotRejectReason says why a receiver refused a snapshot transfer. */
export type SnapshotRejectReason = 'malformed' | 'outOfOrder' | 'tooLarge' | 'checksumMismatch';

/**
 * SnapshotRejectedError: a receiver refused an incoming snapshot transfer; nothing of it
 * was handed to the node. The sender learns it as a gRPC status.
 */
export class SnapshotRejectedError extends RaftError {
  readonly reason: SnapshotRejectReason;
  constructor(reason: SnapshotRejectReason, detail: string) {
    super('RPC_SNAPSHOT_REJECTED', `snapshot refused (${reason}): ${detail}`);
    this.reason = reason;
  }
}
