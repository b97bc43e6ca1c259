/**
 * The log of one shard as its owner worker sees it: the ordered set of segments, the active
 * segment appends go to, recovery when the shard is opened, and retention. Only the owner
 * writes; every other thread reads through the shared index (shard-index.ts) and its own
 * read-only descriptors of the segment files (segment-reader.ts).
 *
 * Opening a shard:
 * - when the shared index is already open (the previous owner thread died and this one took
 *   over), the index is the truth: the log resumes at its watermark and any bytes the dead
 *   owner wrote past it, never acknowledged, are cut;
 * - otherwise the index is rebuilt from the files: sealed segments are walked header by header,
 *   the last segment is walked with every checksum verified, and the log is cut at the first
 *   batch that is torn, corrupt or out of sequence. Segments after a cut are renamed
 *   `.corrupt` (kept for inspection, never served).
 */
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { INDEX_INTERVAL_BYTES } from '../limits.js';
import { mapReadOnly } from './mmap.js';
import {
  ARRIVAL_MS_OFFSET,
  ATTRIBUTES_OFFSET,
  BASE_ORDINAL_OFFSET,
  CHECKSUM_OFFSET,
  RECORD_COUNT_OFFSET,
  BATCH_LENGTH_OFFSET,
  BATCH_MAGIC,
  MAGIC_OFFSET,
  batchChecksum,
  readBatchHeader,
  verifyBatch,
  viewOf,
  writeU64,
} from './record-batch.js';
import { SegmentWriter, parseSegmentFileName, roundUpToPage, segmentPath } from './segment.js';
import { ShardIndex } from './shard-index.js';

/** Bytes after the last good batch checked for leftovers of a torn write. */
const TAIL_PROBE_BYTES = 4096;

export interface ShardLogOptions {
  dir: string;
  segmentBytes: number;
  index: ShardIndex;
  /** fsync mode: segments sealed between syncs are remembered so the next sync flushes them. */
  fsync?: boolean;
  /**
   * The shard was closed by a reshard: the log opens sealed (see seal()), its last segment cut
   * to its batches if it is not already, and no writer is opened.
   */
  sealed?: boolean;
}

interface SegmentInfo {
  baseOrdinal: number;
  /** Arrival time of the newest batch in the segment (0 while empty). */
  lastArrivalMs: number;
}

export interface AppendResult {
  baseOrdinal: number;
  arrivalMs: number;
}

export interface RecoveryReport {
  nextOrdinal: number;
  segments: number;
  /** Bytes cut from the end of the log (a torn or corrupt tail). */
  cutBytes: number;
}

export class ShardLog {
  private readonly segments: SegmentInfo[] = [];
  private active!: SegmentWriter;
  /** Segments sealed since the last sync(); fsync mode must flush their tails too. */
  private readonly sealedUnsynced: SegmentWriter[] = [];
  private nextOrdinal = 0;
  private lastArrivalMs = 0;
  private lastEntryOffset = 0;
  /** Closed by a reshard: no append, no new segment, and no file held open. */
  private sealed = false;
  private readonly index: ShardIndex;

  private constructor(private readonly options: ShardLogOptions) {
    this.index = options.index;
  }

  static open(options: ShardLogOptions): { log: ShardLog; report: RecoveryReport } {
    const log = new ShardLog(options);
    mkdirSync(options.dir, { recursive: true });
    const report = options.index.isOpen() ? log.resume() : log.rebuild();
    options.index.markOpen();
    return { log, report };
  }

  /** When the newest record arrived (ms), 0 before the first. */
  get lastArrival(): number {
    return this.lastArrivalMs;
  }

  get watermark(): number {
    return this.nextOrdinal;
  }

  /**
   * Closes the log to appends for good (its shard was closed by a reshard): syncs it, cuts the
   * active segment's preallocated tail and releases its file. A closed shard stays readable
   * until retention expires it, and a stream that reshards often keeps many: each then costs a
   * directory and its files, not a descriptor and a preallocated segment.
   */
  seal(): void {
    if (this.sealed) return;
    this.sync();
    this.active.seal();
    this.sealed = true;
  }

