/**
 * Reads committed records of a shard from any thread, without asking the owner: the shared
 * index gives the watermark and where batches are, and each reading thread maps segment files
 * read-only for itself (a mapping cannot move between threads).
 *
 * Only bytes below the watermark are read, and they are immutable once committed, so no lock
 * is needed. A segment removed by retention is either still mapped here (safe to read until the
 * mapping is dropped) or gone (the read restarts from the trim ordinal).
 */
import { mapReadOnly } from './mmap.js';
import {
  BATCH_HEADER_BYTES,
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

interface MappedSegment {
  mapping: Buffer;
  view: DataView;
}

/** One record as read from the log; byte ranges point into `bytes`. */
export interface ReadRecord {
  ordinal: number;
  arrivalMs: number;
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

/** Maps segment files on demand and caches the mappings of one shard. */
export class ShardReader {
  private readonly mapped = new Map<number, MappedSegment>();

  constructor(
    private readonly dir: string,
    readonly index: ShardIndex,
  ) {}

  /** Drops mappings of segments below the trim ordinal so their memory can be reclaimed. */
  release(): void {
    const trim = this.index.trimOrdinal();
    for (const base of this.mapped.keys()) {
      if (base < trim && this.isBelowActive(base)) this.mapped.delete(base);
    }
  }

  private isBelowActive(base: number): boolean {
    return base < this.index.activeSegmentBase();
  }

  private segment(base: number): MappedSegment | undefined {
    let segment = this.mapped.get(base);
    // The active segment may have been mapped before it was extended; sizes never shrink.
    if (!segment) {
      let mapping: Buffer;
      try {
        mapping = mapReadOnly(segmentPath(this.dir, base));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
      segment = { mapping, view: viewOf(mapping) };
      this.mapped.set(base, segment);
    }
    return segment;
  }

  /** Finds the batch holding `ordinal` (which must be committed and not trimmed). */
  locate(ordinal: number, hint?: { segmentBase: number; byteOffset: number }): BatchLocation | undefined {
    if (hint && hint.segmentBase >= 0) {
      const found = this.walk(hint.segmentBase, hint.byteOffset, ordinal, true);
      if (found) return found;
    }
    const entry = this.index.floorByOrdinal(ordinal);
    if (!entry) return undefined;
    return this.walk(entry.segmentBase, entry.byteOffset, ordinal, false);
  }

  /** Finds the first batch that arrived at or after `ms`, or undefined if none has. */
  locateByTime(ms: number): BatchLocation | undefined {
    const watermark = this.index.nextOrdinal();
    const trim = this.index.trimOrdinal();
    if (this.index.entryCount() === 0 || trim >= watermark) return undefined;
    const entry = this.index.floorByArrivalBefore(ms);
    let location = entry && entry.baseOrdinal >= trim
      ? this.walk(entry.segmentBase, entry.byteOffset, entry.baseOrdinal, false)
      : this.locate(trim);
    while (location && location.header.arrivalMs < ms) {
      location = this.after(location);
    }
    return location;
  }

  /** The batch right after `location`, following into the next segment. */
  private after(location: BatchLocation): BatchLocation | undefined {
    const next = location.header.baseOrdinal + location.header.recordCount;
    if (next >= this.index.nextOrdinal()) return undefined;
    const offset = location.byteOffset + location.header.batchLength;
    const segment = this.segment(location.segmentBase);
    const header = segment && readBatchHeader(segment.mapping, segment.view, offset, segment.mapping.length);
    if (header && header.baseOrdinal === next) {
      return { segmentBase: location.segmentBase, byteOffset: offset, header };
    }
    // The segment was sealed: the next one is named by the next ordinal.
    const following = this.segment(next);
    const first = following && readBatchHeader(following.mapping, following.view, 0, following.mapping.length);
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
  ): BatchLocation | undefined {
    const segment = this.segment(segmentBase);
    if (!segment) return undefined;
    const { mapping, view } = segment;
    let offset = byteOffset;
    for (;;) {
      const header = readBatchHeader(mapping, view, offset, mapping.length);
      if (!header || header.baseOrdinal > ordinal) return undefined;
      if (ordinal < header.baseOrdinal + header.recordCount) {
        return { segmentBase, byteOffset: offset, header } satisfies BatchLocation;
      }
      if (exact) return undefined;
      offset += header.batchLength;
      if (offset + BATCH_HEADER_BYTES > mapping.length) {
        // Past the end of a sealed segment: continue in the next one.
        return this.walk(header.baseOrdinal + header.recordCount, 0, ordinal, false);
      }
      const peek = readBatchHeader(mapping, view, offset, mapping.length);
      if (!peek) return this.walk(header.baseOrdinal + header.recordCount, 0, ordinal, false);
    }
  }

  /**
   * Reads committed records from `ordinal` on, within the limits. Records are returned as byte
   * ranges into one copy of the bytes read, so callers own them and the log stays immutable.
   */
  read(ordinal: number, limits: ReadLimits, hint?: { segmentBase: number; byteOffset: number }): ReadResult {
    const watermark = this.index.nextOrdinal();
    const records: ReadRecord[] = [];
    if (ordinal >= watermark) {
      return { records, nextOrdinal: ordinal, nextLocation: hint };
    }
    let location = this.locate(ordinal, hint);
    let bytesRead = 0;
    let next = ordinal;
    while (location && records.length < limits.maxRecords) {
      const { header } = location;
      const segment = this.segment(location.segmentBase)!;
      const start = location.byteOffset + BATCH_HEADER_BYTES;
      const end = location.byteOffset + header.batchLength;
      // One copy per batch read: the caller owns it and may keep or modify it.
      const bytes = Buffer.from(segment.mapping.subarray(start, end));
      const cursor = newRecordCursor(0);
      let recordOrdinal = header.baseOrdinal;
      let full = false;
      for (let i = 0; i < header.recordCount; i++, recordOrdinal++) {
        if (!nextRecord(bytes, cursor, bytes.length)) {
          throw new Error(`corrupt batch at ${location.segmentBase}:${location.byteOffset}`);
        }
        if (recordOrdinal < next) continue;
        const recordSize = cursor.dataEnd - cursor.keyStart;
        if (records.length >= limits.maxRecords || (records.length > 0 && bytesRead + recordSize > limits.maxBytes)) {
          full = true;
          break;
        }
        bytesRead += recordSize;
        records.push({
          ordinal: recordOrdinal,
          arrivalMs: header.arrivalMs,
          bytes,
          keyStart: cursor.keyStart,
          keyEnd: cursor.keyEnd,
          dataStart: cursor.dataStart,
          dataEnd: cursor.dataEnd,
        });
        next = recordOrdinal + 1;
      }
      if (full) {
        return { records, nextOrdinal: next, nextLocation: { segmentBase: location.segmentBase, byteOffset: location.byteOffset } };
      }
      const after = this.after(location);
      if (!after) return { records, nextOrdinal: next, nextLocation: this.endLocation(location) };
      location = after;
    }
    return {
      records,
      nextOrdinal: next,
      nextLocation: location ? { segmentBase: location.segmentBase, byteOffset: location.byteOffset } : undefined,
    };
  }

  /**
   * Whole committed batches from the one holding `ordinal` on, up to `maxBytes` (at least one
   * batch when any is committed). The bytes are views of the read-only mapping: no copy is
   * made, and writing to them would fault. The first batch may start before `ordinal`.
   */
  readBatches(ordinal: number, maxBytes: number): RawBatch[] {
    const batches: RawBatch[] = [];
    if (ordinal >= this.index.nextOrdinal()) return batches;
    let location = this.locate(ordinal);
    let bytes = 0;
    while (location) {
      const length = location.header.batchLength;
      if (batches.length > 0 && bytes + length > maxBytes) break;
      const segment = this.segment(location.segmentBase)!;
      batches.push({
        bytes: segment.mapping.subarray(location.byteOffset, location.byteOffset + length),
        baseOrdinal: location.header.baseOrdinal,
        recordCount: location.header.recordCount,
        arrivalMs: location.header.arrivalMs,
      });
      bytes += length;
      location = this.after(location);
    }
    return batches;
  }

  /** The position right after a batch: where the next batch will be if it fits the segment. */
  private endLocation(location: BatchLocation) {
    return { segmentBase: location.segmentBase, byteOffset: location.byteOffset + location.header.batchLength };
  }
}
