/**
 * A JSON PutRecords body turned into what the engine appends: JSON parsing, base64 decoding,
 * validation, MD5 of every partition key and batch encoding in one pass, with no object per
 * record in the common shape. The server's codec threads (workers/codec-worker.ts) run it for
 * large bodies, in parallel with the event loop; the event loop runs it for small ones.
 *
 * It prepares only requests that will succeed as far as the request alone can tell: the body
 * parses, the input validates, no explicit hash key is out of range, the records fit in one
 * PutRecords and DryRun is not set. For anything else it returns undefined and the server takes
 * the ordinary path, which then reports the exact Kinesis error in its usual order; no error is
 * ever worded twice. What depends on the stream (that it exists and is writable, its record
 * size limit, its shard map) is left to the engine on the main thread
 * (`Engine.putPreparedRecords`), which routes with its current shard map at append time.
 */
import type { PreparedRecords } from '../engine/engine.js';
import { HASH_WORDS, bigIntToWords, md5Words, parseExplicitHashKey } from '../kinesis/hash-key.js';
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
  return [prepared.batch.buffer, prepared.recordStart.buffer, prepared.hashWords.buffer] as ArrayBuffer[];
}

/** Prepares a JSON PutRecords body, or returns undefined when the ordinary path must answer. */
export function preparePutRecords(body: Buffer): PreparedPutRecords | undefined {
  try {
    const parsed: unknown = JSON.parse(bodyText(body));
    const fast = preparePlain(parsed);
    return fast === NOT_PLAIN ? prepareChecked(parsed) : fast;
  } catch {
    // Any error is reported by the ordinary path, with the wording and order it always has.
    return undefined;
  }
}

const NOT_PLAIN = Symbol('not plain');
const STREAM_NAME = /^[a-zA-Z0-9_.-]+$/;

/**
 * The common request, prepared in one pass with no object per record: a StreamName, records
 * of string Data and ASCII PartitionKey (and optionally an ExplicitHashKey), nothing else set.
 * Base64 is decoded natively straight into the batch. Every check here is the model's or
 * stricter: a member outside it (a long or non-ASCII key, StreamARN, DryRun, nulls, ...) makes
 * the request NOT_PLAIN, and it goes the checked way instead. Undefined means it would fail.
 */
