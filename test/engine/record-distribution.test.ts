// Goal: the AUTO record distribution strategy in the library (src/engine/record-distribution.ts
// and the Engine's put and read paths):
//  - the rotation places each put's records in contiguous runs whose counts are exactly those of
//    dealing records out one at a time, so after any sequence of puts (seeded, printed) no slot
//    has more than one record more than another;
//  - an encoded batch is cut into one batch per slot, each run's bytes copied unchanged, a batch
//    placed whole in one slot forwarded as it is, records refused in limits mode left out;
//  - every put path of the Engine (putRecord, putRecords, putRecordBatch, putEncodedBatch,
//    putRoutedBatch, putPreparedRecords) takes records without a key on an AUTO stream and
//    spreads them, and refuses them on any other stream with the error it always gave; getRecords
//    and the library's subscribe return such records without PartitionKey.
import { afterEach, describe, expect, it } from 'vitest';

import { Engine, type PutRecordBatchResult } from '../../src/engine/engine.js';
import { RecordRotation, placeEncodedBatch } from '../../src/engine/record-distribution.js';
import { refusedSlot } from '../../src/engine/encoded-batch.js';
import {
  BATCH_HEADER_BYTES,
  encodeRecordBatch,
  newRecordCursor,
  nextRecord,
} from '../../src/protocol/batch-writer.js';
import { preparePutRecords } from '../../src/server/put-records-prepare.js';
import { readShard } from '../helpers/read-all.js';
import { seededRandom, tempDir } from '../helpers/temp-dir.js';

const SHARDS = [0, 1, 2, 3].map((index) => `shardId-00000000000${index}`);
const ON_DEMAND = { StreamMode: 'ON_DEMAND' } as const;
const bytes = (text: string) => Buffer.from(text);

let cleanup: () => void = () => undefined;
let engine: Engine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
  cleanup();
});

/** An engine with an ON_DEMAND stream `auto` (AUTO, 4 shards) and `keyed` (USER_PARTITION_KEY). */
async function openWithStreams(): Promise<Engine> {
  const temp = tempDir();
  cleanup = temp.cleanup;
  engine = await Engine.open({ dataDir: temp.dir, workers: 2, segmentBytes: 1 << 20 });
  await engine.createStream({
    StreamName: 'auto',
    StreamModeDetails: ON_DEMAND,
    RecordDistributionStrategy: 'AUTO',
  });
  await engine.createStream({ StreamName: 'keyed', StreamModeDetails: ON_DEMAND });
  return engine;
}

function recordStarts(batch: Uint8Array, count: number): Int32Array {
  const starts = new Int32Array(count + 1);
  const cursor = newRecordCursor(BATCH_HEADER_BYTES);
  for (let i = 0; i < count; i++) {
    starts[i] = cursor.offset;
    nextRecord(batch, cursor, batch.length);
  }
  starts[count] = cursor.offset;
  return starts;
}

function shardsOf(result: PutRecordBatchResult): string[] {
  expect(result.FailedRecordCount).toBe(0);
  return Array.from({ length: result.recordCount }, (_, i) => result.shardIdOf(i));
}

function counts(shardIds: readonly string[]): number[] {
  return SHARDS.map((shardId) => shardIds.filter((id) => id === shardId).length);
}

const keyless = (count: number, prefix = 'v') =>
  Array.from({ length: count }, (_, i) => ({ Data: bytes(`${prefix}${i}`) }));

describe('RecordRotation', () => {
  it('places a put in contiguous runs, the first N mod S shards one record longer', () => {
    const rotation = new RecordRotation();
    expect([...rotation.place(10, 4)]).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 3, 3]);
    // The next put starts at the first shard that got the shorter run.
    expect([...rotation.place(3, 4)]).toEqual([2, 3, 0]);
    expect([...rotation.place(1, 4)]).toEqual([1]);
    // Fewer open shards than before (a merge): the cursor is taken modulo the new count.
    expect([...rotation.place(4, 2)]).toEqual([0, 0, 1, 1]);
  });

  it('leaves no slot more than one record ahead after any sequence of puts', () => {
    const seed = 20_240_601;
    console.log(`RecordRotation spread seed ${seed}`);
    const next = seededRandom(seed);
    for (let run = 0; run < 50; run++) {
      const rotation = new RecordRotation();
      const slots = 1 + Math.floor(next() * 16);
      const totals = new Array<number>(slots).fill(0);
      for (let put = 0; put < 200; put++) {
        const count = 1 + Math.floor(next() * 600);
        const placed = rotation.place(count, slots);
        let previous = placed[0]!;
        const seen = new Set([previous]);
        for (const slot of placed) {
          // One run per slot per put.
          if (slot !== previous) expect(seen.has(slot)).toBe(false);
          seen.add(slot);
          previous = slot;
          totals[slot]!++;
        }
        expect(Math.max(...totals) - Math.min(...totals)).toBeLessThanOrEqual(1);
      }
    }
  });
});