  /**
   * Appends one encoded batch; the caller has checked its header. `attributes` are the batch's
   * stored attribute bits (ATTRIBUTE_KMS), whatever it carried.
   */
  append(batch: Uint8Array, nowMs: number, attributes = 0): AppendResult {
    if (this.sealed) throw new Error('append: the log is sealed (its shard is closed)');
    const view = viewOf(batch);
    const recordCount = view.getUint32(RECORD_COUNT_OFFSET, true);
    if (view.getUint32(MAGIC_OFFSET, true) !== BATCH_MAGIC) throw new Error('append: bad magic');
    if (view.getUint32(BATCH_LENGTH_OFFSET, true) !== batch.length) {
      throw new Error('append: batch length does not match its header');
    }
    if (batch.length > this.active.remainingBytes()) this.roll(batch.length);
    const baseOrdinal = this.nextOrdinal;
    // Arrival times never go backwards within a shard, so the time index stays sorted.
    const arrivalMs = Math.max(nowMs, this.lastArrivalMs);
    // The batch is this worker's own copy (it came by postMessage): stamp it, then write it.
    writeU64(view, BASE_ORDINAL_OFFSET, baseOrdinal);
    writeU64(view, ARRIVAL_MS_OFFSET, arrivalMs);
    view.setBigUint64(CHECKSUM_OFFSET, batchChecksum(batch, 0, batch.length), true);
    let offset: number;
    batch[ATTRIBUTES_OFFSET] = attributes;
    try {
      offset = this.active.append(batch);
    } finally {
      // Written (or failed): the batch's bytes are this worker's copy, and one task may append
      // the same bytes again (a caller may put one batch twice), whose checks expect 0 there.
      batch[ATTRIBUTES_OFFSET] = 0;
    }
    if (offset === 0 || offset - this.lastEntryOffset >= INDEX_INTERVAL_BYTES) {
      this.publishEntry(baseOrdinal, offset, arrivalMs);
    }
    this.nextOrdinal = baseOrdinal + recordCount;
    this.lastArrivalMs = arrivalMs;
    this.segments[this.segments.length - 1]!.lastArrivalMs = arrivalMs;
    this.index.commit(this.nextOrdinal, arrivalMs, this.active.writtenBytes);
    return { baseOrdinal, arrivalMs };
  }

  /** Flushes everything written since the last sync to disk (fsync mode: before each ack). */
  sync(): void {
    for (const sealed of this.sealedUnsynced) {
      sealed.sync();
      sealed.close();
    }
    this.sealedUnsynced.length = 0;
    this.active.sync();
  }

  /**
   * Expires every record that arrived before `cutoffMs`. Whole segments whose newest record is
   * older go (when even the active segment is that old, a fresh segment is rolled first so that
   * it can go too); then the trim moves on, inside the oldest segment left, to its first batch
   * that arrived at or after the cutoff, so readers see no expired record even while the file
   * that holds it must stay for newer ones. Returns the number of segments deleted.
   */
  enforceRetention(cutoffMs: number): number {
    const newest = this.segments[this.segments.length - 1]!;
    // A sealed log gets no new segment: its last one stays, its records trimmed past.
    if (!this.sealed && newest.lastArrivalMs > 0 && newest.lastArrivalMs < cutoffMs) this.roll(0);
    let deleted = 0;
    while (this.segments.length > 1 && this.segments[0]!.lastArrivalMs < cutoffMs) {
      const expired = this.segments.shift()!;
      // Readers learn of the trim before the file goes; a reader already holding the file open
      // keeps reading it safely until it lets go.
      this.index.setTrimOrdinal(this.segments[0]!.baseOrdinal);
      rmSync(segmentPath(this.options.dir, expired.baseOrdinal), { force: true });
      deleted++;
    }
    this.trimExpiredBatches(cutoffMs);
    return deleted;
  }

