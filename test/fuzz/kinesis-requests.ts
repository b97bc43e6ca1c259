/**
 * Mutated Kinesis API requests, for test/fuzz/kinesis-http.fuzz.test.ts. A request starts from
 * the corpus (one or more valid inputs per operation), gets structural mutations (type
 * confusions, members removed or added, values at or past their constraints' edges, odd
 * numbers, bad base64, deep nesting, invalid UTF-8, duplicate keys, long strings), is encoded as
 * JSON 1.1 or CBOR 1.1 (with indefinite lengths some of the time, as Jackson writes them), and
 * then, some of the time, gets damaged bytes, odd headers and a framing that lies. Everything is
 * drawn from a generator seeded per case, so one case can be rebuilt alone.
 */
import { OPERATION_MODELS, type MemberModel } from '../../src/kinesis/validation.js';
import { ACCOUNT_SHARD_LIMIT, HTTP_REQUEST_BODY_BYTES_MAX } from '../../src/limits.js';
import { SUPPORTED_OPERATIONS } from '../../src/server/kinesis-api.js';
import { streamArn } from '../helpers/sdk.js';
import { seededRandom } from '../helpers/temp-dir.js';

export const JSON_TYPE = 'application/x-amz-json-1.1';
export const CBOR_TYPE = 'application/x-amz-cbor-1.1';
export const TARGET_PREFIX = 'Kinesis_20131202.';
/** The stream the requests name (and the second one they may); no other stream is named. */
export const FUZZ_STREAM = 'fuzz';
export const SECOND_STREAM = 'fuzz-2';
/** The consumers the requests name; the first is registered on FUZZ_STREAM before the run. */
export const CONSUMER_NAMES = ['fuzz-consumer', 'fuzz-consumer-2', 'fuzz-consumer-3'];

export type Random = () => number;

// ---- random helpers -------------------------------------------------------------------------

export const int = (random: Random, below: number) => Math.floor(random() * below);
const chance = (random: Random, p: number) => random() < p;
function pick<T>(random: Random, items: readonly T[]): T {
  return items[int(random, items.length)]!;
}
function bytes(random: Random, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = int(random, 256);
  return out;
}
const long = (length: number, text = 'a') =>
  text.repeat(Math.ceil(length / text.length)).slice(0, length);

/**
 * The generator of case `index` of the run seeded `seed` (`part` 0: the request, 1: how it is
 * sent): independent of the order cases run in and of how many the run has.
 */
export function caseRandom(seed: number, index: number, part: 0 | 1 = 0): Random {
  return seededRandom((seed ^ Math.imul(2 * index + part + 1, 0x9e3779b1)) >>> 0);
}

/** A control character, which HTTP forbids in a header value. */
export function hasControlCharacter(text: string | undefined): boolean {
  return /[\x00-\x1f\x7f]/.test(text ?? '');
}

// ---- wire values: a request body before it is encoded ---------------------------------------

/** Bytes written as they are: `json` in a JSON body, `cbor` in a CBOR body. */
class Raw {
  constructor(
    readonly json: string | Buffer,
    readonly cbor: Buffer,
  ) {}
}

/** Entries written as given, so that a key may repeat: a map's DUPLICATE member holds them. */
class Entries {
  constructor(readonly entries: [string, Wire][]) {}
}

/** The member of a map whose entries (an Entries) are written after the map's own. */
const DUPLICATE = '\u0000duplicate';

type WireMap = { [member: string]: Wire };
type Wire = null | boolean | number | string | Uint8Array | Date | Raw | Entries | Wire[] | WireMap;

function isMap(value: Wire): value is WireMap {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array) &&
    !(value instanceof Date) &&
    !(value instanceof Raw) &&
    !(value instanceof Entries)
  );
}

/** A map's entries as written, a DUPLICATE member's entries in its place. */
function entriesOf(value: WireMap | Entries): [string, Wire][] {
  if (value instanceof Entries) return value.entries;
  return Object.entries(value).flatMap(([key, item]): [string, Wire][] =>
    key === DUPLICATE && item instanceof Entries ? item.entries : [[key, item]],
  );
}

/** JSON text of a wire value: blobs in base64, timestamps in epoch seconds. */
function toJson(value: Wire, out: Buffer[]): void {
  if (value instanceof Raw) {
    out.push(typeof value.json === 'string' ? Buffer.from(value.json, 'utf8') : value.json);
  } else if (value instanceof Uint8Array) {
    out.push(Buffer.from(JSON.stringify(Buffer.from(value).toString('base64'))));
  } else if (value instanceof Date) {
    out.push(Buffer.from(String(value.getTime() / 1000)));
  } else if (value instanceof Entries || isMap(value)) {
    out.push(Buffer.from('{'));
    entriesOf(value).forEach(([key, item], i) => {
      out.push(Buffer.from(`${i > 0 ? ',' : ''}${JSON.stringify(key)}:`));
      toJson(item, out);
    });
    out.push(Buffer.from('}'));
  } else if (Array.isArray(value)) {
    out.push(Buffer.from('['));
    value.forEach((item, i) => {
      if (i > 0) out.push(Buffer.from(','));
      toJson(item, out);
    });
    out.push(Buffer.from(']'));
  } else {
    out.push(Buffer.from(JSON.stringify(value)));
  }
}

