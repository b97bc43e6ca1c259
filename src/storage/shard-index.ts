/**
 * The shared index of one shard: a growable SharedArrayBuffer written only by the shard's owner
 * worker and read by any thread, so readers find committed records without messaging the owner.
 *
 * Layout (little-endian, 8-byte aligned):
 *
 *   header, HEADER_BYTES:
 *     int32  [0]  commit counter: incremented after every commit; readers Atomics.waitAsync on it
 *     int32  [1]  entry count: entries [0, count) are complete and immutable
 *     int32  [2]  flags: bit 0 = open (owner has recovered the shard), bit 1 = closed for good
 *                 (stream deleted or shard expired: no task may reopen its files)
 *     int32  [3]  reserved
 *     int64  [2]  next ordinal: every record with a smaller ordinal is committed (the watermark)
 *     int64  [3]  trim ordinal: records below it were removed by retention
 *     int64  [4]  arrival time of the newest committed batch, epoch ms
 *     int64  [5]  base ordinal of the segment holding the next append
 *     int64  [6]  committed end: the byte offset in the active segment after its last
 *                 committed batch (a bound for readers' read-ahead, not a commit signal)
 *   entries from HEADER_BYTES, ENTRY_BYTES each, as float64 (exact for integers below 2^53):
 *     [0] base ordinal of a batch   [1] base ordinal of its segment
 *     [2] byte offset in the segment [3] arrival time, epoch ms
 *
 * An entry is published for the first batch of every segment and then whenever
 * INDEX_INTERVAL_BYTES of the segment have passed since the last entry (a sparse index, like
 * Kafka's offset index): a lookup binary-searches the entries, then walks batch headers forward.
 * Entries are never checksummed; they are rebuilt from the segments when a shard is opened.
 *
 * Publication order (owner): batch bytes → entry fields → Atomics.store(entry count) →
 * Atomics.store(next ordinal) → Atomics.add(commit counter) → Atomics.notify. Atomics are
 * sequentially consistent, so a reader that loads the watermark with Atomics.load sees every
 * byte written before it, including the batch bytes in the segment file.
 */
import { SHARD_INDEX_BYTES_INITIAL, SHARD_INDEX_BYTES_MAX } from '../limits.js';

const COMMIT_COUNTER_I32 = 0;
const ENTRY_COUNT_I32 = 1;
const FLAGS_I32 = 2;
const NEXT_ORDINAL_I64 = 2;
const TRIM_ORDINAL_I64 = 3;
const LAST_ARRIVAL_I64 = 4;
const ACTIVE_SEGMENT_I64 = 5;
const COMMITTED_END_I64 = 6;
const HEADER_BYTES = 64;
const ENTRY_FIELDS = 4;
const ENTRY_BYTES = ENTRY_FIELDS * 8;
const FLAG_OPEN = 1;
const FLAG_CLOSED = 2;

export const SHARD_INDEX_ENTRIES_MAX = Math.floor(
  (SHARD_INDEX_BYTES_MAX - HEADER_BYTES) / ENTRY_BYTES,
);

export interface IndexEntry {
  baseOrdinal: number;
  segmentBase: number;
  byteOffset: number;
  arrivalMs: number;
}

export function createShardIndexBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(SHARD_INDEX_BYTES_INITIAL, { maxByteLength: SHARD_INDEX_BYTES_MAX });
}

