/**
 * Micro-benchmark: shard lookups on the hot paths — routing a hash key to its shard
 * (`ShardRouter.route`, binary search over packed starting keys) for 4 and 1,000 shards, and
 * finding a batch by ordinal in the shared index (`ShardIndex.floorByOrdinal`, binary search
 * over 100,000 entries) — against the baseline of a `Map.get` by string (what routing by shard
 * id in a JS map would cost). Figure: lookups/s, one thread.
 * Usage: node dist/bench/micro/shard-index.js
 */
import { ShardRouter } from '../../src/engine/shard-router.js';
import { evenHashRanges, partitionKeyWords } from '../../src/kinesis/hash-key.js';
import { ShardIndex, createShardIndexBuffer } from '../../src/storage/shard-index.js';
import { runMicro } from './run.js';

const LOOKUPS = 1000;
const ENTRIES = 100_000;
const words = Array.from({ length: LOOKUPS }, (_, i) => {
  const out = new Uint32Array(4);
  partitionKeyWords(`k-${i}`, out);
  return out;
});
const router4 = new ShardRouter(evenHashRanges(4).map((range) => range.start));
const router1000 = new ShardRouter(evenHashRanges(1000).map((range) => range.start));
const index = new ShardIndex(createShardIndexBuffer());
for (let i = 0; i < ENTRIES; i++)
  index.addEntry({ baseOrdinal: i * 50, segmentBase: 0, byteOffset: i * 16384, arrivalMs: i });
const ordinals = Array.from({ length: LOOKUPS }, (_, i) => ((i * 7919) % ENTRIES) * 50 + 17);
const map = new Map(
  Array.from({ length: 1000 }, (_, i) => [`shardId-${String(i).padStart(12, '0')}`, i]),
);
const names = Array.from(
  { length: LOOKUPS },
  (_, i) => `shardId-${String(i % 1000).padStart(12, '0')}`,
);
let sink = 0;

await runMicro('shard lookups, 1000 per call', 'Map.get by shard id string', [
  {
    name: 'ShardRouter.route, 4 shards',
    items: LOOKUPS,
    fn: () => {
      for (const w of words) sink ^= router4.route(w);
    },
  },
  {
    name: 'ShardRouter.route, 1,000 shards',
    items: LOOKUPS,
    fn: () => {
      for (const w of words) sink ^= router1000.route(w);
    },
  },
  {
    name: 'ShardIndex.floorByOrdinal, 100,000 entries',
    items: LOOKUPS,
    fn: () => {
      for (const o of ordinals) sink ^= index.floorByOrdinal(o)!.byteOffset;
    },
  },
  {
    name: 'baseline: Map.get by shard id',
    items: LOOKUPS,
    fn: () => {
      for (const n of names) sink ^= map.get(n)!;
    },
  },
]);
if (sink === 0.5) console.log(sink);
