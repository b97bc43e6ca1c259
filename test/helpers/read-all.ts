import type { Engine } from '../../src/engine/engine.js';
import type { KinesisRecord } from '../../src/kinesis/shapes.js';

/** Reads a shard from TRIM_HORIZON to its current end (or a closed shard's end) through the public API. */
export async function readShard(
  engine: Engine,
  streamName: string,
  shardId: string,
): Promise<KinesisRecord[]> {
  const { ShardIterator } = await engine.getShardIterator({
    StreamName: streamName,
    ShardId: shardId,
    ShardIteratorType: 'TRIM_HORIZON',
  });
  const records: KinesisRecord[] = [];
  let iterator = ShardIterator;
  for (;;) {
    const page = await engine.getRecords({ ShardIterator: iterator });
    records.push(...page.Records);
    // An empty page is the current end; no next iterator is a closed shard's end.
    if (page.Records.length === 0 || page.NextShardIterator === undefined) break;
    iterator = page.NextShardIterator!;
  }
  return records;
}
