import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fastCodecsFor } from '../../src/etcd/fast-codec.js';
import {
  decodeWith,
  encodeWith,
  etcdType,
  loadEtcdProto,
  reflectDecodeWith,
  reflectEncodeWith,
} from '../../src/etcd/index.js';
import { bytes, bytesField, varint, varintField } from './wire-bytes.js';

// The hand-written KV codecs must give exactly what protobufjs reflection gives, or give
// up (undefined) so that reflection answers.
const fast = fastCodecsFor(loadEtcdProto());
const fastDecoder = (name: string) => fast.decoders.get(etcdType(name))!;
const fastEncoder = (name: string) => fast.encoders.get(etcdType(name))!;

const MAX_U64 = (1n << 64n) - 1n;
const MIN_I64 = -(1n << 63n);
const MAX_I64 = (1n << 63n) - 1n;

const int64 = fc.oneof(
  fc.constant(0n),
  fc.bigInt({ min: 0n, max: 1000n }),
  fc.bigInt({ min: 0n, max: BigInt(Number.MAX_SAFE_INTEGER) }),
  fc.bigInt({ min: MIN_I64, max: MAX_I64 }),
);
const uint64 = fc.oneof(
  fc.constant(0n),
  fc.bigInt({ min: 0n, max: 1000n }),
  fc.bigInt({ min: 0n, max: MAX_U64 }),
);
const someBytes = fc.oneof(
  fc.constant(new Uint8Array(0)),
  fc.uint8Array({ maxLength: 20 }),
  fc.uint8Array({ minLength: 120, maxLength: 300 }),
);
const asBuffer = (value: Uint8Array) => Buffer.from(value);

/** sameBytes compares two byte arrays and their kind (Buffer or plain Uint8Array). */
function expectSameDecoded(actual: unknown, expected: unknown): void {
  expect(actual).toEqual(expected);
  for (const [key, value] of Object.entries(expected as Record<string, unknown>)) {
    const other = (actual as Record<string, unknown>)[key];
    if (value instanceof Uint8Array) {
      expect(other).toBeInstanceOf(Uint8Array);
      expect(Buffer.isBuffer(other)).toBe(Buffer.isBuffer(value));
      expect(Buffer.from(other as Uint8Array).equals(Buffer.from(value))).toBe(true);
    }
  }
}

const putRequest = fc.record(
  {
    key: someBytes,
    value: someBytes,
    lease: int64,
    prevKv: fc.boolean(),
    ignoreValue: fc.boolean(),
    ignoreLease: fc.boolean(),
  },
  { requiredKeys: [] },
);
const rangeRequest = fc.record(
  {
    key: someBytes,
    rangeEnd: someBytes,
    limit: int64,
    revision: int64,
    sortOrder: fc.integer({ min: 0, max: 2 }),
    sortTarget: fc.integer({ min: 0, max: 4 }),
    serializable: fc.boolean(),
    keysOnly: fc.boolean(),
    countOnly: fc.boolean(),
    minModRevision: int64,
    maxModRevision: int64,
    minCreateRevision: int64,
    maxCreateRevision: int64,
  },
  { requiredKeys: [] },
);
const deleteRangeRequest = fc.record(
  { key: someBytes, rangeEnd: someBytes, prevKv: fc.boolean() },
  { requiredKeys: [] },
);
const compactionRequest = fc.record(
  { revision: int64, physical: fc.boolean() },
  { requiredKeys: [] },
);

const REQUESTS: [string, fc.Arbitrary<Record<string, unknown>>][] = [
  ['PutRequest', putRequest],
  ['RangeRequest', rangeRequest],
  ['DeleteRangeRequest', deleteRangeRequest],
  ['CompactionRequest', compactionRequest],
];

