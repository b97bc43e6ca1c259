// Goal: the Engine, with real worker threads and real files, stores every record in the shard
// whose hash range holds MD5(partition key), reads all of it back in order per shard (also after
// reopen), maps segments for real, serves reads without asking the owner worker, scales to 1,000
// shards, and survives a worker thread dying.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { hashPartitionKey } from '../../src/kinesis/hash-key.js';
import { batchOf } from '../helpers/batches.js';
import { openFilesUnder } from '../helpers/open-files.js';
import { readShard } from '../helpers/read-all.js';
import { tempDir } from '../helpers/temp-dir.js';

let cleanup: () => void = () => undefined;
let engines: Engine[] = [];
afterEach(async () => {
  for (const engine of engines) await engine.close();
  engines = [];
  cleanup();
});

type OpenOptions = Partial<Parameters<typeof Engine.open>[0]>;

async function open(dir: string, options: OpenOptions = {}) {
  const engine = await Engine.open({ dataDir: dir, workers: 2, segmentBytes: 1 << 20, ...options });
  engines.push(engine);
  return engine;
}

/** An engine on a fresh data directory, removed after the test. */
async function openFresh(options: OpenOptions = {}) {
  const temp = tempDir();
  cleanup = temp.cleanup;
  return { engine: await open(temp.dir, options), dir: temp.dir };
}

/** `count` records keyed k0, k1, … holding v0, v1, …. */
function numberedRecords(count: number) {
  return Array.from({ length: count }, (_, i) => ({
    PartitionKey: `k${i}`,
    Data: Buffer.from(`v${i}`),
  }));
}

interface Expected {
  partitionKey: string;
  data: string;
}

/** Checks every record of the stream against what was acknowledged; collects problems. */
async function verifyStream(engine: Engine, name: string, expected: Map<string, Expected>) {
  const { Shards } = await engine.listShards({ StreamName: name });
  const problems: string[] = [];
  let total = 0;
  for (const shard of Shards) {
    const start = BigInt(shard.HashKeyRange.StartingHashKey);
    const end = BigInt(shard.HashKeyRange.EndingHashKey);
    const records = await readShard(engine, name, shard.ShardId);
    let previous = -1n;
    for (const record of records) {
      const sequence = BigInt(record.SequenceNumber);
      if (sequence <= previous) problems.push(`${record.SequenceNumber} out of order`);
      previous = sequence;
      const want = expected.get(record.SequenceNumber);
      if (!want) {
        problems.push(`${record.SequenceNumber} was never acknowledged`);
        continue;
      }
      if (record.PartitionKey !== want.partitionKey) problems.push(`${record.SequenceNumber} key`);
      if (Buffer.from(record.Data).toString() !== want.data)
        problems.push(`${record.SequenceNumber} data`);
      const hash = hashPartitionKey(record.PartitionKey!);
      if (hash < start || hash > end)
        problems.push(`${record.PartitionKey} in wrong shard ${shard.ShardId}`);
    }
    total += records.length;
  }
  expect(problems.slice(0, 10)).toEqual([]);
  expect(total).toBe(expected.size);
}

