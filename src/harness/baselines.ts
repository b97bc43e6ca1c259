/**
 * The baselines every benchmark figure is compared with, measured in the same run on the same
 * data directory:
 *
 * - page-cache write: pwrite(2) of 1 MiB chunks into fresh sparse files in the data directory
 *   (new pages and block reservation included, as for a new segment, no sync) — the floor cost
 *   of the engine's own append; embedded figures are stated as a share of it;
 * - growing (or held) page-cache write: the same pwrite, but every file is kept until the end
 *   (or until released), so the page cache grows by every byte written, as a retaining log's
 *   does; with its CPU per MB. On a virtual machine whose free memory goes back to the host, a
 *   fresh page costs several times a recycled one (seen here: 0.5–1.1 GB/s against 2.3–2.4 GB/s
 *   for the recycling baseline; bench/micro/page-reuse.ts);
 * - page-cache read: pread(2) of 64 KiB chunks of a file whose pages are resident, into one
 *   buffer (the embedded reads' floor: readers pread segments);
 * - disk write: `write(2)` of 1 MiB chunks to a file in the data directory, then `fdatasync`,
 *   timed together — what the device takes when data must reach it;
 * - loopback: bytes/s one TCP connection over 127.0.0.1 carries to a sink in another process
 *   (64 KiB writes) — the ceiling of any network path on this machine;
 * - loopback round trip: messages of a given size sent at a given rate over 127.0.0.1 to a
 *   node:net echo in another process, each timed until it is back (p50/p99) — what two plain
 *   Node processes exchanging such messages get on this machine with nothing else running (at
 *   64 bytes: its wake-ups alone).
 *
 * Each runs for a fixed time and removes what it wrote.
 */
import { spawn } from 'node:child_process';
import {
  closeSync,
  fdatasyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readSync,
  rmSync,
  writeSync,
} from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

import { MIB } from '../limits.js';
import { firstLine, stopChild } from './child-server.js';
import { sortedPercentile } from './histogram.js';
import { OpenLoopSchedule } from './rate.js';

/** Size of each fresh file in the page-cache write baseline, and of its chunks. */
const PAGE_CACHE_FILE_BYTES = 256 * MIB;
const PAGE_CACHE_CHUNK_BYTES = 1 * MIB;
/** The growing page-cache baseline never writes more than this. */
const GROWING_PAGE_CACHE_BYTES_MAX = 4096 * MIB;
/** Size of the file the page-cache read baseline reads. */
const PAGE_CACHE_READ_FILE_BYTES = 256 * MIB;
const DISK_CHUNK_BYTES = 1 * MIB;
/** The disk baseline never writes more than this (bounded by bytes as well as time). */
const DISK_BYTES_MAX = 2048 * MIB;
const LOOPBACK_CHUNK_BYTES = 64 * 1024;
/** Bytes queued in the socket before the writer waits for 'drain'. */
const LOOPBACK_QUEUE_BYTES = 4 * MIB;

/** What writeFreshFiles wrote, in how long, the CPU this process spent meanwhile, and the files it kept. */
interface FreshWrites {
  bytes: number;
  seconds: number;
  cpuMicros: number;
  kept: string[];
}

/**
 * pwrite(2) of 1 MiB chunks into fresh sparse files of PAGE_CACHE_FILE_BYTES in `dir` for
 * `seconds` (and at most `bytesMax`), nothing synced. Each file is removed once written, so its
 * pages are recycled by the next, unless `keep`: then every file stays (its paths returned, for
 * the caller to remove) and the page cache grows by every byte.
 */
function writeFreshFiles(
  dir: string,
  seconds: number,
  keep: boolean,
  bytesMax = Infinity,
): FreshWrites {
  mkdirSync(dir, { recursive: true });
  const chunk = Buffer.alloc(PAGE_CACHE_CHUNK_BYTES, 7);
  const kept: string[] = [];
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let bytes = 0;
  try {
    for (let file = 0; performance.now() < deadline && bytes < bytesMax; file++) {
      const path = join(dir, `baseline-page-cache-${process.pid}-${Date.now()}-${file}.bin`);
      if (keep) kept.push(path);
      const fd = openSync(path, 'w+');
      try {
        ftruncateSync(fd, PAGE_CACHE_FILE_BYTES);
        for (
          let offset = 0;
          offset < PAGE_CACHE_FILE_BYTES && performance.now() < deadline;
          offset += chunk.length
        ) {
          bytes += writeSync(fd, chunk, 0, chunk.length, offset);
        }
      } finally {
        closeSync(fd);
        if (!keep) rmSync(path, { force: true });
      }
    }
  } catch (error) {
    removeFiles(kept);
    throw error;
  }
  const cpu = process.cpuUsage(cpuBefore);
  return {
    bytes,
    seconds: (performance.now() - started) / 1000,
    cpuMicros: cpu.user + cpu.system,
    kept,
  };
}