  /**
   * Moves the trim to the first batch that arrived at or after `cutoffMs` (arrival times never
   * go backwards within a shard), walking the segments from the current trim. In each, the walk
   * starts at the later of the index entries at or before the trim and last before the cutoff,
   * so a pass reads at most one index interval of headers per segment it crosses. The trim is
   * also written to the shard's TRIM file, for the next open: the files alone only say where
   * the oldest segment starts.
   */
  private trimExpiredBatches(cutoffMs: number): void {
    const before = this.index.trimOrdinal();
    let trim = Math.max(before, this.segments[0]!.baseOrdinal);
    for (let i = 0; i < this.segments.length && trim < this.nextOrdinal; i++) {
      const base = this.segments[i]!.baseOrdinal;
      const end =
        i + 1 < this.segments.length ? this.segments[i + 1]!.baseOrdinal : this.nextOrdinal;
      if (trim >= end) continue;
      const kept = this.firstKeptOrdinal(base, trim, cutoffMs, i === this.segments.length - 1);
      if (kept !== undefined) {
        trim = Math.max(trim, kept);
        break;
      }
      trim = end;
    }
    if (trim <= before) return;
    this.index.setTrimOrdinal(trim);
    writeTrimFile(this.options.dir, trim);
  }

  /** The ordinal of the first batch at or after `from` in a segment that arrived at or after `cutoffMs`. */
  private firstKeptOrdinal(
    base: number,
    from: number,
    cutoffMs: number,
    isActive: boolean,
  ): number | undefined {
    const mapping = mapReadOnly(segmentPath(this.options.dir, base));
    const view = viewOf(mapping);
    const limit = isActive ? this.active.writtenBytes : mapping.length;
    let offset = 0;
    for (const entry of [
      this.index.floorByOrdinal(from),
      this.index.floorByArrivalBefore(cutoffMs),
    ]) {
      if (entry && entry.segmentBase === base && entry.byteOffset > offset)
        offset = entry.byteOffset;
    }
    for (;;) {
      const header = readBatchHeader(mapping, view, offset, limit);
      if (!header) return undefined;
      if (header.baseOrdinal + header.recordCount > from && header.arrivalMs >= cutoffMs)
        return header.baseOrdinal;
      offset += header.batchLength;
    }
  }

  /**
   * Syncs and releases the log's files; `discard` skips the sync, for a log whose files are
   * about to be deleted (DeleteStream), which would otherwise wait on the disk for nothing.
   */
  close(discard = false): void {
    if (!discard) this.sync();
    for (const sealed of this.sealedUnsynced) sealed.close();
    this.sealedUnsynced.length = 0;
    this.active.close();
  }

  // ---- internals ------------------------------------------------------------------------------

  private publishEntry(baseOrdinal: number, byteOffset: number, arrivalMs: number): void {
    this.index.addEntry({
      baseOrdinal,
      segmentBase: this.active.baseOrdinal,
      byteOffset,
      arrivalMs,
    });
    this.lastEntryOffset = byteOffset;
  }

  private roll(batchBytes: number): void {
    // No sync here: the page cache already makes the sealed segment safe against a process
    // crash. In fsync mode the next sync() flushes it, before any batch in it is acknowledged.
    if (this.options.fsync) this.sealedUnsynced.push(this.active);
    else this.active.close();
    this.openActive(this.nextOrdinal, 0, batchBytes);
    this.segments.push({ baseOrdinal: this.nextOrdinal, lastArrivalMs: 0 });
  }

  private openActive(baseOrdinal: number, writtenBytes: number, minimumBytes = 0): void {
    const path = segmentPath(this.options.dir, baseOrdinal);
    if (this.options.sealed) {
      this.active = SegmentWriter.openSealed(path, baseOrdinal, writtenBytes);
      this.sealed = true;
    } else {
      let sizeBytes = Math.max(this.options.segmentBytes, roundUpToPage(minimumBytes));
      if (existsSync(path)) sizeBytes = Math.max(sizeBytes, statSync(path).size);
      this.active = new SegmentWriter(path, baseOrdinal, sizeBytes, writtenBytes);
    }
    this.index.setActiveSegment(baseOrdinal);
    this.lastEntryOffset = 0;
  }

