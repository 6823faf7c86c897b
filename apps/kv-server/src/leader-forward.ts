import * as grpc from '@grpc/grpc-js';

/**
 * FORWARDED_HEADER marks a request one member forwarded to the member it takes for the
 * leader: the receiver answers it or fails it, and never forwards it again (two members
 * with stale views of the leader cannot bounce a request between them).
 */
export const FORWARDED_HEADER = 'raftkit-forwarded';

/** ForwardTarget is a client of the leader's client URL. */
export interface ForwardTarget {
  readonly url: string;
  readonly client: grpc.Client;
}

/**
 * LeaderClients keeps one gRPC client to the leader's client URL, for the requests only
 * the leader can answer (etcd forwards them over its peer HTTP API; raftkit calls the
 * leader's etcd API). The client is replaced when the leader's URL changes.
 */
export class LeaderClients {
  private current: ForwardTarget | undefined;

  constructor(
    /** leaderUrl is the leader's first client URL, undefined while no leader is known. */
    private readonly leaderUrl: () => string | undefined,
    private readonly credentials: () => grpc.ChannelCredentials,
  ) {}

  /** target returns the client of the leader now, or undefined when no leader is known. */
  target(): ForwardTarget | undefined {
    const url = this.leaderUrl();
    if (url === undefined) return undefined;
    if (this.current?.url === url) return this.current;
    this.current?.client.close();
    this.current = { url, client: new grpc.Client(new URL(url).host, this.credentials()) };
    return this.current;
  }

  /** metadata is what a forwarded call carries. */
  static metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    metadata.set(FORWARDED_HEADER, '1');
    return metadata;
  }

  /** isForwarded tells whether a call was forwarded by another member. */
  static isForwarded(metadata: grpc.Metadata): boolean {
    return metadata.get(FORWARDED_HEADER).length > 0;
  }

  /**
   * unary calls `method` of `definition` on the leader; rejects with the leader's status
   * (code and details), or with `noLeader` when no leader is known.
   */
  unary<Req, Res>(
    method: grpc.MethodDefinition<Req, Res>,
    request: Req,
    deadlineMs: number,
    noLeader: { code: grpc.status; details: string },
  ): Promise<Res> {
    const target = this.target();
    if (target === undefined) return Promise.reject(noLeader);
    return new Promise<Res>((resolve, reject) => {
      target.client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        LeaderClients.metadata(),
        { deadline: Date.now() + deadlineMs },
        (error, response) => {
          if (error !== null && error !== undefined) {
            reject({ code: error.code, details: error.details });
          } else if (response === undefined) {
            reject(noLeader);
          } else {
            resolve(response);
          }
        },
      );
    });
  }

  /** close closes the client. */
  close(): void {
    this.current?.client.close();
    this.current = undefined;
  }
}