function removeFiles(paths: string[]): void {
  for (const path of paths) rmSync(path, { force: true });
}

/** A write baseline's rate and the CPU its thread spent per MB (10^6 bytes). */
export interface WriteRate {
  MBps: number;
  cpuMsPerMB: number;
}

function rateOf(written: FreshWrites): WriteRate {
  const MB = written.bytes / 1e6;
  return { MBps: MB / written.seconds, cpuMsPerMB: written.cpuMicros / 1000 / MB };
}

/**
 * pwrite(2) of 1 MiB chunks into fresh sparse files for `seconds`: every page is new to its
 * file, as every page a segment append writes is, and nothing is synced. Each file is removed
 * once written, so later files reuse its pages (growingPageCacheWrite does not): the cost of a
 * page the guest just freed. The CPU is this process's (run it with nothing else busy in it).
 */
export function recycledPageCacheWrite(dir: string, seconds: number): WriteRate {
  return rateOf(writeFreshFiles(dir, seconds, false));
}

/** recycledPageCacheWrite's MB/s (10^6 bytes): the floor of the engine's own append. */
export function pageCacheWriteMBps(dir: string, seconds: number): number {
  return recycledPageCacheWrite(dir, seconds).MBps;
}

/** A growing page-cache write whose files stay until `release()`. */
export interface HeldWrite extends WriteRate {
  /** Removes the files: their pages go back to the free lists at once. */
  release(): void;
}

/**
 * pwrite(2) of 1 MiB chunks into fresh sparse files for `seconds`, every file kept: the page
 * cache grows by every byte, as it does under a log that retains what it takes. Unlike
 * recycledPageCacheWrite, no page is recycled. The files stay until `release()`, so whatever
 * runs before the release gets none of their pages.
 */
export function heldPageCacheWrite(dir: string, seconds: number): HeldWrite {
  const written = writeFreshFiles(dir, seconds, true, GROWING_PAGE_CACHE_BYTES_MAX);
  return { ...rateOf(written), release: () => removeFiles(written.kept) };
}

/** heldPageCacheWrite, its files removed at once. */
export function growingPageCacheWrite(dir: string, seconds: number): WriteRate {
  const held = heldPageCacheWrite(dir, seconds);
  held.release();
  return { MBps: held.MBps, cpuMsPerMB: held.cpuMsPerMB };
}

/**
 * MB/s of pread(2) of 64 KiB chunks of a file whose pages are resident (written first), into
 * one buffer: the floor cost of a read served from the page cache, as the engine's readers are.
 */
export function pageCacheReadMBps(dir: string, seconds: number): number {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'baseline-page-cache-read.bin');
  const chunkBytes = 64 * 1024;
  const fd = openSync(path, 'w+');
  try {
    const fill = Buffer.alloc(PAGE_CACHE_CHUNK_BYTES, 5);
    for (let offset = 0; offset < PAGE_CACHE_READ_FILE_BYTES; offset += fill.length) {
      writeSync(fd, fill, 0, fill.length, offset);
    }
    const out = Buffer.allocUnsafe(chunkBytes);
    const started = performance.now();
    let bytes = 0;
    while (performance.now() - started < seconds * 1000) {
      for (
        let offset = 0;
        offset + chunkBytes <= PAGE_CACHE_READ_FILE_BYTES;
        offset += chunkBytes
      ) {
        bytes += readSync(fd, out, 0, chunkBytes, offset);
        if ((offset & 0xfffff) === 0 && performance.now() - started >= seconds * 1000) break;
      }
    }
    return bytes / ((performance.now() - started) / 1000) / 1e6;
  } finally {
    closeSync(fd);
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

/**
 * A TCP server in a child process on 127.0.0.1 that prints its port; `onSocket` is the body of
 * its connection handler (the socket is `socket`).
 */
function peerScript(onSocket: string): string {
  return `
const net = require('node:net');
const server = net.createServer((socket) => { socket.on('error', () => {}); ${onSocket} });
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
process.on('SIGTERM', () => process.exit(0));
`;
}

/** Discards everything it receives. */
const SINK_SCRIPT = peerScript("socket.on('data', () => {});");
/** Sends back everything it receives, at once. */
const ECHO_SCRIPT = peerScript(
  "socket.setNoDelay(true); socket.on('data', (data) => socket.write(data));",
);

/**
 * Starts `script` (a peerScript) in a child process, connects to it over loopback TCP (no Nagle
 * delay), runs `use` on the socket, and then closes the socket and stops the child.
 */
async function withLoopbackPeer<T>(
  script: string,
  what: string,
  use: (socket: net.Socket) => Promise<T>,
): Promise<T> {
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = Number(await firstLine(child, 10_000, what));
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    try {
      return await use(socket);
    } finally {
      socket.destroy();
    }
  } finally {
    await stopChild(child);
  }
}

