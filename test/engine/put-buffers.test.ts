/**
 * The engine's put buffers (src/engine/put-buffers.ts) on their own: capacity classes, what is
 * kept when buffers come back, and the bound on what is kept. Their round trip through real
 * shard workers is tested in engine.test.ts ("puts through put buffers…").
 */
import { describe, expect, it } from 'vitest';
import { PutBufferPool, putBufferCapacity } from '../../src/engine/put-buffers.js';
import { PUT_BUFFER_BYTES_MIN } from '../../src/limits.js';

const KIB = 1024;

describe('put buffers', () => {
  it('sizes buffers in four classes per power of two, wasting at most a fifth of one', () => {
    expect(putBufferCapacity(16 * KIB)).toBe(16 * KIB);
    expect(putBufferCapacity(16 * KIB + 1)).toBe(20 * KIB);
    expect(putBufferCapacity(111_020)).toBe(112 * KIB);
    expect(putBufferCapacity(1_048_596)).toBe(1280 * KIB);
    for (
      let bytes = PUT_BUFFER_BYTES_MIN;
      bytes < 64 * 1024 * KIB;
      bytes = Math.ceil(bytes * 1.013) + 7
    ) {
      const capacity = putBufferCapacity(bytes);
      expect(capacity).toBeGreaterThanOrEqual(bytes);
      expect(capacity - bytes).toBeLessThan(capacity / 5);
      expect(putBufferCapacity(capacity)).toBe(capacity);
    }
  });

  it('gives small batches buffers of their own, and large ones a view at the start of a pooled buffer', () => {
    const pool = new PutBufferPool();
    const small = pool.take(PUT_BUFFER_BYTES_MIN - 1);
    expect(small.byteLength).toBe(PUT_BUFFER_BYTES_MIN - 1);
    expect(small.buffer.byteLength).toBe(PUT_BUFFER_BYTES_MIN - 1);
    expect(pool.owns(small.buffer)).toBe(false);
    const large = pool.take(111_020);
    expect(large.byteOffset).toBe(0);
    expect(large.byteLength).toBe(111_020);
    expect(large.buffer.byteLength).toBe(112 * KIB);
    expect(pool.owns(large.buffer)).toBe(true);
    expect(pool.allocated).toBe(1);
  });

  it('keeps buffers that come back only if their size is a class, up to its byte bound', () => {
    const pool = new PutBufferPool(256 * KIB);
    const back = (bytes: number) => new ArrayBuffer(bytes);
    pool.give([back(112 * KIB), back(100_000), back(8 * KIB), back(112 * KIB), back(112 * KIB)]);
    // 100,000 is no class and 8 KiB is below the smallest; the third 112 KiB would pass 256 KiB.
    expect(pool.pooledBytes).toBe(224 * KIB);
    const first = pool.take(110_000);
    const second = pool.take(100_000);
    expect(pool.reused).toBe(2);
    expect(pool.owns(first.buffer) && pool.owns(second.buffer)).toBe(true);
    expect(pool.pooledBytes).toBe(0);
    pool.take(110_000);
    expect(pool.allocated).toBe(1);
  });
});