/** A CBOR head: major type and argument, in its shortest form. */
function cborHead(major: number, argument: number): Buffer {
  const high = major << 5;
  if (argument < 24) return Buffer.from([high | argument]);
  if (argument < 0x100) return Buffer.from([high | 24, argument]);
  const size = argument < 0x10000 ? 2 : argument < 0x100000000 ? 4 : 8;
  const out = Buffer.alloc(1 + size);
  out[0] = high | { 2: 25, 4: 26, 8: 27 }[size]!;
  if (size === 8) out.writeBigUInt64BE(BigInt(argument), 1);
  else out.writeUIntBE(argument, 1, size);
  return out;
}

const CBOR_BREAK = Buffer.from([0xff]);

/** A CBOR text string of `text`'s bytes, whatever they are. */
function cborText(text: Buffer): Buffer {
  return Buffer.concat([cborHead(3, text.length), text]);
}

/**
 * CBOR of a wire value: blobs as byte strings, timestamps as tag 1 + epoch milliseconds. Strings,
 * arrays and maps get indefinite lengths some of the time.
 */
function toCbor(value: Wire, random: Random, out: Buffer[]): void {
  const indefinite = chance(random, 0.2);
  if (value instanceof Raw) {
    out.push(value.cbor);
  } else if (value === null) {
    out.push(Buffer.from([0xf6]));
  } else if (typeof value === 'boolean') {
    out.push(Buffer.from([value ? 0xf5 : 0xf4]));
  } else if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && !Object.is(value, -0)) {
      out.push(value >= 0 ? cborHead(0, value) : cborHead(1, -1 - value));
    } else {
      const float = Buffer.alloc(9);
      float[0] = 0xfb;
      float.writeDoubleBE(value, 1);
      out.push(float);
    }
  } else if (typeof value === 'string' || value instanceof Uint8Array) {
    const major = typeof value === 'string' ? 3 : 2;
    const payload = Buffer.from(value);
    if (indefinite && payload.length > 1) {
      // Cut only between characters: each chunk of a text string must be whole UTF-8.
      const cut = typeof value === 'string' ? Buffer.byteLength(value.slice(0, 1)) : 1;
      out.push(Buffer.from([(major << 5) | 31]));
      out.push(cborHead(major, cut), payload.subarray(0, cut));
      out.push(cborHead(major, payload.length - cut), payload.subarray(cut), CBOR_BREAK);
    } else {
      out.push(cborHead(major, payload.length), payload);
    }
  } else if (value instanceof Date) {
    out.push(Buffer.from([0xc1]));
    toCbor(value.getTime(), random, out);
  } else if (Array.isArray(value)) {
    out.push(indefinite ? Buffer.from([0x9f]) : cborHead(4, value.length));
    for (const item of value) toCbor(item, random, out);
    if (indefinite) out.push(CBOR_BREAK);
  } else {
    const entries = entriesOf(value);
    out.push(indefinite ? Buffer.from([0xbf]) : cborHead(5, entries.length));
    for (const [key, item] of entries) {
      toCbor(key, random, out);
      toCbor(item, random, out);
    }
    if (indefinite) out.push(CBOR_BREAK);
  }
}

function encode(value: Wire, format: 'json' | 'cbor', random: Random): Buffer {
  const out: Buffer[] = [];
  if (format === 'json') toJson(value, out);
  else toCbor(value, random, out);
  return Buffer.concat(out);
}

// ---- the vocabulary mutations draw from -----------------------------------------------------

/** What the server issued before the run: a consumer, an iterator, pagination tokens, ... */
export interface Issued {
  consumerArn: string;
  iterator: string;
  sequenceNumber: string;
  /** NextTokens of ListShards, ListStreams and ListStreamConsumers, then forged ones. */
  tokens: string[];
}

/** The vocabulary of a run: what the server issued, and the strings made of it once. */
export interface Fixtures extends Issued {
  strings: string[];
  /** The same without the long ones, for values a request repeats many times. */
  shortStrings: string[];
}

export function fixturesOf(issued: Issued): Fixtures {
  const strings = interestingStrings(issued);
  return { ...issued, strings, shortStrings: strings.filter((text) => text.length < 300) };
}

