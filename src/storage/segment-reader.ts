/**
 * Reads committed records of a shard from any thread, without asking the owner: the shared
 * index gives the watermark and where batches are, and the reading thread reads the segment
 * files itself with pread(2), through descriptors of its own.
 *
 * Only bytes below the watermark are used, and they are immutable once committed, so no lock
 * is needed. Each read operation first takes the watermark, then reads windows of the files:
 * every batch below that watermark was wholly written before the window was read. Windows are
 * never reused by a later operation, whose watermark may cover batches a window caught half
 * written. A segment removed by retention is either still open here (its bytes stay readable
 * until the descriptor closes) or gone (the read restarts from the trim ordinal).
 *
 * Why not memory maps: mapping a segment and unmapping it (when V8 collects its Buffer) both
 * stall the reading thread, which is the server's event loop, for up to ~10 ms when the other
 * threads are busy (page-table locks and TLB shootdowns on every core running the process),
 * and each mapping counts as external memory that brings V8's full collections forward.
 * `docs/architecture.md` has the measurements.
 */
import { closeSync, openSync, readSync } from 'node:fs';

import { READER_FILES_MAX, READ_WINDOW_BYTES_MIN } from '../limits.js';
import {
  BATCH_HEADER_BYTES,
  isEncryptedBatch,
  type BatchHeader,
  newRecordCursor,
  nextRecord,
  readBatchHeader,
  viewOf,
} from './record-batch.js';
import { segmentPath } from './segment.js';
import type { ShardIndex } from './shard-index.js';

/** A batch located in a segment. */
export interface BatchLocation {
  segmentBase: number;
  byteOffset: number;
  header: BatchHeader;
}

/** One record as read from the log; byte ranges point into `bytes`. */
export interface ReadRecord {
  ordinal: number;
  arrivalMs: number;
  /** Appended while its stream's encryption was in effect (its batch's ATTRIBUTE_KMS). */
  encrypted: boolean;
  bytes: Buffer;
  keyStart: number;
  keyEnd: number;
  dataStart: number;
  dataEnd: number;
}

export interface ReadLimits {
  maxRecords: number;
  maxBytes: number;
}

export interface ReadResult {
  records: ReadRecord[];
  /** Ordinal of the first record not returned. */
  nextOrdinal: number;
  /** Where that record's batch is, when known, to skip the lookup next time. */
  nextLocation: { segmentBase: number; byteOffset: number } | undefined;
}

/** A whole committed batch, as stored. */
export interface RawBatch {
  bytes: Uint8Array;
  baseOrdinal: number;
  recordCount: number;
  arrivalMs: number;
}

/** Bytes of a segment read at one moment. */
interface Window {
  base: number;
  start: number;
  bytes: Buffer;
  view: DataView;
}

/** Headers are read whatever their length; the window holding the body is checked when read. */
const HEADER_LIMIT = Number.MAX_SAFE_INTEGER;

/** One read operation: its watermark and the windows it has read. */
class ReadPass {
  window: Window | undefined;
  /** How many more bytes the operation may use: read-ahead stops there. */
  remaining: number;
  /** Where the next window goes in the caller's scratch buffer, if it gave one. */
  scratchUsed = 0;
  scratch: Buffer | undefined;

  constructor(
    /** Every batch below it was written before any window of this pass was read. */
    readonly watermark: number,
    /** The size of the next window read (at least what is needed), doubling up to `budget`. */
    public windowBytes: number,
    readonly budget: number,
  ) {
    this.remaining = budget;
  }
}

/** Reads segment files on demand for one shard, keeping the last few open. */
export class ShardReader {
  /** Open descriptors by segment base ordinal, least recently used first. */
  private readonly files = new Map<number, number>();

  constructor(
    private readonly dir: string,
    readonly index: ShardIndex,
  ) {}

  /** Closes the files of segments below the trim ordinal, so that their space is freed. */
  release(): void {
    const trim = this.index.trimOrdinal();
    const active = this.index.activeSegmentBase();
    for (const [base, fd] of this.files) {
      if (base < trim && base < active) {
        closeSync(fd);
        this.files.delete(base);
      }
    }
  }

  /** Closes every file (the stream is gone or the engine is closing); reads reopen them. */
  close(): void {
    for (const fd of this.files.values()) closeSync(fd);
    this.files.clear();
  }

