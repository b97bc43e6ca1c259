/**
 * The record distribution strategies of a stream (CreateStream's and
 * UpdateStreamRecordDistributionStrategy's RecordDistributionStrategy): USER_PARTITION_KEY, the
 * default, places each record by the MD5 of its partition key (or its explicit hash key), as
 * Kinesis always has; AUTO places records itself and ignores any partition key and explicit
 * hash key for placement. Kinesis offers AUTO on on-demand streams only and documents no
 * algorithm ("service-managed"); this file is Runnel's.
 *
 * AUTO rotates over the stream's open shards in record order. A put of N records over S open
 * shards, starting at the stream's rotation cursor c, gives shard (c + k) mod S, for k from 0,
 * a contiguous run of floor(N / S) records, one more for the first N mod S of those shards, and
 * moves the cursor on by N mod S. Every shard thus gets exactly what dealing the records out
 * one at a time in turn would give it: while the open shards stay the same, no shard has more
 * than one record more than another, whatever the keys (a workload of a single key spreads as
 * evenly as any), and the same puts in the same order are placed the same way. Runs rather than
 * dealing keep a put's records in request order within each shard and cost one copy per shard
 * instead of one per record.
 *
 * Only open shards take records: the rotation counts the open shards at each put, so once a
 * reshard takes effect the next put goes to the children and never to a closed parent. The
 * cursor is kept in memory only; a restart starts it again at 0, which can put the spread off
 * by one record per shard, no more. The spread is by records, not bytes: a workload whose record
 * sizes vary with their position in a put can spread its bytes less evenly than its records.
 */
import { BATCH_HEADER_BYTES, viewOf, writeBatchHeader } from '../storage/record-batch.js';
import {
  encodeBatches,
  encodePlacedBatches,
  type EncodedBatches,
  type RecordInput,
} from './batch-encoder.js';
import { partitionPlaced, routeHashedBatch } from './encoded-batch.js';
import type { StreamState } from './stream-state.js';

/** Where AUTO places the records of each put of one stream (see the top of this file). */
export class RecordRotation {
  /** The slot the next put's first run goes to, taken modulo the open shards at each put. */
  private next = 0;

  /** The slot of each of `count` records over `slots` open shards, in runs. */
  place(count: number, slots: number): Int32Array {
    const slotOfRecord = new Int32Array(count);
    const first = this.next % slots;
    const base = Math.floor(count / slots);
    const extra = count % slots;
    let record = 0;
    for (let k = 0; record < count; k++) {
      const run = k < extra ? base + 1 : base;
      slotOfRecord.fill((first + k) % slots, record, record + run);
      record += run;
    }
    this.next = (first + extra) % slots;
    return slotOfRecord;
  }
}

/** A put's records (objects) as one batch per open shard, placed by the stream's strategy. */
export function encodeStreamRecords(
  stream: StreamState,
  records: readonly RecordInput[],
): EncodedBatches {
  if (stream.strategy !== 'AUTO') return encodeBatches(records, stream.router);
  const slots = stream.open.length;
  return encodePlacedBatches(records, slots, stream.rotation.place(records.length, slots));
}

/**
 * A checked batch (each record's start in `recordStart`, its hash key in `hashWords`) as one
 * batch per open shard, placed by the stream's strategy: AUTO ignores `hashWords`. With `admit`
 * (limits mode) a record its shard cannot take now is left out and marked refused.
 */
export function routeStreamBatch(
  stream: StreamState,
  batch: Uint8Array,
  recordStart: Int32Array,
  hashWords: Uint32Array,
  admit?: (record: number, slot: number) => boolean,
): EncodedBatches {
  if (stream.strategy !== 'AUTO') {
    return routeHashedBatch(batch, recordStart, hashWords, stream.router, admit);
  }
  return placeEncodedBatch(batch, recordStart, stream.open.length, stream.rotation, admit);
}

/**
 * AUTO's placement of a checked batch over `slots` open shards. Each shard's records are one run
 * of the batch, copied at once; a put that fits one run, or one with refusals (limits mode, which
 * break the runs), is cut as key routing cuts it (partitionPlaced).
 */
export function placeEncodedBatch(
  batch: Uint8Array,
  recordStart: Int32Array,
  slots: number,
  rotation: RecordRotation,
  admit?: (record: number, slot: number) => boolean,
): EncodedBatches {
  const count = recordStart.length - 1;
  const shardOfRecord = rotation.place(count, slots);
  // The rotation gives distinct slots to a put's runs: first and last agree only for one run.
  if (admit !== undefined || shardOfRecord[0] === shardOfRecord[count - 1]) {
    return partitionPlaced(batch, recordStart, shardOfRecord, slots, admit);
  }
  const positionOfRecord = new Int32Array(count);
  const batches = copyRuns(batch, recordStart, shardOfRecord, positionOfRecord);
  return { shardOfRecord, positionOfRecord, batches };
}

/**
 * One batch per run of records placed in one slot: the run's bytes copied after a new header.
 * Fills each record's position in its run.
 */
function copyRuns(
  batch: Uint8Array,
  recordStart: Int32Array,
  shardOfRecord: Int32Array,
  positionOfRecord: Int32Array,
): Map<number, Uint8Array> {
  const batches = new Map<number, Uint8Array>();
  const count = shardOfRecord.length;
  for (let start = 0; start < count;) {
    const slot = shardOfRecord[start]!;
    let end = start + 1;
    while (end < count && shardOfRecord[end] === slot) end++;
    for (let i = start; i < end; i++) positionOfRecord[i] = i - start;
    // The rotation gives each slot one run per put: a second would overwrite the first.
    if (batches.has(slot)) {
      throw new Error(`AUTO placement gave slot ${slot} two runs of one put`);
    }
    const bodyStart = recordStart[start]!;
    const bodyLength = recordStart[end]! - bodyStart;
    const part = new Uint8Array(BATCH_HEADER_BYTES + bodyLength);
    writeBatchHeader(viewOf(part), 0, part.length, end - start);
    const run = new Uint8Array(batch.buffer, batch.byteOffset + bodyStart, bodyLength);
    part.set(run, BATCH_HEADER_BYTES);
    batches.set(slot, part);
    start = end;
  }
  return batches;
}
