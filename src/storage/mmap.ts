/**
 * The only importer of the native mmap binding. Mappings are always whole files from offset 0:
 * mmap-io's size and offset are 32-bit, and an offset of 4 GiB silently maps offset 0. There is
 * no unmap: a mapping goes away when its Buffer is garbage-collected, so callers drop their
 * references to retire a segment.
 */
import { closeSync, fstatSync, ftruncateSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { SEGMENT_BYTES_MAX } from '../limits.js';

interface MmapBinding {
  map(size: number, protection: number, flags: number, fd: number, offset?: number): Buffer;
  PROT_READ: number;
  PROT_WRITE: number;
  MAP_SHARED: number;
  PAGESIZE: number;
}

function loadBinding(): MmapBinding {
  const require = createRequire(import.meta.url);
  try {
    const module = require('@riaskov/mmap-io') as MmapBinding & { default?: MmapBinding };
    return module.default ?? module;
  } catch (error) {
    throw new Error(
      `runnel: the native mmap addon (@riaskov/mmap-io) did not load: ${(error as Error).message}. ` +
        'It is compiled by node-gyp at install; run `npm rebuild @riaskov/mmap-io`.',
    );
  }
}

const binding = loadBinding();

export const PAGE_BYTES = binding.PAGESIZE;

function checkSize(bytes: number, path: string): void {
  if (bytes <= 0 || bytes > SEGMENT_BYTES_MAX) {
    throw new Error(`cannot map ${path}: ${bytes} bytes is outside (0, ${SEGMENT_BYTES_MAX}]`);
  }
}

/**
 * Creates (or reopens) a file of exactly `bytes` bytes, sparse, and maps it read-write and
 * shared. The engine does not write through mappings (segment.ts says why); this is here for
 * bench/micro/segment-append.ts, which measures that choice.
 */
export function mapReadWrite(path: string, bytes: number): Buffer {
  checkSize(bytes, path);
  const fd = openSync(path, 'a+');
  try {
    if (fstatSync(fd).size !== bytes) ftruncateSync(fd, bytes);
    return binding.map(bytes, binding.PROT_READ | binding.PROT_WRITE, binding.MAP_SHARED, fd, 0);
  } finally {
    closeSync(fd);
  }
}

/** Maps an existing file read-only and shared; its current size is the mapping's size. */
export function mapReadOnly(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const bytes = fstatSync(fd).size;
    checkSize(bytes, path);
    return binding.map(bytes, binding.PROT_READ, binding.MAP_SHARED, fd, 0);
  } finally {
    closeSync(fd);
  }
}
