/**
 * The baselines every benchmark figure is compared with, measured in the same run on the same
 * data directory:
 *
 * - mapped write: copying record-sized chunks into fresh MAP_SHARED mappings of files in the
 *   data directory (page faults and block allocation included, as for a new segment) — the
 *   floor cost of the engine's own append; embedded figures are stated as a share of it;
 * - mapped read: copying 64 KiB chunks out of a resident mapping (the embedded reads' floor);
 * - disk write: `write(2)` of 1 MiB chunks to a file in the data directory, then `fdatasync`,
 *   timed together — what the device takes when data must reach it;
 * - loopback: bytes/s one TCP connection over 127.0.0.1 carries to a sink in another process
 *   (64 KiB writes) — the ceiling of any network path on this machine.
 *
 * Each runs for a fixed time and removes what it wrote.
 */
import { spawn } from 'node:child_process';
import { closeSync, fdatasyncSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

import { MIB } from '../limits.js';
import { mapReadWrite } from '../storage/mmap.js';
import { firstLine, stopChild } from './child-server.js';

/** Size of each fresh mapping in the mapped-write baseline. */
const MAPPED_FILE_BYTES = 256 * MIB;
const DISK_CHUNK_BYTES = 1 * MIB;
/** The disk baseline never writes more than this (bounded by bytes as well as time). */
const DISK_BYTES_MAX = 2048 * MIB;
const LOOPBACK_CHUNK_BYTES = 64 * 1024;
/** Bytes queued in the socket before the writer waits for 'drain'. */
const LOOPBACK_QUEUE_BYTES = 4 * MIB;

/** MB/s (10^6 bytes) of copying `chunkBytes` chunks into fresh mappings for `seconds`. */
export function mappedWriteMBps(dir: string, chunkBytes: number, seconds: number): number {
  mkdirSync(dir, { recursive: true });
  const chunk = Buffer.alloc(chunkBytes, 7);
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let bytes = 0;
  let file = 0;
  while (performance.now() < deadline) {
    const path = join(dir, `baseline-mapped-${file++}.bin`);
    const mapping = mapReadWrite(path, MAPPED_FILE_BYTES);
    try {
      for (let offset = 0; offset + chunkBytes <= mapping.length; offset += chunkBytes) {
        mapping.set(chunk, offset);
        bytes += chunkBytes;
        // Look at the clock once per MiB written, not per chunk.
        if ((offset & 0xfffff) < chunkBytes && performance.now() >= deadline) break;
      }
    } finally {
      rmSync(path, { force: true });
    }
  }
  return bytes / ((performance.now() - started) / 1000) / 1e6;
}

/**
 * MB/s of copying 64 KiB chunks out of a mapping whose pages are resident (written first):
 * the floor cost of a read served from the page cache, as the engine's readers are.
 */
export function mappedReadMBps(dir: string, seconds: number): number {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'baseline-mapped-read.bin');
  const chunkBytes = 64 * 1024;
  const mapping = mapReadWrite(path, MAPPED_FILE_BYTES);
  try {
    mapping.fill(5);
    const out = Buffer.allocUnsafe(chunkBytes);
    const started = performance.now();
    let bytes = 0;
    while (performance.now() - started < seconds * 1000) {
      for (let offset = 0; offset + chunkBytes <= mapping.length; offset += chunkBytes) {
        mapping.copy(out, 0, offset, offset + chunkBytes);
        bytes += chunkBytes;
        if ((offset & 0xfffff) === 0 && performance.now() - started >= seconds * 1000) break;
      }
    }
    return bytes / ((performance.now() - started) / 1000) / 1e6;
  } finally {
    rmSync(path, { force: true });
  }
}

/** MB/s of write(2) + a final fdatasync to a file in `dir`, for about `seconds`. */
export function diskWriteMBps(dir: string, seconds: number): number {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'baseline-disk.bin');
  const chunk = Buffer.alloc(DISK_CHUNK_BYTES, 9);
  const fd = openSync(path, 'w');
  const started = performance.now();
  let bytes = 0;
  try {
    while (performance.now() - started < seconds * 1000 && bytes < DISK_BYTES_MAX) {
      bytes += writeSync(fd, chunk);
    }
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const elapsed = (performance.now() - started) / 1000;
  rmSync(path, { force: true });
  return bytes / elapsed / 1e6;
}

/** A TCP sink in a child process: prints its port, discards everything it receives. */
const SINK_SCRIPT = `
const net = require('node:net');
const server = net.createServer((socket) => { socket.on('data', () => {}); socket.on('error', () => {}); });
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
process.on('SIGTERM', () => process.exit(0));
`;

/** MB/s over one loopback TCP connection to a sink in another process, for `seconds`. */
export async function loopbackMBps(seconds: number): Promise<number> {
  const child = spawn(process.execPath, ['-e', SINK_SCRIPT], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = Number(await firstLine(child, 10_000, 'the loopback sink'));
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const chunk = Buffer.alloc(LOOPBACK_CHUNK_BYTES, 3);
    const started = performance.now();
    let bytes = 0;
    while (performance.now() - started < seconds * 1000) {
      while (socket.writableLength < LOOPBACK_QUEUE_BYTES) {
        socket.write(chunk);
        bytes += chunk.length;
      }
      await new Promise((resolve) => socket.once('drain', resolve));
    }
    // Count only what left the socket buffer.
    const delivered = bytes - socket.writableLength;
    const elapsed = (performance.now() - started) / 1000;
    socket.destroy();
    return delivered / elapsed / 1e6;
  } finally {
    await stopChild(child);
  }
}

export interface Baselines {
  /** Mapped write with 64 KiB chunks. */
  mappedWriteMBps: number;
  /** Mapped write with chunks the size of each record size measured. */
  mappedWriteMBpsByRecordBytes: Record<string, number>;
  /** Copies out of a resident mapping, 64 KiB at a time (baseline of embedded reads). */
  mappedReadMBps: number;
  diskWriteMBps: number;
  loopbackMBps: number;
}

export async function measureBaselines(
  dir: string,
  recordSizes: readonly number[],
  seconds: number,
): Promise<Baselines> {
  const byRecord: Record<string, number> = {};
  for (const size of recordSizes) byRecord[String(size)] = mappedWriteMBps(dir, size, seconds);
  return {
    mappedWriteMBps: byRecord['65536'] ?? mappedWriteMBps(dir, 65536, seconds),
    mappedWriteMBpsByRecordBytes: byRecord,
    mappedReadMBps: mappedReadMBps(dir, seconds),
    diskWriteMBps: diskWriteMBps(dir, seconds),
    loopbackMBps: await loopbackMBps(seconds),
  };
}
