// Goal: a process killed with SIGKILL while it reshards a stream under a stream of puts loses no
// acknowledged record, stores each in the shard it was acknowledged in, and reopens with a
// consistent shard map: the open shards tile the key space, every closed shard has a recorded
// end and ends its reads with ChildShards, and new puts go to open shards. Killed four times on
// the same data directory, each after more reshards, so the kills fall at different steps. (The
// narrow step between a reshard's switch and its saved ends, which a kill hits only now and then,
// is covered deterministically by test/engine/resharding.test.ts, "…cut short before the ends
// were recorded".)
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { HASH_KEY_MAX } from '../../src/kinesis/hash-key.js';
import { runWriterUntilKilled } from '../helpers/kill-writer.js';
import { readShard } from '../helpers/read-all.js';
import { tempDir } from '../helpers/temp-dir.js';

const WRITER = fileURLToPath(new URL('./reshard-writer-process.mjs', import.meta.url));
/** Reshards completed before each kill: the kill lands somewhere in the next ones. */
const RESHARDS_BEFORE_KILL = [3, 6, 9, 12];

let cleanup: () => void = () => undefined;
afterEach(() => cleanup());

interface Ack {
  shardId: string;
  key: string;
}

/** Runs the writer until it has completed `reshards` reshards (and some puts), then SIGKILLs it. */
function runAndKill(dataDir: string, reshards: number, acked: Map<string, Ack>): Promise<void> {
  let done = 0;
  let acks = 0;
  return runWriterUntilKilled(WRITER, dataDir, (line) => {
    const [kind, a, b, c] = line.split(' ');
    if (kind === 'ACK') {
      acked.set(b!, { shardId: a!, key: c! });
      acks++;
    }
    if (kind === 'RESHARD') done = Number(a) + 1;
    // Some turns later, so the kill falls inside a reshard as often as between two.
    return done >= reshards && acks > 1000 ? { killAfterMs: done % 3 } : undefined;
  });
}

describe('crash safety while resharding', () => {
  it('keeps every acknowledged record in its shard and a consistent shard map, across repeated kills', async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const acked = new Map<string, Ack>();
    for (const reshards of RESHARDS_BEFORE_KILL) {
      await runAndKill(temp.dir, reshards, acked);
      const engine = await Engine.open({ dataDir: temp.dir, workers: 2, segmentBytes: 256 * 1024 });
      try {
        const { Shards } = await engine.listShards({ StreamName: 'crash' });
        const open = Shards.filter(
          (shard) => shard.SequenceNumberRange.EndingSequenceNumber === undefined,
        ).sort((x, y) =>
          BigInt(x.HashKeyRange.StartingHashKey) < BigInt(y.HashKeyRange.StartingHashKey) ? -1 : 1,
        );
        let next = 0n;
        for (const shard of open) {
          expect(BigInt(shard.HashKeyRange.StartingHashKey)).toBe(next);
          next = BigInt(shard.HashKeyRange.EndingHashKey) + 1n;
        }
        expect(next).toBe(HASH_KEY_MAX + 1n);
        const found = new Map<string, Ack>();
        for (const shard of Shards) {
          for (const record of await readShard(engine, 'crash', shard.ShardId)) {
            expect(found.has(record.SequenceNumber)).toBe(false);
            found.set(record.SequenceNumber, { shardId: shard.ShardId, key: record.PartitionKey! });
            expect(Buffer.from(record.Data).toString()).toBe(`data-of-${record.PartitionKey}`);
          }
          if (shard.SequenceNumberRange.EndingSequenceNumber !== undefined) {
            const latest = await engine.getShardIterator({
              StreamName: 'crash',
              ShardId: shard.ShardId,
              ShardIteratorType: 'LATEST',
            });
            const end = await engine.getRecords({ ShardIterator: latest.ShardIterator! });
            expect(end.NextShardIterator).toBeUndefined();
            expect(end.ChildShards!.length).toBeGreaterThan(0);
          }
        }
        const missing = [...acked].filter(([sequence, ack]) => {
          const stored = found.get(sequence);
          return stored?.shardId !== ack.shardId || stored.key !== ack.key;
        });
        expect(missing.slice(0, 5)).toEqual([]);
        const put = await engine.putRecord({
          StreamName: 'crash',
          PartitionKey: 'after',
          Data: Buffer.from('data-of-after'),
        });
        expect(open.map((shard) => shard.ShardId)).toContain(put.ShardId);
        acked.set(put.SequenceNumber, { shardId: put.ShardId, key: 'after' });
      } finally {
        await engine.close();
      }
    }
  });
});