function interestingStrings(issued: Issued): string[] {
  const { consumerArn, iterator, sequenceNumber } = issued;
  return [
    '',
    ' ',
    FUZZ_STREAM,
    'no-such-stream',
    long(128),
    long(129),
    long(256),
    long(257),
    long(2049, 'arn:'),
    long(70_000, 'é'),
    'shardId-000000000000',
    'shardId-000000000001',
    'shardId-999999999999',
    'shardId-2147483648',
    'shardId-',
    '-1',
    '0',
    '00',
    '1e3',
    '340282366920938463463374607431768211455',
    '340282366920938463463374607431768211456',
    long(39, '9'),
    long(40, '9'),
    sequenceNumber,
    `${sequenceNumber}0`,
    sequenceNumber.replace(/.$/, '3'),
    'TRIM_HORIZON',
    'LATEST',
    'AT_TIMESTAMP',
    'AT_SEQUENCE_NUMBER',
    'AFTER_SEQUENCE_NUMBER',
    'AFTER_SHARD_ID',
    'FROM_TRIM_HORIZON',
    'FROM_TIMESTAMP',
    'AT_LATEST',
    'AT_TRIM_HORIZON',
    'ON_DEMAND',
    'PROVISIONED',
    'KMS',
    'NONE',
    'ALL',
    'UNIFORM_SCALING',
    'ENABLED',
    'DISABLED',
    'AUTO',
    'alias/aws/kinesis',
    '12345678-1234-1234-1234-123456789012',
    streamArn(FUZZ_STREAM),
    streamArn('no-such-stream'),
    'arn:aws:kinesis:us-east-1:000000000000:stream/',
    `${streamArn(FUZZ_STREAM)}/consumer/x:1`,
    consumerArn,
    `${consumerArn}9`,
    `arn:aws${long(2000, ':kinesis:')}`,
    `arn:aws:kinesis:${long(1900, ':000000000000:')}stream/x`,
    iterator,
    iterator.slice(0, -4),
    `${iterator.slice(0, -2)}AA`,
    ...issued.tokens,
    '__proto__',
    'constructor',
    'toString',
    'hasOwnProperty',
    '\u0000',
    'a\nb',
    'é',
    '😀',
    '%s%n%x',
    '../../../etc/passwd',
    '{"Version":"2012-10-17","Statement":[]}',
    '[]',
    'null',
    'aws:tag',
    'true',
    'YES',
  ];
}

const BOUNDARY_NUMBERS = [
  0,
  -1,
  1,
  2,
  3,
  23,
  24,
  255,
  256,
  500,
  501,
  1023,
  1024,
  10_240,
  10_241,
  8760,
  8761,
  10_000,
  10_001,
  2 ** 31 - 1,
  2 ** 31,
  -(2 ** 31),
  -(2 ** 31) - 1,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  2 ** 63,
  -(2 ** 63),
  1.5,
  -0.5,
  1e-7,
  1e21,
  1e308,
  -1e308,
  Number.MIN_VALUE,
];

/**
 * Shard counts a CreateStream or UpdateShardCount may get. CreateStream accepts any count up to
 * the account's shard limit, as Kinesis does, and a stream of thousands of shards takes seconds
 * to open (puts to other streams go on meanwhile: test/engine/lifecycle.test.ts): the run leaves
 * such counts out, sending only counts that are small or refused, to stay short.
 */
const SHARD_COUNT_MEMBERS: readonly string[] = ['ShardCount', 'TargetShardCount'];
const SAFE_SHARD_COUNTS = BOUNDARY_NUMBERS.filter(
  (count) => !(Number.isInteger(count) && count > 4 && count <= ACCOUNT_SHARD_LIMIT),
);
/** What a shard count a mutation made unsafe becomes. */
const SAFE_SHARD_COUNT = 2;

/** Number texts JSON.parse reads to something odd, or refuses. */
const RAW_JSON_NUMBERS = [
  '1e400',
  '-1e400',
  '-0',
  '0.0',
  '1E2',
  '123456789012345678901234567890',
  '1.0e-400',
  '00',
  '+1',
  '.5',
  'NaN',
  'Infinity',
  '0x10',
  '1_000',
];

