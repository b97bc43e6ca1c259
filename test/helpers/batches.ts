import { encodeBatches, type RecordInput } from '../../src/engine/batch-encoder.js';
import { ShardRouter } from '../../src/engine/shard-router.js';

const singleShard = new ShardRouter([0n]);

/** Encodes records into one batch, as the engine does for a single-shard stream. */
export function batchOf(records: RecordInput[]): Uint8Array {
  return encodeBatches(records, singleShard).batches.get(0)!;
}

export function recordsOf(count: number, prefix: string, dataBytes = 16): RecordInput[] {
  return Array.from({ length: count }, (_, i) => ({
    PartitionKey: `${prefix}-${i}`,
    Data: Buffer.alloc(dataBytes, i & 0xff),
  }));
}
