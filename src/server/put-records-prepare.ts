/**
 * A JSON PutRecords body turned into what the engine appends: JSON parsing, base64 decoding,
 * validation, MD5 of every partition key and batch encoding. The common shape is read straight
 * from the body's bytes, with no string of the body and no object per record (a 1 KiB-record
 * body is ~700 KB: as a string it lands in V8's large-object space, and its records in young
 * objects, which kept the GC threads busier than the codec threads); any other body is parsed
 * as JSON and read by the ordinary reader. The server's codec threads (workers/codec-worker.ts)
 * run it for large bodies, in parallel with the event loop; the event loop runs it for small
 * ones.
 *
 * It prepares only requests that will succeed as far as the request alone can tell: the body
 * parses, the input validates, no explicit hash key is out of range, the records fit in one
 * PutRecords and DryRun is not set. A record without a PartitionKey is valid only on a stream
 * whose record distribution strategy is AUTO, which the request does not tell: it is prepared
 * with a key of length 0 and counted (`keylessRecords`), and the engine refuses the request as
 * validation would if its stream requires keys. For anything else it returns undefined and the
 * server takes the ordinary path, which then reports the exact Kinesis error in its usual order;
 * no error is ever worded twice. What depends on the stream (that it exists and is writable,
 * its record size limit, its shard map and strategy) is left to the engine on the main thread
 * (`Engine.putPreparedRecords`), which routes with its current shard map at append time.
 */
import { isAscii } from 'node:buffer';
import type { PreparedRecords } from '../engine/engine.js';
import { HASH_WORDS, bigIntToWords, md5Words, parseExplicitHashKey } from '../kinesis/hash-key.js';
import { KeyHasher } from '../kinesis/md5-lanes.js';
import { validateInput } from '../kinesis/validation.js';
import {
  DATA_BYTES_MAX,
  PARTITION_KEY_CHARS_MAX,
  PARTITION_KEY_CHARS_MIN,
  PUT_RECORDS_BYTES_MAX,
  PUT_RECORDS_ENTRIES_MAX,
  PUT_RECORDS_ENTRIES_MIN,
  STREAM_NAME_CHARS_MAX,
} from '../limits.js';
import {
  BATCH_HEADER_BYTES,
  encodeRecordBatches,
  newRecordCursor,
  nextRecord,
  varintBytes,
  writeNewBatchHeader,
  writeVarint,
  type RecordInput,
} from '../protocol/batch-writer.js';
import {
  base64Padding,
  bodyText,
  hasCanonicalTail,
  hasUrlSafeCharacter,
  INPUT_MODELS,
  readJsonInput,
} from './json-codec.js';

/** A PutRecords ready for `Engine.putPreparedRecords`; every array is its own ArrayBuffer. */
export interface PreparedPutRecords extends PreparedRecords {
  /** Data bytes of all records, for metrics. */
  blobBytes: number;
}

/** The buffers of a prepared request, for a transfer list. */
export function preparedBuffers(prepared: PreparedPutRecords): ArrayBuffer[] {
  return [
    prepared.batch.buffer,
    prepared.recordStart.buffer,
    prepared.hashWords.buffer,
  ] as ArrayBuffer[];
}

/** Prepares a JSON PutRecords body, or returns undefined when the ordinary path must answer. */
export function preparePutRecords(body: Buffer): PreparedPutRecords | undefined {
  try {
    const scanned = prepareScanned(body);
    if (scanned !== NOT_PLAIN) return scanned;
    return prepareChecked(JSON.parse(bodyText(body)));
  } catch {
    // Any error is reported by the ordinary path, with the wording and order it always has.
    return undefined;
  }
}

const NOT_PLAIN = Symbol('not plain');
/** This thread's MD5 lanes: the fast path hashes a request's keys four at a time. */
const keyHasher = new KeyHasher();

// JSON bytes the scanner knows.
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const EQUALS = 0x3d;

// Member names of the plain shape, as bytes.
const STREAM_NAME_MEMBER = Buffer.from('StreamName');
const RECORDS_MEMBER = Buffer.from('Records');
const DATA_MEMBER = Buffer.from('Data');
const PARTITION_KEY_MEMBER = Buffer.from('PartitionKey');
const EXPLICIT_HASH_KEY_MEMBER = Buffer.from('ExplicitHashKey');

/** Per record, in `spans`: key start and end, data start and end, explicit start and end. */
const SPAN = 6;
const spans = new Int32Array(PUT_RECORDS_ENTRIES_MAX * SPAN);

/**
 * Buffer's native codecs, which `toString` and `write` wrap after checking their arguments:
 * per record, at 100-byte records, the wrappers cost about a tenth of the whole preparation.
 * Callers pass offsets already inside the buffer.
 */