describe('etcd fast codec: requests decode as reflection does', () => {
  for (const [name, arbitrary] of REQUESTS) {
    it(`${name}: every well-formed message, from a Buffer and from a Uint8Array`, () => {
      const type = etcdType(name);
      const decode = fastDecoder(name);
      fc.assert(
        fc.property(arbitrary, (value) => {
          const wire = reflectEncodeWith(type, value);
          const fromBuffer = decode(wire);
          expect(fromBuffer).toBeDefined();
          expectSameDecoded(fromBuffer, reflectDecodeWith(type, wire));
          const plain = new Uint8Array(wire);
          const fromPlain = decode(plain);
          expect(fromPlain).toBeDefined();
          expectSameDecoded(fromPlain, reflectDecodeWith(type, plain));
          // The dispatching entry point gives the same.
          expectSameDecoded(decodeWith(type, wire), reflectDecodeWith(type, wire));
        }),
        { numRuns: 300 },
      );
    });

    it(`${name}: arbitrary bytes decode (or fail) exactly as with reflection`, () => {
      const type = etcdType(name);
      const valid = fc.tuple(arbitrary, fc.nat(), fc.nat({ max: 255 })).map(([value, i, b]) => {
        const wire = Buffer.from(reflectEncodeWith(type, value));
        if (wire.length > 0) wire[i % wire.length] = b;
        return wire;
      });
      fc.assert(
        fc.property(fc.oneof(valid, fc.uint8Array({ maxLength: 40 }).map(asBuffer)), (wire) => {
          let expected: unknown;
          let expectedError: unknown;
          try {
            expected = reflectDecodeWith(type, wire);
          } catch (error) {
            expectedError = error;
          }
          if (expectedError !== undefined) {
            expect(() => decodeWith(type, wire)).toThrow();
          } else {
            expectSameDecoded(decodeWith(type, wire), expected);
          }
        }),
        { numRuns: 500 },
      );
    });
  }

  it('repeated fields: the last occurrence wins, an empty one resets to the default', () => {
    const type = etcdType('PutRequest');
    const wire = bytes(
      bytesField(1, 'first'),
      varintField(3, 5),
      bytesField(1, 'second'),
      varintField(3, 0),
      bytesField(2, 'v'),
      bytesField(2, []),
      varintField(4, true),
      varintField(4, false),
    );
    const decoded = fastDecoder('PutRequest')(wire);
    expect(decoded).toBeDefined();
    expectSameDecoded(decoded, reflectDecodeWith(type, wire));
    expect(decoded).toMatchObject({ lease: 0n, prevKv: false });
  });

  it('leaves unknown fields, wrong wire types and long varints to reflection', () => {
    const decode = fastDecoder('PutRequest');
    expect(decode(bytes(bytesField(1, 'k'), varintField(99, 1)))).toBeUndefined();
    expect(decode(bytes(varintField(1, 7)))).toBeUndefined();
    expect(decode(bytes([0x18, ...varint(1), 0x80]))).toBeUndefined(); // truncated
    // The etcd values still come out right through decodeWith.
    const type = etcdType('PutRequest');
    const wire = bytes(bytesField(1, 'k'), varintField(99, 1));
    expect(decodeWith(type, wire)).toEqual(reflectDecodeWith(type, wire));
  });

  it('negative and large int64 values become exact bigints', () => {
    const decode = fastDecoder('RangeRequest');
    for (const value of [-1n, MIN_I64, MAX_I64, 1n << 53n, (1n << 53n) - 1n, 1n << 32n]) {
      const wire = bytes(bytesField(1, 'k'), varintField(4, value));
      expect(decode(wire)).toMatchObject({ revision: value });
    }
  });
});

const keyValue = fc.record(
  {
    key: someBytes,
    createRevision: int64,
    modRevision: int64,
    version: int64,
    value: someBytes,
    lease: int64,
  },
  { requiredKeys: [] },
);
const header = fc.record(
  { clusterId: uint64, memberId: uint64, revision: int64, raftTerm: uint64 },
  { requiredKeys: [] },
);
const nullable = <T>(arbitrary: fc.Arbitrary<T>) =>
  fc.oneof(arbitrary, fc.constant(null), fc.constant(undefined));

