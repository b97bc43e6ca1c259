/**
 * The Kinesis JSON 1.1 codec (`application/x-amz-json-1.1`, also accepted as `application/json`),
 * and the input type table both wire formats share.
 *
 * Requests: the body is parsed with `JSON.parse`, then walked against the operation's input model
 * (below). The walk keeps only modelled members (unknown members are ignored, as the service
 * does), treats `null` as absent, turns blobs (standard base64) into `Buffer`s and timestamps
 * (epoch seconds, fraction allowed) into `Date`s. A value of the wrong JSON type is a
 * `SerializationException` worded the way Kinesis's Coral/Jackson front end words it (reference
 * §1.4, kinesalite `validations/index.js`). Value constraints (lengths, ranges, patterns,
 * required members) are the engine's job: it answers `ValidationException` in Coral format.
 *
 * Responses: `Uint8Array` → base64 string, `Date` → epoch seconds with the milliseconds as a
 * fraction, `undefined`/`null` members dropped, and `StreamId` never emitted (reference §1.7:
 * a well-formed StreamId echoed back makes the SDK route around a custom endpoint).
 *
 * Hot path: PutRecords bodies carry up to 500 records; per record the walk does one small object
 * allocation and one `Buffer.from(b64, 'base64')`, with no closures and no awaits.
 */

import { isAscii } from 'node:buffer';

import { KinesisError, putRecordsEntryError } from '../errors.js';
import { MAX_SEQUENCE_DIGITS } from '../kinesis/sequence-number.js';
import { OPERATION_MODELS, type MemberModel, type OperationName } from '../kinesis/validation.js';

// ---- the input type table -------------------------------------------------------------------

export type ScalarType = 'string' | 'integer' | 'long' | 'boolean' | 'blob' | 'timestamp';

export interface ListType {
  readonly kind: 'list';
  readonly member: MemberType;
}

export interface MapType {
  readonly kind: 'map';
  readonly value: MemberType;
}

export interface StructureMember {
  readonly name: string;
  readonly type: MemberType;
  /** Accepted and type-checked, but not passed on (see DROPPED_MEMBERS). */
  readonly dropped: boolean;
}

export interface StructureType {
  readonly kind: 'structure';
  /** Members in model order, as an array: the walk below runs once per record. */
  readonly members: readonly StructureMember[];
}

export type MemberType = ScalarType | ListType | MapType | StructureType;

/** Members accepted on input and removed before the engine sees them: `StreamId` is reserved by
 * AWS (reference §1.7), type-checked and otherwise ignored. */
const DROPPED_MEMBERS: ReadonlySet<string> = new Set(['StreamId']);

/** Reduces a validation model member to the part decoding needs: its wire type. */
function typeOf(model: MemberModel): MemberType {
  switch (model.type) {
    case 'list':
      return { kind: 'list', member: typeOf(model.member!) };
    case 'map':
      return { kind: 'map', value: typeOf(model.value!) };
    case 'structure':
      return structureOf(model.members!);
    default:
      return model.type;
  }
}

function structureOf(members: Readonly<Record<string, MemberModel>>): StructureType {
  return {
    kind: 'structure',
    members: Object.entries(members).map(([name, member]) => ({
      name,
      type: typeOf(member),
      dropped: DROPPED_MEMBERS.has(name),
    })),
  };
}

/**
 * Input members of every modelled operation, derived once from the API model the engine
 * validates against (src/kinesis/validation.ts, which follows `@aws-sdk/client-kinesis` 3.1143),
 * so that decoding and validation can never disagree on a member's type, and an operation the
 * engine comes to serve needs no list here.
 */
export const INPUT_MODELS: Readonly<Record<string, StructureType>> = Object.fromEntries(
  (Object.keys(OPERATION_MODELS) as OperationName[]).map((operation) => [
    operation,
    structureOf(OPERATION_MODELS[operation].members),
  ]),
);

// ---- decoding: shared walk, format-specific blob and timestamp readers -----------------------

/** How one wire format spells the two types JSON and CBOR disagree on. */
export interface WireScalars {
  /** Returns the blob's bytes, or throws a SerializationException. */
  readBlob(value: unknown): Buffer;
  /** Returns the timestamp, or throws a SerializationException. */
  readTimestamp(value: unknown): Date;
  /** Adds up the blob bytes read, for the metrics. */
  blobBytes: number;
}

export function serializationError(message: string): KinesisError {
  return new KinesisError('SerializationException', message);
}

