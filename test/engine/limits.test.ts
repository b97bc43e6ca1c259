// Goal: in limits mode a shard is throttled exactly as a provisioned Kinesis shard: a stream of
// 2 shards accepts 2,000 records/s and refuses the excess per record with
// ProvisionedThroughputExceededException; 1 MiB/s of bytes; 5 GetRecords calls/s per shard.
// Every write path shares a shard's allowance: PutRecords, the batch fast path
// (putRecordBatch), pre-encoded batches (the binary protocol's putEncodedBatch) and PutRecords
// prepared on a codec thread (putPreparedRecords).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type PutRecordBatchResult } from '../../src/engine/engine.js';
import { encodeRecordBatch } from '../../src/protocol/batch-writer.js';
import { preparePutRecords } from '../../src/server/put-records-prepare.js';
import { tempDir } from '../helpers/temp-dir.js';

let engine: Engine;
let now = Date.parse('2026-11-25T12:00:00Z');
const temp = tempDir();

beforeAll(async () => {
  engine = await Engine.open({
    dataDir: temp.dir,
    workers: 2,
    enforceLimits: true,
    clock: () => now,
  });
  await engine.createStream({ StreamName: 'limited', ShardCount: 2 });
});

afterAll(async () => {
  await engine.close();
  temp.cleanup();
});

async function putMany(count: number, dataBytes = 10, tag = String(now)) {
  let accepted = 0;
  const throttledShards = new Set<string>();
  for (let start = 0; start < count; start += 500) {
    const Records = Array.from({ length: Math.min(500, count - start) }, (_, i) => ({
      PartitionKey: `${tag}-${start + i}`,
      Data: Buffer.alloc(dataBytes),
    }));
    const output = await engine.putRecords({ StreamName: 'limited', Records });
    for (const record of output.Records) {
      if (record.SequenceNumber) accepted++;
      else {
        expect(record.ErrorCode).toBe('ProvisionedThroughputExceededException');
        expect(record.ErrorMessage).toMatch(
          /^Rate exceeded for shard shardId-00000000000[01] in stream limited under account 000000000000\.$/,
        );
        throttledShards.add(record.ErrorMessage!);
      }
    }
    expect(output.FailedRecordCount).toBe(
      output.Records.filter((record) => record.ErrorCode).length,
    );
  }
  return { accepted, throttledShards };
}

describe('limits mode', () => {
  it('creates any number of streams at once when they are ACTIVE at once (no transition)', async () => {
    // A stream is CREATING only while its shards open: the 5-streams-CREATING limit counts the
    // transition Kinesis clients wait through, which streamTransitionMs 0 leaves out.
    const names = Array.from({ length: 8 }, (_, i) => `parallel-${i}`);
    await Promise.all(
      names.map((StreamName) => engine.createStream({ StreamName, ShardCount: 1 })),
    );
    const listed = (await engine.listStreams({})).StreamNames;
    for (const name of names) expect(listed).toContain(name);
    await Promise.all(names.map((StreamName) => engine.deleteStream({ StreamName })));
  });

  it('accepts 1,000 records per second per shard and throttles the excess', async () => {
    const first = await putMany(3000);
    expect(first.accepted).toBe(2000);
    expect(first.throttledShards.size).toBe(2);
    // Within the same second, nothing more fits.
    expect((await putMany(100)).accepted).toBe(0);
    // Half a second refills half the allowance; a whole second all of it.
    now += 500;
    expect((await putMany(3000)).accepted).toBe(1000);
    now += 1000;
    expect((await putMany(3000)).accepted).toBe(2000);
    // Sustained over ten seconds the rate is exactly the limit.
    let accepted = 0;
    for (let second = 0; second < 10; second++) {
      now += 1000;
      accepted += (await putMany(2500)).accepted;
    }
    expect(accepted).toBe(20_000);
  });

  it('limits bytes to 1 MiB per second per shard', async () => {
    now += 5000;
    const { accepted } = await putMany(40, 100 * 1024, 'big');
    // 10 records of 100 KiB (+ key) fit a MiB per shard; two shards.
    expect(accepted).toBeGreaterThanOrEqual(18);
    expect(accepted).toBeLessThanOrEqual(20);
  });

  it('refuses a single PutRecord over the limit with the throttling error', async () => {
    now += 5000;
    await putMany(3000, 10, 'fill');
    const error = await engine
      .putRecord({ StreamName: 'limited', PartitionKey: 'one-more', Data: Buffer.from('x') })
      .then(
        () => undefined,
        (caught: Error) => caught,
      );
    expect(error?.name).toBe('ProvisionedThroughputExceededException');
  });

  it('allows 5 GetRecords calls per second per shard', async () => {
    now += 5000;
    const { ShardIterator } = await engine.getShardIterator({
      StreamName: 'limited',
      ShardId: 'shardId-000000000000',
      ShardIteratorType: 'LATEST',
    });
    let iterator = ShardIterator;
    for (let call = 0; call < 5; call++)
      iterator = (await engine.getRecords({ ShardIterator: iterator, Limit: 1 }))
        .NextShardIterator!;
    const error = await engine.getRecords({ ShardIterator: iterator }).then(
      () => undefined,
      (caught: Error) => caught,
    );
    expect(error?.name).toBe('ProvisionedThroughputExceededException');
    now += 1000;
    await expect(engine.getRecords({ ShardIterator: iterator })).resolves.toBeDefined();
  });

  it('throttles the batch fast path, encoded batches and prepared PutRecords from one allowance', async () => {
    now += 5000;
    const records = (tag: string, count: number) =>
      Array.from({ length: count }, (_, i) => ({
        PartitionKey: `${tag}-${i}`,
        Data: Buffer.alloc(10, i),
      }));
    const accepted = (result: PutRecordBatchResult) => {
      let stored = 0;
      for (let i = 0; i < result.recordCount; i++) {
        const error = result.errorOf(i);
        if (error === undefined) {
          stored++;
          expect(result.sequenceNumberOf(i)).toMatch(/^\d+$/);
        } else {
          expect(error.code).toBe('ProvisionedThroughputExceededException');
          expect(error.message).toMatch(
            /^Rate exceeded for shard shardId-00000000000[01] in stream limited /,
          );
        }
      }
      expect(result.FailedRecordCount).toBe(result.recordCount - stored);
      return stored;
    };
    // One second's allowance (2,000 records over 2 shards), taken by three paths in turn.
    const viaFastPath = accepted(await engine.putRecordBatch('limited', records('fast', 800)));
    expect(viaFastPath).toBe(800);
    const viaEncoded = accepted(
      await engine.putEncodedBatch('limited', encodeRecordBatch(records('encoded', 800))),
    );
    expect(viaEncoded).toBe(800);
    const body = Buffer.from(
      JSON.stringify({
        StreamName: 'limited',
        Records: records('prepared', 500).map((r) => ({
          PartitionKey: r.PartitionKey,
          Data: r.Data.toString('base64'),
        })),
      }),
    );
    const prepared = preparePutRecords(body)!;
    expect(prepared).toBeDefined();
    const viaPrepared = accepted(await engine.putPreparedRecords(prepared));
    // 400 left in the second: each shard takes what remains of its own 1,000.
    expect(viaPrepared).toBeGreaterThanOrEqual(350);
    expect(viaPrepared).toBeLessThanOrEqual(400);
    // The second is spent on every path.
    expect(accepted(await engine.putRecordBatch('limited', records('late', 50)))).toBeLessThan(50);
    now += 1000;
    expect(
      accepted(await engine.putEncodedBatch('limited', encodeRecordBatch(records('next', 100)))),
    ).toBe(100);
  });
});
