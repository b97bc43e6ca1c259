/**
 * Embedded ingest: records/s and MB/s through the Engine's batch call (`putRecordBatch`) for
 * 100-byte and 1 KiB records on 4 shards, beside the raw bandwidth of writing bytes into fresh
 * files in the same data directory, measured in the same run.
 *
 * Baseline: pwrite(2) of 1 MiB chunks into fresh sparse files (new pages included, no sync),
 * which is the floor cost of the engine's own append (segment.ts). The engine additionally
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
import { pageCacheWriteMBps } from '../src/harness/baselines.js';
import { SHARD_WRITE_BYTES_PER_SEC, SHARD_WRITE_RECORDS_PER_SEC, MIB } from '../src/limits.js';

const SHARDS = 4;
const RECORDS_PER_CALL = 20_000;
const CALLS_IN_FLIGHT = 3;
const MEMCPY_BASELINE_BYTES = 64 * MIB;

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
  memcpyMBps: number;
  shardEquivalents: number;
  records: number;
}

/**
 * Copies record-sized chunks into resident memory for a second: memcpy bandwidth, the ceiling
 * if storage cost nothing. Reported for scale.
 */
function memcpyBaseline(recordBytes: number): number {
  const memory = Buffer.alloc(MEMCPY_BASELINE_BYTES, 1);
  const chunk = Buffer.alloc(recordBytes, 7);
  const started = performance.now();
  let bytes = 0;
  while (performance.now() - started < 1000) {
    for (let offset = 0; offset + recordBytes <= memory.length; offset += recordBytes)
      memory.set(chunk, offset);
    bytes += Math.floor(memory.length / recordBytes) * recordBytes;
  }
  return bytes / ((performance.now() - started) / 1000) / MIB;
}

function makeRecords(count: number, recordBytes: number, round: number): RecordInput[] {
  const data = Buffer.alloc(recordBytes, 0x61);
  return Array.from({ length: count }, (_, i) => ({
    PartitionKey: `user-${round}-${i}`,
    Data: data,
  }));
}

async function engineIngest(
  recordBytes: number,
): Promise<{ recordsPerSec: number; MBps: number; records: number }> {
  const dir = join(dataDir, `engine-${recordBytes}`);
  rmSync(dir, { recursive: true, force: true });
  const engine = await Engine.open({ dataDir: dir });
  const stream = `ingest-${recordBytes}`;
  await engine.createStream({ StreamName: stream, ShardCount: SHARDS });
  // Distinct partition keys per call, built before timing: key creation is the caller's cost.
  const pool = Array.from({ length: 8 }, (_, round) =>
    makeRecords(RECORDS_PER_CALL, recordBytes, round),
  );
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
  for (const shard of Shards)
    committed += engine.shardInternals(stream, shard.ShardId).index.nextOrdinal();
  if (committed !== records)
    throw new Error(`put ${records} records but ${committed} are committed`);
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    recordsPerSec: records / elapsed,
    MBps: (records * recordBytes) / elapsed / MIB,
    records,
  };
}

async function main() {
  mkdirSync(dataDir, { recursive: true });
  const results: Result[] = [];
  for (const recordBytes of [100, 1024]) {
    const baselineMBps = (pageCacheWriteMBps(join(dataDir, 'baseline'), seconds) * 1e6) / MIB;
    const memcpyMBps = memcpyBaseline(recordBytes);
    const engine = await engineIngest(recordBytes);
    results.push({
      recordBytes,
      ...engine,
      baselineMBps,
      ratio: engine.MBps / baselineMBps,
      memcpyMBps,
      shardEquivalents: Math.min(
        engine.MBps / (SHARD_WRITE_BYTES_PER_SEC / MIB),
        engine.recordsPerSec / SHARD_WRITE_RECORDS_PER_SEC,
      ),
    });
  }
  const machine = `${cpus()[0]?.model ?? 'cpu'} x${availableParallelism()}, node ${process.version}`;
  console.log(`embedded ingest, ${SHARDS} shards, ${seconds}s per case, ${machine}`);
  console.log(
    'record B | records/s  | MB/s    | page-cache write MB/s (fresh files) | ratio | memcpy MB/s | ratio | = shards',
  );
  for (const r of results) {
    console.log(
      `${String(r.recordBytes).padStart(8)} | ${Math.round(r.recordsPerSec).toLocaleString('en-US').padStart(10)} | ` +
        `${r.MBps.toFixed(1).padStart(7)} | ${r.baselineMBps.toFixed(1).padStart(35)} | ${(r.ratio * 100).toFixed(1).padStart(4)}% | ` +
        `${r.memcpyMBps.toFixed(0).padStart(11)} | ${((r.MBps / r.memcpyMBps) * 100).toFixed(1).padStart(4)}% | ` +
        `${Math.floor(r.shardEquivalents)}`,
    );
  }
  if (values.json) writeFileSync(values.json, JSON.stringify({ machine, results }, null, 2));
}

await main();