/** The Jackson words for a JSON value found where a scalar of `javaType` was expected. */
function notConvertible(value: unknown, javaType: string): KinesisError {
  if (Array.isArray(value)) return serializationError('Start of list found where not expected');
  if (value instanceof Uint8Array) {
    return serializationError(`class [B can not be converted to an ${javaType}`);
  }
  if (typeof value === 'object') {
    return serializationError('Start of structure or map found where not expected.');
  }
  const article = javaType === 'Blob' ? 'a' : 'an';
  if (typeof value === 'boolean') {
    return serializationError(
      `class java.lang.Boolean can not be converted to ${article} ${javaType}`,
    );
  }
  if (typeof value === 'number' || typeof value === 'bigint') {
    return serializationError(
      `class java.math.BigDecimal can not be converted to ${article} ${javaType}`,
    );
  }
  return serializationError(
    `class java.lang.String can not be converted to ${article} ${javaType}`,
  );
}

const INT_RANGE = [-(2 ** 31), 2 ** 31 - 1, 'int'] as const;
/** Java long bounds, as far as a double can tell them apart. */
const LONG_RANGE = [-(2 ** 63), 2 ** 63, 'long'] as const;

const BOOLEAN_STRINGS: Readonly<Record<string, boolean>> = {
  TRUE: true,
  FALSE: false,
  YES: true,
  NO: false,
  '1': true,
  '0': false,
};

function readScalar(value: unknown, type: ScalarType, wire: WireScalars): unknown {
  switch (type) {
    case 'string':
      if (typeof value === 'string') return value;
      throw notConvertible(value, 'String');
    case 'integer':
    case 'long': {
      const number = typeof value === 'bigint' ? Number(value) : value;
      if (typeof number !== 'number') {
        throw notConvertible(value, type === 'integer' ? 'Integer' : 'Long');
      }
      // Jackson truncates a fraction and refuses what its Java type cannot hold.
      const whole = Number.isInteger(number) ? number : Math.floor(number);
      const [min, max, java] = type === 'integer' ? INT_RANGE : LONG_RANGE;
      if (!(whole >= min && whole <= max)) {
        throw serializationError(`Numeric value (${String(value)}) out of range of ${java}`);
      }
      return whole;
    }
    case 'boolean': {
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string') {
        const upper = value.toUpperCase();
        const parsed = BOOLEAN_STRINGS[upper];
        if (parsed !== undefined) return parsed;
        throw serializationError(`'${upper}' can not be converted to an Boolean`);
      }
      throw notConvertible(value, 'Boolean');
    }
    case 'blob':
      return wire.readBlob(value);
    case 'timestamp':
      return wire.readTimestamp(value);
  }
}

function readList(value: unknown, type: ListType, wire: WireScalars): unknown[] {
  if (!Array.isArray(value)) {
    if (typeof value === 'object' && !(value instanceof Uint8Array)) {
      throw serializationError('Start of structure or map found where not expected.');
    }
    throw serializationError('Expected list or null');
  }
  const member = type.member;
  const out = new Array<unknown>(value.length);
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    // A null list member reaches the engine as null (it answers "Member must not be null"),
    // except in lists of structures, where it becomes an empty structure for the same reason.
    if (item === null || item === undefined) {
      out[i] = typeof member === 'object' && member.kind === 'structure' ? {} : null;
    } else {
      out[i] = readValue(item, member, wire);
    }
  }
  return out;
}

function readMap(value: unknown, type: MapType, wire: WireScalars): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) {
    throw serializationError('Expected map or null');
  }
  if (Array.isArray(value)) throw serializationError('Start of list found where not expected');
  const out: Record<string, unknown> = {};
  const source = value as Record<string, unknown>;
  for (const key of Object.keys(source)) {
    const item = source[key];
    if (item === null || item === undefined) continue;
    out[key] = readValue(item, type.value, wire);
  }
  return out;
}

export function readStructure(
  value: unknown,
  type: StructureType,
  wire: WireScalars,
): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) {
    throw serializationError('Expected null');
  }
  if (Array.isArray(value)) throw serializationError('Start of list found where not expected');
  // Member names are fixed model names (StreamName, Data, ...), none of which Object.prototype
  // has, so a plain property read is as safe here as Object.hasOwn and cheaper.
  const source = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const members = type.members;
  for (let i = 0; i < members.length; i++) {
    const member = members[i]!;
    const item = source[member.name];
    if (item === null || item === undefined) continue;
    const decoded = readValue(item, member.type, wire);
    if (!member.dropped) out[member.name] = decoded;
  }
  return out;
}