describe('placeEncodedBatch', () => {
  const records = Array.from({ length: 7 }, (_, i) =>
    i % 3 === 0 ? { Data: bytes(`d${i}`) } : { Data: bytes(`d${i}`), PartitionKey: `k${i}` },
  );
  const batch = encodeRecordBatch(records);
  const starts = recordStarts(batch, records.length);

  it('copies each run of records unchanged into a batch of its own', () => {
    const placed = placeEncodedBatch(batch, starts, 3, new RecordRotation());
    expect([...placed.shardOfRecord]).toEqual([0, 0, 0, 1, 1, 2, 2]);
    expect([...placed.positionOfRecord]).toEqual([0, 1, 2, 0, 1, 0, 1]);
    const expected = [records.slice(0, 3), records.slice(3, 5), records.slice(5)];
    for (const [slot, part] of placed.batches) {
      expect(Buffer.from(part).equals(Buffer.from(encodeRecordBatch(expected[slot]!)))).toBe(true);
    }
    expect(placed.batches.size).toBe(3);
  });

  it('forwards a batch placed whole in one slot as it is', () => {
    const placed = placeEncodedBatch(batch, starts, 1, new RecordRotation());
    expect(placed.batches.get(0)).toBe(batch);
  });

  it('leaves out the records limits refuse, marked by the shard that refused them', () => {
    const admit = (record: number) => record !== 1 && record !== 4;
    const placed = placeEncodedBatch(batch, starts, 3, new RecordRotation(), admit);
    expect([...placed.shardOfRecord]).toEqual([0, refusedSlot(0), 0, 1, refusedSlot(1), 2, 2]);
    const expected = [[records[0]!, records[2]!], [records[3]!], records.slice(5)];
    for (const [slot, part] of placed.batches) {
      expect(Buffer.from(part).equals(Buffer.from(encodeRecordBatch(expected[slot]!)))).toBe(true);
    }
  });
});