/** MB/s over one loopback TCP connection to a sink in another process, for `seconds`. */
export function loopbackMBps(seconds: number): Promise<number> {
  return withLoopbackPeer(SINK_SCRIPT, 'the loopback sink', async (socket) => {
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
    return delivered / elapsed / 1e6;
  });
}

/** How long the round-trip baseline waits for its last messages to come back. */
const ROUND_TRIP_DRAIN_MS_MAX = 2000;

export interface RoundTrips {
  p50Ms: number;
  p99Ms: number;
  /** Messages sent after the warm-up, and timed back (fewer only if some were not back in time). */
  sent: number;
  samples: number;
}

/**
 * Messages of `bytes` sent at `perSecond` for `warmupSeconds` (not counted: a new connection's
 * window still grows) and then `seconds`, over one loopback TCP connection to an echo in another
 * process, each timed from its write until its last byte is back. Paced by an OpenLoopSchedule,
 * as the WebSocket bench paces its puts: send what is due, then sleep to the next unit.
 */
export function loopbackRoundTrip(
  bytes: number,
  perSecond: number,
  seconds: number,
  warmupSeconds = 0,
): Promise<RoundTrips> {
  return withLoopbackPeer(ECHO_SCRIPT, 'the loopback echo', async (socket) => {
    const message = Buffer.alloc(bytes, 5);
    const sentAt: number[] = [];
    const ages: number[] = [];
    let received = 0;
    socket.on('data', (data: Buffer) => {
      received += data.length;
      const now = performance.now();
      while (ages.length < sentAt.length && received >= (ages.length + 1) * bytes)
        ages.push(now - sentAt[ages.length]!);
    });
    const schedule = new OpenLoopSchedule(perSecond, performance.now());
    const endMs = schedule.startMs + (warmupSeconds + seconds) * 1000;
    while (performance.now() < endMs) {
      for (let due = schedule.dueBy(performance.now()); sentAt.length < due;) {
        sentAt.push(performance.now());
        socket.write(message);
      }
      await sleepMs(schedule.intendedMs(sentAt.length) - performance.now());
    }
    const deadline = performance.now() + ROUND_TRIP_DRAIN_MS_MAX;
    while (ages.length < sentAt.length && performance.now() < deadline) await sleepMs(5);
    // Counted from the first unit the schedule puts after the warm-up, however late it was sent.
    const firstCounted = Math.min(sentAt.length, Math.ceil(warmupSeconds * perSecond));
    const sorted = ages.slice(firstCounted).sort((a, b) => a - b);
    return {
      p50Ms: sortedPercentile(sorted, 0.5),
      p99Ms: sortedPercentile(sorted, 0.99),
      sent: sentAt.length - firstCounted,
      samples: sorted.length,
    };
  });
}

function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

export interface Baselines {
  /** pwrite of 1 MiB chunks into fresh sparse files (baseline of embedded writes). */
  pageCacheWriteMBps: number;
  /** pread of a resident file, 64 KiB at a time (baseline of embedded reads). */
  pageCacheReadMBps: number;
  diskWriteMBps: number;
  loopbackMBps: number;
}

export async function measureBaselines(dir: string, seconds: number): Promise<Baselines> {
  return {
    pageCacheWriteMBps: pageCacheWriteMBps(dir, seconds),
    pageCacheReadMBps: pageCacheReadMBps(dir, seconds),
    diskWriteMBps: diskWriteMBps(dir, seconds),
    loopbackMBps: await loopbackMBps(seconds),
  };
}