  private listSegments(): number[] {
    const bases: number[] = [];
    for (const name of readdirSync(this.options.dir)) {
      const base = parseSegmentFileName(name);
      if (base !== undefined) bases.push(base);
    }
    return bases.sort((a, b) => a - b);
  }

  private rebuild(): RecoveryReport {
    this.index.reset();
    const bases = this.listSegments();
    let cutBytes = 0;
    if (bases.length > 0) {
      this.nextOrdinal = bases[0]!;
      this.index.setTrimOrdinal(bases[0]!);
    }
    for (let i = 0; i < bases.length; i++) {
      const base = bases[i]!;
      const isLast = i === bases.length - 1;
      const scan = this.scanSegment(base, isLast);
      this.segments.push({ baseOrdinal: base, lastArrivalMs: scan.lastArrivalMs });
      // The log continues into the next segment only if that segment starts where this one
      // ended; otherwise this segment is where the log ends, and what follows is quarantined.
      if (isLast || bases[i + 1] !== this.nextOrdinal) {
        if (!isLast) {
          cutBytes += this.cutTail(segmentPath(this.options.dir, base), scan.validBytes);
          cutBytes += this.quarantine(bases.slice(i + 1));
        }
        cutBytes += scan.cutBytes;
        this.openActive(base, scan.validBytes);
        break;
      }
    }
    if (this.segments.length === 0) {
      this.segments.push({ baseOrdinal: 0, lastArrivalMs: 0 });
      this.openActive(0, 0);
    }
    // Where retention last moved the trim inside a segment, if it still lies in the log.
    const trimmed = readTrimFile(this.options.dir);
    if (
      trimmed !== undefined &&
      trimmed > this.index.trimOrdinal() &&
      trimmed <= this.nextOrdinal
    ) {
      this.index.setTrimOrdinal(trimmed);
    }
    // Entries for the active segment were published during the scan; continue spacing them.
    this.lastEntryOffset = this.lastEntryOffsetOf(this.active.baseOrdinal);
    this.index.commit(this.nextOrdinal, this.lastArrivalMs, this.active.writtenBytes);
    return { nextOrdinal: this.nextOrdinal, segments: this.segments.length, cutBytes };
  }

  /** Walks one segment's batches, publishing index entries; cuts a bad tail of the last one. */
  private scanSegment(base: number, verify: boolean) {
    const path = segmentPath(this.options.dir, base);
    const size = statSync(path).size;
    let offset = 0;
    let lastEntryOffset = -INDEX_INTERVAL_BYTES;
    let lastArrivalMs = 0;
    if (size > 0) {
      const mapping = mapReadOnly(path);
      const view = viewOf(mapping);
      for (;;) {
        const header = verify
          ? verifyBatch(mapping, view, offset, size)
          : readBatchHeader(mapping, view, offset, size);
        if (!header || header.baseOrdinal !== this.nextOrdinal) break;
        if (offset === 0 || offset - lastEntryOffset >= INDEX_INTERVAL_BYTES) {
          this.index.addEntry({
            baseOrdinal: header.baseOrdinal,
            segmentBase: base,
            byteOffset: offset,
            arrivalMs: header.arrivalMs,
          });
          lastEntryOffset = offset;
        }
        this.nextOrdinal += header.recordCount;
        lastArrivalMs = this.lastArrivalMs = Math.max(this.lastArrivalMs, header.arrivalMs);
        offset += header.batchLength;
      }
    }
    const cutBytes = verify ? this.cutTail(path, offset) : 0;
    return { validBytes: offset, lastArrivalMs, cutBytes };
  }

  /**
   * Cuts everything after `validBytes` if anything non-zero is there: truncate, then extend
   * sparse again, so the cut region reads as zeros. Returns the bytes cut (0 when clean).
   */
  private cutTail(path: string, validBytes: number): number {
    const size = statSync(path).size;
    if (validBytes >= size) return 0;
    const mapping = mapReadOnly(path);
    const probeEnd = Math.min(size, validBytes + TAIL_PROBE_BYTES);
    let dirty = false;
    for (let i = validBytes; i < probeEnd; i++) if (mapping[i] !== 0) dirty = true;
    if (!dirty) return 0;
    truncateSync(path, validBytes);
    truncateSync(path, size);
    return size - validBytes;
  }