/** CBOR items of every kind the decoder must refuse or read as something harmless. */
const RAW_CBOR_ITEMS: readonly Buffer[] = [
  'f97e00', // NaN (half float)
  'f97c00', // Infinity (half float)
  'f98000', // -0 (half float)
  'fa7f800000', // Infinity (single)
  '1bffffffffffffffff', // 2^64 - 1
  '3bffffffffffffffff', // -2^64
  '1b0020000000000001', // 2^53 + 1
  'f818', // simple value 24
  'f7', // undefined
  '1c', // reserved additional information
  'c249010000000000000000', // tag 2 (bignum) of 2^64
  '5b1000000000000000', // a byte string claiming 2^60 bytes
  '7b1000000000000000', // a text string claiming 2^60 bytes
  '9b1000000000000000', // an array claiming 2^60 items
  'bb1000000000000000', // a map claiming 2^60 entries
  '5affffffff', // a byte string claiming 4 GiB
  '9a7fffffff', // an array claiming 2^31 - 1 items
  '5f5b1000000000000000ff', // a chunk claiming 2^60 bytes
  '5f6161ff', // a text chunk in a byte string
  'ff', // a break where a value belongs
  '62eda0', // invalid UTF-8 text
  '63eda080', // a lone surrogate, encoded as UTF-8
  `${'c1'.repeat(100)}00`, // 100 nested tags
  `${'81'.repeat(100)}00`, // 100 nested arrays
  '9f'.repeat(5000), // 5000 indefinite arrays never closed
  'c1781a323031342d30312d30315430303a30303a30302e3030305a', // tag 1 of a date as text
  'c1fb7fefffffffffffff', // tag 1 of the largest double
  'c11b7fffffffffffffff', // tag 1 of 2^63 - 1 (ms)
  'a1f600', // a map with a null key
  'a10000', // a map with an integer key
].map((hex) => Buffer.from(hex, 'hex'));

/** Base64 texts Kinesis refuses (some of which Node's lenient decoder would take). */
const BAD_BASE64 = [
  'abc',
  'ab$d',
  'QR==',
  'QQ=A',
  'a-b_',
  '====',
  'AAA=A===',
  ' AAAA',
  'AA\nAA',
  'AAAA====',
  'AA==AA==',
  '\u00e9AAA',
  long(4096, 'A!'),
];

/** Invalid UTF-8: a cut sequence, a surrogate, non-characters, beyond U+10FFFF, overlong. */
const BAD_UTF8 = ['c3', 'eda080', 'fffe', 'f4908080', 'c0af'].map((hex) => Buffer.from(hex, 'hex'));

/** A blob of an edge size; `small` (for a value repeated many times) keeps it under 300 bytes. */
function randomBlob(random: Random, small = false): Uint8Array {
  switch (small ? -1 : int(random, 8)) {
    case 0:
      return new Uint8Array(0);
    case 1:
      // Over the default record size once a partition key is added.
      return new Uint8Array(1024 * 1024);
    case 2:
      return new Uint8Array(1024 * 1024 + 1);
    default:
      return bytes(random, int(random, 300));
  }
}

function randomDate(random: Random): Wire {
  switch (int(random, 7)) {
    case 0:
      return new Date(0);
    case 1:
      return new Date(Date.now() - int(random, 3_600_000));
    case 2:
      return new Date(Date.now() + 1e9);
    case 3:
      return new Date(-1e12);
    // Past what a Date holds, as JSON seconds and as CBOR milliseconds.
    case 4:
      return new Raw('1e16', Buffer.from('c11b0020000000000000', 'hex'));
    case 5:
      return new Raw('-1e300', Buffer.from('c1fbffefffffffffffff', 'hex'));
    default:
      return new Raw('"2024-01-01T00:00:00Z"', Buffer.from('c1f97e00', 'hex'));
  }
}

/** Every member name of every operation: adding one from another operation is a mutation. */
const MEMBER_NAMES = [
  ...new Set(Object.values(OPERATION_MODELS).flatMap((model) => Object.keys(model.members))),
];

/** A value of any wire type: what a type confusion puts in place of a member. */
function anyValue(random: Random, fixtures: Fixtures, depth = 0): Wire {
  switch (int(random, depth > 2 ? 8 : 11)) {
    case 0:
      return null;
    case 1:
      return chance(random, 0.5);
    case 2:
      return pick(random, BOUNDARY_NUMBERS);
    case 3:
      return new Raw(pick(random, RAW_JSON_NUMBERS), pick(random, RAW_CBOR_ITEMS));
    case 4:
    case 5:
      return pick(random, fixtures.strings);
    case 6:
      return randomBlob(random);
    case 7:
      return randomDate(random);
    case 8:
      return Array.from({ length: int(random, 4) }, () => anyValue(random, fixtures, depth + 1));
    case 9:
      return { [pick(random, MEMBER_NAMES)]: anyValue(random, fixtures, depth + 1) };
    default:
      return deepNesting(random);
  }
}

/** Arrays or maps nested far deeper than any Kinesis input. */
function deepNesting(random: Random): Raw {
  const depth = pick(random, [33, 100, 10_000, 100_000]);
  if (chance(random, 0.5)) {
    const json = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    return new Raw(json, Buffer.from(`${'a16161'.repeat(depth)}00`, 'hex'));
  }
  const json = `${'['.repeat(depth)}${']'.repeat(depth)}`;
  return new Raw(json, Buffer.from(`${'81'.repeat(depth)}80`, 'hex'));
}

/**
 * Strings a member of this name is likely to hold: values that name something that exists (or
 * nearly), so that typed cases get past validation into the operations themselves.
 */