function readValue(value: unknown, type: MemberType, wire: WireScalars): unknown {
  if (typeof type === 'string') return readScalar(value, type, wire);
  switch (type.kind) {
    case 'structure':
      return readStructure(value, type, wire);
    case 'list':
      return readList(value, type, wire);
    case 'map':
      return readMap(value, type, wire);
  }
}

// ---- JSON scalars --------------------------------------------------------------------------

/** Base64 alphabet value of a character code, or -1. Used only for the last non-pad character. */
function base64Value(code: number): number {
  if (code >= 65 && code <= 90) return code - 65;
  if (code >= 97 && code <= 122) return code - 71;
  if (code >= 48 && code <= 57) return code + 4;
  if (code === 43) return 62;
  if (code === 47) return 63;
  return -1;
}

function blobError(text: string, reason: string): KinesisError {
  const shown = text.length > 64 ? `${text.slice(0, 64)}...` : text;
  return serializationError(`'${shown}' can not be converted to a Blob: ${reason}`);
}

/**
 * Decodes standard padded base64 the way Kinesis accepts it. Node's decoder skips characters
 * outside the alphabet, so instead of scanning every character up front, the decoded length is
 * compared with the length the text implies: any skipped character makes it come out short.
 * The precise complaint is only worked out on that (rare) failure path.
 */
export function decodeBase64Blob(text: string): Buffer {
  const length = text.length;
  if (length % 4 !== 0) {
    throw blobError(
      text,
      `Base64 encoded length is expected a multiple of 4 bytes but found: ${length}`,
    );
  }
  if (length === 0) return Buffer.alloc(0);
  const padding = base64Padding(text);
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== (length / 4) * 3 - padding || hasUrlSafeCharacter(text)) {
    const match = /[^a-zA-Z0-9+/=]|=[^=]/.exec(text);
    const bad = match ? match[0][0] : '=';
    throw blobError(text, `Invalid Base64 character: '${bad}'`);
  }
  if (!hasCanonicalTail(text, padding)) {
    throw blobError(text, 'Invalid last non-pad Base64 character dectected');
  }
  return bytes;
}

/** Trailing '=' characters of base64 text whose length is a non-zero multiple of 4. */
export function base64Padding(text: string): number {
  const length = text.length;
  if (text.charCodeAt(length - 1) !== 61) return 0;
  return text.charCodeAt(length - 2) === 61 ? 2 : 1;
}

/** With padding, the bits after the last full byte must be zero, else the text is not canonical. */
export function hasCanonicalTail(text: string, padding: number): boolean {
  if (padding === 0) return true;
  const last = base64Value(text.charCodeAt(text.length - 1 - padding));
  return (last & (padding === 1 ? 0x3 : 0xf)) === 0;
}

/** Node also decodes the URL-safe alphabet (`-`, `_`), which Kinesis rejects. Checking for them
 * costs two `indexOf` scans, done natively. */
export function hasUrlSafeCharacter(text: string): boolean {
  return text.indexOf('-') !== -1 || text.indexOf('_') !== -1;
}

/**
 * The Date `millis` after the epoch. One a Date cannot hold (beyond ±8.64e15 ms) is refused here,
 * as Jackson refuses a number its Java type cannot hold: let through, it would reach validation
 * as an Invalid Date. `shown` is the value as the request wrote it.
 */
export function timestampOf(millis: number, shown: unknown): Date {
  const date = new Date(Math.round(millis));
  if (Number.isNaN(date.getTime())) {
    throw serializationError(`Numeric value (${String(shown)}) out of range of Timestamp`);
  }
  return date;
}

export const JSON_SCALARS: Omit<WireScalars, 'blobBytes'> = {
  readBlob(value: unknown): Buffer {
    if (typeof value !== 'string') throw notConvertible(value, 'Blob');
    return decodeBase64Blob(value);
  },
  readTimestamp(value: unknown): Date {
    if (typeof value === 'number' && Number.isFinite(value)) {
      return timestampOf(value * 1000, value);
    }
    if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) {
      return timestampOf(Number(value) * 1000, value);
    }
    if (typeof value === 'string') {
      throw serializationError(`'${value}' can not be converted to a Timestamp`);
    }
    throw notConvertible(value, 'Timestamp');
  },
};

/** Reader state for one request: counts blob bytes so the caller can report bytes in. */
class JsonScalars implements WireScalars {
  blobBytes = 0;
  readBlob(value: unknown): Buffer {
    const bytes = JSON_SCALARS.readBlob(value);
    this.blobBytes += bytes.length;
    return bytes;
  }
  readTimestamp(value: unknown): Date {
    return JSON_SCALARS.readTimestamp(value);
  }
}

