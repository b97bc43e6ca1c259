/**
 * Turns the records of one PutRecords (or one fast-path batch call) into one record batch per
 * shard, in request order within each shard. Two passes over the records: the first encodes
 * each partition key once into a scratch area, hashes it (MD5, in place) and picks the shard;
 * the second sizes and fills one buffer per shard. No object is built per record.
 */
import { HASH_WORDS, bigIntToWords, md5Words, parseExplicitHashKey } from '../kinesis/hash-key.js';
import { BATCH_HEADER_BYTES, recordBytes, viewOf, writeBatchHeader, writeVarint } from '../storage/record-batch.js';
import type { ShardRouter } from './shard-router.js';

export interface RecordInput {
  PartitionKey: string;
  Data: Uint8Array;
  ExplicitHashKey?: string | undefined;
}

export interface EncodedBatches {
  /** Router slot of each record's shard. */
  shardOfRecord: Int32Array;
  /** Position of each record within its shard's batch. */
  positionOfRecord: Int32Array;
  /** One batch per router slot that received records (sparse). */
  batches: Map<number, Uint8Array>;
}

const encoder = new TextEncoder();
let scratch = new Uint8Array(64 * 1024);

function ensureScratch(bytes: number): void {
  if (scratch.length < bytes) scratch = new Uint8Array(Math.max(bytes, scratch.length * 2));
}

/**
 * Writes `text` as UTF-8 at `scratch[offset..]` and returns the byte count. Partition keys are
 * nearly always ASCII, which is copied char by char without creating a view; anything else
 * goes through TextEncoder.
 */
function writeKey(text: string, offset: number): number {
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) return encoder.encodeInto(text, scratch.subarray(offset)).written;
    scratch[offset + i] = code;
  }
  return length;
}

/** Copies `length` bytes; a loop beats TypedArray#set for the short runs keys usually are. */
function copyBytes(target: Uint8Array, at: number, source: Uint8Array, start: number, length: number) {
  if (length > 32) {
    // TypedArray#set with a whole source avoids creating a view (Buffer views are costly).
    if (start === 0 && length === source.length) target.set(source, at);
    else target.set(new Uint8Array(source.buffer, source.byteOffset + start, length), at);
    return;
  }
  for (let i = 0; i < length; i++) target[at + i] = source[start + i]!;
}

/** Caller has validated the records (key lengths, hash-key syntax, sizes). */
export function encodeBatches(records: readonly RecordInput[], router: ShardRouter): EncodedBatches {
  const count = records.length;
  const keyStart = new Int32Array(count);
  const keyLength = new Int32Array(count);
  const shardOfRecord = new Int32Array(count);
  const positionOfRecord = new Int32Array(count);
  const words = new Uint32Array(HASH_WORDS);
  const slots = router.size;
  const bodyBytes = new Float64Array(slots);
  const recordCount = new Int32Array(slots);

  let keyBytesTotal = 0;
  for (let i = 0; i < count; i++) keyBytesTotal += records[i]!.PartitionKey.length * 3;
  ensureScratch(keyBytesTotal);

  let offset = 0;
  for (let i = 0; i < count; i++) {
    const record = records[i]!;
    const written = writeKey(record.PartitionKey, offset);
    keyStart[i] = offset;
    keyLength[i] = written;
    const explicit = record.ExplicitHashKey;
    offset += written;
    // With one open shard every key routes to it: the hash would decide nothing.
    let slot = 0;
    if (slots > 1) {
      if (explicit === undefined) md5Words(scratch, keyStart[i]!, written, words, 0);
      else bigIntToWords(parseExplicitHashKey(explicit)!, words, 0);
      slot = router.route(words);
    }
    shardOfRecord[i] = slot;
    positionOfRecord[i] = recordCount[slot]!;
    recordCount[slot]!++;
    bodyBytes[slot]! += recordBytes(written, explicit?.length ?? 0, record.Data.length);
  }

  const bySlot: Array<Uint8Array | undefined> = new Array(slots);
  const batches = new Map<number, Uint8Array>();
  const cursor = new Float64Array(slots);
  for (let slot = 0; slot < slots; slot++) {
    if (recordCount[slot] === 0) continue;
    const length = BATCH_HEADER_BYTES + bodyBytes[slot]!;
    const batch = new Uint8Array(length);
    writeBatchHeader(viewOf(batch), 0, length, recordCount[slot]!);
    batches.set(slot, batch);
    bySlot[slot] = batch;
    cursor[slot] = BATCH_HEADER_BYTES;
  }

  for (let i = 0; i < count; i++) {
    const record = records[i]!;
    const slot = shardOfRecord[i]!;
    const batch = bySlot[slot]!;
    let at = cursor[slot]!;
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
    cursor[slot] = at + data.length;
  }
  return { shardOfRecord, positionOfRecord, batches };
}