interface NativeBuffer extends Buffer {
  latin1Slice(start: number, end: number): string;
  base64Write(text: string, offset: number, length: number): number;
}

function latin1(body: Buffer, start: number, end: number): string {
  return (body as NativeBuffer).latin1Slice(start, end);
}

function isJsonSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

function skipSpace(body: Buffer, at: number): number {
  while (at < body.length && isJsonSpace(body[at]!)) at++;
  return at;
}

/** The closing quote of the string opening at `at` (the body has no backslash), or -1. */
function stringEnd(body: Buffer, at: number): number {
  return body[at] === QUOTE ? body.indexOf(QUOTE, at + 1) : -1;
}

/** Where the name of the member memberValue last read lies in the body: [start, end). */
const memberName = new Int32Array(2);

/**
 * Reads `"name" :` at `at` (the name's place goes to memberName) and returns where the member's
 * value starts, or -1 when that is not what is there.
 */
function memberValue(body: Buffer, at: number): number {
  const nameEnd = stringEnd(body, at);
  if (nameEnd < 0) return -1;
  const colon = skipSpace(body, nameEnd + 1);
  if (body[colon] !== COLON) return -1;
  memberName[0] = at + 1;
  memberName[1] = nameEnd;
  return skipSpace(body, colon + 1);
}

/** Whether the member memberValue last read is named `name`. */
function isMember(body: Buffer, name: Buffer): boolean {
  const start = memberName[0]!;
  if (memberName[1]! - start !== name.length) return false;
  for (let i = 0; i < name.length; i++) if (body[start + i] !== name[i]) return false;
  return true;
}

/** [a-zA-Z0-9_.-]+, as STREAM_NAME_CHARS_MAX allows. */
function isPlainStreamName(body: Buffer, start: number, end: number): boolean {
  if (end <= start || end - start > STREAM_NAME_CHARS_MAX) return false;
  for (let i = start; i < end; i++) {
    const c = body[i]!;
    const ok =
      (c >= 0x61 && c <= 0x7a) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x30 && c <= 0x39) ||
      c === 0x5f ||
      c === 0x2e ||
      c === 0x2d;
    if (!ok) return false;
  }
  return true;
}

/** 1 to PARTITION_KEY_CHARS_MAX printable ASCII characters. */
function isPlainKeyBytes(body: Buffer, start: number, end: number): boolean {
  const length = end - start;
  if (length < PARTITION_KEY_CHARS_MIN || length > PARTITION_KEY_CHARS_MAX) return false;
  for (let i = start; i < end; i++) if (body[i]! < 0x20) return false;
  return true;
}

/** Data bytes a base64 text of `start..end` decodes to (its length is a multiple of 4). */
function base64Bytes(body: Buffer, start: number, end: number): number {
  if (end === start) return 0;
  const padding = body[end - 1] !== EQUALS ? 0 : body[end - 2] === EQUALS ? 2 : 1;
  return ((end - start) / 4) * 3 - padding;
}

/**
 * The common request, read straight from the body's bytes in two passes with no string of the
 * body and no object per record: a StreamName and Records of string Data and PartitionKey (and
 * optionally ExplicitHashKey), nothing else, in any member order, no escapes, ASCII only.
 * Base64 is decoded natively straight into the batch. Every check is the model's or stricter:
 * anything outside that shape (another member, a duplicate, an escape, a number, a long or
 * non-ASCII key, malformed JSON, ...) is NOT_PLAIN, and the body takes the checked path, which
 * parses it as JSON. Undefined means the request would fail.
 */