describe('Engine', () => {
  it('stores 100,000 records across 8 shards on 2 workers and reads them back, also after reopen', async () => {
    const { engine, dir } = await openFresh();
    await engine.createStream({ StreamName: 'orders', ShardCount: 8 });
    const expected = new Map<string, Expected>();
    const total = 100_000;
    const perCall = 500;
    const concurrency = 4;
    let next = 0;
    async function producer() {
      while (next < total) {
        const first = next;
        next += perCall;
        const Records = Array.from({ length: perCall }, (_, i) => ({
          PartitionKey: `customer-${first + i}`,
          Data: Buffer.from(`order ${first + i}`),
        }));
        const output = await engine.putRecords({ StreamName: 'orders', Records });
        expect(output.FailedRecordCount).toBe(0);
        output.Records.forEach((result, i) => {
          expected.set(result.SequenceNumber!, {
            partitionKey: Records[i]!.PartitionKey,
            data: `order ${first + i}`,
          });
        });
      }
    }
    await Promise.all(Array.from({ length: concurrency }, producer));
    expect(expected.size).toBe(total);
    await verifyStream(engine, 'orders', expected);
    await engine.close();
    engines = [];
    const reopened = await open(dir);
    await verifyStream(reopened, 'orders', expected);
  });

  it('serves reads through read-only descriptors of segments the owner writes through its own', async () => {
    const { engine, dir } = await openFresh();
    await engine.createStream({ StreamName: 'files', ShardCount: 2 });
    for (const ExplicitHashKey of ['0', String(2n ** 127n)]) {
      await engine.putRecord({
        StreamName: 'files',
        PartitionKey: 'k',
        ExplicitHashKey,
        Data: Buffer.from('x'),
      });
    }
    const segmentMaps = () =>
      readFileSync('/proc/self/maps', 'utf8')
        .split('\n')
        .filter((line) => line.includes(`${dir}/`));
    const mapsBefore = segmentMaps();
    await readShard(engine, 'files', 'shardId-000000000000');
    await readShard(engine, 'files', 'shardId-000000000001');
    // Reading maps nothing, and nothing maps segments writable.
    expect(segmentMaps().every((line) => mapsBefore.includes(line))).toBe(true);
    expect(segmentMaps().some((line) => / rw.s /.test(line) && line.endsWith('.seg'))).toBe(false);
    const files = openFilesUnder(dir).filter(({ path }) => path.endsWith('.seg'));
    // The owner worker holds each active segment open read-write (O_RDWR, not O_APPEND); the
    // reading (main) thread opened each read-only.
    expect(files.filter(({ flags }) => (flags & 3) === 2 && (flags & 0o2000) === 0)).toHaveLength(
      2,
    );
    expect(files.filter(({ flags }) => (flags & 3) === 0)).toHaveLength(2);
    await engine.deleteStream({ StreamName: 'files' });
    expect(openFilesUnder(dir)).toEqual([]);
  });

  it('reads records while the owner worker writes them: every record whole and in order, across segment rolls', async () => {
    const { engine, dir } = await openFresh({ workers: 1, segmentBytes: 256 * 1024 });
    await engine.createStream({ StreamName: 'live', ShardCount: 1 });
    const total = 20_000;
    const dataOf = (i: number) => `${i}:${'x'.repeat((i * 37) % 500)}`;
    const abort = new AbortController();
    let seen = 0;
    const reading = (async () => {
      const records = engine.subscribe(
        { StreamName: 'live', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' },
        { signal: abort.signal, batchBytes: 64 * 1024 },
      );
      for await (const record of records) {
        expect(Buffer.from(record.Data!).toString()).toBe(dataOf(seen));
        expect(record.PartitionKey).toBe(`k${seen}`);
        if (++seen === total) break;
      }
    })();
    // Puts of varied sizes, several in flight, while the subscription reads right behind them.
    const inFlight = new Set<Promise<unknown>>();
    for (let first = 0; first < total; first += 100) {
      const Records = Array.from({ length: 100 }, (_, j) => ({
        PartitionKey: `k${first + j}`,
        Data: Buffer.from(dataOf(first + j)),
      }));
      const put = engine
        .putRecords({ StreamName: 'live', Records })
        .then((result) => expect(result.FailedRecordCount).toBe(0));
      inFlight.add(put);
      void put.finally(() => inFlight.delete(put));
      // A shard's appends are stored in the order they were called, so puts may overlap.
      if (inFlight.size >= 4) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    await reading;
    abort.abort();
    expect(seen).toBe(total);
    expect(
      readdirSync(join(dir, 'streams', 'live', 'shardId-000000000000')).length,
    ).toBeGreaterThan(10);
  });

  it('reads committed records through the shared index without asking the owner worker', async () => {
    const { engine } = await openFresh({ workers: 1 });
    await engine.createStream({ StreamName: 'direct', ShardCount: 1 });
    const Records = numberedRecords(300);
    await engine.putRecords({ StreamName: 'direct', Records });
    const { ShardIterator } = await engine.getShardIterator({
      StreamName: 'direct',
      ShardId: 'shardId-000000000000',
      ShardIteratorType: 'TRIM_HORIZON',
    });
    // The only worker is blocked for 3 s; reads must not need it.
    const stall = engine.stallWorker(0, 3000);
    const tasksBefore = engine.workerTasksSent;
    const started = performance.now();
    const page = await engine.getRecords({ ShardIterator, Limit: 1000 });
    const elapsed = performance.now() - started;
    expect(page.Records).toHaveLength(300);
    expect(Buffer.from(page.Records[299]!.Data).toString()).toBe('v299');
    expect(engine.workerTasksSent).toBe(tasksBefore);
    expect(elapsed).toBeLessThan(2500);
    await stall;
  });

  it('queues control tasks (open, retention) behind a busy worker instead of failing them', async () => {
    const { engine } = await openFresh({ workers: 1 });
    await engine.createStream({ StreamName: 'busy', ShardCount: 1 });
    const Records = numberedRecords(50);
    // The only worker is busy; appends pile up behind it as the batcher allows...
    const stall = engine.stallWorker(0, 300);
    const puts = Array.from({ length: 4 }, () =>
      engine.putRecords({ StreamName: 'busy', Records }),
    );
    await new Promise((resolve) => setImmediate(resolve));
    // ...and a stream created now must still open its shard on that worker, after them.
    await engine.createStream({ StreamName: 'later', ShardCount: 1 });
    for (const put of await Promise.all(puts)) expect(put.FailedRecordCount).toBe(0);
    await stall;
    const put = await engine.putRecord({
      StreamName: 'later',
      PartitionKey: 'k',
      Data: Buffer.from('x'),
    });
    expect(put.ShardId).toBe('shardId-000000000000');
  });

  it('opens, writes and reads a stream of 1,000 shards', async () => {
    const { engine } = await openFresh({ segmentBytes: 64 * 1024 });
    await engine.createStream({ StreamName: 'wide', ShardCount: 1000 });
    const expected = new Map<string, Expected>();
    for (let call = 0; call < 10; call++) {
      const Records = Array.from({ length: 500 }, (_, i) => ({
        PartitionKey: `wide-${call}-${i}`,
        Data: Buffer.from(`${call}/${i}`),
      }));
      const output = await engine.putRecords({ StreamName: 'wide', Records });
      output.Records.forEach((result, i) =>
        expected.set(result.SequenceNumber!, {
          partitionKey: Records[i]!.PartitionKey,
          data: `${call}/${i}`,
        }),
      );
    }
    const shardIds = new Set<string>();
    const listed = await engine.listShards({ StreamName: 'wide' });
    expect(listed.Shards).toHaveLength(1000);
    for (const shard of listed.Shards) shardIds.add(shard.ShardId);
    expect(shardIds.size).toBe(1000);
    await verifyStream(engine, 'wide', expected);
  });

  it('replaces a worker thread that dies; acknowledged records survive and writes resume', async () => {
    const { engine, dir } = await openFresh();
    await engine.createStream({ StreamName: 'phoenix', ShardCount: 4 });
    const expected = new Map<string, Expected>();
    const put = async (tag: string) => {
      const Records = Array.from({ length: 200 }, (_, i) => ({
        PartitionKey: `${tag}${i}`,
        Data: Buffer.from(`${tag}:${i}`),
      }));
      const output = await engine.putRecords({ StreamName: 'phoenix', Records });
      output.Records.forEach((result, i) => {
        if (result.SequenceNumber)
          expected.set(result.SequenceNumber, {
            partitionKey: Records[i]!.PartitionKey,
            data: `${tag}:${i}`,
          });
      });
      return output;
    };
    await put('before');
    const writers = () =>
      openFilesUnder(dir).filter(({ path, flags }) => path.endsWith('.seg') && (flags & 3) === 2)
        .length;
    expect(writers()).toBe(4);
    await engine.crashWorker(0);
    let after = await put('after');
    for (let attempt = 0; attempt < 5 && after.FailedRecordCount > 0; attempt++)
      after = await put(`retry${attempt}`);
    expect(after.FailedRecordCount).toBe(0);
    await verifyStream(engine, 'phoenix', expected);
    // Node closes the descriptors a worker thread opened when it dies (Worker's
    // trackUnmanagedFds): one writable file per shard still, none leaked by the dead owner.
    expect(writers()).toBe(4);
  });
});

describe("routed batches (the binary protocol's routed PUT)", () => {
  /** Records of one shard of a 2-shard stream (the lower half of the hash-key space). */
  function lowerHalfRecords(count: number, tag: string) {
    const half = 2n ** 127n;
    const records: Array<{ PartitionKey: string; Data: Buffer }> = [];
    for (let i = 0; records.length < count; i++) {
      const PartitionKey = `${tag}-${i}`;
      if (hashPartitionKey(PartitionKey) < half)
        records.push({ PartitionKey, Data: Buffer.from(`${tag}:${i}`) });
    }
    return records;
  }

  it('stores one routed batch put twice at once on an encrypted stream, both marked KMS', async () => {
    const { engine } = await openFresh();
    await engine.createStream({ StreamName: 'twice', ShardCount: 2 });
    await engine.startStreamEncryption({
      StreamName: 'twice',
      EncryptionType: 'KMS',
      KeyId: 'alias/aws/kinesis',
    });
    // The same bytes reach the worker in one task, checked and appended twice there.
    const batch = batchOf(lowerHalfRecords(10, 't'));
    const results = await Promise.all([
      engine.putRoutedBatch('twice', batch),
      engine.putRoutedBatch('twice', batch),
    ]);
    for (const result of results) expect(result.FailedRecordCount).toBe(0);
    const stored = await readShard(engine, 'twice', 'shardId-000000000000');
    expect(stored).toHaveLength(20);
    for (const record of stored) expect(record.EncryptionType).toBe('KMS');
  });

  it('acknowledges a routed batch with consecutive sequence numbers that GetRecords returns', async () => {
    const { engine } = await openFresh();
    await engine.createStream({ StreamName: 'routed', ShardCount: 2 });
    const records = lowerHalfRecords(300, 'r');
    const result = await engine.putRoutedBatch('routed', batchOf(records));
    expect(result.recordCount).toBe(300);
    expect(result.FailedRecordCount).toBe(0);
    expect(result.onlyShardId).toBe('shardId-000000000000');
    const stored = await readShard(engine, 'routed', 'shardId-000000000000');
    expect(stored).toHaveLength(300);
    for (let i = 0; i < 300; i++) {
      expect(result.shardIdOf(i)).toBe('shardId-000000000000');
      expect(result.errorOf(i)).toBeUndefined();
      expect(result.sequenceNumberOf(i)).toBe(stored[i]!.SequenceNumber);
      const digits = new Uint8Array(64);
      const end = result.writeSequenceNumber(i, digits, 0);
      expect(Buffer.from(digits.subarray(0, end)).toString()).toBe(stored[i]!.SequenceNumber);
      expect(stored[i]!.PartitionKey).toBe(records[i]!.PartitionKey);
    }
  });

  it('puts through put buffers that the workers move back for reuse, every record stored intact', async () => {
    const { engine } = await openFresh();
    await engine.createStream({ StreamName: 'pooled', ShardCount: 2 });
    const records = lowerHalfRecords(2400, 'p').map((record, i) => ({
      PartitionKey: record.PartitionKey,
      Data: Buffer.alloc(40 + (i % 7) * 13, i & 0xff),
    }));
    // 60 puts of 40 records (2.5–5.5 KB each, more for the larger ones below), 6 in flight.
    const batches: Uint8Array[] = [];
    for (let i = 0; i < 60; i++) {
      const chunk = records.slice(i * 40, (i + 1) * 40);
      // Every third batch is padded past PUT_BUFFER_BYTES_MIN with larger records.
      const padded =
        i % 3 === 0
          ? chunk.map((r) => ({ ...r, Data: Buffer.concat([r.Data, Buffer.alloc(500, 7)]) }))
          : chunk;
      batches.push(batchOf(padded));
    }
    const expected = batches.flatMap((_batch, i) =>
      records
        .slice(i * 40, (i + 1) * 40)
        .map((r) => (i % 3 === 0 ? Buffer.concat([r.Data, Buffer.alloc(500, 7)]) : r.Data)),
    );
    for (let i = 0; i < batches.length; i += 6) {
      await Promise.all(
        batches.slice(i, i + 6).map(async (batch) => {
          const copy = engine.putBuffer(batch.length);
          copy.set(batch);
          const result = await engine.putRoutedBatch('pooled', copy);
          expect(result.FailedRecordCount).toBe(0);
        }),
      );
    }
    const stats = engine.putBufferStats();
    // 20 batches of 22–26 KB took put buffers: at most 6 were new, the rest came back.
    expect(stats.allocated).toBeGreaterThan(0);
    expect(stats.allocated).toBeLessThanOrEqual(6);
    expect(stats.reused + stats.allocated).toBe(20);
    expect(stats.pooledBytes).toBeGreaterThan(0);
    const stored = await readShard(engine, 'pooled', 'shardId-000000000000');
    expect(stored.map((r) => r.PartitionKey)).toEqual(records.map((r) => r.PartitionKey));
    stored.forEach((record, i) =>
      expect(Buffer.from(record.Data).equals(expected[i]!), `record ${i}`).toBe(true),
    );
  });

  it('fails every record of a routed batch whose shard closed before it was appended', async () => {
    const { engine } = await openFresh({ workers: 1 });
    await engine.createStream({ StreamName: 'going', ShardCount: 2 });
    const put = engine.putRoutedBatch('going', batchOf(lowerHalfRecords(50, 'g')));
    await engine.deleteStream({ StreamName: 'going' });
    const result = await put;
    expect(result.FailedRecordCount).toBe(50);
    for (let i = 0; i < 50; i++) {
      expect(result.shardIdOf(i)).toBe('shardId-000000000000');
      expect(result.sequenceNumberOf(i)).toBeUndefined();
      expect(result.errorOf(i)?.code).toBe('InternalFailureException');
    }
  });
});
