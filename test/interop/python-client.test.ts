// Goal: docs/protocol.md is precise enough to write a client in another language from it alone.
// test/interop/runnel_client.py is such a client: Python, standard library only (its own RFC 6455
// framing, record-batch codec, xxhash64 and MD5 routing), written from docs/protocol.md without
// reading the server, the codec or the JavaScript client. Against the real server it lists
// streams and shards, puts records (half unrouted, half ROUTED by the shard map), reads every
// shard back from TRIM_HORIZON granting credit 4 KiB at a time, puts to a missing stream and
// pings; and it reads a shard a split closed to the end the server reports. This test checks
// what it reports against the engine itself: every ack names a record the engine stored on that
// shard with that key and data, and what Python read per shard is exactly the engine's shard,
// sequence numbers and arrival times included. Skipped only where python3 is not installed.
import { execFile, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { eventually } from '../helpers/eventually.js';
import { readShard } from '../helpers/read-all.js';
import { type ServedEngine, serveEngine } from '../helpers/ws-server.js';

const python = spawnSync('python3', ['--version'], { stdio: 'ignore' }).status === 0;
if (!python) console.warn('python-client.test: skipped: python3 is not installed');

const CLIENT = join(dirname(fileURLToPath(import.meta.url)), 'runnel_client.py');
const STREAM = 'py-interop';
const RECORDS = 1500;

interface PythonRecord {
  seq: string;
  key: string;
  data_hex: string;
  arrival_ms: number;
}

interface PythonReport {
  streams: string[];
  shards: string[];
  acks: ({ seq: string; shard: string } | { error: string })[];
  read: Record<string, PythonRecord[]>;
  missing_stream_error: string;
  pong: boolean;
  /** What the client saw on the wire, to show flow control and framing were exercised. */
  stats: {
    puts: number;
    credit_frames: number;
    records_frames: number;
    straddling_batches: number;
    fragmented_messages: number;
  };
}

/** The data the client puts for record `i` (the same formula as runnel_client.py's). */
function expectedData(i: number): string {
  const bytes = Buffer.alloc(1 + ((i * 37) % 300));
  for (let j = 0; j < bytes.length; j++) bytes[j] = (i * 31 + j * 7) & 0xff;
  return bytes.toString('hex');
}

/** Runs the client without blocking the event loop the in-process server runs on. */
function runClient(
  url: string,
  args = [STREAM, String(RECORDS)],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'python3',
      [CLIENT, url, ...args],
      { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe.skipIf(!python)('a Python client written from docs/protocol.md', () => {
  let served: ServedEngine;
  let report: PythonReport;

  beforeAll(async () => {
    served = await serveEngine({ workers: 2 }, 'runnel-py-interop-');
    await served.engine.createStream({ StreamName: STREAM, ShardCount: 4 });
    const run = await runClient(served.server.url);
    if (run.code !== 0) throw new Error(`runnel_client.py exited ${run.code}: ${run.stderr}`);
    report = JSON.parse(run.stdout) as PythonReport;
  }, 90_000);

  afterAll(async () => {
    await served?.close();
  });

  it('lists the stream and its four shards', async () => {
    expect(report.streams).toContain(STREAM);
    const { Shards } = await served.engine.listShards({ StreamName: STREAM });
    expect(report.shards).toEqual(Shards!.map((s) => s.ShardId));
    expect(report.shards).toHaveLength(4);
  });

  it('every record is acked with a sequence number the engine stored on that shard, with its key and data', async () => {
    expect(report.acks).toHaveLength(RECORDS);
    const stored = new Map<string, Map<string, { key: string; data: string }>>();
    for (const shard of report.shards) {
      const records = await readShard(served.engine, STREAM, shard);
      stored.set(
        shard,
        new Map(
          records.map((r) => [
            r.SequenceNumber!,
            { key: r.PartitionKey!, data: Buffer.from(r.Data!).toString('hex') },
          ]),
        ),
      );
    }
    const seen = new Set<string>();
    report.acks.forEach((ack, i) => {
      expect(ack, `record ${i}`).not.toHaveProperty('error');
      const { seq, shard } = ack as { seq: string; shard: string };
      expect(stored.get(shard)?.get(seq), `record ${i} at ${shard} ${seq}`).toEqual({
        key: `py-${i}`,
        data: expectedData(i),
      });
      seen.add(seq);
    });
    expect(seen.size).toBe(RECORDS);
    // Nothing else was stored: the engine holds exactly the acked records.
    expect([...stored.values()].reduce((n, m) => n + m.size, 0)).toBe(RECORDS);
  });

  it("what Python read from each shard is exactly the engine's shard, in order", async () => {
    expect(Object.keys(report.read).sort()).toEqual([...report.shards].sort());
    let total = 0;
    for (const shard of report.shards) {
      const engine = (await readShard(served.engine, STREAM, shard)).map((r) => ({
        seq: r.SequenceNumber!,
        key: r.PartitionKey!,
        data_hex: Buffer.from(r.Data!).toString('hex'),
        arrival_ms: r.ApproximateArrivalTimestamp!.getTime(),
      }));
      expect(engine.length).toBeGreaterThan(0);
      expect(report.read[shard]).toEqual(engine);
      total += engine.length;
    }
    expect(total).toBe(RECORDS);
  });

  it('exercised several puts, credit in small steps, batches cut across frames and fragmented messages', () => {
    expect(report.stats.puts).toBeGreaterThanOrEqual(3);
    expect(report.stats.credit_frames).toBeGreaterThan(10);
    expect(report.stats.straddling_batches).toBeGreaterThan(0);
    expect(report.stats.fragmented_messages).toBeGreaterThan(0);
  });

  it('a put to a missing stream is a ResourceNotFoundException, and PING is answered by PONG', () => {
    expect(report.missing_stream_error).toBe('ResourceNotFoundException');
    expect(report.pong).toBe(true);
  });

  it('puts to a stream that places records itself (SHARD_MAP flag bit 1) unrouted, spread evenly', async () => {
    const { engine } = served;
    const stream = 'py-auto';
    await engine.createStream({
      StreamName: stream,
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      RecordDistributionStrategy: 'AUTO',
    });
    const run = await runClient(served.server.url, [stream, '1000']);
    if (run.code !== 0) throw new Error(`runnel_client.py exited ${run.code}: ${run.stderr}`);
    const auto = JSON.parse(run.stdout) as PythonReport & { auto: boolean };
    expect(auto.auto).toBe(true);
    const perShard = new Map<string, number>();
    for (const ack of auto.acks) {
      expect(ack).not.toHaveProperty('error');
      const { shard } = ack as { shard: string };
      perShard.set(shard, (perShard.get(shard) ?? 0) + 1);
    }
    // Four puts of 250 over four open shards: the rotation gives each shard exactly 250.
    expect([...perShard.values()]).toEqual([250, 250, 250, 250]);
    for (const shard of auto.shards) {
      const stored = (await readShard(engine, stream, shard)).map((r) => ({
        seq: r.SequenceNumber!,
        key: r.PartitionKey!,
        data_hex: Buffer.from(r.Data!).toString('hex'),
        arrival_ms: r.ApproximateArrivalTimestamp!.getTime(),
      }));
      expect(auto.read[shard]).toEqual(stored);
    }
  });

  it('reads a stream put to under encryption: stored marked KMS, delivered with attributes 0', async () => {
    const { engine } = served;
    const stream = 'py-kms';
    await engine.createStream({ StreamName: stream, ShardCount: 2 });
    await engine.startStreamEncryption({
      StreamName: stream,
      EncryptionType: 'KMS',
      KeyId: 'alias/aws/kinesis',
    });
    await eventually(async () =>
      expect(
        (await engine.describeStreamSummary({ StreamName: stream })).StreamDescriptionSummary
          .StreamStatus,
      ).toBe('ACTIVE'),
    );
    // The Python client refuses a batch whose attributes are not 0 (docs/protocol.md §4).
    const run = await runClient(served.server.url, [stream, '400']);
    if (run.code !== 0) throw new Error(`runnel_client.py exited ${run.code}: ${run.stderr}`);
    const kms = JSON.parse(run.stdout) as PythonReport;
    let records = 0;
    for (const shard of kms.shards) {
      const stored = await readShard(engine, stream, shard);
      records += stored.length;
      for (const record of stored) expect(record.EncryptionType).toBe('KMS');
      expect(kms.read[shard]).toEqual(
        stored.map((r) => ({
          seq: r.SequenceNumber!,
          key: r.PartitionKey!,
          data_hex: Buffer.from(r.Data!).toString('hex'),
          arrival_ms: r.ApproximateArrivalTimestamp!.getTime(),
        })),
      );
    }
    expect(records).toBe(400);
  });

  it('reads a shard a split closed to its end: every record, then SUBSCRIPTION_END reason 1', async () => {
    const { engine } = served;
    const stream = 'py-closed';
    await engine.createStream({ StreamName: stream, ShardCount: 1 });
    for (let put = 0; put < 3; put++) {
      const Records = Array.from({ length: 100 }, (_, i) => ({
        PartitionKey: `py-${put * 100 + i}`,
        Data: Buffer.from(expectedData(put * 100 + i), 'hex'),
      }));
      expect((await engine.putRecords({ StreamName: stream, Records })).FailedRecordCount).toBe(0);
    }
    const shard = 'shardId-000000000000';
    await engine.splitShard({
      StreamName: stream,
      ShardToSplit: shard,
      NewStartingHashKey: (1n << 127n).toString(),
    });
    const run = await runClient(served.server.url, [stream, 'read-closed', shard]);
    if (run.code !== 0) throw new Error(`runnel_client.py exited ${run.code}: ${run.stderr}`);
    const closed = JSON.parse(run.stdout) as { records: PythonRecord[]; ended: [number, number] };
    expect(closed.ended).toEqual([1, 300]);
    // A closed shard's last GetRecords page has no next iterator: one page holds all 300.
    const { ShardIterator } = await engine.getShardIterator({
      StreamName: stream,
      ShardId: shard,
      ShardIteratorType: 'TRIM_HORIZON',
    });
    const page = await engine.getRecords({ ShardIterator });
    expect(page.NextShardIterator).toBeUndefined();
    expect(closed.records).toEqual(
      page.Records.map((r) => ({
        seq: r.SequenceNumber!,
        key: r.PartitionKey!,
        data_hex: Buffer.from(r.Data!).toString('hex'),
        arrival_ms: r.ApproximateArrivalTimestamp!.getTime(),
      })),
    );
  });
});