function prepareScanned(body: Buffer): PreparedPutRecords | undefined | typeof NOT_PLAIN {
  if (!isAscii(body) || body.indexOf(BACKSLASH) !== -1) return NOT_PLAIN;
  // Pass 1: the structure, every NOT_PLAIN check, and each record's spans.
  let streamStart = -1;
  let streamEnd = -1;
  let count = -1;
  let at = skipSpace(body, 0);
  if (body[at] !== OPEN_OBJECT) return NOT_PLAIN;
  at = skipSpace(body, at + 1);
  for (;;) {
    at = memberValue(body, at);
    if (at < 0) return NOT_PLAIN;
    if (isMember(body, STREAM_NAME_MEMBER)) {
      const end = stringEnd(body, at);
      if (streamStart >= 0 || end < 0 || !isPlainStreamName(body, at + 1, end)) return NOT_PLAIN;
      streamStart = at + 1;
      streamEnd = end;
      at = end + 1;
    } else if (isMember(body, RECORDS_MEMBER)) {
      if (count >= 0) return NOT_PLAIN;
      const scanned = scanRecords(body, at);
      if (scanned === undefined) return NOT_PLAIN;
      count = scanned.count;
      at = scanned.end;
    } else {
      return NOT_PLAIN;
    }
    at = skipSpace(body, at);
    if (body[at] === COMMA) {
      at = skipSpace(body, at + 1);
      continue;
    }
    if (body[at] !== CLOSE_OBJECT || skipSpace(body, at + 1) !== body.length) return NOT_PLAIN;
    break;
  }
  if (streamStart < 0 || count < PUT_RECORDS_ENTRIES_MIN) return NOT_PLAIN;
  const dataBytes = new Float64Array(count);
  let bodyBytes = 0;
  let keylessRecords = 0;
  for (let i = 0; i < count; i++) {
    const o = i * SPAN;
    const keyLength = spans[o + 1]! - spans[o]!;
    if (keyLength === 0) keylessRecords++;
    const dataLength = spans[o + 3]! - spans[o + 2]!;
    if (dataLength % 4 !== 0) return NOT_PLAIN;
    const bytes = base64Bytes(body, spans[o + 2]!, spans[o + 3]!);
    if (bytes > DATA_BYTES_MAX) return NOT_PLAIN;
    dataBytes[i] = bytes;
    let explicitBytes = 0;
    if (spans[o + 4]! >= 0) {
      explicitBytes = spans[o + 5]! - spans[o + 4]!;
      if (parseExplicitHashKey(latin1(body, spans[o + 4]!, spans[o + 5]!)) === undefined)
        return NOT_PLAIN;
    }
    bodyBytes +=
      varintBytes(keyLength) +
      keyLength +
      varintBytes(explicitBytes) +
      explicitBytes +
      varintBytes(bytes) +
      bytes;
  }
  // Pass 2: the batch, base64 decoded into it, and every key's hash. Keys are queued from a clean
  // start: a body that left pass 2 early (the ordinary path takes it) left its keys unhashed.
  keyHasher.discard();
  const batchLength = BATCH_HEADER_BYTES + bodyBytes;
  const batch = Buffer.from(new ArrayBuffer(batchLength));
  writeNewBatchHeader(batch, 0, batchLength, count);
  const recordStart = new Int32Array(count + 1);
  const hashWords = new Uint32Array(count * HASH_WORDS);
  at = BATCH_HEADER_BYTES;
  let maxRecordBytes = 0;
  let totalBytes = 0;
  for (let i = 0; i < count; i++) {
    const o = i * SPAN;
    recordStart[i] = at;
    const keyLength = spans[o + 1]! - spans[o]!;
    at = writeVarint(batch, at, keyLength);
    const keyStart = at;
    // Keys are short: a loop beats Buffer#copy's argument handling.
    for (let k = spans[o]!, end = spans[o + 1]!; k < end; k++) batch[at++] = body[k]!;
    if (spans[o + 4]! < 0) {
      batch[at++] = 0;
      if (keyLength > 0) keyHasher.add(batch, keyStart, keyLength, hashWords, i * HASH_WORDS);
    } else {
      const explicit = latin1(body, spans[o + 4]!, spans[o + 5]!);
      at = writeVarint(batch, at, explicit.length);
      for (let k = spans[o + 4]!, end = spans[o + 5]!; k < end; k++) batch[at++] = body[k]!;
      bigIntToWords(parseExplicitHashKey(explicit)!, hashWords, i * HASH_WORDS);
    }
    const bytes = dataBytes[i]!;
    at = writeVarint(batch, at, bytes);
    // Node skips characters outside the alphabet, so a short count means the text is not
    // valid base64; the URL-safe alphabet and a non-canonical tail are refused as Kinesis does.
    if (bytes > 0) {
      const data = latin1(body, spans[o + 2]!, spans[o + 3]!);
      if ((batch as NativeBuffer).base64Write(data, at, bytes) !== bytes) return undefined;
      if (hasUrlSafeCharacter(data) || !hasCanonicalTail(data, base64Padding(data)))
        return undefined;
    }
    at += bytes;
    const size = bytes + keyLength;
    if (size > maxRecordBytes) maxRecordBytes = size;
    totalBytes += size;
  }
  recordStart[count] = at;
  if (totalBytes > PUT_RECORDS_BYTES_MAX) return undefined;
  keyHasher.flush();
  let blobBytes = 0;
  for (let i = 0; i < count; i++) blobBytes += dataBytes[i]!;
  const StreamName = latin1(body, streamStart, streamEnd);
  return {
    StreamName,
    recordCount: count,
    batch,
    recordStart,
    hashWords,
    maxRecordBytes,
    blobBytes,
    keylessRecords,
  };
}

/**
 * Scans a Records array of plain record objects starting at `at`, filling `spans`: how many
 * records it holds and the offset after its closing bracket, or undefined when it is not plain.
 */
