// Goal: every Engine method given bad input throws the error a real Kinesis service returns
// (name and message), and the engine keeps working afterwards: no crash, hang or lost write.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { tempDir } from '../helpers/temp-dir.js';

let engine: Engine;
let now = Date.parse('2026-11-25T12:00:00Z');
const temp = tempDir();

beforeAll(async () => {
  engine = await Engine.open({
    dataDir: temp.dir,
    workers: 2,
    segmentBytes: 1 << 20,
    clock: () => now,
  });
  await engine.createStream({ StreamName: 'good', ShardCount: 2 });
});

afterAll(async () => {
  await engine.close();
  temp.cleanup();
});

async function rejects(promise: Promise<unknown>, name: string, message?: string | RegExp) {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught as Error,
  );
  expect(error, `expected ${name}`).toBeInstanceOf(Error);
  expect(error!.name).toBe(name);
  if (typeof message === 'string') expect(error!.message).toBe(message);
  else if (message) expect(error!.message).toMatch(message);
}

const record = (i = 0) => ({ PartitionKey: `k${i}`, Data: Buffer.from('x') });

describe('Engine errors', () => {
  it('unknown streams are ResourceNotFoundException for every stream method', async () => {
    const message = 'Stream nope under account 000000000000 not found.';
    const target = { StreamName: 'nope' };
    await rejects(engine.describeStream(target), 'ResourceNotFoundException', message);
    await rejects(engine.describeStreamSummary(target), 'ResourceNotFoundException', message);
    await rejects(engine.deleteStream(target), 'ResourceNotFoundException', message);
    await rejects(engine.listShards(target), 'ResourceNotFoundException', message);
    await rejects(
      engine.putRecord({ ...target, ...record() }),
      'ResourceNotFoundException',
      message,
    );
    await rejects(
      engine.putRecords({ ...target, Records: [record()] }),
      'ResourceNotFoundException',
      message,
    );
    // GetShardIterator names the shard it cannot find (reference §2.10).
    await rejects(
      engine.getShardIterator({
        ...target,
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'LATEST',
      }),
      'ResourceNotFoundException',
      'Shard shardId-000000000000 in stream nope under account 000000000000 does not exist',
    );
    await rejects(
      engine.increaseStreamRetentionPeriod({ ...target, RetentionPeriodHours: 48 }),
      'ResourceNotFoundException',
    );
    await rejects(
      engine.decreaseStreamRetentionPeriod({ ...target, RetentionPeriodHours: 24 }),
      'ResourceNotFoundException',
    );
    await rejects(
      engine.addTagsToStream({ ...target, Tags: { a: 'b' } }),
      'ResourceNotFoundException',
    );
    await rejects(
      engine.removeTagsFromStream({ ...target, TagKeys: ['a'] }),
      'ResourceNotFoundException',
    );
    await rejects(engine.listTagsForStream(target), 'ResourceNotFoundException');
    await rejects(
      engine.describeStream({ StreamARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/nope' }),
      'ResourceNotFoundException',
      message,
    );
  });

  it('a stream that exists already is ResourceInUseException', async () => {
    await rejects(
      engine.createStream({ StreamName: 'good', ShardCount: 1 }),
      'ResourceInUseException',
      'Stream good under account 000000000000 already exists.',
    );
  });

  it('bad names and lengths are ValidationException in the service format', async () => {
    await rejects(
      engine.createStream({ StreamName: 'bad name!', ShardCount: 1 }),
      'ValidationException',
      "1 validation error detected: Value 'bad name!' at 'streamName' failed to satisfy constraint: " +
        'Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+',
    );
    await rejects(
      engine.createStream({ StreamName: 'x'.repeat(129), ShardCount: 1 }),
      'ValidationException',
      /length less than or equal to 128/,
    );
    await rejects(
      engine.createStream({ StreamName: 'zero', ShardCount: 0 }),
      'ValidationException',
      /greater than or equal to 1/,
    );
    await rejects(
      engine.putRecord({ StreamName: 'good', PartitionKey: '', Data: Buffer.from('x') }),
      'ValidationException',
      /partitionKey/,
    );
    await rejects(
      engine.putRecord({
        StreamName: 'good',
        PartitionKey: 'k'.repeat(257),
        Data: Buffer.from('x'),
      }),
      'ValidationException',
      /length less than or equal to 256/,
    );
    await rejects(engine.describeStream({}), 'InvalidArgumentException');
  });

  it('the batch fast path refuses what a JavaScript caller gets wrong as putRecords does', async () => {
    const bad: unknown[] = [
      [{ PartitionKey: 'k', Data: 'text' }],
      [{ PartitionKey: 'k', Data: new ArrayBuffer(4) }],
      [{ Data: new Uint8Array(1) }],
      [{ PartitionKey: 7, Data: new Uint8Array(1) }],
      [{ PartitionKey: 'k', Data: new Uint8Array(1) }, null],
      undefined,
    ];
    const errorOf = async (call: () => Promise<unknown>) => {
      try {
        await call();
      } catch (error) {
        return { name: (error as Error).name, message: (error as Error).message };
      }
      throw new Error('no error');
    };
    for (const Records of bad) {
      const expected = await errorOf(() =>
        engine.putRecords({ StreamName: 'good', Records } as never),
      );
      expect(expected.name).toBe('ValidationException');
      expect(await errorOf(() => engine.putRecordBatch('good', Records as never))).toEqual(
        expected,
      );
    }
  });

  it('records over 1 MiB, 501 records and out-of-range hash keys are refused', async () => {
    await rejects(
      engine.putRecord({
        StreamName: 'good',
        PartitionKey: 'k',
        Data: Buffer.alloc(1024 * 1024 + 1),
      }),
      'ValidationException',
      "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]' at 'data' " +
        'failed to satisfy constraint: Member must have length less than or equal to 1048576',
    );
    await rejects(
      engine.putRecords({
        StreamName: 'good',
        Records: [record(), { PartitionKey: 'k', Data: Buffer.alloc(1024 * 1024 + 1) }],
      }),
      'ValidationException',
      /records\.2\.member\.data/,
    );
    await rejects(
      engine.putRecords({
        StreamName: 'good',
        Records: Array.from({ length: 501 }, (_, i) => record(i)),
      }),
      'ValidationException',
      /Member must have length less than or equal to 500/,
    );
    await rejects(
      engine.putRecord({
        StreamName: 'good',
        ...record(),
        ExplicitHashKey: (1n << 128n).toString(),
      }),
      'InvalidArgumentException',
      'Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. ' +
        'Specified value was 340282366920938463463374607431768211456',
    );
    await rejects(
      engine.putRecord({ StreamName: 'good', ...record(), ExplicitHashKey: 'abc' }),
      'ValidationException',
    );
  });

  it('bad and expired iterators are refused with the service messages', async () => {
    await rejects(
      engine.getRecords({ ShardIterator: 'AAAAAAAAAAAAAAAAAAAAAAAA' }),
      'InvalidArgumentException',
      'Invalid ShardIterator.',
    );
    await rejects(engine.getRecords({ ShardIterator: '' }), 'ValidationException');
    const { ShardIterator } = await engine.getShardIterator({
      StreamName: 'good',
      ShardId: 'shardId-000000000000',
      ShardIteratorType: 'TRIM_HORIZON',
    });
    await rejects(
      engine.getRecords({ ShardIterator, Limit: 0 }),
      'ValidationException',
      /greater than or equal to 1/,
    );
    await rejects(
      engine.getRecords({ ShardIterator, Limit: 10_001 }),
      'InvalidArgumentException',
      'The Limit parameter (10001) cannot be greater than 10000.',
    );
    const issued = now;
    now += 300_001;
    await rejects(
      engine.getRecords({ ShardIterator }),
      'ExpiredIteratorException',
      `Iterator expired. The iterator was created at time Wed Nov 25 12:00:00 UTC 2026 while right now it is ` +
        `Wed Nov 25 12:05:00 UTC 2026 which is further in the future than the tolerated delay of 300000 milliseconds.`,
    );
    now = issued;
  });

  it('bad iterator requests name the problem', async () => {
    await rejects(
      engine.getShardIterator({
        StreamName: 'good',
        ShardId: 'shardId-000000000009',
        ShardIteratorType: 'LATEST',
      }),
      'ResourceNotFoundException',
      'Shard shardId-000000000009 in stream good under account 000000000000 does not exist',
    );
    await rejects(
      engine.getShardIterator({
        StreamName: 'good',
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'AT_SEQUENCE_NUMBER',
      }),
      'InvalidArgumentException',
      /Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber\.$/,
    );
    await rejects(
      engine.getShardIterator({
        StreamName: 'good',
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'AT_SEQUENCE_NUMBER',
        StartingSequenceNumber: '12345',
      }),
      'InvalidArgumentException',
      /StartingSequenceNumber 12345 used in GetShardIterator on shard shardId-000000000000 in stream good/,
    );
    const put = await engine.putRecord({ StreamName: 'good', ...record(), ExplicitHashKey: '0' });
    await rejects(
      engine.getShardIterator({
        StreamName: 'good',
        ShardId: 'shardId-000000000001',
        ShardIteratorType: 'AT_SEQUENCE_NUMBER',
        StartingSequenceNumber: put.SequenceNumber,
      }),
      'InvalidArgumentException',
      'Invalid StartingSequenceNumber. It encodes shardId-000000000000, while it was used in a call to a shard with shardId-000000000001',
    );
    await rejects(
      engine.getShardIterator({
        StreamName: 'good',
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'AT_TIMESTAMP',
      }),
      'InvalidArgumentException',
      /Must specify timestampInMillis parameter/,
    );
    await rejects(
      engine.getShardIterator({
        StreamName: 'good',
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'AT_TIMESTAMP',
        Timestamp: new Date(now + 60_000),
      }),
      'InvalidArgumentException',
      /cannot be greater than the currentTimestampInMillis/,
    );
    await rejects(
      engine.getShardIterator({
        StreamName: 'good',
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'SIDEWAYS' as 'LATEST',
      }),
      'ValidationException',
      /enum value set/,
    );
  });

  it('retention changes are bounded and directional', async () => {
    await rejects(
      engine.increaseStreamRetentionPeriod({ StreamName: 'good', RetentionPeriodHours: 23 }),
      'InvalidArgumentException',
      'Minimum allowed retention period is 24 hours. Requested retention period (23 hours) is too short.',
    );
    await rejects(
      engine.increaseStreamRetentionPeriod({ StreamName: 'good', RetentionPeriodHours: 8761 }),
      'InvalidArgumentException',
    );
    await engine.increaseStreamRetentionPeriod({ StreamName: 'good', RetentionPeriodHours: 48 });
    await rejects(
      engine.increaseStreamRetentionPeriod({ StreamName: 'good', RetentionPeriodHours: 36 }),
      'InvalidArgumentException',
      'Requested retention period (36 hours) for stream good can not be shorter than existing retention period (48 hours). Use DecreaseRetentionPeriod API.',
    );
    await rejects(
      engine.decreaseStreamRetentionPeriod({ StreamName: 'good', RetentionPeriodHours: 72 }),
      'InvalidArgumentException',
      /can not be longer than existing retention period \(48 hours\)/,
    );
    await engine.decreaseStreamRetentionPeriod({ StreamName: 'good', RetentionPeriodHours: 24 });
    expect(
      (await engine.describeStreamSummary({ StreamName: 'good' })).StreamDescriptionSummary
        .RetentionPeriodHours,
    ).toBe(24);
  });

  it('keeps serving after all of the above, with nothing lost', async () => {
    const before = await engine.putRecords({ StreamName: 'good', Records: [record(1), record(2)] });
    expect(before.FailedRecordCount).toBe(0);
    const { ShardIterator } = await engine.getShardIterator({
      StreamName: 'good',
      ShardId: before.Records[0]!.ShardId!,
      ShardIteratorType: 'AT_SEQUENCE_NUMBER',
      StartingSequenceNumber: before.Records[0]!.SequenceNumber!,
    });
    const page = await engine.getRecords({ ShardIterator });
    expect(page.Records[0]!.SequenceNumber).toBe(before.Records[0]!.SequenceNumber);
  });
});
