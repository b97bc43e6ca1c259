/**
 * The record batch encoding of `src/storage/record-batch.ts`, for code that must run in a
 * browser: the WebSocket client builds PUT batches with it and reads RECORDS batches with it.
 * It imports nothing (record-batch.ts loads xxhash-wasm at the top level, which a browser bundle
 * should not carry just to write zeros where the checksum goes), so the layout is restated here;
 * test/protocol/frames.test.ts checks every constant against record-batch.ts and the bytes
 * against the engine's own encoder.
 *
 * Header (little-endian): magic 'RNB1', format version 1, attributes 0, reserved 0, batch length
 * (u32, header included), record count (u32), checksum (u64), base ordinal (u64), arrival ms
 * (u64); then per record varint key length (0: the record has no partition key), key (UTF-8),
 * varint explicit-hash-key length, explicit hash key (decimal ASCII), varint data length, data.
 * A writer leaves checksum, base ordinal and arrival time zero: the shard that appends the batch
 * fills them in.
 */

export * from '../storage/batch-layout.js';
import {
  BATCH_MAGIC,
  BATCH_FORMAT_VERSION,
  MAGIC_OFFSET,
  VERSION_OFFSET,
  BATCH_LENGTH_OFFSET,
  RECORD_COUNT_OFFSET,
  BASE_ORDINAL_OFFSET,
  ARRIVAL_MS_OFFSET,
  BATCH_HEADER_BYTES,
  varintBytes,
  writeVarint,
} from '../storage/batch-layout.js';

/**
 * A record to put, as PutRecords takes it. A record without a partition key (for a stream whose
 * RecordDistributionStrategy is AUTO) is encoded with a key of length 0, which no given key can
 * have (1-256 characters): callers refuse an empty key before encoding.
 */
export interface RecordInput {
  PartitionKey?: string | undefined;
  Data: Uint8Array;
  ExplicitHashKey?: string | undefined;
}

/**
 * Picks the slot (shard) of a record from its UTF-8 partition key at
 * `keyBytes[keyStart, keyStart + keyLength)` or its explicit hash key. Called once per record.
 */
export type RecordRouter = (
  keyBytes: Uint8Array,
  keyStart: number,
  keyLength: number,
  explicitHashKey: string | undefined,
) => number;

export interface SlottedBatches {
  /** One batch per slot that received records (undefined for the others). */
  batches: Array<Uint8Array | undefined>;
  /** Slot of each record. */
  slotOfRecord: Int32Array;
  /** Position of each record within its slot's batch. */
  positionOfRecord: Int32Array;
  /** Records per slot. */
  recordsInSlot: Int32Array;
}

const encoder = new TextEncoder();
let scratch = new Uint8Array(64 * 1024);

function readU64(view: DataView, offset: number): number {
  return view.getUint32(offset, true) + view.getUint32(offset + 4, true) * 2 ** 32;
}

/**
 * Writes `text` as UTF-8 at `scratch[offset..]` (ASCII char by char); returns the byte count,
 * 0 for no key.
 */
function writeKey(text: string | undefined, offset: number): number {
  // Library callers may pass null for no key, as the API model reads it.
  if (typeof text !== 'string') return 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) return encoder.encodeInto(text, scratch.subarray(offset)).written;
    scratch[offset + i] = code;
  }
  return length;
}

/**
 * Writes a batch header at `buffer[offset..]`, which must be zero (a new buffer): reserved
 * fields, checksum, base ordinal and arrival time stay zero for the appending shard to fill.
 */
export function writeNewBatchHeader(
  buffer: Uint8Array,
  offset: number,
  batchLength: number,
  recordCount: number,
): void {
  const view = new DataView(buffer.buffer, buffer.byteOffset + offset, BATCH_HEADER_BYTES);
  view.setUint32(MAGIC_OFFSET, BATCH_MAGIC, true);
  view.setUint8(VERSION_OFFSET, BATCH_FORMAT_VERSION);
  view.setUint32(BATCH_LENGTH_OFFSET, batchLength, true);
  view.setUint32(RECORD_COUNT_OFFSET, recordCount, true);
}

/** Copies bytes; a loop beats TypedArray#set for the short runs keys and small data are. */
function copyBytes(
  target: Uint8Array,
  at: number,
  source: Uint8Array,
  start: number,
  length: number,
) {
  if (length > 32) {
    // #set with a whole source avoids creating a view (Buffer views are costly).
    if (start === 0 && length === source.length) target.set(source, at);
    else target.set(new Uint8Array(source.buffer, source.byteOffset + start, length), at);
    return;
  }
  for (let i = 0; i < length; i++) target[at + i] = source[start + i]!;
}

function ensureScratch(bytes: number): void {
  if (scratch.length < bytes) scratch = new Uint8Array(Math.max(bytes, scratch.length * 2));
}

/**
 * Encodes records into one batch per slot, in record order within each slot. Each batch is
 * written `prefixBytes` into a buffer of its own, so a caller can put a frame header in front
 * without copying the batch again. Two passes: the first writes each key once into a scratch
 * area, routes it and sizes the slots; the second fills the buffers. No object is built per
 * record. The engine encodes PutRecords with it too (src/engine/batch-encoder.ts).
 */
