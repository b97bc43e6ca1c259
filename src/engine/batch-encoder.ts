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
    const { written } = encoder.encodeInto(record.PartitionKey, scratch.subarray(offset));
    keyStart[i] = offset;
    keyLength[i] = written;
    offset += written;
    const explicit = record.ExplicitHashKey;
    if (explicit === undefined) {
      md5Words(scratch, keyStart[i]!, written, words, 0);
    } else {
      bigIntToWords(parseExplicitHashKey(explicit)!, words, 0);
    }
    const slot = router.route(words);
    shardOfRecord[i] = slot;
    positionOfRecord[i] = recordCount[slot]!;
    recordCount[slot]!++;
    bodyBytes[slot]! += recordBytes(written, explicit?.length ?? 0, record.Data.length);
  }

  const batches = new Map<number, Uint8Array>();
  const cursor = new Float64Array(slots);
  for (let slot = 0; slot < slots; slot++) {
    if (recordCount[slot] === 0) continue;
    const length = BATCH_HEADER_BYTES + bodyBytes[slot]!;
    const batch = new Uint8Array(length);
    writeBatchHeader(viewOf(batch), 0, length, recordCount[slot]!);
    batches.set(slot, batch);
    cursor[slot] = BATCH_HEADER_BYTES;
  }

  for (let i = 0; i < count; i++) {
    const record = records[i]!;
    const slot = shardOfRecord[i]!;
    const batch = batches.get(slot)!;
    let at = cursor[slot]!;
    at = writeVarint(batch, at, keyLength[i]!);
    batch.set(scratch.subarray(keyStart[i]!, keyStart[i]! + keyLength[i]!), at);
    at += keyLength[i]!;
    const explicit = record.ExplicitHashKey;
    if (explicit === undefined) {
      batch[at++] = 0;
    } else {
      at = writeVarint(batch, at, explicit.length);
      at += encoder.encodeInto(explicit, batch.subarray(at)).written;
    }
    at = writeVarint(batch, at, record.Data.length);
    batch.set(record.Data, at);
    cursor[slot] = at + record.Data.length;
  }
  return { shardOfRecord, positionOfRecord, batches };
}
