// Child process for the resharding SIGKILL test: puts records as fast as it can while another
// loop reshards the stream without pause (UpdateShardCount 2 ⇄ 4, splits and merges), and
// prints "ACK <shard id> <sequence number> <partition key>" per acknowledged record and
// "RESHARD <n>" per completed reshard. The parent kills it with SIGKILL at some point of that.
import { Engine } from '../../dist/src/index.js';

const [dataDir] = process.argv.slice(2);
const engine = await Engine.open({ dataDir, workers: 2, segmentBytes: 256 * 1024 });
const { StreamNames } = await engine.listStreams();
if (!StreamNames.includes('crash'))
  await engine.createStream({ StreamName: 'crash', ShardCount: 2 });
process.stdout.write('READY\n');
let counter = 0;
const run = `${process.pid}`;

async function producer() {
  for (;;) {
    const Records = Array.from({ length: 50 }, () => {
      const key = `key-${run}-${counter++}`;
      return { PartitionKey: key, Data: Buffer.from(`data-of-${key}`) };
    });
    const output = await engine.putRecords({ StreamName: 'crash', Records });
    let lines = '';
    output.Records.forEach((result, i) => {
      if (result.SequenceNumber)
        lines += `ACK ${result.ShardId} ${result.SequenceNumber} ${Records[i].PartitionKey}\n`;
    });
    process.stdout.write(lines);
  }
}

async function resharder() {
  for (let n = 0; ; n++) {
    const open = (
      await engine.listShards({ StreamName: 'crash', ShardFilter: { Type: 'AT_LATEST' } })
    ).Shards;
    if (n % 3 === 2 && open.length >= 2) {
      const sorted = [...open].sort((a, b) =>
        BigInt(a.HashKeyRange.StartingHashKey) < BigInt(b.HashKeyRange.StartingHashKey) ? -1 : 1,
      );
      await engine.mergeShards({
        StreamName: 'crash',
        ShardToMerge: sorted[0].ShardId,
        AdjacentShardToMerge: sorted[1].ShardId,
      });
    } else {
      const target = open.length >= 4 ? 2 : 4;
      const allowed = Math.min(Math.max(target, Math.ceil(open.length / 2)), open.length * 2);
      await engine.updateShardCount({
        StreamName: 'crash',
        TargetShardCount: allowed,
        ScalingType: 'UNIFORM_SCALING',
      });
    }
    process.stdout.write(`RESHARD ${n}\n`);
  }
}

await Promise.all([producer(), producer(), resharder()]);
