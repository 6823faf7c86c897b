import { fileURLToPath } from 'node:url';
import type { Root, Type } from 'protobufjs';
import protobuf from 'protobufjs';
import { ETCD_PROTO_URL, ETCD_RPC_PACKAGE } from './proto.js';

// etcd's own tools (etcdctl `-w json`) print responses with Go's encoding/json over the
// gogoproto structs. That format is what scripts around etcd parse, so raftkit's tools
// reproduce it: proto field names as written in the .proto (`create_revision`, but
// `dbSize`, `peerURLs`), zero values left out (`omitempty`), 64-bit integers as bare
// JSON numbers (exact, not rounded through float64), bytes in base64, enums as numbers,
// and a oneof as `"Response":{"ResponsePut":{...}}` (Go's wrapper field names).

let protoNamedRoot: Root | undefined;

function protoNamed(typeName: string): Type {
  if (protoNamedRoot === undefined) {
    const root = new protobuf.Root();
    root.loadSync(fileURLToPath(ETCD_PROTO_URL), { keepCase: true });
    root.resolveAll();
    protoNamedRoot = root;
  }
  const fullName = typeName.includes('.') ? typeName : `${ETCD_RPC_PACKAGE}.${typeName}`;
  return protoNamedRoot.lookupType(fullName);
}

function goName(protoName: string): string {
  return protoName
    .split('_')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

function isZero(value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (typeof value === 'bigint') return value === 0n;
  if (typeof value === 'number') return value === 0;
  if (typeof value === 'boolean') return !value;
  if (typeof value === 'string') return value.length === 0;
  if (value instanceof Uint8Array) return value.length === 0;
  if (Array.isArray(value)) return value.length === 0;
  return false;
}

function scalarJson(value: unknown): string {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) {
    return JSON.stringify(
      Buffer.from(value.buffer, value.byteOffset, value.length).toString('base64'),
    );
  }
  return JSON.stringify(value) ?? 'null';
}

function fieldJson(field: protobuf.Field, value: unknown): string {
  const resolved = field.resolvedType;
  const one = (item: unknown): string =>
    resolved instanceof protobuf.Type ? messageJson(resolved, item) : scalarJson(item);
  if (field.repeated) return `[${(value as unknown[]).map(one).join(',')}]`;
  return one(value);
}

function messageJson(type: Type, value: unknown): string {
  if (value === null || value === undefined) return 'null';
  const object = value as Record<string, unknown>;
  const parts: string[] = [];
  const emittedOneofs = new Set<string>();
  for (const field of type.fieldsArray) {
    const read = object[protobuf.util.camelCase(field.name)];
    const oneof = field.partOf;
    if (oneof) {
      if (emittedOneofs.has(oneof.name)) continue;
      emittedOneofs.add(oneof.name);
      const member = oneof.fieldsArray.find(
        (candidate) => object[protobuf.util.camelCase(candidate.name)] != null,
      );
      if (member === undefined) continue;
      const inner = fieldJson(member, object[protobuf.util.camelCase(member.name)]);
      parts.push(`"${goName(oneof.name)}":{"${goName(member.name)}":${inner}}`);
      continue;
    }
    if (isZero(read)) continue;
    parts.push(`${JSON.stringify(field.name)}:${fieldJson(field, read)}`);
  }
  return `{${parts.join(',')}}`;
}

/**
 * formatEtcdJson renders a decoded etcd message (e.g. a RangeResponse from KV.Range)
 * exactly as etcdctl's `-w json` does: Go encoding/json over etcd's structs — proto
 * field names, zero values omitted, int64/uint64 as bare exact numbers, bytes base64,
 * enums numeric, oneofs wrapped as `"Response":{"ResponsePut":…}`.
 */
export function formatEtcdJson(typeName: string, value: unknown): string {
  return messageJson(protoNamed(typeName), value);
}
