/**
 * Embedded ingest: records/s and MB/s through the Engine's batch call (`putRecordBatch`) for
 * 100-byte and 1 KiB records on 4 shards, beside the raw bandwidth of writing the same bytes
 * into a freshly mapped file in the same data directory, measured in the same run.
 *
 * Baseline: memcpy of each record's bytes into a new MAP_SHARED mapping (page faults
 * included), which is the floor cost of the engine's own append. The engine additionally
 * hashes every partition key (MD5), encodes the batch, hands it to a worker thread, checksums
 * it (xxhash64) and publishes the shared index. Every record put is verified committed at the
 * end. Usage: node dist/bench/embedded-ingest.js [--seconds 5] [--data DIR] [--json FILE]
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Engine } from '../src/engine/engine.js';
import type { RecordInput } from '../src/engine/batch-encoder.js';
import { mapReadWrite } from '../src/storage/mmap.js';
import { SHARD_WRITE_BYTES_PER_SEC, SHARD_WRITE_RECORDS_PER_SEC, MIB } from '../src/limits.js';

const SHARDS = 4;
const RECORDS_PER_CALL = 20_000;
const CALLS_IN_FLIGHT = 3;
const BASELINE_FILE_BYTES = 256 * MIB;
const WARM_BASELINE_FILE_BYTES = 64 * MIB;

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    data: { type: 'string', default: './data/bench-embedded' },
    json: { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const dataDir = resolve(values.data!);

interface Result {
  recordBytes: number;
  recordsPerSec: number;
  MBps: number;
  baselineMBps: number;
  ratio: number;
  warmPageMBps: number;
  shardEquivalents: number;
  records: number;
}

/**
 * Copies record-sized chunks into fresh sparse mappings for `seconds`; MB/s. Every page is
 * new (files are unlinked when full and never rewritten), as every page the engine appends to
 * is: page faults and block allocation are part of the cost, as they are for a segment.
 */
function mappedWriteBaseline(recordBytes: number): number {
  const chunk = Buffer.alloc(recordBytes, 7);
  const started = performance.now();
  let bytes = 0;
  let file = 0;
  while (performance.now() - started < seconds * 1000) {
    const path = join(dataDir, `baseline-${file++}.bin`);
    const mapping = mapReadWrite(path, BASELINE_FILE_BYTES);
    for (let offset = 0; offset + recordBytes <= mapping.length; offset += recordBytes) {
      mapping.set(chunk, offset);
      bytes += recordBytes;
      if ((offset & 0xfffff) < recordBytes && performance.now() - started >= seconds * 1000) break;
    }
    rmSync(path, { force: true });
  }
  const elapsed = (performance.now() - started) / 1000;
  return bytes / elapsed / MIB;
}

/**
 * The same copy into pages that are already mapped and dirty (a second pass over one file):
 * memcpy bandwidth, the ceiling if page faults cost nothing. Reported for scale.
 */
function warmPageBaseline(recordBytes: number): number {
  const path = join(dataDir, 'baseline-warm.bin');
  const mapping = mapReadWrite(path, WARM_BASELINE_FILE_BYTES);
  const chunk = Buffer.alloc(recordBytes, 7);
  const pass = () => {
    for (let offset = 0; offset + recordBytes <= mapping.length; offset += recordBytes) mapping.set(chunk, offset);
  };
  pass();
  const started = performance.now();
  let bytes = 0;
  while (performance.now() - started < 1000) {
    pass();
    bytes += Math.floor(mapping.length / recordBytes) * recordBytes;
  }
  rmSync(path, { force: true });
  return bytes / ((performance.now() - started) / 1000) / MIB;
}

function makeRecords(count: number, recordBytes: number, round: number): RecordInput[] {
  const data = Buffer.alloc(recordBytes, 0x61);
  return Array.from({ length: count }, (_, i) => ({ PartitionKey: `user-${round}-${i}`, Data: data }));
}

async function engineIngest(recordBytes: number): Promise<{ recordsPerSec: number; MBps: number; records: number }> {
  const dir = join(dataDir, `engine-${recordBytes}`);
  rmSync(dir, { recursive: true, force: true });
  const engine = await Engine.open({ dataDir: dir });
  const stream = `ingest-${recordBytes}`;
  await engine.createStream({ StreamName: stream, ShardCount: SHARDS });
  // Distinct partition keys per call, built before timing: key creation is the caller's cost.
  const pool = Array.from({ length: 8 }, (_, round) => makeRecords(RECORDS_PER_CALL, recordBytes, round));
  let records = 0;
  let call = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  async function lane() {
    while (performance.now() < deadline) {
      const batch = pool[call++ % pool.length]!;
      const result = await engine.putRecordBatch(stream, batch);
      records += result.recordCount;
    }
  }
  await Promise.all(Array.from({ length: CALLS_IN_FLIGHT }, lane));
  const elapsed = (performance.now() - started) / 1000;
  // Every record put must be committed and readable.
  const { Shards } = await engine.listShards({ StreamName: stream });
  let committed = 0;
  for (const shard of Shards) committed += engine.shardInternals(stream, shard.ShardId).index.nextOrdinal();
  if (committed !== records) throw new Error(`put ${records} records but ${committed} are committed`);
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
  return { recordsPerSec: records / elapsed, MBps: (records * recordBytes) / elapsed / MIB, records };
}

async function main() {
  mkdirSync(dataDir, { recursive: true });
  const results: Result[] = [];
  for (const recordBytes of [100, 1024]) {
    const baselineMBps = mappedWriteBaseline(recordBytes);
    const warmPageMBps = warmPageBaseline(recordBytes);
    const engine = await engineIngest(recordBytes);
    results.push({
      recordBytes,
      ...engine,
      baselineMBps,
      ratio: engine.MBps / baselineMBps,
      warmPageMBps,
      shardEquivalents: Math.min(
        engine.MBps / (SHARD_WRITE_BYTES_PER_SEC / MIB),
        engine.recordsPerSec / SHARD_WRITE_RECORDS_PER_SEC,
      ),
    });
  }
  const machine = `${cpus()[0]?.model ?? 'cpu'} x${availableParallelism()}, node ${process.version}`;
  console.log(`embedded ingest, ${SHARDS} shards, ${seconds}s per case, ${machine}`);
  console.log(
    'record B | records/s  | MB/s    | mapped-write MB/s (fresh pages) | ratio | memcpy to mapped pages MB/s | ratio | = shards',
  );
  for (const r of results) {
    console.log(
      `${String(r.recordBytes).padStart(8)} | ${Math.round(r.recordsPerSec).toLocaleString('en-US').padStart(10)} | ` +
        `${r.MBps.toFixed(1).padStart(7)} | ${r.baselineMBps.toFixed(1).padStart(31)} | ${(r.ratio * 100).toFixed(1).padStart(4)}% | ` +
        `${r.warmPageMBps.toFixed(0).padStart(27)} | ${((r.MBps / r.warmPageMBps) * 100).toFixed(1).padStart(4)}% | ` +
        `${Math.floor(r.shardEquivalents)}`,
    );
  }
  if (values.json) writeFileSync(values.json, JSON.stringify({ machine, results }, null, 2));
}

await main();
