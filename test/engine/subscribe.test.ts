// Goal: the library's subscription delivers every record from its starting position in order,
// pushes new records as they commit (no polling), and ends when aborted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { tempDir } from '../helpers/temp-dir.js';

let engine: Engine;
const temp = tempDir();

beforeAll(async () => {
  engine = await Engine.open({ dataDir: temp.dir, workers: 2, segmentBytes: 256 * 1024 });
  await engine.createStream({ StreamName: 'feed', ShardCount: 1 });
});

afterAll(async () => {
  await engine.close();
  temp.cleanup();
});

describe('Engine.subscribe', () => {
  it('replays from TRIM_HORIZON, then receives records as they are put, in order', async () => {
    const old = Array.from({ length: 3000 }, (_, i) => ({
      PartitionKey: `old${i}`,
      Data: Buffer.alloc(200, i & 0xff),
    }));
    for (let i = 0; i < old.length; i += 500)
      await engine.putRecords({ StreamName: 'feed', Records: old.slice(i, i + 500) });
    const controller = new AbortController();
    const received: string[] = [];
    const reading = (async () => {
      for await (const record of engine.subscribe(
        { StreamName: 'feed', ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' },
        { signal: controller.signal },
      )) {
        received.push(record.PartitionKey!);
        if (received.length === 3010) controller.abort();
      }
    })();
    // Records put after the subscriber has caught up arrive without polling.
    while (received.length < 3000) await new Promise((resolve) => setTimeout(resolve, 5));
    const started = performance.now();
    for (let i = 0; i < 10; i++)
      await engine.putRecord({
        StreamName: 'feed',
        PartitionKey: `new${i}`,
        Data: Buffer.from('n'),
      });
    await reading;
    expect(performance.now() - started).toBeLessThan(1000);
    expect(received.slice(0, 3000)).toEqual(old.map((record) => record.PartitionKey));
    expect(received.slice(3000)).toEqual(Array.from({ length: 10 }, (_, i) => `new${i}`));
  });

  it('from LATEST sees only records put after it started', async () => {
    const controller = new AbortController();
    const iterator = engine.subscribe(
      { StreamName: 'feed', ShardId: 'shardId-000000000000', ShardIteratorType: 'LATEST' },
      { signal: controller.signal },
    );
    const first = iterator.next();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await engine.putRecord({
      StreamName: 'feed',
      PartitionKey: 'after-latest',
      Data: Buffer.from('x'),
    });
    expect((await first).value?.PartitionKey).toBe('after-latest');
    controller.abort();
    await iterator.return(undefined);
  });

  it('reports records as GetRecords does: EncryptionType KMS for those put while encrypted', async () => {
    await engine.createStream({ StreamName: 'sealed-feed', ShardCount: 1 });
    await engine.putRecord({
      StreamName: 'sealed-feed',
      PartitionKey: 'k',
      Data: Buffer.from('a'),
    });
    const types = async (count: number) => {
      const controller = new AbortController();
      const seen: (string | undefined)[] = [];
      for await (const record of engine.subscribe(
        {
          StreamName: 'sealed-feed',
          ShardId: 'shardId-000000000000',
          ShardIteratorType: 'TRIM_HORIZON',
        },
        { signal: controller.signal },
      )) {
        seen.push(record.EncryptionType);
        if (seen.length === count) controller.abort();
      }
      return seen;
    };
    expect(await types(1)).toEqual([undefined]);
    await engine.startStreamEncryption({
      StreamName: 'sealed-feed',
      EncryptionType: 'KMS',
      KeyId: 'alias/aws/kinesis',
    });
    await engine.putRecord({
      StreamName: 'sealed-feed',
      PartitionKey: 'k',
      Data: Buffer.from('b'),
    });
    // The record put before the encryption stays unencrypted.
    expect(await types(2)).toEqual([undefined, 'KMS']);
    const iterator = await engine.getShardIterator({
      StreamName: 'sealed-feed',
      ShardId: 'shardId-000000000000',
      ShardIteratorType: 'TRIM_HORIZON',
    });
    const page = await engine.getRecords({ ShardIterator: iterator.ShardIterator! });
    expect(page.Records.map((record) => record.EncryptionType)).toEqual([undefined, 'KMS']);
  });
});
