/**
 * Micro-benchmark: how a shard owner should put batches into a fresh segment file. Each way
 * fills fresh 64 MiB sparse files in the data directory, as appends fill new segments:
 *
 * - `SegmentWriter.append` (pwrite(2) at the segment's end, what the engine does);
 * - stores into a fresh MAP_SHARED mapping of the file (every first touch of a page faults and
 *   reserves a block: the cost the engine avoids by not writing through a mapping);
 * - copies into resident memory (memcpy, the ceiling), the baseline.
 *
 * Figure: MB/s (10^6 bytes) per chunk size, one thread, each way for about a second.
 * Usage: node dist/bench/micro/segment-append.js [dataDir]
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MIB } from '../../src/limits.js';
import { mapReadWrite } from '../../src/storage/mmap.js';
import { SegmentWriter } from '../../src/storage/segment.js';

const FILE_BYTES = 64 * MIB;
const SECONDS = 1;
const CHUNKS = [4096, 65536, 1024 * 1024];
const dir = resolve(process.argv[2] ?? 'data', 'micro-segment-append');

/** Fills fresh files with `chunk`-sized writes through `fill` for SECONDS; MB/s. */
function measure(chunkBytes: number, fill: (path: string, chunk: Buffer) => void): number {
  const chunk = Buffer.alloc(chunkBytes, 7);
  const started = performance.now();
  let bytes = 0;
  for (let file = 0; performance.now() - started < SECONDS * 1000; file++) {
    const path = join(dir, `file-${file}`);
    fill(path, chunk);
    rmSync(path, { force: true });
    bytes += Math.floor(FILE_BYTES / chunkBytes) * chunkBytes;
  }
  return bytes / ((performance.now() - started) / 1000) / 1e6;
}

function viaPwrite(path: string, chunk: Buffer): void {
  const writer = new SegmentWriter(path, 0, FILE_BYTES, 0);
  while (writer.remainingBytes() >= chunk.length) writer.append(chunk);
  writer.close();
}

function viaMapping(path: string, chunk: Buffer): void {
  const mapping = mapReadWrite(path, FILE_BYTES);
  for (let offset = 0; offset + chunk.length <= FILE_BYTES; offset += chunk.length)
    mapping.set(chunk, offset);
}

const memory = Buffer.alloc(FILE_BYTES, 1);
function viaMemcpy(_path: string, chunk: Buffer): void {
  for (let offset = 0; offset + chunk.length <= FILE_BYTES; offset += chunk.length)
    memory.set(chunk, offset);
}

mkdirSync(dir, { recursive: true });
try {
  console.log(
    `segment append into fresh ${FILE_BYTES / MIB} MiB files under ${dir}, MB/s\nbaseline: memcpy into resident memory`,
  );
  for (const chunkBytes of CHUNKS) {
    const memcpy = measure(chunkBytes, viaMemcpy);
    const pwrite = measure(chunkBytes, viaPwrite);
    const mapped = measure(chunkBytes, viaMapping);
    console.log(
      `  ${String(chunkBytes).padStart(8)} B chunks: SegmentWriter.append (pwrite) ${pwrite.toFixed(0).padStart(6)}` +
        ` (${(pwrite / memcpy).toFixed(3)}×)  mapped stores ${mapped.toFixed(0).padStart(6)} (${(mapped / memcpy).toFixed(3)}×)` +
        `  memcpy ${memcpy.toFixed(0).padStart(6)}`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