const RESPONSES: [string, fc.Arbitrary<Record<string, unknown>>][] = [
  ['PutResponse', fc.record({ header: nullable(header), prevKv: nullable(keyValue) })],
  [
    'RangeResponse',
    fc.record(
      {
        header: nullable(header),
        kvs: fc.array(keyValue, { maxLength: 4 }),
        more: fc.boolean(),
        count: int64,
      },
      { requiredKeys: [] },
    ),
  ],
  [
    'DeleteRangeResponse',
    fc.record(
      { header: nullable(header), deleted: int64, prevKvs: fc.array(keyValue, { maxLength: 3 }) },
      { requiredKeys: [] },
    ),
  ],
  ['CompactionResponse', fc.record({ header: nullable(header) }, { requiredKeys: [] })],
];

describe('etcd fast codec: responses encode to the bytes reflection writes', () => {
  for (const [name, arbitrary] of RESPONSES) {
    it(`${name}: bigint and safe-integer int64s, Buffer and Uint8Array bytes`, () => {
      const type = etcdType(name);
      const encode = fastEncoder(name);
      fc.assert(
        fc.property(arbitrary, fc.boolean(), (value, numbers) => {
          // Revisions as numbers where they fit, as the server may hand them.
          const input = numbers ? JSON.parse(JSON.stringify(value, toNumbers), fromBytes) : value;
          const expected = reflectEncodeWith(type, input);
          const actual = encode(input);
          expect(actual).toBeDefined();
          expect(Buffer.from(actual!).toString('hex')).toBe(expected.toString('hex'));
          expect(encodeWith(type, input).toString('hex')).toBe(expected.toString('hex'));
        }),
        { numRuns: 300 },
      );
    });
  }

  it('leaves other value kinds to reflection, with the same bytes', () => {
    const type = etcdType('RangeResponse');
    const encode = fastEncoder('RangeResponse');
    const odd: Record<string, unknown>[] = [
      { count: '12' },
      { count: -3 },
      { count: 1.5 },
      { kvs: [{ key: 'aGVsbG8=' }] },
      { kvs: [{ key: [1, 2, 3] }] },
      { header: { revision: '7' } },
      { kvs: 'not an array' },
      { kvs: [null] },
    ];
    for (const value of odd) {
      expect(encode(value)).toBeUndefined();
      let expected: string | undefined;
      let failed = false;
      try {
        expected = reflectEncodeWith(type, value).toString('hex');
      } catch {
        failed = true;
      }
      if (failed) expect(() => encodeWith(type, value)).toThrow();
      else expect(encodeWith(type, value).toString('hex')).toBe(expected);
    }
  });

  it('writes an all-zero header as an empty sub-message, as reflection does', () => {
    const encode = fastEncoder('PutResponse');
    const zero = { clusterId: 0n, memberId: 0n, revision: 0n, raftTerm: 0n };
    expect(encode({ header: zero, prevKv: null })!.toString('hex')).toBe('0a00');
  });

  it('keeps the header ids exact whatever their order (the id cache)', () => {
    const encode = fastEncoder('PutResponse');
    const type = etcdType('PutResponse');
    const ids = [MAX_U64, 0xfedcba9876543210n, 0x8000000000000000n, 0x123456789abcdef0n];
    for (let i = 0; i < 20; i++) {
      const value = {
        header: { clusterId: ids[i % 4], memberId: ids[(i * 3 + 1) % 4], revision: BigInt(i) },
      };
      expect(encode(value)!.toString('hex')).toBe(reflectEncodeWith(type, value).toString('hex'));
    }
  });
});

function toNumbers(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value >= 0n && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : { $big: value.toString() };
  }
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('hex') };
  return value;
}

function fromBytes(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (typeof record.$big === 'string') return BigInt(record.$big);
    if (typeof record.$bytes === 'string') return new Uint8Array(Buffer.from(record.$bytes, 'hex'));
  }
  return value;
}