export function encodeRecordBatches(
  records: readonly RecordInput[],
  slots: number,
  route: RecordRouter | undefined,
  prefixBytes = 0,
): SlottedBatches {
  const count = records.length;
  const keyStart = new Int32Array(count);
  const keyLength = new Int32Array(count);
  const slotOfRecord = new Int32Array(count);
  const positionOfRecord = new Int32Array(count);
  const recordsInSlot = new Int32Array(slots);
  const bodyBytes = new Float64Array(slots);
  let keyBytesTotal = 0;
  for (let i = 0; i < count; i++) keyBytesTotal += (records[i]!.PartitionKey?.length ?? 0) * 3;
  ensureScratch(keyBytesTotal);

  let offset = 0;
  for (let i = 0; i < count; i++) {
    const record = records[i]!;
    const written = writeKey(record.PartitionKey, offset);
    keyStart[i] = offset;
    keyLength[i] = written;
    const explicit = record.ExplicitHashKey;
    const slot = route === undefined ? 0 : route(scratch, offset, written, explicit);
    offset += written;
    slotOfRecord[i] = slot;
    positionOfRecord[i] = recordsInSlot[slot]!;
    recordsInSlot[slot]!++;
    const hashKeyBytes = explicit === undefined ? 0 : explicit.length;
    bodyBytes[slot]! +=
      varintBytes(written) +
      written +
      varintBytes(hashKeyBytes) +
      hashKeyBytes +
      varintBytes(record.Data.length) +
      record.Data.length;
  }

  const batches: Array<Uint8Array | undefined> = new Array(slots);
  const fill = new Float64Array(slots);
  for (let slot = 0; slot < slots; slot++) {
    if (recordsInSlot[slot] === 0) continue;
    const length = BATCH_HEADER_BYTES + bodyBytes[slot]!;
    const buffer = new Uint8Array(prefixBytes + length);
    writeNewBatchHeader(buffer, prefixBytes, length, recordsInSlot[slot]!);
    batches[slot] = buffer;
    fill[slot] = prefixBytes + BATCH_HEADER_BYTES;
  }

  for (let i = 0; i < count; i++) {
    const record = records[i]!;
    const slot = slotOfRecord[i]!;
    const batch = batches[slot]!;
    let at = fill[slot]!;
    const length = keyLength[i]!;
    at = writeVarint(batch, at, length);
    copyBytes(batch, at, scratch, keyStart[i]!, length);
    at += length;
    const explicit = record.ExplicitHashKey;
    if (explicit === undefined) {
      batch[at++] = 0;
    } else {
      at = writeVarint(batch, at, explicit.length);
      at += encoder.encodeInto(explicit, batch.subarray(at)).written;
    }
    const data = record.Data;
    at = writeVarint(batch, at, data.length);
    copyBytes(batch, at, data, 0, data.length);
    fill[slot] = at + data.length;
  }
  return { batches, slotOfRecord, positionOfRecord, recordsInSlot };
}

/** All records in one batch (written `prefixBytes` into its buffer). */
export function encodeRecordBatch(records: readonly RecordInput[], prefixBytes = 0): Uint8Array {
  if (records.length === 0) throw new RangeError('a record batch holds at least one record');
  return encodeRecordBatches(records, 1, undefined, prefixBytes).batches[0]!;
}

// ---- reading ----------------------------------------------------------------------------------

export interface BatchFields {
  batchLength: number;
  recordCount: number;
  baseOrdinal: number;
  arrivalMs: number;
}

/**
 * The header fields of the batch at `bytes[offset..]`, or undefined when its magic, version,
 * length or count is wrong or it does not fit in `bytes`.
 */
export function readBatchFields(bytes: Uint8Array, offset: number): BatchFields | undefined {
  if (offset + BATCH_HEADER_BYTES > bytes.length) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, BATCH_HEADER_BYTES);
  if (view.getUint32(MAGIC_OFFSET, true) !== BATCH_MAGIC) return undefined;
  if (view.getUint8(VERSION_OFFSET) !== BATCH_FORMAT_VERSION) return undefined;
  const batchLength = view.getUint32(BATCH_LENGTH_OFFSET, true);
  const recordCount = view.getUint32(RECORD_COUNT_OFFSET, true);
  if (batchLength < BATCH_HEADER_BYTES || offset + batchLength > bytes.length) return undefined;
  if (recordCount < 1 || recordCount > batchLength - BATCH_HEADER_BYTES) return undefined;
  return {
    batchLength,
    recordCount,
    baseOrdinal: readU64(view, BASE_ORDINAL_OFFSET),
    arrivalMs: readU64(view, ARRIVAL_MS_OFFSET),
  };
}

/** Where one record's fields are in a batch (the storage layout's cursor, under the client's names). */
export {
  type RecordCursor as RecordFields,
  newRecordCursor as newRecordFields,
  nextRecord as nextRecordFields,
} from '../storage/batch-layout.js';
