/**
 * A segment: one preallocated, memory-mapped, append-only file of record batches, named by the
 * ordinal of its first record as 20 zero-padded digits (`00000000000000000000.seg`) so `ls`
 * sorts segments in log order.
 *
 * The file is created sparse at its full size (ftruncate); the owner writes it with pwrite and
 * readers read it with pread (see SegmentWriter). Batches are written back to back from offset 0;
 * the bytes after the last batch are zero, so the first zero magic marks the end. A segment is
 * sealed when the next batch does not fit: the owner rolls a new segment named by the next
 * ordinal. A batch larger than the configured segment size gets a segment of its own, sized to
 * fit.
 *
 * After a crash the last segment may end in a torn or corrupt batch; recovery (shard-log.ts)
 * finds the last good batch and truncates the file there, then re-extends it sparse, so the
 * cut bytes read back as zeros.
 */
import {
  closeSync,
  constants,
  existsSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  openSync,
  statSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { PAGE_BYTES } from './mmap.js';

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

/**
 * The writable side of a segment, held only by the shard's owner worker. Batches go in with
 * `pwrite(2)` at the segment's end; readers read the file with `pread(2)` (segment-reader.ts)
 * and find them in the page cache the moment the call returns. Stores into a writable
 * mapping would fault on every fresh page of a sparse file (ext4 page_mkwrite plus block
 * reservation, ~10 µs a page on the reference machine): `bench/micro/segment-append.ts`
 * measures the two against each other. A failed write (a full disk) is an error the append
 * reports, where a store into a mapping would be SIGBUS.
 */
export class SegmentWriter {
  private fd: number;
  private syncedBytes: number;

  constructor(
    readonly path: string,
    readonly baseOrdinal: number,
    readonly sizeBytes: number,
    /** Bytes already holding valid batches (non-zero when reopening after recovery). */
    public writtenBytes: number,
    /** -1: the segment is sealed already (see `openSealed`), and no file is opened. */
    fd?: number,
  ) {
    this.fd = fd ?? openPreallocated(path, sizeBytes);
    this.syncedBytes = writtenBytes;
  }

  /**
   * The last segment of a sealed log, as its next open finds it: cut to its batches if it is not
   * already (a crash between a seal's steps), created empty if missing, and held by no
   * descriptor. A segment already cut is not touched.
   */
  static openSealed(path: string, baseOrdinal: number, writtenBytes: number): SegmentWriter {
    if (!existsSync(path)) closeSync(openSync(path, 'w', 0o644));
    else if (statSync(path).size !== writtenBytes) truncateSync(path, writtenBytes);
    return new SegmentWriter(path, baseOrdinal, writtenBytes, writtenBytes, -1);
  }

  remainingBytes(): number {
    return this.sizeBytes - this.writtenBytes;
  }

  /** Writes a batch at the end of the segment; returns the offset it was written at. */
  append(batch: Uint8Array): number {
    const offset = this.writtenBytes;
    if (batch.length > this.remainingBytes()) {
      throw new Error(`segment ${this.path}: batch of ${batch.length} bytes does not fit`);
    }
    for (let done = 0; done < batch.length;) {
      const written = writeSync(this.fd, batch, done, batch.length - done, offset + done);
      if (written === 0) throw new Error(`segment ${this.path}: write made no progress`);
      done += written;
    }
    this.writtenBytes += batch.length;
    return offset;
  }

  /** fdatasyncs everything written since the last sync (group commit). */
  sync(): void {
    if (this.writtenBytes === this.syncedBytes) return;
    fdatasyncSync(this.fd);
    this.syncedBytes = this.writtenBytes;
  }

  /**
   * Ends the segment for good (its shard is closed): cuts the preallocated tail, so the file is
   * exactly its batches, and releases the file. Readers never read past the written bytes.
   */
  seal(): void {
    if (this.fd < 0) return;
    if (this.writtenBytes < this.sizeBytes) ftruncateSync(this.fd, this.writtenBytes);
    this.close();
  }

  /** Releases the file; the segment's bytes stay in the page cache for its readers. */
  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}

/**
 * Opens (creating if need be) a segment file for writing at exactly `bytes` bytes, sparse. Not
 * O_APPEND: Linux would ignore pwrite's offset. Preallocation is by ftruncate: zero-filled
 * files make syncs several times slower.
 */
function openPreallocated(path: string, bytes: number): number {
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
  try {
    if (fstatSync(fd).size !== bytes) ftruncateSync(fd, bytes);
    return fd;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}