function likelyStrings(fixtures: Fixtures, name: string): readonly string[] {
  const sequence = fixtures.sequenceNumber;
  switch (name) {
    case 'StreamName':
    case 'ExclusiveStartStreamName':
      return [FUZZ_STREAM, SECOND_STREAM, 'no-such-stream'];
    case 'StreamARN':
    case 'ResourceARN':
      return [streamArn(FUZZ_STREAM), streamArn(SECOND_STREAM), fixtures.consumerArn];
    case 'ConsumerARN':
      return [fixtures.consumerArn, `${fixtures.consumerArn}0`];
    case 'ConsumerName':
      return CONSUMER_NAMES;
    case 'ShardId':
    case 'ShardToSplit':
    case 'ShardToMerge':
    case 'AdjacentShardToMerge':
    case 'ExclusiveStartShardId':
      return ['shardId-000000000000', 'shardId-000000000001', 'shardId-000000000002', '1'];
    case 'ShardIterator':
      return [fixtures.iterator];
    case 'NextToken':
      return fixtures.tokens;
    case 'StartingSequenceNumber':
    case 'SequenceNumber':
    case 'SequenceNumberForOrdering':
      return [sequence, sequence.replace(/.$/, '0'), `${sequence.slice(0, -3)}999`];
    case 'ExplicitHashKey':
    case 'NewStartingHashKey':
      return ['0', '1', '170141183460469231731687303715884105728', long(39, '9')];
    case 'PartitionKey':
      return ['pk', long(256), '😀'];
    default:
      return [];
  }
}

/**
 * A value of the member's own type, with content at or past its constraints' edges. `small` keeps
 * blobs and strings short, for a value a list or map repeats many times.
 */
function typedValue(
  model: MemberModel,
  random: Random,
  fixtures: Fixtures,
  name: string,
  small = false,
): Wire {
  const typed = (inner: MemberModel, member = name, repeated = small) =>
    typedValue(inner, random, fixtures, member, repeated);
  switch (model.type) {
    case 'string': {
      if (model.enum && chance(random, 0.6)) return pick(random, model.enum);
      const likely = likelyStrings(fixtures, name);
      if (likely.length > 0 && chance(random, 0.6)) return pick(random, likely);
      if (model.maxLength !== undefined && chance(random, 0.1)) {
        return long(model.maxLength + int(random, 2));
      }
      return pick(random, small ? fixtures.shortStrings : fixtures.strings);
    }
    case 'integer':
    case 'long': {
      if (SHARD_COUNT_MEMBERS.includes(name)) return pick(random, SAFE_SHARD_COUNTS);
      const edges = [model.min, model.max].filter((edge): edge is number => edge !== undefined);
      const around = edges.flatMap((edge) => [edge - 1, edge, edge + 1]);
      return pick(random, [...around, ...BOUNDARY_NUMBERS]);
    }
    case 'boolean':
      return chance(random, 0.5);
    case 'blob':
      return randomBlob(random, small);
    case 'timestamp':
      return randomDate(random);
    case 'list': {
      const lengths = [0, 1, 2, 3];
      if (model.maxLength !== undefined && model.maxLength < 1000) {
        lengths.push(model.maxLength, model.maxLength + 1);
      }
      const length = pick(random, lengths);
      if (length > 3) {
        // Long lists repeat one element: a 501-record PutRecords need not hold 501 random ones.
        const element = typed(model.member!, name, true);
        return Array.from({ length }, () => element);
      }
      return Array.from({ length }, () => typed(model.member!));
    }
    case 'map': {
      const size = pick(random, [0, 1, 2, 51]);
      const out: WireMap = {};
      for (let i = 0; i < size; i++) {
        const key = size > 2 ? `k${i}` : typed(model.key!);
        out[typeof key === 'string' ? key : 'k'] = typed(model.value!, name, size > 2);
      }
      return out;
    }
    case 'structure': {
      const out: WireMap = {};
      for (const [member, memberModel] of Object.entries(model.members!)) {
        if (chance(random, 0.6)) out[member] = typed(memberModel, member);
      }
      return out;
    }
  }
}

/** The members of an operation's input, by name. */
function membersOf(operation: string): Readonly<Record<string, MemberModel>> {
  return OPERATION_MODELS[operation as keyof typeof OPERATION_MODELS].members;
}

// ---- the corpus: valid requests of every operation ------------------------------------------

export interface Seed {
  operation: string;
  input: WireMap;
}

