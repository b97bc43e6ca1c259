/**
 * Micro-benchmark: what a fresh page-cache page costs a writer, by how long ago the memory under
 * it was freed. A segment append writes pages new to their file (segment.ts), so each needs a
 * free page of the machine's memory. On a virtual machine whose balloon device reports free
 * pages to the host (virtio-balloon free page reporting), memory the guest freed a few seconds
 * ago has been given back, and touching it again makes the hypervisor supply and zero it:
 * here that is the bulk of what 64 KiB ingest spends per MB (bench/RESULTS.md).
 *
 * Each round writes FILE_BYTES with pwrite(2) of 1 MiB chunks into a fresh sparse file, then
 * removes it (its pages go back to the free lists), and measures:
 *
 * - `just freed`: the next file right away (it reuses the pages the last one freed);
 * - `freed Ns ago`: the next file after a pause of N seconds (time for the host to take them).
 *
 * Baseline: memcpy of the same chunks into resident memory. Figure: CPU ms per MB (10^6 bytes)
 * of this thread, user + system. Prints whether this machine reports free pages to its host.
 * Usage: node dist/bench/micro/page-reuse.js [dataDir]
 */
import { closeSync, ftruncateSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePageReportingText } from '../../src/harness/machine.js';
import { MIB } from '../../src/limits.js';

const FILE_BYTES = 1024 * MIB;
const CHUNK_BYTES = 1 * MIB;
/** Pauses before a write, in seconds: the reporting delay of Linux's page_reporting is 2 s. */
const PAUSES = [0, 1, 3, 6];
const ROUNDS = 2;
const dir = resolve(process.argv[2] ?? 'data', 'micro-page-reuse');

/** Writes one fresh file, removes it; CPU ms per MB of the write. */
function writeFresh(path: string): number {
  const chunk = Buffer.alloc(CHUNK_BYTES, 7);
  const fd = openSync(path, 'w+');
  try {
    ftruncateSync(fd, FILE_BYTES);
    const before = process.cpuUsage();
    for (let offset = 0; offset < FILE_BYTES; offset += CHUNK_BYTES)
      writeSync(fd, chunk, 0, CHUNK_BYTES, offset);
    const cpu = process.cpuUsage(before);
    return (cpu.user + cpu.system) / 1000 / (FILE_BYTES / 1e6);
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
}

function memcpyMsPerMB(): number {
  const chunk = Buffer.alloc(CHUNK_BYTES, 7);
  const memory = Buffer.alloc(FILE_BYTES / 4, 1);
  memory.fill(2);
  const before = process.cpuUsage();
  for (let round = 0; round < 4; round++) {
    for (let offset = 0; offset < memory.length; offset += CHUNK_BYTES) memory.set(chunk, offset);
  }
  const cpu = process.cpuUsage(before);
  return (cpu.user + cpu.system) / 1000 / (FILE_BYTES / 1e6);
}

mkdirSync(dir, { recursive: true });
try {
  console.log(
    `page-cache write of ${FILE_BYTES / MIB} MiB fresh files under ${dir}, CPU ms per MB; ` +
      `free page reporting to the host: ${freePageReportingText()}`,
  );
  console.log(`baseline: memcpy into resident memory ${memcpyMsPerMB().toFixed(3)} ms/MB`);
  // The first file takes whatever memory the machine hands out; later ones follow a freed one.
  console.log(`  first file: ${writeFresh(join(dir, 'first')).toFixed(3)} ms/MB`);
  for (let round = 0; round < ROUNDS; round++) {
    const row: string[] = [];
    for (const pause of PAUSES) {
      writeFresh(join(dir, 'before'));
      await sleep(pause * 1000);
      const cost = writeFresh(join(dir, 'after'));
      row.push(`${pause === 0 ? 'just freed' : `freed ${pause} s ago`} ${cost.toFixed(3)}`);
    }
    console.log(`  round ${round + 1}: ${row.join(', ')}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
