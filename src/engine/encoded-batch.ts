/**
 * Routes a record batch that arrives already encoded (the binary protocol's put frame) to the
 * shards that own its records. Every record is checked at this edge (partition key 1-256
 * characters of valid UTF-8, explicit hash key in range, size within the stream's limit) and
 * hashed straight from the batch bytes, with no string built for the key. A batch whose records
 * all belong to one shard is forwarded as is; a mixed batch is split into one batch per shard by
 * copying each record's encoded bytes unchanged. In limits mode a record its shard cannot take
 * now is left out and marked refused (refusedSlot). On a stream whose record distribution
 * strategy is AUTO a key of length 0 means the record has none, and record-distribution.ts
 * places the records instead of their hash keys.
 */
import { isUtf8 } from 'node:buffer';
import { KinesisError, fail } from '../errors.js';
import {
  HASH_KEY_MAX,
  HASH_WORDS,
  bigIntToWords,
  explicitHashKeyFormMessage,
  isExplicitHashKeyForm,
  md5Words,
} from '../kinesis/hash-key.js';
import { KeyHasher } from '../kinesis/md5-lanes.js';
import {
  PARTITION_KEY_BYTES_MAX,
  PARTITION_KEY_CHARS_MAX,
  PARTITION_KEY_CHARS_MIN,
} from '../limits.js';
import {
  ATTRIBUTES_OFFSET,
  BATCH_HEADER_BYTES,
  type BatchHeader,
  RESERVED_OFFSET,
  newRecordCursor,
  nextRecord,
  readBatchHeader,
  viewOf,
  writeBatchHeader,
} from '../storage/record-batch.js';
import type { EncodedBatches } from './batch-encoder.js';
import type { ShardRouter } from './shard-router.js';

const decoder = new TextDecoder();
/** This thread's MD5 lanes: a batch's keys are hashed four at a time. */
const keyHasher = new KeyHasher();

function invalidBatch(why: string): KinesisError {
  return new KinesisError('ValidationException', `Invalid record batch: ${why}`);
}

/** The header of a batch sent whole, as the protocol requires it (docs/protocol.md §4), or its error. */
function checkedHeader(batch: Uint8Array): BatchHeader {
  const view = viewOf(batch);
  const header = readBatchHeader(batch, view, 0, batch.length);
  if (!header || header.batchLength !== batch.length) throw invalidBatch('bad header or length');
  if (batch[ATTRIBUTES_OFFSET] !== 0 || view.getUint16(RESERVED_OFFSET, true) !== 0) {
    throw invalidBatch("the header's attributes and reserved bytes must be 0");
  }
  return header;
}

function notFilled(): KinesisError {
  return invalidBatch('records do not fill the batch');
}

