/**
 * Errors of the MVCC store, each carrying the gRPC status code and message etcd answers
 * with (etcd's `api/v3rpc/rpctypes/error.go`), so the server can send them unchanged.
 */

/** GrpcCode holds the gRPC status codes the store's errors use. */
export const GrpcCode = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  OUT_OF_RANGE: 11,
  DATA_LOSS: 15,
} as const;
/** GrpcCode is the union of the numeric gRPC codes above. */
export type GrpcCode = (typeof GrpcCode)[keyof typeof GrpcCode];

/** MvccErrorCode names every error the store raises, after etcd's `rpctypes.Err*`. */
export type MvccErrorCode =
  | 'ErrCompacted'
  | 'ErrFutureRev'
  | 'ErrKeyNotFound'
  | 'ErrLeaseNotFound'
  | 'ErrEmptyKey'
  | 'ErrValueProvided'
  | 'ErrLeaseProvided'
  | 'ErrTooManyOps'
  | 'ErrDuplicateKey'
  | 'ErrInvalidSortOption'
  | 'ErrCorruptSnapshot';

const TABLE: Record<MvccErrorCode, { grpcCode: GrpcCode; message: string }> = {
  ErrCompacted: {
    grpcCode: GrpcCode.OUT_OF_RANGE,
    message: 'etcdserver: mvcc: required revision has been compacted',
  },
  ErrFutureRev: {
    grpcCode: GrpcCode.OUT_OF_RANGE,
    message: 'etcdserver: mvcc: required revision is a future revision',
  },
  ErrKeyNotFound: { grpcCode: GrpcCode.INVALID_ARGUMENT, message: 'etcdserver: key not found' },
  // raftkit has no leases yet: every lease id other than 0 names a lease that does not exist.
  ErrLeaseNotFound: {
    grpcCode: GrpcCode.NOT_FOUND,
    message: 'etcdserver: requested lease not found',
  },
  ErrEmptyKey: { grpcCode: GrpcCode.INVALID_ARGUMENT, message: 'etcdserver: key is not provided' },
  ErrValueProvided: {
    grpcCode: GrpcCode.INVALID_ARGUMENT,
    message: 'etcdserver: value is provided',
  },
  ErrLeaseProvided: {
    grpcCode: GrpcCode.INVALID_ARGUMENT,
    message: 'etcdserver: lease is provided',
  },
  ErrTooManyOps: {
    grpcCode: GrpcCode.INVALID_ARGUMENT,
    message: 'etcdserver: too many operations in txn request',
  },
  ErrDuplicateKey: {
    grpcCode: GrpcCode.INVALID_ARGUMENT,
    message: 'etcdserver: duplicate key given in txn request',
  },
  ErrInvalidSortOption: {
    grpcCode: GrpcCode.INVALID_ARGUMENT,
    message: 'etcdserver: invalid sort option',
  },
  ErrCorruptSnapshot: {
    grpcCode: GrpcCode.DATA_LOSS,
    message: 'mvcc: snapshot is corrupt or of an unknown format',
  },
};

/**
 * MvccError is what every store operation throws for a request etcd would refuse.
 * `code` is etcd's error name, `grpcCode` the gRPC status code and `message` the exact
 * gRPC status message etcd sends (e.g. "etcdserver: mvcc: required revision has been
 * compacted"). A refused request never changes the store.
 */
export class MvccError extends Error {
  readonly code: MvccErrorCode;
  readonly grpcCode: GrpcCode;
  constructor(code: MvccErrorCode, detail?: string) {
    const entry = TABLE[code];
    super(detail === undefined ? entry.message : `${entry.message}: ${detail}`);
    this.name = 'MvccError';
    this.code = code;
    this.grpcCode = entry.grpcCode;
  }
}

/** isMvccError tells whether `err` is an {@link MvccError}, optionally of one `code`. */
export function isMvccError(err: unknown, code?: MvccErrorCode): err is MvccError {
  return err instanceof MvccError && (code === undefined || err.code === code);
}