export interface DecodedInput {
  input: Record<string, unknown>;
  blobBytes: number;
}

/**
 * The body as text. JSON from SDKs is ASCII (base64 data, names, numbers), which decodes as
 * Latin-1 with a plain copy; the ASCII check is one native SIMD pass, cheaper than UTF-8 decoding.
 */
export function bodyText(body: Buffer): string {
  return body.toString(isAscii(body) ? 'latin1' : 'utf8');
}

/** Parses a JSON request body into the operation's input shape. */
export function decodeJsonInput(body: Buffer, model: StructureType): DecodedInput {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bodyText(body));
  } catch (error) {
    throw serializationError(`Malformed JSON request body: ${(error as Error).message}`);
  }
  return readJsonInput(parsed, model);
}

/** The operation's input shape from an already parsed JSON body. */
export function readJsonInput(parsed: unknown, model: StructureType): DecodedInput {
  if (typeof parsed !== 'object' || parsed === null) {
    throw serializationError('Request body must be a JSON object');
  }
  if (model === INPUT_MODELS.PutRecords) {
    const fast = readPutRecordsFast(parsed as Record<string, unknown>);
    if (fast !== undefined) return fast;
  }
  const wire = new JsonScalars();
  const input = readStructure(parsed, model, wire);
  return { input, blobBytes: wire.blobBytes };
}

const optionalString = (value: unknown) => value === undefined || typeof value === 'string';

/**
 * PutRecords as objects, in one loop over the records with no per-member dispatch: for the
 * shapes put-records-prepare.ts leaves to the checked path (StreamARN, DryRun, ...). It handles
 * only well-typed input and returns undefined for anything else (nulls, wrong types), which the
 * generic walk then reports with the exact Kinesis error; its only own error is a bad base64
 * blob, the same one the generic walk would report first (Records is the model's first member).
 */
function readPutRecordsFast(parsed: Record<string, unknown>): DecodedInput | undefined {
  const records = parsed.Records;
  if (!Array.isArray(records)) return undefined;
  const { StreamName, StreamARN, StreamId, DryRun } = parsed;
  if (!optionalString(StreamName) || !optionalString(StreamARN) || !optionalString(StreamId)) {
    return undefined;
  }
  if (DryRun !== undefined && typeof DryRun !== 'boolean') return undefined;
  const count = records.length;
  for (let i = 0; i < count; i++) {
    const record = records[i] as Record<string, unknown> | null;
    if (typeof record !== 'object' || record === null || Array.isArray(record)) return undefined;
    if (typeof record.Data !== 'string') return undefined;
    // No key is for the engine to judge (valid on a stream whose strategy is AUTO).
    if (!optionalString(record.PartitionKey)) return undefined;
    if (!optionalString(record.ExplicitHashKey)) return undefined;
  }
  const entries = new Array<PutRecordsEntry>(count);
  let blobBytes = 0;
  for (let i = 0; i < count; i++) {
    const record = records[i] as { Data: string; PartitionKey?: string; ExplicitHashKey?: string };
    const data = decodeBase64Blob(record.Data);
    blobBytes += data.length;
    const { PartitionKey, ExplicitHashKey } = record;
    if (PartitionKey === undefined) {
      entries[i] = ExplicitHashKey === undefined ? { Data: data } : { Data: data, ExplicitHashKey };
    } else {
      entries[i] =
        ExplicitHashKey === undefined
          ? { Data: data, PartitionKey }
          : { Data: data, PartitionKey, ExplicitHashKey };
    }
  }
  const input: Record<string, unknown> = { Records: entries };
  if (StreamName !== undefined) input.StreamName = StreamName;
  if (StreamARN !== undefined) input.StreamARN = StreamARN;
  if (DryRun !== undefined) input.DryRun = DryRun;
  return { input, blobBytes };
}

interface PutRecordsEntry {
  Data: Buffer;
  PartitionKey?: string;
  ExplicitHashKey?: string;
}

// ---- encoding ------------------------------------------------------------------------------

/** Members never sent to clients (reference §1.7). */
const OMITTED_OUTPUT_MEMBERS: ReadonlySet<string> = new Set(['StreamId', '$metadata']);

/**
 * Turns an output shape into plain JSON values: blobs to base64, dates to epoch seconds.
 * Shapes are small except GetRecords, where the per-record cost is the base64 encode.
 */