/** Valid inputs of the operations that matter most, then one of every operation's types. */
export function corpus(fixtures: Fixtures, random: Random): Seed[] {
  const data = () => bytes(random, 1 + int(random, 64));
  const records = (count: number) =>
    Array.from({ length: count }, (_, i) => ({ Data: data(), PartitionKey: `pk-${i}` }));
  const shard = 'shardId-000000000000';
  const arn = streamArn(FUZZ_STREAM);
  const stream = { StreamName: FUZZ_STREAM };
  const { consumerArn, sequenceNumber, tokens } = fixtures;
  const seeds: [string, WireMap][] = [
    ['CreateStream', { ...stream, ShardCount: 1 }],
    ['CreateStream', { ...stream, StreamModeDetails: { StreamMode: 'ON_DEMAND' } }],
    ['DeleteStream', { StreamName: 'no-such-stream' }],
    ['PutRecord', { ...stream, PartitionKey: 'pk', Data: data() }],
    [
      'PutRecord',
      {
        StreamARN: arn,
        PartitionKey: 'pk',
        Data: data(),
        SequenceNumberForOrdering: sequenceNumber,
        ExplicitHashKey: '170141183460469231731687303715884105728',
      },
    ],
    ['PutRecords', { ...stream, Records: records(3) }],
    // Over CODEC_BODY_BYTES_MIN in JSON: prepared on a codec thread.
    ['PutRecords', { ...stream, Records: records(200) }],
    [
      'PutRecords',
      { StreamARN: arn, Records: [{ Data: data(), PartitionKey: 'k', ExplicitHashKey: '0' }] },
    ],
    ['GetShardIterator', { ...stream, ShardId: shard, ShardIteratorType: 'TRIM_HORIZON' }],
    [
      'GetShardIterator',
      { ...stream, ShardId: shard, ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Date(0) },
    ],
    [
      'GetShardIterator',
      {
        StreamARN: arn,
        ShardId: shard,
        ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
        StartingSequenceNumber: sequenceNumber,
      },
    ],
    ['GetRecords', { ShardIterator: fixtures.iterator, Limit: 10 }],
    ['ListShards', { ...stream, MaxResults: 1 }],
    ['ListShards', { NextToken: tokens[0]! }],
    ['ListShards', { ...stream, ShardFilter: { Type: 'AT_TIMESTAMP', Timestamp: new Date(0) } }],
    ['ListStreams', { Limit: 1 }],
    ['ListStreams', { NextToken: tokens[1]! }],
    ['DescribeStream', { ...stream, Limit: 1 }],
    ['DescribeStreamSummary', stream],
    ['ListStreamConsumers', { StreamARN: arn, MaxResults: 1 }],
    ['ListStreamConsumers', { StreamARN: arn, NextToken: tokens[2]! }],
    ['DescribeStreamConsumer', { ConsumerARN: consumerArn }],
    [
      'SubscribeToShard',
      { ConsumerARN: consumerArn, ShardId: shard, StartingPosition: { Type: 'LATEST' } },
    ],
    [
      'SubscribeToShard',
      {
        ConsumerARN: consumerArn,
        ShardId: shard,
        StartingPosition: { Type: 'AT_SEQUENCE_NUMBER', SequenceNumber: sequenceNumber },
      },
    ],
    ['AddTagsToStream', { ...stream, Tags: { k: 'v' } }],
    ['ListTagsForStream', stream],
    ['TagResource', { ResourceARN: arn, Tags: { k: 'v' } }],
    ['PutResourcePolicy', { ResourceARN: arn, Policy: '{"Version":"2012-10-17","Statement":[]}' }],
    ['IncreaseStreamRetentionPeriod', { ...stream, RetentionPeriodHours: 48 }],
    ['StartStreamEncryption', { ...stream, EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' }],
    ['EnableEnhancedMonitoring', { ...stream, ShardLevelMetrics: ['IncomingBytes'] }],
    ['SplitShard', { ...stream, ShardToSplit: shard, NewStartingHashKey: `${2n ** 126n}` }],
    ['UpdateShardCount', { ...stream, TargetShardCount: 2, ScalingType: 'UNIFORM_SCALING' }],
    ['DescribeLimits', {}],
    ['DescribeAccountSettings', {}],
  ];
  for (const operation of Object.keys(SUPPORTED_OPERATIONS)) {
    const structure: MemberModel = { type: 'structure', members: membersOf(operation) };
    seeds.push([operation, typedValue(structure, random, fixtures, operation) as WireMap]);
  }
  return seeds.map(([operation, input]) => ({ operation, input }));
}

// ---- mutations ------------------------------------------------------------------------------

/** The maps of a value (itself included), where members can be changed. */
function maps(value: Wire, out: WireMap[] = []): WireMap[] {
  if (Array.isArray(value)) {
    for (const item of value) maps(item, out);
  } else if (isMap(value)) {
    out.push(value);
    for (const item of Object.values(value)) maps(item, out);
  }
  return out;
}

/** A deep copy, so that mutating a case never changes the corpus. */
function copy(value: Wire): Wire {
  if (Array.isArray(value)) return value.map(copy);
  if (isMap(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, copy(item)]));
  }
  return value;
}