describe('the Engine on an AUTO stream', () => {
  it('spreads records without keys on every put path, in turn over the open shards', async () => {
    const engine = await openWithStreams();
    const single = [];
    for (let i = 0; i < 4; i++) {
      single.push((await engine.putRecord({ StreamName: 'auto', Data: bytes('p') })).ShardId);
    }
    expect(counts(single)).toEqual([1, 1, 1, 1]);
    const put = await engine.putRecords({ StreamName: 'auto', Records: keyless(8) });
    expect(counts(put.Records.map((record) => record.ShardId!))).toEqual([2, 2, 2, 2]);
    const batched = await engine.putRecordBatch('auto', keyless(40));
    expect(counts(shardsOf(batched))).toEqual([10, 10, 10, 10]);
    const encoded = encodeRecordBatch(keyless(12));
    expect(counts(shardsOf(await engine.putEncodedBatch('auto', encoded)))).toEqual([3, 3, 3, 3]);
    // A batch a client routed by key (here: one key, one shard) is placed as any other.
    const sameKey = Array.from({ length: 8 }, () => ({ PartitionKey: 'same', Data: bytes('r') }));
    const routed = encodeRecordBatch(sameKey);
    expect(counts(shardsOf(await engine.putRoutedBatch('auto', routed)))).toEqual([2, 2, 2, 2]);
    const body = { StreamName: 'auto', Records: [{ Data: 'QQ==' }, { Data: 'Qg==' }] };
    const prepared = preparePutRecords(Buffer.from(JSON.stringify(body)))!;
    expect(prepared.keylessRecords).toBe(2);
    expect(counts(shardsOf(await engine.putPreparedRecords(prepared)))).toEqual([1, 1, 0, 0]);

    let total = 0;
    for (const shardId of SHARDS) {
      const records = await readShard(engine, 'auto', shardId);
      total += records.length;
      for (const record of records) {
        if (Buffer.from(record.Data).toString() === 'r') expect(record.PartitionKey).toBe('same');
        else expect(record).not.toHaveProperty('PartitionKey');
      }
    }
    expect(total).toBe(4 + 8 + 40 + 12 + 8 + 2);
  });

  it('returns records without a key from subscribe without PartitionKey', async () => {
    const engine = await openWithStreams();
    const kept = { Data: bytes('b'), PartitionKey: 'kept' };
    await engine.putRecordBatch('auto', [{ Data: bytes('a') }, kept, ...keyless(6)]);
    const controller = new AbortController();
    const seen: Array<string | undefined> = [];
    for await (const record of engine.subscribe(
      { StreamName: 'auto', ShardId: SHARDS[0]!, ShardIteratorType: 'TRIM_HORIZON' },
      { signal: controller.signal },
    )) {
      seen.push(record.PartitionKey);
      if (seen.length === 2) controller.abort();
    }
    expect(seen).toEqual([undefined, 'kept']);
  });

  it('refuses records without keys on a USER_PARTITION_KEY stream, on every path', async () => {
    const engine = await openWithStreams();
    const nullAt = (path: string) =>
      `Value null at '${path}' failed to satisfy constraint: Member must not be null`;
    const keyedPut = engine.putRecord({ StreamName: 'keyed', Data: bytes('x') });
    await expect(keyedPut).rejects.toMatchObject({
      code: 'ValidationException',
      message: `1 validation error detected: ${nullAt('partitionKey')}`,
    });
    // A stream that does not exist requires keys too: validation answers first, as it always has.
    await expect(engine.putRecord({ StreamName: 'none', Data: bytes('x') })).rejects.toMatchObject({
      code: 'ValidationException',
    });
    const missing = (record: number) => nullAt(`records.${record}.member.partitionKey`);
    const records = [{ Data: bytes('a'), PartitionKey: 'a' }, ...keyless(2)];
    const expected = {
      code: 'ValidationException',
      message: `2 validation errors detected: ${missing(2)}; ${missing(3)}`,
    };
    const put = engine.putRecords({ StreamName: 'keyed', Records: records });
    await expect(put).rejects.toMatchObject(expected);
    await expect(engine.putRecordBatch('keyed', records)).rejects.toMatchObject(expected);
    const body = JSON.stringify({
      StreamName: 'keyed',
      Records: [{ Data: 'QQ==', PartitionKey: 'a' }, { Data: 'QQ==' }, { Data: 'QQ==' }],
    });
    const prepared = preparePutRecords(Buffer.from(body))!;
    await expect(engine.putPreparedRecords(prepared)).rejects.toMatchObject(expected);
    // The binary protocol's batches: a key of length 0 is the partition-key error it always was.
    const lengthError = {
      code: 'ValidationException',
      message:
        "1 validation error detected: Value at 'records.2.member.partitionKey' failed to " +
        'satisfy constraint: Member must be 1 to 256 Unicode characters',
    };
    const encoded = encodeRecordBatch(records);
    await expect(engine.putEncodedBatch('keyed', encoded)).rejects.toMatchObject(lengthError);
    await expect(engine.putRoutedBatch('keyed', encoded)).rejects.toMatchObject(lengthError);
    for (const shardId of SHARDS) expect(await readShard(engine, 'keyed', shardId)).toEqual([]);
  });

  it('still checks the keys and explicit hash keys an encoded batch gives to AUTO', async () => {
    const engine = await openWithStreams();
    const tooLong = encodeRecordBatch([
      { Data: bytes('x') },
      { Data: bytes('y'), PartitionKey: 'k'.repeat(257) },
    ]);
    await expect(engine.putEncodedBatch('auto', tooLong)).rejects.toMatchObject({
      code: 'ValidationException',
    });
    const tooHigh = (1n << 128n).toString();
    const badHash = encodeRecordBatch([{ Data: bytes('x'), ExplicitHashKey: tooHigh }]);
    await expect(engine.putEncodedBatch('auto', badHash)).rejects.toMatchObject({
      code: 'InvalidArgumentException',
    });
  });
});
