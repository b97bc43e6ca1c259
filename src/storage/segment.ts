/**
 * A segment: one preallocated, memory-mapped, append-only file of record batches, named by the
 * ordinal of its first record as 20 zero-padded digits (`00000000000000000000.seg`) so `ls`
 * sorts segments in log order.
 *
 * The file is created sparse at its full size (ftruncate) and mapped MAP_SHARED. Batches are
 * written back to back from offset 0; the bytes after the last batch are zero, so the first
 * zero magic marks the end. A segment is sealed when the next batch does not fit: the owner
 * rolls a new segment named by the next ordinal. A batch larger than the configured segment size
 * gets a segment of its own, sized to fit.
 *
 * After a crash the last segment may end in a torn or corrupt batch; recovery (shard-log.ts)
 * finds the last good batch and truncates the file there, then re-extends it sparse, so the
 * cut bytes read back as zeros.
 */
import { join } from 'node:path';
import { PAGE_BYTES, mapReadWrite, syncRange } from './mmap.js';

export const SEGMENT_SUFFIX = '.seg';
const SEGMENT_NAME_DIGITS = 20;

export function segmentFileName(baseOrdinal: number): string {
  return String(baseOrdinal).padStart(SEGMENT_NAME_DIGITS, '0') + SEGMENT_SUFFIX;
}

/** The base ordinal a segment file name carries, or undefined for other files. */
export function parseSegmentFileName(name: string): number | undefined {
  const match = /^(\d{20})\.seg$/.exec(name);
  return match ? Number(match[1]) : undefined;
}

export function segmentPath(shardDir: string, baseOrdinal: number): string {
  return join(shardDir, segmentFileName(baseOrdinal));
}

export function roundUpToPage(bytes: number): number {
  return Math.ceil(bytes / PAGE_BYTES) * PAGE_BYTES;
}

/** The writable side of a segment, held only by the shard's owner worker. */
export class SegmentWriter {
  readonly mapping: Buffer;
  private syncedBytes = 0;

  constructor(
    readonly path: string,
    readonly baseOrdinal: number,
    readonly sizeBytes: number,
    /** Bytes already holding valid batches (non-zero when reopening after recovery). */
    public writtenBytes: number,
  ) {
    this.mapping = mapReadWrite(path, sizeBytes);
    this.syncedBytes = writtenBytes;
  }

  remainingBytes(): number {
    return this.sizeBytes - this.writtenBytes;
  }

  /** Copies a batch to the end of the segment; returns the offset it was written at. */
  append(batch: Uint8Array): number {
    const offset = this.writtenBytes;
    if (batch.length > this.remainingBytes()) {
      throw new Error(`segment ${this.path}: batch of ${batch.length} bytes does not fit`);
    }
    this.mapping.set(batch, offset);
    this.writtenBytes += batch.length;
    return offset;
  }

  /** msyncs everything written since the last sync (group commit). */
  sync(): void {
    if (this.writtenBytes === this.syncedBytes) return;
    syncRange(this.mapping, this.syncedBytes, this.writtenBytes - this.syncedBytes);
    this.syncedBytes = this.writtenBytes;
  }
}
