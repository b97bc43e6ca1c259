/**
 * Micro-benchmark: the record-batch codec — encoding records into per-shard batches (the
 * engine's `encodeBatches`: MD5 route + encode, one pass per record, no object per record) and
 * decoding a stored batch record by record (`nextRecord`, as readers do; `batchDataBytes`, what
 * the binary protocol's /metrics count walks per delivered batch), against the baseline
 * of copying the same bytes (`Buffer.copy` of the whole batch): what the format costs beyond a
 * memcpy. Figure: records/s, 100-byte and 1 KiB records, 500 per batch, 4 shards.
 * Usage: node dist/bench/micro/batch-codec.js
 */
import { encodeBatches } from '../../src/engine/batch-encoder.js';
import { ShardRouter } from '../../src/engine/shard-router.js';
import { evenHashRanges } from '../../src/kinesis/hash-key.js';
import {
  BATCH_HEADER_BYTES,
  batchDataBytes,
  newRecordCursor,
  nextRecord,
} from '../../src/storage/record-batch.js';
import { runMicro } from './run.js';

const RECORDS = 500;
const router = new ShardRouter(evenHashRanges(4).map((range) => range.start));
const single = new ShardRouter([0n]);
let sink = 0;

for (const dataBytes of [100, 1024]) {
  const records = Array.from({ length: RECORDS }, (_, i) => ({
    PartitionKey: `key-${i}`,
    Data: Buffer.alloc(dataBytes, i),
  }));
  const batch = encodeBatches(records, single).batches.get(0)!;
  const copy = Buffer.allocUnsafe(batch.length);
  await runMicro(
    `record-batch codec, ${RECORDS} × ${dataBytes} B records`,
    'Buffer.copy of the encoded batch',
    [
      {
        name: 'encodeBatches, 4 shards (route + encode)',
        items: RECORDS,
        fn: () => void (sink ^= encodeBatches(records, router).batches.size),
      },
      {
        name: 'encodeBatches, 1 shard',
        items: RECORDS,
        fn: () => void (sink ^= encodeBatches(records, single).batches.size),
      },
      {
        name: 'decode: nextRecord over the batch',
        items: RECORDS,
        fn: () => {
          const cursor = newRecordCursor(BATCH_HEADER_BYTES);
          for (let i = 0; i < RECORDS; i++) nextRecord(batch, cursor, batch.length);
          sink ^= cursor.dataEnd;
        },
      },
      {
        name: 'batchDataBytes (the /metrics count)',
        items: RECORDS,
        fn: () => void (sink ^= batchDataBytes(batch)),
      },
      {
        name: 'baseline: Buffer.copy of the batch',
        items: RECORDS,
        fn: () =>
          void (sink ^= Buffer.from(batch.buffer, batch.byteOffset, batch.length).copy(copy)),
      },
    ],
  );
}
if (sink === 0.5) console.log(sink);