export class ShardIndex {
  private readonly i32: Int32Array;
  private readonly i64: BigInt64Array;
  private readonly entries: Float64Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    // Views without a length track the buffer as it grows.
    this.i32 = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    this.i64 = new BigInt64Array(buffer, 0, HEADER_BYTES / 8);
    this.entries = new Float64Array(buffer, HEADER_BYTES);
  }

  // ---- read side (any thread) --------------------------------------------------------------

  /** The watermark: ordinals below it are committed and readable. */
  nextOrdinal(): number {
    return Number(Atomics.load(this.i64, NEXT_ORDINAL_I64));
  }

  trimOrdinal(): number {
    return Number(Atomics.load(this.i64, TRIM_ORDINAL_I64));
  }

  lastArrivalMs(): number {
    return Number(Atomics.load(this.i64, LAST_ARRIVAL_I64));
  }

  activeSegmentBase(): number {
    return Number(Atomics.load(this.i64, ACTIVE_SEGMENT_I64));
  }

  /**
   * Where the active segment's committed bytes end. Loaded apart from the active segment's
   * base, so across a roll it may belong to the other segment: use it to size reads, never to
   * decide what is committed (the watermark does that).
   */
  committedEnd(): number {
    return Number(Atomics.load(this.i64, COMMITTED_END_I64));
  }

  commitCounter(): number {
    return Atomics.load(this.i32, COMMIT_COUNTER_I32);
  }

  isOpen(): boolean {
    return (Atomics.load(this.i32, FLAGS_I32) & FLAG_OPEN) !== 0;
  }

  isClosed(): boolean {
    return (Atomics.load(this.i32, FLAGS_I32) & FLAG_CLOSED) !== 0;
  }

  entryCount(): number {
    return Atomics.load(this.i32, ENTRY_COUNT_I32);
  }

  entry(i: number): IndexEntry {
    const base = i * ENTRY_FIELDS;
    return {
      baseOrdinal: this.entries[base]!,
      segmentBase: this.entries[base + 1]!,
      byteOffset: this.entries[base + 2]!,
      arrivalMs: this.entries[base + 3]!,
    };
  }

  /** The last entry whose batch starts at or before `ordinal`, or undefined. */
  floorByOrdinal(ordinal: number): IndexEntry | undefined {
    return this.floor(ordinal, 0);
  }

  /** The last entry whose arrival time is strictly before `ms`, or undefined. */
  floorByArrivalBefore(ms: number): IndexEntry | undefined {
    return this.floor(ms, 3, true);
  }

  private floor(value: number, field: number, strict = false): IndexEntry | undefined {
    let low = 0;
    let high = this.entryCount() - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const key = this.entries[middle * ENTRY_FIELDS + field]!;
      if (strict ? key < value : key <= value) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found < 0 ? undefined : this.entry(found);
  }

  /**
   * Resolves when the commit counter moves past `seen` or `timeoutMs` passes. Never blocks the
   * calling thread (Atomics.waitAsync), so it is safe on the main thread.
   */
  async waitForCommit(seen: number, timeoutMs: number): Promise<void> {
    const result = Atomics.waitAsync(this.i32, COMMIT_COUNTER_I32, seen, timeoutMs);
    if (result.async) await result.value;
  }

  /**
   * Wakes every waitForCommit without a commit: for a change readers must see that the index does
   * not hold (a closed shard's end, which the engine records once the owner has sealed it).
   */
  wakeWaiters(): void {
    this.notify();
  }

  // ---- write side (owner worker only) --------------------------------------------------------

  reset(): void {
    Atomics.store(this.i32, ENTRY_COUNT_I32, 0);
    Atomics.store(this.i32, FLAGS_I32, 0);
    Atomics.store(this.i64, NEXT_ORDINAL_I64, 0n);
    Atomics.store(this.i64, TRIM_ORDINAL_I64, 0n);
    Atomics.store(this.i64, LAST_ARRIVAL_I64, 0n);
    Atomics.store(this.i64, ACTIVE_SEGMENT_I64, 0n);
    Atomics.store(this.i64, COMMITTED_END_I64, 0n);
  }

  markOpen(): void {
    Atomics.or(this.i32, FLAGS_I32, FLAG_OPEN);
    this.notify();
  }

  markClosed(): void {
    Atomics.or(this.i32, FLAGS_I32, FLAG_CLOSED);
    this.notify();
  }

  /**
   * Appends an entry. Returns false when the index has reached SHARD_INDEX_BYTES_MAX: lookups
   * then walk further from the last entry, which stays correct, only slower.
   */
  addEntry(entry: IndexEntry): boolean {
    const count = this.entryCount();
    const needed = HEADER_BYTES + (count + 1) * ENTRY_BYTES;
    if (needed > this.buffer.byteLength) {
      if (needed > this.buffer.maxByteLength) return false;
      this.buffer.grow(Math.min(this.buffer.maxByteLength, this.buffer.byteLength * 2));
    }
    const base = count * ENTRY_FIELDS;
    this.entries[base] = entry.baseOrdinal;
    this.entries[base + 1] = entry.segmentBase;
    this.entries[base + 2] = entry.byteOffset;
    this.entries[base + 3] = entry.arrivalMs;
    // Publishing the count after the fields: a reader that sees count + 1 sees the fields too.
    Atomics.store(this.i32, ENTRY_COUNT_I32, count + 1);
    return true;
  }

  setActiveSegment(baseOrdinal: number): void {
    Atomics.store(this.i64, ACTIVE_SEGMENT_I64, BigInt(baseOrdinal));
  }

  setTrimOrdinal(ordinal: number): void {
    Atomics.store(this.i64, TRIM_ORDINAL_I64, BigInt(ordinal));
  }

  /**
   * Publishes a commit: the batch bytes and any entry must already be written. `committedEnd`
   * is the active segment's byte offset after the committed batches.
   */
  commit(nextOrdinal: number, arrivalMs: number, committedEnd: number): void {
    Atomics.store(this.i64, LAST_ARRIVAL_I64, BigInt(arrivalMs));
    Atomics.store(this.i64, COMMITTED_END_I64, BigInt(committedEnd));
    Atomics.store(this.i64, NEXT_ORDINAL_I64, BigInt(nextOrdinal));
    this.notify();
  }

  private notify(): void {
    Atomics.add(this.i32, COMMIT_COUNTER_I32, 1);
    Atomics.notify(this.i32, COMMIT_COUNTER_I32);
  }
}
