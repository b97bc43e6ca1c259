/**
 * The byte layout of a record batch (documented in record-batch.ts and docs/format.md): the
 * header's chained offsets and the unsigned LEB128 varints that frame each record. It imports
 * nothing, so the browser-safe WebSocket client and the storage engine share one definition.
 */

export const BATCH_MAGIC = 0x31424e52; // 'RNB1' read little-endian
export const BATCH_FORMAT_VERSION = 1;

export const MAGIC_OFFSET = 0;
export const MAGIC_BYTES = 4;
export const VERSION_OFFSET = MAGIC_OFFSET + MAGIC_BYTES;
export const VERSION_BYTES = 1;
export const ATTRIBUTES_OFFSET = VERSION_OFFSET + VERSION_BYTES;
export const ATTRIBUTES_BYTES = 1;
/**
 * Attribute bit of a stored batch: the stream's server-side encryption (KMS) was in effect when
 * it was appended, so its records read back with EncryptionType KMS, as Kinesis reports each
 * record's own. Set by the shard worker at append; a batch put or delivered over the binary
 * protocol carries attributes 0 (docs/protocol.md §4).
 */
export const ATTRIBUTE_KMS = 1;

/** Whether the stored batch at `offset` of `bytes` is marked ATTRIBUTE_KMS. */
export function isEncryptedBatch(bytes: Uint8Array, offset = 0): boolean {
  return (bytes[offset + ATTRIBUTES_OFFSET]! & ATTRIBUTE_KMS) !== 0;
}
export const RESERVED_OFFSET = ATTRIBUTES_OFFSET + ATTRIBUTES_BYTES;
export const RESERVED_BYTES = 2;
export const BATCH_LENGTH_OFFSET = RESERVED_OFFSET + RESERVED_BYTES;
export const BATCH_LENGTH_BYTES = 4;
export const RECORD_COUNT_OFFSET = BATCH_LENGTH_OFFSET + BATCH_LENGTH_BYTES;
export const RECORD_COUNT_BYTES = 4;
export const CHECKSUM_OFFSET = RECORD_COUNT_OFFSET + RECORD_COUNT_BYTES;
export const CHECKSUM_BYTES = 8;
export const BASE_ORDINAL_OFFSET = CHECKSUM_OFFSET + CHECKSUM_BYTES;
export const BASE_ORDINAL_BYTES = 8;
export const ARRIVAL_MS_OFFSET = BASE_ORDINAL_OFFSET + BASE_ORDINAL_BYTES;
export const ARRIVAL_MS_BYTES = 8;
export const BATCH_HEADER_BYTES = ARRIVAL_MS_OFFSET + ARRIVAL_MS_BYTES;

export function varintBytes(value: number): number {
  let bytes = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    bytes++;
  }
  return bytes;
}

export function writeVarint(bytes: Uint8Array, offset: number, value: number): number {
  while (value >= 0x80) {
    bytes[offset++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  bytes[offset++] = value;
  return offset;
}

/** Reads a varint at `cursor.offset` (advancing it); -1 if it runs past `end` or overflows. */
export function readVarint(bytes: Uint8Array, cursor: { offset: number }, end: number): number {
  let value = 0;
  let scale = 1;
  let offset = cursor.offset;
  for (let i = 0; i < 5; i++) {
    if (offset >= end) return -1;
    const byte = bytes[offset++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      cursor.offset = offset;
      return value;
    }
    scale *= 128;
  }
  return -1;
}

/** Record fields as located inside a batch, for readers. */
export interface RecordCursor {
  offset: number;
  keyStart: number;
  keyEnd: number;
  hashKeyStart: number;
  hashKeyEnd: number;
  dataStart: number;
  dataEnd: number;
}

/** Decodes the record at `cursor.offset` into `cursor`, advancing it. False if malformed. */
export function nextRecord(bytes: Uint8Array, cursor: RecordCursor, end: number): boolean {
  const keyLength = readVarint(bytes, cursor, end);
  if (keyLength < 0) return false;
  cursor.keyStart = cursor.offset;
  cursor.keyEnd = cursor.offset += keyLength;
  const hashKeyLength = readVarint(bytes, cursor, end);
  if (hashKeyLength < 0) return false;
  cursor.hashKeyStart = cursor.offset;
  cursor.hashKeyEnd = cursor.offset += hashKeyLength;
  const dataLength = readVarint(bytes, cursor, end);
  if (dataLength < 0) return false;
  cursor.dataStart = cursor.offset;
  cursor.dataEnd = cursor.offset += dataLength;
  return cursor.offset <= end;
}

export function newRecordCursor(offset: number): RecordCursor {
  return {
    offset,
    keyStart: 0,
    keyEnd: 0,
    hashKeyStart: 0,
    hashKeyEnd: 0,
    dataStart: 0,
    dataEnd: 0,
  };
}

/** Reused by batchDataBytes's rare long lengths, which then allocate nothing. */
const dataCursor = newRecordCursor(BATCH_HEADER_BYTES);
/** Where the varint lengthAt read ends. */
let varintEnd = 0;

/**
 * The length (a varint) at `offset`, its end in `varintEnd`; -1 if it runs past `end`. A length
 * below 128, one byte, is read in place: the usual key, hash-key and small-record data lengths.
 */
function lengthAt(bytes: Uint8Array, offset: number, end: number): number {
  if (offset < end) {
    const first = bytes[offset]!;
    if (first < 0x80) {
      varintEnd = offset + 1;
      return first;
    }
  }
  dataCursor.offset = offset;
  const length = readVarint(bytes, dataCursor, end);
  varintEnd = dataCursor.offset;
  return length;
}

/**
 * The data bytes of the records of the batch `bytes` (header at 0, the batch its whole length)
 * from its `skip`-th record on. A badly framed batch counts the records before the first that
 * overruns it. Walks nextRecord's framing, lengths only: the server's /metrics counts every
 * record it delivers over the binary protocol with it.
 */
export function batchDataBytes(bytes: Uint8Array, skip = 0): number {
  const end = bytes.length;
  let offset = BATCH_HEADER_BYTES;
  let total = 0;
  for (let i = 0; offset < end; i++) {
    const key = lengthAt(bytes, offset, end);
    if (key < 0) break;
    const hashKey = lengthAt(bytes, varintEnd + key, end);
    if (hashKey < 0) break;
    const data = lengthAt(bytes, varintEnd + hashKey, end);
    if (data < 0) break;
    offset = varintEnd + data;
    if (offset > end) break;
    if (i >= skip) total += data;
  }
  return total;
}