  private file(base: number): number | undefined {
    let fd = this.files.get(base);
    if (fd !== undefined) {
      this.files.delete(base);
      this.files.set(base, fd);
      return fd;
    }
    try {
      fd = openSync(segmentPath(this.dir, base), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    this.files.set(base, fd);
    if (this.files.size > READER_FILES_MAX) {
      const [oldest, oldestFd] = this.files.entries().next().value!;
      closeSync(oldestFd);
      this.files.delete(oldest);
    }
    return fd;
  }

  private pass(windowBytes: number, budget: number, scratch?: Buffer): ReadPass {
    const pass = new ReadPass(this.index.nextOrdinal(), Math.min(windowBytes, budget), budget);
    pass.scratch = scratch;
    return pass;
  }

  /**
   * Bytes known committed from `offset` of segment `base`: up to the committed end the owner
   * publishes when `base` is the active segment (across a roll the hint may be the other
   * segment's: then it only shrinks a read), unbounded for a sealed one.
   */
  private committedFrom(base: number, offset: number): number {
    return base === this.index.activeSegmentBase() ? this.index.committedEnd() - offset : Infinity;
  }

  /**
   * A window of the pass holding segment bytes [offset, offset + length), reading one when the
   * last does not: at least `length` bytes, and up to the pass's window size, but not past the
   * committed end of the active segment. Undefined when the file is gone or ends before.
   */
  private cover(
    base: number,
    offset: number,
    length: number,
    pass: ReadPass,
    readAhead = pass.windowBytes,
  ): Window | undefined {
    const last = pass.window;
    if (
      last &&
      last.base === base &&
      offset >= last.start &&
      offset + length <= last.start + last.bytes.length
    ) {
      return last;
    }
    const fd = this.file(base);
    if (fd === undefined) return undefined;
    const size = Math.max(
      length,
      Math.min(readAhead, pass.remaining, this.committedFrom(base, offset)),
    );
    pass.windowBytes = Math.min(2 * pass.windowBytes, pass.budget);
    // Windows of one pass never overlap in the scratch buffer: earlier ones hold results.
    const scratch = pass.scratch;
    let bytes: Buffer;
    if (scratch && pass.scratchUsed + size <= scratch.length) {
      bytes = scratch.subarray(pass.scratchUsed, pass.scratchUsed + size);
      pass.scratchUsed += size;
    } else {
      bytes = Buffer.allocUnsafe(size);
    }
    let filled = 0;
    while (filled < size) {
      const read = readSync(fd, bytes, filled, size - filled, offset + filled);
      if (read === 0) break;
      filled += read;
    }
    if (filled < length) return undefined;
    const held = filled < size ? bytes.subarray(0, filled) : bytes;
    const window = { base, start: offset, bytes: held, view: viewOf(held) };
    pass.window = window;
    return window;
  }

  private header(base: number, offset: number, pass: ReadPass): BatchHeader | undefined {
    // A pass's first read is sized before any batch length is known: a large read-ahead there
    // is wasted whenever the batch is larger still (the body is then read again from its
    // start), so it reads ahead READ_WINDOW_BYTES_MIN, enough for a walk from an index entry,
    // unless all that is committed from here fits the window (a reader keeping up): then it
    // reads all of it at once.
    let readAhead = pass.windowBytes;
    if (!pass.window) {
      const committed = this.committedFrom(base, offset);
      if (committed <= 0 || committed > readAhead)
        readAhead = Math.min(readAhead, READ_WINDOW_BYTES_MIN);
    }
    const window = this.cover(base, offset, BATCH_HEADER_BYTES, pass, readAhead);
    return (
      window && readBatchHeader(window.bytes, window.view, offset - window.start, HEADER_LIMIT)
    );
  }

  /** The bytes of a located batch, header included, or undefined if the file ends first. */
  private batchBytes(location: BatchLocation, pass: ReadPass): Buffer | undefined {
    const { segmentBase, byteOffset, header } = location;
    const window = this.cover(segmentBase, byteOffset, header.batchLength, pass);
    const at = window && byteOffset - window.start;
    return window && window.bytes.subarray(at, at! + header.batchLength);
  }

  /** Finds the batch holding `ordinal` (which must be committed and not trimmed). */
  locate(
    ordinal: number,
    hint?: { segmentBase: number; byteOffset: number },
  ): BatchLocation | undefined {
    return this.locateIn(ordinal, hint, this.pass(READ_WINDOW_BYTES_MIN, READ_WINDOW_BYTES_MIN));
  }

  private locateIn(
    ordinal: number,
    hint: { segmentBase: number; byteOffset: number } | undefined,
    pass: ReadPass,
  ): BatchLocation | undefined {
    if (ordinal >= pass.watermark) return undefined;
    if (hint && hint.segmentBase >= 0) {
      const found = this.walk(hint.segmentBase, hint.byteOffset, ordinal, true, pass);
      if (found) return found;
    }
    const entry = this.index.floorByOrdinal(ordinal);
    if (!entry) return undefined;
    return this.walk(entry.segmentBase, entry.byteOffset, ordinal, false, pass);
  }

  /** Finds the first batch that arrived at or after `ms`, or undefined if none has. */
  locateByTime(ms: number): BatchLocation | undefined {
    const pass = this.pass(READ_WINDOW_BYTES_MIN, READ_WINDOW_BYTES_MIN);
    const trim = this.index.trimOrdinal();
    if (this.index.entryCount() === 0 || trim >= pass.watermark) return undefined;
    const entry = this.index.floorByArrivalBefore(ms);
    let location =
      entry && entry.baseOrdinal >= trim
        ? this.walk(entry.segmentBase, entry.byteOffset, entry.baseOrdinal, false, pass)
        : this.locateIn(trim, undefined, pass);
    while (location && location.header.arrivalMs < ms) {
      location = this.after(location, pass);
    }
    return location;
  }

  /** The committed batch right after `location`, following into the next segment. */
  private after(location: BatchLocation, pass: ReadPass): BatchLocation | undefined {
    const next = location.header.baseOrdinal + location.header.recordCount;
    if (next >= pass.watermark) return undefined;
    // A batch that opens a segment has an index entry: follow it rather than read past the end
    // of a sealed segment (its sparse tail) to find nothing there.
    const entry =
      location.segmentBase < this.index.activeSegmentBase()
        ? this.index.floorByOrdinal(next)
        : undefined;
    if (entry && entry.baseOrdinal === next && entry.segmentBase === next) {
      const first = this.header(next, 0, pass);
      return first && first.baseOrdinal === next
        ? { segmentBase: next, byteOffset: 0, header: first }
        : undefined;
    }
    const offset = location.byteOffset + location.header.batchLength;
    const header = this.header(location.segmentBase, offset, pass);
    if (header && header.baseOrdinal === next) {
      return { segmentBase: location.segmentBase, byteOffset: offset, header };
    }
    // The segment was sealed: the next one is named by the next ordinal.
    const first = this.header(next, 0, pass);
    if (!first || first.baseOrdinal !== next) return undefined;
    return { segmentBase: next, byteOffset: 0, header: first };
  }

  /**
   * Walks batch headers from `(segmentBase, byteOffset)` to the batch holding `ordinal`. With
   * `exact`, the walk must start at that batch (a position hint) or it fails.
   */
  private walk(
    segmentBase: number,
    byteOffset: number,
    ordinal: number,
    exact: boolean,
    pass: ReadPass,
  ): BatchLocation | undefined {
    let offset = byteOffset;
    let header = this.header(segmentBase, offset, pass);
    for (;;) {
      if (!header || header.baseOrdinal > ordinal) return undefined;
      if (ordinal < header.baseOrdinal + header.recordCount) {
        return { segmentBase, byteOffset: offset, header } satisfies BatchLocation;
      }
      if (exact) return undefined;
      const next = header.baseOrdinal + header.recordCount;
      offset += header.batchLength;
      header = this.header(segmentBase, offset, pass);
      // Past the last batch of a sealed segment: continue in the next one.
      if (!header || header.baseOrdinal !== next) return this.walk(next, 0, ordinal, false, pass);
    }
  }

  /**
   * Reads committed records from `ordinal` on, within the limits. Records are byte ranges into
   * the buffers read for this call: callers own them, and the log stays immutable.
   */
  read(
    ordinal: number,
    limits: ReadLimits,
    hint?: { segmentBase: number; byteOffset: number },
  ): ReadResult {
    const pass = this.pass(READ_WINDOW_BYTES_MIN, limits.maxBytes + READ_WINDOW_BYTES_MIN);
    const records: ReadRecord[] = [];
    if (ordinal >= pass.watermark) {
      return { records, nextOrdinal: ordinal, nextLocation: hint };
    }
    let location = this.locateIn(ordinal, hint, pass);
    let bytesRead = 0;
    let next = ordinal;
    while (location && records.length < limits.maxRecords) {
      const { header } = location;
      const batch = this.batchBytes(location, pass);
      if (!batch)
        throw new Error(`batch at ${location.segmentBase}:${location.byteOffset} is cut short`);
      const bytes = batch.subarray(BATCH_HEADER_BYTES);
      const encrypted = isEncryptedBatch(batch);
      const cursor = newRecordCursor(0);
      let recordOrdinal = header.baseOrdinal;
      let full = false;
      for (let i = 0; i < header.recordCount; i++, recordOrdinal++) {
        if (!nextRecord(bytes, cursor, bytes.length)) {
          throw new Error(`corrupt batch at ${location.segmentBase}:${location.byteOffset}`);
        }
        if (recordOrdinal < next) continue;
        // What GetRecords's 10 MiB bound counts: data and partition key (not the stored
        // framing or an explicit hash key), as a record's size is counted where it is put.
        const recordSize = cursor.dataEnd - cursor.dataStart + cursor.keyEnd - cursor.keyStart;
        if (
          records.length >= limits.maxRecords ||
          (records.length > 0 && bytesRead + recordSize > limits.maxBytes)
        ) {
          full = true;
          break;
        }
        bytesRead += recordSize;
        pass.remaining = limits.maxBytes - bytesRead + READ_WINDOW_BYTES_MIN;
        records.push({
          ordinal: recordOrdinal,
          arrivalMs: header.arrivalMs,
          encrypted,
          bytes,
          keyStart: cursor.keyStart,
          keyEnd: cursor.keyEnd,
          dataStart: cursor.dataStart,
          dataEnd: cursor.dataEnd,
        });
        next = recordOrdinal + 1;
      }
      if (full) {
        return {
          records,
          nextOrdinal: next,
          nextLocation: { segmentBase: location.segmentBase, byteOffset: location.byteOffset },
        };
      }
      const after = this.after(location, pass);
      if (!after) return { records, nextOrdinal: next, nextLocation: this.endLocation(location) };
      location = after;
    }
    return {
      records,
      nextOrdinal: next,
      nextLocation: location
        ? { segmentBase: location.segmentBase, byteOffset: location.byteOffset }
        : undefined,
    };
  }

  /**
   * Whole committed batches from the one holding `ordinal` on, up to `maxBytes` (at least one
   * batch when any is committed). The bytes are views of buffers read for this call, mostly
   * one read for all of them. The first batch may start before `ordinal`. With `scratch`, the
   * reads go into it while they fit: the batches are then valid only until the caller reuses
   * it (a sender that copies them out at once, like the WebSocket subscriptions).
   */
  readBatches(ordinal: number, maxBytes: number, scratch?: Buffer): RawBatch[] {
    const pass = this.pass(maxBytes, maxBytes, scratch);
    const batches: RawBatch[] = [];
    let location = this.locateIn(ordinal, undefined, pass);
    let bytes = 0;
    while (location) {
      const length = location.header.batchLength;
      if (batches.length > 0 && bytes + length > maxBytes) break;
      const batch = this.batchBytes(location, pass);
      if (!batch)
        throw new Error(`batch at ${location.segmentBase}:${location.byteOffset} is cut short`);
      batches.push({
        bytes: batch,
        baseOrdinal: location.header.baseOrdinal,
        recordCount: location.header.recordCount,
        arrivalMs: location.header.arrivalMs,
      });
      bytes += length;
      pass.remaining = maxBytes - bytes;
      location = this.after(location, pass);
    }
    return batches;
  }

  /** The position right after a batch: where the next batch will be if it fits the segment. */
  private endLocation(location: BatchLocation) {
    return {
      segmentBase: location.segmentBase,
      byteOffset: location.byteOffset + location.header.batchLength,
    };
  }
}