function preparePlain(parsed: unknown): PreparedPutRecords | undefined | typeof NOT_PLAIN {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return NOT_PLAIN;
  const { Records: records, StreamName, StreamARN, StreamId, DryRun } = parsed as Record<string, unknown>;
  if (StreamARN !== undefined || StreamId !== undefined || DryRun !== undefined) return NOT_PLAIN;
  if (typeof StreamName !== 'string' || StreamName.length > STREAM_NAME_CHARS_MAX || !STREAM_NAME.test(StreamName)) {
    return NOT_PLAIN;
  }
  if (!Array.isArray(records) || records.length < PUT_RECORDS_ENTRIES_MIN || records.length > PUT_RECORDS_ENTRIES_MAX) {
    return NOT_PLAIN;
  }
  const count = records.length;
  const dataBytes = new Float64Array(count);
  let bodyBytes = 0;
  for (let i = 0; i < count; i++) {
    const record = records[i] as Record<string, unknown> | null;
    if (typeof record !== 'object' || record === null || Array.isArray(record)) return NOT_PLAIN;
    const { Data: data, PartitionKey: key, ExplicitHashKey: explicit } = record;
    if (typeof data !== 'string' || typeof key !== 'string' || !isPlainKey(key)) return NOT_PLAIN;
    if (explicit !== undefined && (typeof explicit !== 'string' || parseExplicitHashKey(explicit) === undefined)) {
      return NOT_PLAIN;
    }
    if (data.length % 4 !== 0) return NOT_PLAIN;
    const bytes = data.length === 0 ? 0 : (data.length / 4) * 3 - base64Padding(data);
    if (bytes > DATA_BYTES_MAX) return NOT_PLAIN;
    dataBytes[i] = bytes;
    const explicitBytes = explicit === undefined ? 0 : (explicit as string).length;
    bodyBytes +=
      varintBytes(key.length) + key.length + varintBytes(explicitBytes) + explicitBytes + varintBytes(bytes) + bytes;
  }
  const batchLength = BATCH_HEADER_BYTES + bodyBytes;
  const batch = Buffer.from(new ArrayBuffer(batchLength));
  writeNewBatchHeader(batch, 0, batchLength, count);
  const recordStart = new Int32Array(count + 1);
  const hashWords = new Uint32Array(count * HASH_WORDS);
  let at = BATCH_HEADER_BYTES;
  let maxRecordBytes = 0;
  let totalBytes = 0;
  for (let i = 0; i < count; i++) {
    const record = records[i] as { Data: string; PartitionKey: string; ExplicitHashKey?: string };
    recordStart[i] = at;
    const key = record.PartitionKey;
    at = writeVarint(batch, at, key.length);
    const keyStart = at;
    for (let c = 0; c < key.length; c++) batch[at++] = key.charCodeAt(c);
    const explicit = record.ExplicitHashKey;
    if (explicit === undefined) {
      batch[at++] = 0;
      md5Words(batch, keyStart, key.length, hashWords, i * HASH_WORDS);
    } else {
      at = writeVarint(batch, at, explicit.length);
      for (let c = 0; c < explicit.length; c++) batch[at++] = explicit.charCodeAt(c);
      bigIntToWords(parseExplicitHashKey(explicit)!, hashWords, i * HASH_WORDS);
    }
    const data = record.Data;
    const bytes = dataBytes[i]!;
    at = writeVarint(batch, at, bytes);
    // Node skips characters outside the alphabet, so a short count means the text is not
    // valid base64; the URL-safe alphabet and a non-canonical tail are refused as Kinesis does.
    if (bytes > 0) {
      if (batch.write(data, at, bytes, 'base64') !== bytes) return undefined;
      if (hasUrlSafeCharacter(data) || !hasCanonicalTail(data, base64Padding(data))) return undefined;
    }
    at += bytes;
    const size = bytes + key.length;
    if (size > maxRecordBytes) maxRecordBytes = size;
    totalBytes += size;
  }
  recordStart[count] = at;
  if (totalBytes > PUT_RECORDS_BYTES_MAX) return undefined;
  let blobBytes = 0;
  for (let i = 0; i < count; i++) blobBytes += dataBytes[i]!;
  return { StreamName, recordCount: count, batch, recordStart, hashWords, maxRecordBytes, blobBytes };
}

/** 1 to PARTITION_KEY_CHARS_MAX ASCII characters: its UTF-8 bytes are its characters. */
function isPlainKey(key: string): boolean {
  const length = key.length;
  if (length < PARTITION_KEY_CHARS_MIN || length > PARTITION_KEY_CHARS_MAX) return false;
  for (let i = 0; i < length; i++) if (key.charCodeAt(i) >= 0x80) return false;
  return true;
}

interface PutRecordsJsonInput {
  StreamName?: string;
  StreamARN?: string;
  DryRun?: boolean;
  Records: RecordInput[];
}

/** Any other request: read and validated exactly as the ordinary path does, then encoded. */
function prepareChecked(parsed: unknown): PreparedPutRecords | undefined {
  const { input: decoded, blobBytes } = readJsonInput(parsed, INPUT_MODELS.PutRecords!);
  validateInput('PutRecords', decoded);
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
  for (let i = 0; i < count; i++) {
    recordStart[i] = cursor.offset;
    nextRecord(batch, cursor, batch.length);
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
  };
  if (input.StreamName !== undefined) prepared.StreamName = input.StreamName;
  if (input.StreamARN !== undefined) prepared.StreamARN = input.StreamARN;
  return prepared;
}