/** Applies one structural mutation to a map of the input; returns its name, for the report. */
function mutateInput(input: WireMap, operation: string, random: Random, fixtures: Fixtures) {
  const target = pick(random, maps(input));
  const members = Object.keys(target);
  const member = members.length > 0 ? pick(random, members) : pick(random, MEMBER_NAMES);
  switch (int(random, 11)) {
    case 0:
      target[member] = anyValue(random, fixtures);
      return `type confusion of ${member}`;
    case 1:
      delete target[member];
      return `${member} removed`;
    case 2: {
      const name = chance(random, 0.5) ? pick(random, MEMBER_NAMES) : `Unknown${int(random, 9)}`;
      target[name] = anyValue(random, fixtures);
      return `${name} added`;
    }
    case 3: {
      // Own members only: a map key such as `toString` names no member.
      const members = membersOf(operation);
      const model = Object.hasOwn(members, member) ? members[member]! : { type: 'string' as const };
      target[member] = typedValue(model, random, fixtures, member);
      return `edge value of ${member}`;
    }
    case 4:
      target[member] = new Raw(pick(random, RAW_JSON_NUMBERS), pick(random, RAW_CBOR_ITEMS));
      return `odd number or CBOR item in ${member}`;
    case 5: {
      // In CBOR, the text where a byte string belongs.
      const text = pick(random, BAD_BASE64);
      target[member] = new Raw(JSON.stringify(text), cborText(Buffer.from(text)));
      return `bad base64 in ${member}`;
    }
    case 6:
      target[member] = deepNesting(random);
      return `deep nesting in ${member}`;
    case 7: {
      // In JSON, half the time an escaped lone surrogate, which is valid JSON.
      const bad = Buffer.concat([Buffer.from('a'), pick(random, BAD_UTF8)]);
      const json = Buffer.concat([Buffer.from('"'), bad, Buffer.from('"')]);
      target[member] = new Raw(chance(random, 0.5) ? json : '"\\ud800x"', cborText(bad));
      return `invalid UTF-8 in ${member}`;
    }
    case 8:
      target[DUPLICATE] = new Entries([[member, anyValue(random, fixtures)]]);
      return `duplicate key ${member}`;
    case 9:
      target[member] = pick(random, fixtures.strings);
      return `string swap in ${member}`;
    default: {
      const text = pick(random, ['a', 'é', '😀', '\\']);
      target[member] = long(pick(random, [300, 5000, 200_000]), text);
      return `long string in ${member}`;
    }
  }
}

/** Sets one member of the input to an edge value of its own type, or removes it. */
function mutateTyped(input: WireMap, operation: string, random: Random, fixtures: Fixtures) {
  const members = Object.entries(membersOf(operation));
  if (members.length === 0) return 'no members';
  const [member, model] = pick(random, members);
  if (chance(random, 0.2)) {
    delete input[member];
    return `${member} removed`;
  }
  input[member] = typedValue(model, random, fixtures, member);
  return `edge value of ${member}`;
}

/** Byte-level damage to an encoded body. */
function mutateBody(body: Buffer, random: Random): { body: Buffer; note: string } {
  switch (int(random, 6)) {
    case 0:
      return { body: body.subarray(0, int(random, body.length)), note: 'truncated' };
    case 1: {
      const out = Buffer.from(body);
      for (let flips = 1 + int(random, 4); flips > 0 && out.length > 0; flips--) {
        out[int(random, out.length)] = int(random, 256);
      }
      return { body: out, note: 'bytes flipped' };
    }
    case 2:
      return { body: bytes(random, int(random, 512)), note: 'random bytes' };
    case 3:
      return { body: Buffer.alloc(0), note: 'empty' };
    case 4: {
      const garbage = bytes(random, 1 + int(random, 16));
      return { body: Buffer.concat([body, garbage]), note: 'trailing garbage' };
    }
    default: {
      const at = int(random, body.length + 1);
      const inserted = bytes(random, 1 + int(random, 8));
      const out = Buffer.concat([body.subarray(0, at), inserted, body.subarray(at)]);
      return { body: out, note: 'bytes inserted' };
    }
  }
}

// ---- a whole request ------------------------------------------------------------------------

export type Transport = 'h1' | 'h2' | 'uws';

/**
 * How the body is sent: with its own length, a Content-Length that is too small, too large or
 * over the body limit, chunked, followed on the same connection by a valid request, or given up
 * by the client halfway through the body or right after it.
 */
export type Framing =
  | 'exact'
  | 'short'
  | 'long'
  | 'over-limit'
  | 'chunked'
  | 'pipelined'
  | 'abort-mid-body'
  | 'abort-after-body';

