/**
 * Turns the records of one PutRecords (or one fast-path batch call) into one record batch per
 * shard, in request order within each shard: the protocol's encoder (the same one the WebSocket
 * client uses) with the engine's router, which hashes each partition key in place (MD5) or
 * reads its explicit hash key and picks the open shard. With one open shard nothing is hashed:
 * every key routes to it. Records whose shards are already chosen (the AUTO strategy's) are
 * encoded by encodePlacedBatches, which hashes nothing.
 */
import { HASH_WORDS, bigIntToWords, md5Words, parseExplicitHashKey } from '../kinesis/hash-key.js';
import { encodeRecordBatches, type RecordInput } from '../protocol/batch-writer.js';
import type { ShardRouter } from './shard-router.js';

export type { RecordInput };

export interface EncodedBatches {
  /** Router slot of each record's shard; negative (refusedSlot) when limits refused it. */
  shardOfRecord: Int32Array;
  /** Position of each record within its shard's batch. */
  positionOfRecord: Int32Array;
  /** One batch per router slot that received records (sparse). */
  batches: Map<number, Uint8Array>;
}

const words = new Uint32Array(HASH_WORDS);

/** Caller has validated the records (key lengths, hash-key syntax, sizes). */
export function encodeBatches(
  records: readonly RecordInput[],
  router: ShardRouter,
): EncodedBatches {
  const slots = router.size;
  const route =
    slots === 1
      ? undefined
      : (
          keyBytes: Uint8Array,
          keyStart: number,
          keyLength: number,
          explicit: string | undefined,
        ) => {
          if (explicit === undefined) md5Words(keyBytes, keyStart, keyLength, words, 0);
          else bigIntToWords(parseExplicitHashKey(explicit)!, words, 0);
          return router.route(words);
        };
  const encoded = encodeRecordBatches(records, slots, route);
  const batches = new Map<number, Uint8Array>();
  encoded.batches.forEach((batch, slot) => batch && batches.set(slot, batch));
  return {
    shardOfRecord: encoded.slotOfRecord,
    positionOfRecord: encoded.positionOfRecord,
    batches,
  };
}

/**
 * Encodes records whose slots are already chosen (`slotOfRecord`, one per record: the AUTO
 * strategy's placement, or the slots a limits check kept), in record order within each slot.
 */
export function encodePlacedBatches(
  records: readonly RecordInput[],
  slots: number,
  slotOfRecord: Int32Array,
): EncodedBatches {
  let next = 0;
  const encoded = encodeRecordBatches(records, slots, () => slotOfRecord[next++]!);
  const batches = new Map<number, Uint8Array>();
  encoded.batches.forEach((batch, slot) => batch && batches.set(slot, batch));
  const { slotOfRecord: shardOfRecord, positionOfRecord } = encoded;
  return { shardOfRecord, positionOfRecord, batches };
}
