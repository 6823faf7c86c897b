import { status as grpcStatus, type ServiceError } from '@grpc/grpc-js';

const codeNames = new Map<number, string>(
  Object.entries(grpcStatus)
    .filter(([, value]) => typeof value === 'number')
    .map(([name, value]) => [value as number, name]),
);

/** grpcCodeName names a gRPC status code, e.g. 14 → `UNAVAILABLE`. */
export function grpcCodeName(code: number): string {
  return codeNames.get(code) ?? `CODE_${code}`;
}

/**
 * KvClientError is every failure KvClient reports: the gRPC status `code` (and its
 * `codeName`), the server's message as etcd words it in `details` (e.g. `etcdserver:
 * mvcc: required revision has been compacted`), the `endpoint` that answered last and
 * how many `attempts` were made. `message` is `details` plus, for connection failures,
 * what was tried.
 */
export class KvClientError extends Error {
  override readonly name = 'KvClientError';
  /** code is the gRPC status code (see `@grpc/grpc-js`'s `status`). */
  readonly code: number;
  /** codeName is the status code's name, e.g. `OUT_OF_RANGE`. */
  readonly codeName: string;
  /** details is the server's error message, unchanged (etcd's wording). */
  readonly details: string;
  /** endpoint is the endpoint of the last attempt, if any was made. */
  readonly endpoint: string | undefined;
  /** attempts is how many times the request was sent or tried. */
  readonly attempts: number;

  constructor(
    code: number,
    details: string,
    options: { endpoint?: string; attempts?: number; message?: string; cause?: unknown } = {},
  ) {
    super(options.message ?? details, options.cause === undefined ? {} : { cause: options.cause });
    this.code = code;
    this.codeName = grpcCodeName(code);
    this.details = details;
    this.endpoint = options.endpoint;
    this.attempts = options.attempts ?? 1;
  }

  /** fromServiceError wraps a grpc-js ServiceError from one attempt. */
  static fromServiceError(error: ServiceError, endpoint: string, attempts: number): KvClientError {
    return new KvClientError(error.code, error.details || error.message, {
      endpoint,
      attempts,
      cause: error,
    });
  }
}

/** isKvClientError tells whether a value is a KvClientError. */
export function isKvClientError(value: unknown): value is KvClientError {
  return value instanceof KvClientError;
}