export interface FuzzRequest {
  transport: Transport;
  method: string;
  /** Header values as sent; undefined leaves the header out. */
  contentType: string | undefined;
  target: string | undefined;
  body: Buffer;
  framing: Framing;
  /** The Content-Length sent when the framing lies about it; else the body's length. */
  declaredLength: number;
  /** The operation and what was done to it, for the report. */
  notes: string[];
}

const CONTENT_TYPES = [
  undefined,
  'text/plain',
  'application/json',
  'application/x-amz-json-1.0',
  'APPLICATION/X-AMZ-JSON-1.1; charset=utf-8',
  'application/cbor',
  `${CBOR_TYPE};q=1`,
  '',
  `${JSON_TYPE}\u0000`,
];

function targets(operation: string, random: Random): (string | undefined)[] {
  return [
    undefined,
    '',
    TARGET_PREFIX,
    `${TARGET_PREFIX}${pick(random, Object.keys(SUPPORTED_OPERATIONS))}`,
    `${TARGET_PREFIX}NoSuchOperation`,
    `${TARGET_PREFIX}constructor`,
    `${TARGET_PREFIX}CreateChannel`,
    'DynamoDB_20120810.ListTables',
    `${TARGET_PREFIX}${operation.toLowerCase()}`,
    // Long, over node:http's 16 KiB of headers, and over nghttp2's 64 KiB.
    `${TARGET_PREFIX}${long(pick(random, [5000, 20_000, 70_000]))}`,
    `kinesis_20131202.${operation}`,
  ];
}

/** Case `index` of the run seeded `seed`. */
export function buildRequest(
  seed: number,
  index: number,
  seeds: Seed[],
  fixtures: Fixtures,
): FuzzRequest {
  const random = caseRandom(seed, index);
  const { operation, input: corpusInput } = pick(random, seeds);
  const input = copy(corpusInput) as WireMap;
  const notes = [`case ${index}`, operation];
  // A third of the cases keep every member of its wire type, so that they reach the operations.
  const typedOnly = chance(random, 0.35);
  const mutate = typedOnly ? mutateTyped : mutateInput;
  for (let i = chance(random, 0.1) ? 0 : 1 + int(random, 3); i > 0; i--) {
    notes.push(mutate(input, operation, random, fixtures));
  }
  for (const map of maps(input)) {
    for (const member of SHARD_COUNT_MEMBERS) {
      const count = map[member];
      if (typeof count === 'number' && count > 0 && !SAFE_SHARD_COUNTS.includes(count)) {
        map[member] = SAFE_SHARD_COUNT;
      }
    }
  }
  const format = chance(random, 0.6) ? 'json' : 'cbor';
  notes.push(format);
  let body = encode(input, format, random);
  if (chance(random, typedOnly ? 0.02 : 0.2)) {
    const mutated = mutateBody(body, random);
    body = mutated.body;
    notes.push(mutated.note);
  }
  let contentType: string | undefined = format === 'json' ? JSON_TYPE : CBOR_TYPE;
  if (chance(random, 0.1)) {
    const otherFormat = format === 'json' ? CBOR_TYPE : JSON_TYPE;
    contentType = chance(random, 0.3) ? otherFormat : pick(random, CONTENT_TYPES);
    notes.push(`content type ${JSON.stringify(contentType)}`);
  }
  let target: string | undefined = TARGET_PREFIX + operation;
  if (chance(random, 0.1)) {
    target = pick(random, targets(operation, random));
    notes.push(`target ${JSON.stringify(target?.slice(0, 64))}`);
  }
  let method = 'POST';
  if (chance(random, 0.03)) {
    method = pick(random, ['GET', 'PUT', 'DELETE', 'PATCH']);
    notes.push(`method ${method}`);
  }
  let transport = pick(random, ['h1', 'h2', 'uws'] as const);
  // uWS closes a connection whose header holds a control character only when its 10 s idle
  // timeout ends (documented in uws-app.ts): not worth the run's time.
  if (transport === 'uws' && (hasControlCharacter(contentType) || hasControlCharacter(target))) {
    transport = 'h1';
  }
  let framing: Framing = 'exact';
  if (chance(random, 0.08)) {
    framing = pick(random, [
      'short',
      'long',
      'over-limit',
      'chunked',
      'pipelined',
      'abort-mid-body',
      'abort-after-body',
    ] as const);
    if (transport === 'h2' && (framing === 'chunked' || framing === 'pipelined')) framing = 'exact';
    if ((framing === 'short' || framing === 'long') && body.length === 0) framing = 'exact';
    notes.push(`framing ${framing}`);
  }
  const declaredLength =
    framing === 'short'
      ? int(random, body.length)
      : framing === 'long'
        ? body.length + 1 + int(random, 100)
        : framing === 'over-limit'
          ? HTTP_REQUEST_BODY_BYTES_MAX + 1 + int(random, 2e9)
          : body.length;
  notes.push(transport);
  return { transport, method, contentType, target, body, framing, declaredLength, notes };
}