function isAscii(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

/** The error of a partition key that is not 1-256 characters of valid UTF-8, if it is not. */
function keyFailure(
  batch: Uint8Array,
  start: number,
  end: number,
  record: number,
): KinesisError | undefined {
  const bytes = end - start;
  let valid = bytes >= PARTITION_KEY_CHARS_MIN && bytes <= PARTITION_KEY_BYTES_MAX;
  if (valid && !isAscii(batch, start, end)) {
    const key = batch.subarray(start, end);
    valid = isUtf8(key) && [...decoder.decode(key)].length <= PARTITION_KEY_CHARS_MAX;
  } else if (valid) {
    valid = bytes <= PARTITION_KEY_CHARS_MAX;
  }
  if (valid) return undefined;
  return new KinesisError(
    'ValidationException',
    `1 validation error detected: Value at 'records.${record + 1}.member.partitionKey' failed to satisfy ` +
      `constraint: Member must be 1 to ${PARTITION_KEY_CHARS_MAX} Unicode characters`,
  );
}

/**
 * Why a record is too large for a stream whose records hold at most `maxBytes`, as PutRecords
 * answers (undefined when it fits): its data alone over the limit is the model's
 * ValidationException on `path`; data and partition key together over it is
 * InvalidArgumentException. `streamName` is named where the caller knows it.
 */
export function recordSizeFailure(
  dataBytes: number,
  keyBytes: number,
  maxBytes: number,
  path: string,
  streamName?: string,
): KinesisError | undefined {
  if (dataBytes > maxBytes) {
    return new KinesisError(
      'ValidationException',
      `1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=${dataBytes} cap=${dataBytes}]' ` +
        `at '${path}' failed to satisfy constraint: Member must have length less than or equal to ${maxBytes}`,
    );
  }
  const size = dataBytes + keyBytes;
  if (size <= maxBytes) return undefined;
  return fail.invalid(
    `Record size ${size} bytes (data plus partition key) exceeds the maximum record size of ` +
      `${maxBytes} bytes${streamName === undefined ? '' : ` for stream ${streamName}`}.`,
  );
}

/**
 * Parses an explicit hash key into `out[outOffset..]`; its error if it is not a decimal in
 * [0, 2^128 - 1].
 */
function hashKeyWords(
  batch: Uint8Array,
  start: number,
  end: number,
  out: Uint32Array,
  outOffset: number,
  record: number,
): KinesisError | undefined {
  let text = '';
  for (let i = start; i < end; i++) text += String.fromCharCode(batch[i]!);
  if (!isExplicitHashKeyForm(text))
    return new KinesisError('ValidationException', explicitHashKeyFormMessage(text, record));
  // The form is checked: only the range is left.
  const key = BigInt(text);
  if (key > HASH_KEY_MAX) {
    return fail.invalid(
      `Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was ${text}`,
    );
  }
  bigIntToWords(key, out, outOffset);
  return undefined;
}

/** An encoded batch checked record by record, with each record's place and hash key. */
export interface HashedBatch {
  recordCount: number;
  /** Byte offset of each record; [recordCount] is the batch's end. */
  recordStart: Int32Array;
  /** HASH_WORDS big-endian words per record: its explicit hash key, or MD5 of its key. */
  hashWords: Uint32Array;
  /** The largest record's data plus partition-key bytes. */
  maxRecordBytes: number;
  /** The data bytes of all its records (what the servers' bytes-in metrics count). */
  dataBytes: number;
}

/** How hashEncodedBatch checks a batch, beyond the record size limit. */
export interface BatchCheckOptions {
  /**
   * False skips MD5 (a stream with one open shard routes every key to it); explicit hash keys
   * are parsed either way, since a bad one is an error whether or not it decides anything.
   * Default true.
   */
  hash?: boolean;
  /**
   * An earlier result whose arrays are no longer needed: it lends them when they are long
   * enough, so a caller that checks batch after batch (a shard worker) allocates nothing per
   * batch. The arrays may then be longer than the record count says.
   */
  reuse?: HashedBatch | undefined;
  /**
   * A stream whose strategy is AUTO: a record with a key of length 0 is one without a partition
   * key; any other key is checked as always.
   */
  keyOptional?: boolean;
  /** Named in a record size error, as PutRecords names it, where the caller knows it. */
  streamName?: string;
}

/**
 * Checks every record of an encoded batch against `maxRecordBytes` (the stream's record size
 * limit) and computes its hash key (see BatchCheckOptions). Throws the first failing record's
 * error. Needs nothing but the batch, so it can run on a codec thread.
 */
export function hashEncodedBatch(
  batch: Uint8Array,
  maxRecordBytes: number,
  options: BatchCheckOptions = {},
): HashedBatch {
  const { hash = true, reuse, keyOptional = false, streamName } = options;
  const header = checkedHeader(batch);
  const count = header.recordCount;
  const recordStart =
    reuse && reuse.recordStart.length > count ? reuse.recordStart : new Int32Array(count + 1);
  const hashWords =
    reuse && reuse.hashWords.length >= count * HASH_WORDS
      ? reuse.hashWords
      : new Uint32Array(count * HASH_WORDS);
  const cursor = newRecordCursor(BATCH_HEADER_BYTES);
  const end = batch.length;
  let largest = 0;
  let dataBytes = 0;
  // One walk frames, checks and hashes. A batch that is badly framed anywhere is refused as
  // such, even past a record that fails its own check: after the first failing record the walk
  // only frames the rest, and that record's error is thrown once the framing is known good.
  // Keys are queued from a clean start: a refused batch left its keys unhashed.
  keyHasher.discard();
  let failure: KinesisError | undefined;
  for (let i = 0; i < count; i++) {
    recordStart[i] = cursor.offset;
    if (!nextRecord(batch, cursor, end)) throw notFilled();
    if (failure !== undefined) continue;
    if (!keyOptional || cursor.keyEnd > cursor.keyStart) {
      failure = keyFailure(batch, cursor.keyStart, cursor.keyEnd, i);
      if (failure !== undefined) continue;
    }
    const data = cursor.dataEnd - cursor.dataStart;
    dataBytes += data;
    const size = data + cursor.keyEnd - cursor.keyStart;
    if (size > maxRecordBytes) {
      const path = `records.${i + 1}.member.data`;
      failure = recordSizeFailure(data, size - data, maxRecordBytes, path, streamName);
      continue;
    }
    if (size > largest) largest = size;
    if (cursor.hashKeyEnd > cursor.hashKeyStart) {
      failure = hashKeyWords(
        batch,
        cursor.hashKeyStart,
        cursor.hashKeyEnd,
        hashWords,
        i * HASH_WORDS,
        i,
      );
    } else if (hash) {
      keyHasher.add(
        batch,
        cursor.keyStart,
        cursor.keyEnd - cursor.keyStart,
        hashWords,
        i * HASH_WORDS,
      );
    }
  }
  if (cursor.offset !== end) throw notFilled();
  if (failure !== undefined) throw failure;
  keyHasher.flush();
  recordStart[count] = end;
  return { recordCount: count, recordStart, hashWords, maxRecordBytes: largest, dataBytes };
}

/**
 * The record count of a batch and the hash key of its first record (its explicit hash key, or
 * MD5 of its partition key) in `out`: what routing a batch declared to belong to one shard needs
 * on the event loop. Checks the header and the first record's framing only; the owner worker
 * checks every record (hashEncodedBatch) before it appends, and refuses the batch with the
 * error an unrouted put would get.
 */
export function firstRecordHash(batch: Uint8Array, out: Uint32Array): number {
  const header = checkedHeader(batch);
  const cursor = newRecordCursor(BATCH_HEADER_BYTES);
  // The rest of the body is the owner worker's to check (the same error, from hashEncodedBatch).
  if (!nextRecord(batch, cursor, batch.length)) throw notFilled();
  if (cursor.hashKeyEnd > cursor.hashKeyStart) {
    const failure = hashKeyWords(batch, cursor.hashKeyStart, cursor.hashKeyEnd, out, 0, 0);
    if (failure !== undefined) throw failure;
  } else md5Words(batch, cursor.keyStart, cursor.keyEnd - cursor.keyStart, out, 0);
  return header.recordCount;
}

/**
 * Routes a batch whose records were hashed elsewhere (a PutRecords prepared by a codec thread,
 * src/server/put-records-prepare.ts): `hashWords` holds each record's 128-bit hash key and
 * `recordStart` where each record begins. Nothing is re-checked or re-hashed here.
 */
export function routeHashedBatch(
  batch: Uint8Array,
  recordStart: Int32Array,
  hashWords: Uint32Array,
  router: ShardRouter,
  admit?: (record: number, slot: number) => boolean,
): EncodedBatches {
  const count = recordStart.length - 1;
  const slots = router.size;
  const shardOfRecord = new Int32Array(count);
  if (slots > 1) {
    for (let i = 0; i < count; i++) shardOfRecord[i] = router.route(hashWords, i * HASH_WORDS);
  }
  return partitionPlaced(batch, recordStart, shardOfRecord, slots, admit);
}

/**
 * Cuts a batch into one batch per slot, each record's slot given in `shardOfRecord` (a refused
 * record's is then marked with refusedSlot). A batch whose records all went to one slot is
 * forwarded as it is.
 */
export function partitionPlaced(
  batch: Uint8Array,
  recordStart: Int32Array,
  shardOfRecord: Int32Array,
  slots: number,
  admit?: (record: number, slot: number) => boolean,
): EncodedBatches {
  const count = shardOfRecord.length;
  const positionOfRecord = new Int32Array(count);
  const recordCount = new Int32Array(slots);
  const bodyBytes = new Float64Array(slots);
  let firstSlot = -1;
  let mixed = false;
  for (let i = 0; i < count; i++) {
    const slot = shardOfRecord[i]!;
    if (admit !== undefined && !admit(i, slot)) {
      // Refused (limits mode): left out of every batch, marked as refused by its shard.
      shardOfRecord[i] = refusedSlot(slot);
      mixed = true;
      continue;
    }
    if (firstSlot < 0) firstSlot = slot;
    else if (slot !== firstSlot) mixed = true;
    positionOfRecord[i] = recordCount[slot]!;
    recordCount[slot]!++;
    bodyBytes[slot]! += recordStart[i + 1]! - recordStart[i]!;
  }
  return partition(
    batch,
    recordStart,
    shardOfRecord,
    positionOfRecord,
    recordCount,
    bodyBytes,
    mixed ? -1 : firstSlot,
  );
}

/** Copies one record's encoded bytes; a plain Uint8Array view (not a Buffer subarray) for #set is
 * the cheapest copy V8 offers here: a byte loop is 3–20× slower. */
function copyRecord(
  target: Uint8Array,
  at: number,
  source: Uint8Array,
  start: number,
  length: number,
): void {
  target.set(new Uint8Array(source.buffer, source.byteOffset + start, length), at);
}

/**
 * How `shardOfRecord` marks a record refused by its shard's limits (routeHashedBatch's `admit`):
 * a negative number that still says which shard refused it.
 */
export function refusedSlot(slot: number): number {
  return -1 - slot;
}

/**
 * One batch per slot: `batch` itself when every record went to `onlySlot` (≥ 0), else a copy
 * of each record's encoded bytes, unchanged, into its slot's new batch.
 */
function partition(
  batch: Uint8Array,
  recordStart: Int32Array,
  shardOfRecord: Int32Array,
  positionOfRecord: Int32Array,
  recordCount: Int32Array,
  bodyBytes: Float64Array,
  onlySlot: number,
): EncodedBatches {
  const batches = new Map<number, Uint8Array>();
  if (onlySlot >= 0) {
    // The common case for a producer that routes by the shard map: forwarded unchanged.
    batches.set(onlySlot, batch);
    return { shardOfRecord, positionOfRecord, batches };
  }
  const slots = recordCount.length;
  const fill = new Float64Array(slots);
  for (let slot = 0; slot < slots; slot++) {
    if (recordCount[slot] === 0) continue;
    const length = BATCH_HEADER_BYTES + bodyBytes[slot]!;
    const part = new Uint8Array(length);
    writeBatchHeader(viewOf(part), 0, length, recordCount[slot]!);
    batches.set(slot, part);
    fill[slot] = BATCH_HEADER_BYTES;
  }
  const parts: Array<Uint8Array | undefined> = new Array(slots);
  for (const [slot, part] of batches) parts[slot] = part;
  for (let i = 0; i < shardOfRecord.length; i++) {
    const slot = shardOfRecord[i]!;
    if (slot < 0) continue;
    const start = recordStart[i]!;
    const length = recordStart[i + 1]! - start;
    copyRecord(parts[slot]!, fill[slot]!, batch, start, length);
    fill[slot]! += length;
  }
  return { shardOfRecord, positionOfRecord, batches };
}
