/**
 * toGrpcTarget turns a peer URL as etcd flags spell it (`http://10.0.0.1:2380`,
 * `https://node-1:2380`) or a bare `host:port` into the `host:port` target gRPC dials
 * and binds. The scheme does not choose TLS: the `tls` option does, for every peer alike.
 */
export function toGrpcTarget(address: string): string {
  const match = /^(?:https?|unix):\/\/(.+?)\/?$/i.exec(address.trim());
  return match ? match[1]! : address.trim();
}
