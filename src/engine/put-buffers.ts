/**
 * Buffers for the batches a front end copies out of its requests (the WebSocket put handler:
 * uWS takes a message's memory back when the handler returns) and the engine moves to a shard
 * worker. The worker moves each one back with its answer, and the pool keeps it for the next put.
 *
 * Why: a buffer allocated per put on the event loop and freed on the worker thread is a malloc
 * and a free in different threads for every put, of 100 KB to 1 MB. glibc then trims and grows
 * its heap, and each new buffer lands in pages the kernel must supply afresh; on a VM that hands
 * free memory back to its host, such pages cost 1–4 ms of CPU per MB (bench/RESULTS.md). Kept
 * buffers stay in pages already touched, and V8 sees no new external memory for them.
 *
 * Capacities come in classes, four per power of two (16 KiB, 20 KiB, 24 KiB, 28 KiB, 32 KiB, …),
 * so a buffer fits the next put of about the same size while wasting at most a fifth of itself. A
 * buffer that comes back is kept only if its capacity is a class and the pool holds less than
 * PUT_BUFFER_POOL_BYTES_MAX; the rest are left to the garbage collector. Below
 * PUT_BUFFER_BYTES_MIN a batch gets a buffer of its own, as before: small buffers cost little.
 */
import { PUT_BUFFER_BYTES_MIN, PUT_BUFFER_POOL_BYTES_MAX } from '../limits.js';

const CLASSES_PER_DOUBLING = 4;

/** The smallest class capacity that holds `bytes` (bytes ≥ PUT_BUFFER_BYTES_MIN). */
export function putBufferCapacity(bytes: number): number {
  const power = 2 ** Math.floor(Math.log2(bytes));
  const step = power / CLASSES_PER_DOUBLING;
  return power + Math.ceil((bytes - power) / step) * step;
}

export class PutBufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  /** Buffers handed out by `take` or kept by `give`: moved to a worker whole, and asked back. */
  private readonly owned = new WeakSet<ArrayBufferLike>();
  private pooled = 0;
  /** Puts served from a kept buffer, and from a new one (Engine.putBufferStats). */
  reused = 0;
  allocated = 0;

  constructor(private readonly bytesMax = PUT_BUFFER_POOL_BYTES_MAX) {}

  /** Bytes of the buffers kept for reuse. */
  get pooledBytes(): number {
    return this.pooled;
  }

  /** A view of `bytes` bytes at the start of a buffer for one batch; its content is undefined. */
  take(bytes: number): Uint8Array {
    if (bytes < PUT_BUFFER_BYTES_MIN) return Buffer.allocUnsafeSlow(bytes);
    const capacity = putBufferCapacity(bytes);
    let buffer = this.free.get(capacity)?.pop();
    if (buffer) {
      this.pooled -= capacity;
      this.reused++;
    } else {
      // allocUnsafeSlow: an ArrayBuffer of its own, not zero-filled first.
      buffer = Buffer.allocUnsafeSlow(capacity).buffer as ArrayBuffer;
      this.owned.add(buffer);
      this.allocated++;
    }
    return new Uint8Array(buffer, 0, bytes);
  }

  /** Whether `buffer` came from this pool: it moves to the worker whole, and comes back. */
  owns(buffer: ArrayBufferLike): boolean {
    return this.owned.has(buffer);
  }

  /** Buffers a worker moved back (new objects over the same memory): kept while there is room. */
  give(buffers: ArrayBuffer[]): void {
    for (const buffer of buffers) {
      const capacity = buffer.byteLength;
      if (capacity < PUT_BUFFER_BYTES_MIN || putBufferCapacity(capacity) !== capacity) continue;
      if (this.pooled + capacity > this.bytesMax) continue;
      let list = this.free.get(capacity);
      if (!list) this.free.set(capacity, (list = []));
      list.push(buffer);
      this.owned.add(buffer);
      this.pooled += capacity;
    }
  }
}
