/**
 * The record batch: one encoding from the wire to the disk. The binary protocol's put frame,
 * the message a shard worker receives and the bytes a segment stores are the same, so the hot
 * path copies bytes and never builds an object per record.
 *
 * Header (little-endian):
 *
 *   offset  size  field
 *   0       4     magic 'RNB1'
 *   4       1     format version (1)
 *   5       1     attributes (bit 0: ATTRIBUTE_KMS, set at append; 0 as encoded)
 *   6       2     reserved (0)
 *   8       4     batch length in bytes, header included
 *   12      4     record count (>= 1)
 *   16      8     checksum: xxhash64 (seed 0) of bytes [24, batch length)
 *   24      8     base ordinal: ordinal of the first record (filled in at append)
 *   32      8     arrival time, epoch ms (filled in at append)
 *   40            body
 *
 * Body, per record: varint partition-key length, partition-key bytes (UTF-8), varint
 * explicit-hash-key length (0 when absent), explicit-hash-key bytes (decimal ASCII), varint data
 * length, data bytes. Varints are unsigned LEB128. A partition key given is 1-256 characters, so
 * length 0 means the record has none: it was put to a stream whose RecordDistributionStrategy is
 * AUTO without one, and reads return it without a PartitionKey. Batches written before AUTO
 * existed never hold length 0, so the format version stays 1.
 *
 * The checksum covers the base ordinal and arrival time, so it is computed by the shard worker
 * when it appends. After a crash, recovery walks batches from the start of the last segment and
 * cuts the log at the first batch whose magic, length, ordinal or checksum is wrong.
 */
import xxhash from 'xxhash-wasm';

export * from './batch-layout.js';
import {
  ARRIVAL_MS_OFFSET,
  ATTRIBUTES_OFFSET,
  BASE_ORDINAL_OFFSET,
  BATCH_FORMAT_VERSION,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_OFFSET,
  BATCH_MAGIC,
  CHECKSUM_OFFSET,
  MAGIC_OFFSET,
  RECORD_COUNT_OFFSET,
  RESERVED_OFFSET,
  VERSION_OFFSET,
} from './batch-layout.js';

/** The checksum covers everything from the base ordinal to the end of the batch. */
export const CHECKSUM_START = BASE_ORDINAL_OFFSET;

const hasher = await xxhash();

/** xxhash64 of the checksummed part of a batch at `bytes[offset, offset + length)`. */
export function batchChecksum(bytes: Uint8Array, offset: number, length: number): bigint {
  return hasher.h64Raw(bytes.subarray(offset + CHECKSUM_START, offset + length), 0n);
}

export function readU64(view: DataView, offset: number): number {
  return view.getUint32(offset, true) + view.getUint32(offset + 4, true) * 2 ** 32;
}

export function writeU64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value >>> 0, true);
  view.setUint32(offset + 4, Math.floor(value / 2 ** 32), true);
}

export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Writes a header with ordinal, arrival time and checksum still zero (set at append). */
export function writeBatchHeader(
  view: DataView,
  offset: number,
  batchLength: number,
  recordCount: number,
): void {
  view.setUint32(offset + MAGIC_OFFSET, BATCH_MAGIC, true);
  view.setUint8(offset + VERSION_OFFSET, BATCH_FORMAT_VERSION);
  view.setUint8(offset + ATTRIBUTES_OFFSET, 0);
  view.setUint16(offset + RESERVED_OFFSET, 0, true);
  view.setUint32(offset + BATCH_LENGTH_OFFSET, batchLength, true);
  view.setUint32(offset + RECORD_COUNT_OFFSET, recordCount, true);
  view.setBigUint64(offset + CHECKSUM_OFFSET, 0n, true);
  writeU64(view, offset + BASE_ORDINAL_OFFSET, 0);
  writeU64(view, offset + ARRIVAL_MS_OFFSET, 0);
}

export interface BatchHeader {
  batchLength: number;
  recordCount: number;
  baseOrdinal: number;
  arrivalMs: number;
}

/**
 * Reads the header at `offset` if it is structurally sound within `limit` (magic, version,
 * length, count); does not verify the checksum. Returns undefined otherwise.
 */
export function readBatchHeader(
  bytes: Uint8Array,
  view: DataView,
  offset: number,
  limit: number,
): BatchHeader | undefined {
  if (offset + BATCH_HEADER_BYTES > limit) return undefined;
  if (view.getUint32(offset + MAGIC_OFFSET, true) !== BATCH_MAGIC) return undefined;
  if (bytes[offset + VERSION_OFFSET] !== BATCH_FORMAT_VERSION) return undefined;
  const batchLength = view.getUint32(offset + BATCH_LENGTH_OFFSET, true);
  const recordCount = view.getUint32(offset + RECORD_COUNT_OFFSET, true);
  if (batchLength < BATCH_HEADER_BYTES || offset + batchLength > limit) return undefined;
  if (recordCount < 1 || recordCount > batchLength - BATCH_HEADER_BYTES) return undefined;
  return {
    batchLength,
    recordCount,
    baseOrdinal: readU64(view, offset + BASE_ORDINAL_OFFSET),
    arrivalMs: readU64(view, offset + ARRIVAL_MS_OFFSET),
  };
}

/** True when the batch at `offset` has a sound header and a matching checksum. */
export function verifyBatch(bytes: Uint8Array, view: DataView, offset: number, limit: number) {
  const header = readBatchHeader(bytes, view, offset, limit);
  if (!header) return undefined;
  const stored = view.getBigUint64(offset + CHECKSUM_OFFSET, true);
  return batchChecksum(bytes, offset, header.batchLength) === stored ? header : undefined;
}
