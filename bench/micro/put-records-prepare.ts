/**
 * Micro-benchmark: turning a JSON PutRecords body into a record batch with every record's hash
 * key. `preparePutRecords` (the body's bytes scanned, base64 decoded into the batch, no object
 * per record)
 * against the generic route (`decodeJsonInput` into objects, `validateInput`, `encodeBatches`),
 * beside the baseline of JSON.parse plus base64 decoding alone. Bodies of 20 records (prepared
 * on the event loop) and 500 (prepared on a codec thread), 100-byte records, 8 shards.
 * Usage: node dist/bench/micro/put-records-prepare.js
 */
import { encodeBatches } from '../../src/engine/batch-encoder.js';
import { ShardRouter } from '../../src/engine/shard-router.js';
import { evenHashRanges } from '../../src/kinesis/hash-key.js';
import { validateInput } from '../../src/kinesis/validation.js';
import { decodeJsonInput, INPUT_MODELS } from '../../src/server/json-codec.js';
import { preparePutRecords } from '../../src/server/put-records-prepare.js';
import type { RecordInput } from '../../src/protocol/batch-writer.js';
import { runMicro } from './run.js';

const router = new ShardRouter(evenHashRanges(8).map((range) => range.start));
let sink = 0;

for (const count of [20, 500]) {
  const body = Buffer.from(
    JSON.stringify({
      StreamName: 'bench',
      Records: Array.from({ length: count }, (_, i) => ({
        Data: Buffer.alloc(100, i).toString('base64'),
        PartitionKey: `key-${i}`,
      })),
    }),
  );
  await runMicro(
    `PutRecords body of ${count} × 100 B records (${body.length} bytes)`,
    'JSON.parse + base64 decode',
    [
      {
        name: 'preparePutRecords',
        items: count,
        fn: () => void (sink ^= preparePutRecords(body)!.recordCount),
      },
      {
        name: 'decodeJsonInput + validateInput + encodeBatches',
        items: count,
        fn: () => {
          const { input } = decodeJsonInput(body, INPUT_MODELS.PutRecords!);
          validateInput('PutRecords', input);
          sink ^= encodeBatches(input.Records as RecordInput[], router).batches.size;
        },
      },
      {
        name: 'baseline: JSON.parse + base64 decode',
        items: count,
        fn: () => {
          const parsed = JSON.parse(body.toString('latin1')) as { Records: { Data: string }[] };
          for (const record of parsed.Records) sink ^= Buffer.from(record.Data, 'base64').length;
        },
      },
    ],
  );
}
if (sink === 0.5) console.log(sink);