function scanRecords(body: Buffer, at: number): { count: number; end: number } | undefined {
  if (body[at] !== OPEN_ARRAY) return undefined;
  at = skipSpace(body, at + 1);
  let count = 0;
  if (body[at] === CLOSE_ARRAY) return undefined;
  for (;;) {
    if (count === PUT_RECORDS_ENTRIES_MAX || body[at] !== OPEN_OBJECT) return undefined;
    const o = count * SPAN;
    // The key's end too: a record without a key has the span [-1, -1), of length 0.
    spans[o] = spans[o + 1] = spans[o + 2] = spans[o + 4] = -1;
    at = skipSpace(body, at + 1);
    for (;;) {
      at = memberValue(body, at);
      if (at < 0) return undefined;
      const end = stringEnd(body, at);
      if (end < 0) return undefined;
      let slot: number;
      if (isMember(body, DATA_MEMBER)) slot = o + 2;
      else if (isMember(body, PARTITION_KEY_MEMBER)) slot = o;
      else if (isMember(body, EXPLICIT_HASH_KEY_MEMBER)) slot = o + 4;
      else return undefined;
      if (spans[slot]! >= 0) return undefined;
      spans[slot] = at + 1;
      spans[slot + 1] = end;
      at = skipSpace(body, end + 1);
      if (body[at] === COMMA) {
        at = skipSpace(body, at + 1);
        continue;
      }
      if (body[at] !== CLOSE_OBJECT) return undefined;
      break;
    }
    if (spans[o + 2]! < 0) return undefined;
    // Absent, the key's span stays [-1, -1): the engine decides whether the stream takes that.
    if (spans[o]! >= 0 && !isPlainKeyBytes(body, spans[o]!, spans[o + 1]!)) return undefined;
    count++;
    at = skipSpace(body, at + 1);
    if (body[at] === COMMA) {
      at = skipSpace(body, at + 1);
      continue;
    }
    if (body[at] !== CLOSE_ARRAY) return undefined;
    return { count, end: at + 1 };
  }
}

interface PutRecordsJsonInput {
  StreamName?: string;
  StreamARN?: string;
  DryRun?: boolean;
  Records: RecordInput[];
}

/**
 * Any other request: read and validated as the ordinary path does, then encoded. It is
 * validated as for an AUTO stream, where PartitionKey is optional: whether the stream requires
 * keys is the engine's to check (`keylessRecords`), and with them present both validations agree.
 */
function prepareChecked(parsed: unknown): PreparedPutRecords | undefined {
  const { input: decoded, blobBytes } = readJsonInput(parsed, INPUT_MODELS.PutRecords!);
  validateInput('PutRecords', decoded, 'AUTO');
  const input = decoded as unknown as PutRecordsJsonInput;
  if (input.DryRun === true) return undefined;
  if (input.StreamName === undefined && input.StreamARN === undefined) return undefined;
  const records = input.Records;
  const count = records.length;
  const hashWords = new Uint32Array(count * HASH_WORDS);
  let index = 0;
  const encoded = encodeRecordBatches(records, 1, (keyBytes, keyStart, keyLength, explicit) => {
    if (explicit === undefined) {
      md5Words(keyBytes, keyStart, keyLength, hashWords, index * HASH_WORDS);
    } else {
      const key = parseExplicitHashKey(explicit);
      if (key === undefined) throw new RangeError('explicit hash key out of range');
      bigIntToWords(key, hashWords, index * HASH_WORDS);
    }
    index++;
    return 0;
  });
  const batch = encoded.batches[0]!;
  const recordStart = new Int32Array(count + 1);
  const cursor = newRecordCursor(BATCH_HEADER_BYTES);
  let maxRecordBytes = 0;
  let totalBytes = 0;
  let keylessRecords = 0;
  for (let i = 0; i < count; i++) {
    recordStart[i] = cursor.offset;
    nextRecord(batch, cursor, batch.length);
    if (cursor.keyEnd === cursor.keyStart) keylessRecords++;
    const size = cursor.dataEnd - cursor.dataStart + cursor.keyEnd - cursor.keyStart;
    if (size > maxRecordBytes) maxRecordBytes = size;
    totalBytes += size;
  }
  recordStart[count] = cursor.offset;
  if (totalBytes > PUT_RECORDS_BYTES_MAX) return undefined;
  const prepared: PreparedPutRecords = {
    recordCount: count,
    batch,
    recordStart,
    hashWords,
    maxRecordBytes,
    blobBytes,
    keylessRecords,
  };
  if (input.StreamName !== undefined) prepared.StreamName = input.StreamName;
  if (input.StreamARN !== undefined) prepared.StreamARN = input.StreamARN;
  return prepared;
}