export function toJsonValue(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  }
  if (value instanceof Date) return value.getTime() / 1000;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = toJsonValue(value[i]);
    return out;
  }
  const source = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(source)) {
    const item = source[key];
    if (item === undefined || item === null || OMITTED_OUTPUT_MEMBERS.has(key)) continue;
    out[key] = toJsonValue(item);
  }
  return out;
}

/** Serializes an output shape. `plain` outputs (only strings and numbers, no StreamId) skip the
 * conversion walk: that is PutRecord(s) and GetShardIterator, the hot write path. */
export function encodeJsonOutput(output: unknown, plain: boolean): string {
  return JSON.stringify(plain ? (output ?? {}) : (toJsonValue(output ?? {}) ?? {}));
}

/** Matches what may be written into JSON unescaped: a shard id as the engine names them. */
const PLAIN_TOKEN = /^[A-Za-z0-9_.-]*$/;

/** What `encodePutRecordsResultJson` reads from a batch result (engine's PutRecordBatchResult). */
export interface StoredRecords {
  readonly recordCount: number;
  readonly FailedRecordCount: number;
  shardIdOf(i: number): string;
  writeSequenceNumber(i: number, target: Uint8Array, offset: number): number;
  errorOf(i: number): KinesisError | undefined;
  /** The stream's record encryption when the put was made; NONE when absent. */
  readonly EncryptionType?: 'NONE' | 'KMS';
}

const RESULT_HEAD = Buffer.from('{"FailedRecordCount":', 'latin1');
const RECORDS_OPEN = Buffer.from(',"Records":[', 'latin1');
const ENTRY_OPEN = Buffer.from('{"SequenceNumber":"', 'latin1');
const RESULT_TAILS = {
  NONE: Buffer.from('],"EncryptionType":"NONE"}', 'latin1'),
  KMS: Buffer.from('],"EncryptionType":"KMS"}', 'latin1'),
} as const;
/** Room for one stored entry besides its shard id: open, the digits, `","ShardId":"`, `"},`. */
const ENTRY_BYTES_MAX = ENTRY_OPEN.length + MAX_SEQUENCE_DIGITS + 16;

/**
 * PutRecords output written as bytes straight from where the records landed, with no object
 * or string per record: the same JSON that JSON.stringify writes for the equivalent output
 * (sequence numbers are digits and engine shard ids need no escaping; a shard id that would is
 * written through JSON.stringify). Failed records are written as `putRecordsEntryError` words them.
 */
export function encodePutRecordsResultJson(result: StoredRecords): Buffer {
  const count = result.recordCount;
  const tails = new Map<string, Buffer>();
  const tailOf = (shardId: string): Buffer => {
    let tail = tails.get(shardId);
    if (tail === undefined) {
      const quoted = PLAIN_TOKEN.test(shardId) ? `"${shardId}"` : JSON.stringify(shardId);
      tail = Buffer.from(`","ShardId":${quoted}}`, 'utf8');
      tails.set(shardId, tail);
    }
    return tail;
  };
  let failures: Map<number, Buffer> | undefined;
  const resultTail = RESULT_TAILS[result.EncryptionType ?? 'NONE'];
  let bound = RESULT_HEAD.length + 16 + RECORDS_OPEN.length + resultTail.length;
  for (let i = 0; i < count; i++) {
    const error = result.errorOf(i);
    if (error === undefined) {
      bound += ENTRY_BYTES_MAX + tailOf(result.shardIdOf(i)).length;
    } else {
      failures ??= new Map();
      const entry = Buffer.from(JSON.stringify(putRecordsEntryError(error)), 'utf8');
      failures.set(i, entry);
      bound += entry.length + 1;
    }
  }
  const out = Buffer.allocUnsafe(bound);
  let at = RESULT_HEAD.copy(out, 0);
  at += out.write(String(result.FailedRecordCount), at, 'latin1');
  at += RECORDS_OPEN.copy(out, at);
  for (let i = 0; i < count; i++) {
    if (i > 0) out[at++] = 0x2c; // ','
    const failure = failures?.get(i);
    if (failure !== undefined) {
      at += failure.copy(out, at);
      continue;
    }
    at += ENTRY_OPEN.copy(out, at);
    at = result.writeSequenceNumber(i, out, at);
    at += tailOf(result.shardIdOf(i)).copy(out, at);
  }
  at += resultTail.copy(out, at);
  return out.subarray(0, at);
}

export function encodeJsonError(type: string, message: string): string {
  return JSON.stringify({ __type: type, message });
}
