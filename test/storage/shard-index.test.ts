// Goal: the shared index publishes commits and sparse entries that another thread reads
// correctly: lookups by ordinal and by arrival time, growth past its initial size, and
// Atomics.waitAsync wake-ups when a real worker thread commits.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { SHARD_INDEX_BYTES_INITIAL } from '../../src/limits.js';
import { ShardIndex, createShardIndexBuffer } from '../../src/storage/shard-index.js';

describe('ShardIndex', () => {
  it('finds the floor entry by ordinal and by arrival time, and grows past its first size', () => {
    const index = new ShardIndex(createShardIndexBuffer());
    const entries = 10_000; // 320 KB of entries: several times the initial buffer
    for (let i = 0; i < entries; i++) {
      expect(
        index.addEntry({
          baseOrdinal: i * 10,
          segmentBase: Math.floor(i / 100) * 1000,
          byteOffset: (i % 100) * 4096,
          arrivalMs: 1000 + i,
        }),
      ).toBe(true);
    }
    expect(index.buffer.byteLength).toBeGreaterThan(SHARD_INDEX_BYTES_INITIAL);
    expect(index.entryCount()).toBe(entries);
    expect(index.floorByOrdinal(0)).toMatchObject({ baseOrdinal: 0 });
    expect(index.floorByOrdinal(12_345)).toMatchObject({
      baseOrdinal: 12_340,
      segmentBase: 12_000,
      byteOffset: 34 * 4096,
    });
    expect(index.floorByOrdinal(10 * entries + 5)).toMatchObject({
      baseOrdinal: 10 * (entries - 1),
    });
    expect(index.floorByArrivalBefore(1000)).toBeUndefined();
    expect(index.floorByArrivalBefore(1500)).toMatchObject({ arrivalMs: 1499 });
  });

  it('publishes the watermark, trim horizon and committed end with Atomics', () => {
    const index = new ShardIndex(createShardIndexBuffer());
    const reader = new ShardIndex(index.buffer);
    index.commit(42, 1234, 4096);
    index.setTrimOrdinal(7);
    expect([
      reader.nextOrdinal(),
      reader.lastArrivalMs(),
      reader.trimOrdinal(),
      reader.committedEnd(),
    ]).toEqual([42, 1234, 7, 4096]);
  });

  it('wakes a main-thread waiter when a worker thread commits, without blocking the main thread', async () => {
    const index = new ShardIndex(createShardIndexBuffer());
    const worker = new Worker(
      `const { workerData } = require('node:worker_threads');
       const i64 = new BigInt64Array(workerData, 0, 8);
       const i32 = new Int32Array(workerData, 0, 16);
       setTimeout(() => {
         Atomics.store(i64, 2, 5n);
         Atomics.add(i32, 0, 1);
         Atomics.notify(i32, 0);
       }, 100);`,
      { eval: true, workerData: index.buffer },
    );
    const seen = index.commitCounter();
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    await index.waitForCommit(seen, 5000);
    clearInterval(ticker);
    expect(index.nextOrdinal()).toBe(5);
    // The event loop kept running while waiting: the wait was asynchronous.
    expect(ticks).toBeGreaterThan(2);
    await worker.terminate();
  });
});