  private quarantine(bases: number[]): number {
    let bytes = 0;
    for (const base of bases) {
      const path = segmentPath(this.options.dir, base);
      bytes += statSync(path).size;
      renameSync(path, `${path}.corrupt`);
    }
    return bytes;
  }

  private lastEntryOffsetOf(segmentBase: number): number {
    const count = this.index.entryCount();
    for (let i = count - 1; i >= 0; i--) {
      const entry = this.index.entry(i);
      if (entry.segmentBase === segmentBase) return entry.byteOffset;
      if (entry.segmentBase < segmentBase) break;
    }
    return 0;
  }

  /** Takes over a shard from an owner thread that died: the shared index is the truth. */
  private resume(): RecoveryReport {
    this.nextOrdinal = this.index.nextOrdinal();
    this.lastArrivalMs = this.index.lastArrivalMs();
    const trim = this.index.trimOrdinal();
    // From the segment that holds the trim (retention may have left it inside one) on.
    const bases = this.listSegments();
    let first = 0;
    for (let i = 0; i < bases.length; i++) if (bases[i]! <= trim) first = i;
    for (const base of bases.slice(first))
      this.segments.push({ baseOrdinal: base, lastArrivalMs: this.lastArrivalMs });
    // A sealed segment's newest record arrived no later than the next segment's first.
    for (let i = 0; i + 1 < this.segments.length; i++) {
      const next = this.index.floorByOrdinal(this.segments[i + 1]!.baseOrdinal);
      if (next && next.segmentBase === this.segments[i + 1]!.baseOrdinal)
        this.segments[i]!.lastArrivalMs = next.arrivalMs;
    }
    const activeBase = this.index.activeSegmentBase();
    // Walk from the last entry to the watermark to find where the next batch goes.
    const path = segmentPath(this.options.dir, activeBase);
    const size = existsSync(path) ? statSync(path).size : 0;
    let offset = 0;
    if (size > 0) {
      const mapping = mapReadOnly(path);
      const view = viewOf(mapping);
      const entry = this.index.floorByOrdinal(this.nextOrdinal);
      let ordinal = activeBase;
      if (entry && entry.segmentBase === activeBase) {
        offset = entry.byteOffset;
        ordinal = entry.baseOrdinal;
      }
      while (ordinal < this.nextOrdinal) {
        const header = readBatchHeader(mapping, view, offset, size);
        if (!header) throw new Error(`resume: log of ${this.options.dir} ends before its index`);
        ordinal += header.recordCount;
        offset += header.batchLength;
      }
    }
    if (
      this.segments.length === 0 ||
      this.segments[this.segments.length - 1]!.baseOrdinal !== activeBase
    ) {
      this.segments.push({ baseOrdinal: activeBase, lastArrivalMs: this.lastArrivalMs });
    }
    const cutBytes = size > 0 ? this.cutTail(path, offset) : 0;
    this.openActive(activeBase, offset);
    this.lastEntryOffset = this.lastEntryOffsetOf(activeBase);
    return { nextOrdinal: this.nextOrdinal, segments: this.segments.length, cutBytes };
  }
}

/** Removes a shard's files (DeleteStream). */
export function deleteShardFiles(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Retention's trim inside a segment, kept beside the shard's segments (see trimExpiredBatches). */
const TRIM_FILE = 'TRIM';

function writeTrimFile(dir: string, ordinal: number): void {
  const path = join(dir, TRIM_FILE);
  writeFileSync(`${path}.tmp`, String(ordinal));
  renameSync(`${path}.tmp`, path);
}

function readTrimFile(dir: string): number | undefined {
  try {
    const ordinal = Number(readFileSync(join(dir, TRIM_FILE), 'utf8'));
    return Number.isSafeInteger(ordinal) && ordinal >= 0 ? ordinal : undefined;
  } catch {
    return undefined;
  }
}
