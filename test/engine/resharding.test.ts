// Goal: resharding as Kinesis does it, through the engine's public methods with real worker
// threads and files. The plans: UpdateShardCount reaches CreateStream's uniform ranges through
// splits and merges, each shard with at most two parents. The engine: puts racing a reshard are
// each stored exactly once, in the parent before the switch and in a child after it, so a reader
// that finishes parents before children (KCL) sees every key's records in put order; a closed
// shard ends reads (GetRecords, subscribe); the reshard survives a reopen, including one cut
// short before its closed shards' ends were recorded; the transition and limits behave.
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import {
  type RangeShard,
  planMerge,
  planSplit,
  planUniform,
} from '../../src/engine/reshard-plan.js';
import { HASH_KEY_MAX, evenHashRanges } from '../../src/kinesis/hash-key.js';
import type { KinesisRecord, Shard } from '../../src/kinesis/shapes.js';
import {
  SEGMENT_BYTES_MIN,
  UPDATE_SHARD_COUNT_PER_DAY_MAX,
  WORKER_TASK_QUEUE_MAX,
} from '../../src/limits.js';
import { eventually } from '../helpers/eventually.js';
import { openFilesUnder } from '../helpers/open-files.js';
import { readShard } from '../helpers/read-all.js';
import { tempDir } from '../helpers/temp-dir.js';

let cleanup: () => void = () => undefined;
afterEach(() => cleanup());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A stream's transition in the tests that watch one: long enough to be seen in, on any load. */
const TRANSITION_MS = 1_500;
const HALF = 1n << 127n;

function uniform(count: number, firstIndex = 0): RangeShard[] {
  return evenHashRanges(count).map((range, i) => ({
    shardId: `shardId-${String(firstIndex + i).padStart(12, '0')}`,
    ...range,
  }));
}

async function openEngine(options: Partial<Parameters<typeof Engine.open>[0]> = {}) {
  const temp = tempDir();
  cleanup = temp.cleanup;
  const engine = await Engine.open({ dataDir: temp.dir, workers: 2, ...options });
  return { engine, dir: temp.dir };
}

/** Every shard ListShards lists, following NextToken. */
async function allShards(engine: Engine, streamName: string): Promise<Shard[]> {
  let page = await engine.listShards({ StreamName: streamName });
  const shards = [...page.Shards!];
  while (page.NextToken) {
    page = await engine.listShards({ NextToken: page.NextToken });
    shards.push(...page.Shards!);
  }
  return shards;
}

/**
 * Reads every shard of a stream as KCL does: a shard only after all its parents, each from
 * TRIM_HORIZON to its end. Returns the records of each partition key in the order read.
 */
async function readByLineage(engine: Engine, streamName: string): Promise<Map<string, string[]>> {
  const shards = await allShards(engine, streamName);
  const done = new Set<string>();
  const byKey = new Map<string, string[]>();
  while (done.size < shards.length) {
    const ready = shards.filter(
      (shard) =>
        !done.has(shard.ShardId!) &&
        [shard.ParentShardId, shard.AdjacentParentShardId].every(
          (parent) => parent === undefined || done.has(parent),
        ),
    );
    expect(ready.length).toBeGreaterThan(0);
    for (const shard of ready) {
      for (const record of await readShard(engine, streamName, shard.ShardId!)) {
        const list = byKey.get(record.PartitionKey!) ?? [];
        list.push(Buffer.from(record.Data!).toString());
        byKey.set(record.PartitionKey!, list);
      }
      done.add(shard.ShardId!);
    }
  }
  return byKey;
}

describe('reshard plans', () => {
  it('splits at the key and merges into the union, in either order', () => {
    const [a, b] = uniform(2);
    expect(planSplit(a!, 1000n, 2)).toEqual({
      closes: [a!.shardId],
      created: [
        {
          index: 2,
          shardId: 'shardId-000000000002',
          start: 0n,
          end: 999n,
          parentShardId: a!.shardId,
          intermediate: false,
        },
        {
          index: 3,
          shardId: 'shardId-000000000003',
          start: 1000n,
          end: a!.end,
          parentShardId: a!.shardId,
          intermediate: false,
        },
      ],
    });
    const merged = planMerge(b!, a!, 2).created;
    expect(merged).toEqual([
      {
        index: 2,
        shardId: 'shardId-000000000002',
        start: 0n,
        end: HASH_KEY_MAX,
        parentShardId: b!.shardId,
        adjacentParentShardId: a!.shardId,
        intermediate: false,
      },
    ]);
  });

  it("scales to CreateStream's ranges for every count reachable from 1-12 shards, two parents at most", () => {
    for (let current = 1; current <= 12; current++) {
      for (let target = Math.ceil(current / 2); target <= 2 * current; target++) {
        const before = uniform(current);
        const plan = planUniform(before, target, current);
        const closed = new Set(plan.closes);
        const intermediate = new Set(
          plan.created.filter((shard) => shard.intermediate).map((shard) => shard.shardId),
        );
        const open = [
          ...before.filter((shard) => !closed.has(shard.shardId)),
          ...plan.created.filter((shard) => !shard.intermediate),
        ].sort((x, y) => (x.start < y.start ? -1 : 1));
        expect(
          open.map(({ start, end }) => ({ start, end })),
          `${current} → ${target}`,
        ).toEqual(evenHashRanges(target));
        // Every shard the plan creates has parents made before it, and covers exactly their union.
        const known = new Map<string, RangeShard>(before.map((shard) => [shard.shardId, shard]));
        for (const shard of plan.created) {
          const parents = [shard.parentShardId, shard.adjacentParentShardId].filter(
            (id) => id !== undefined,
          );
          const ranges = parents.map((id) => known.get(id!)!);
          expect(ranges.every((range) => range !== undefined)).toBe(true);
          expect(closed.has(shard.parentShardId) || intermediate.has(shard.parentShardId)).toBe(
            true,
          );
          const lowest = ranges.reduce((x, y) => (x.start < y.start ? x : y));
          const highest = ranges.reduce((x, y) => (x.end > y.end ? x : y));
          if (parents.length === 2)
            expect({ start: shard.start, end: shard.end }).toEqual({
              start: lowest.start,
              end: highest.end,
            });
          else expect(shard.start >= lowest.start && shard.end <= lowest.end).toBe(true);
          known.set(shard.shardId, shard);
        }
        if (current === target) expect(plan.created).toEqual([]);
      }
    }
    expect(planUniform(uniform(2), 4, 2).created).toHaveLength(4);
    expect(planUniform(uniform(4), 2, 4).created).toHaveLength(2);
  });

  it('plans 5,000 → 10,000 shards without a quadratic walk', () => {
    const plan = planUniform(uniform(5000), 10_000, 5000);
    expect(plan.closes).toHaveLength(5000);
    expect(plan.created.filter((shard) => !shard.intermediate)).toHaveLength(10_000);
  });
});

describe('resharding in the engine', () => {
  it('stores every put racing a split exactly once, each key in order across parent and children', async () => {
    const { engine } = await openEngine();
    try {
      await engine.createStream({ StreamName: 'race', ShardCount: 2 });
      const keys = Array.from({ length: 64 }, (_, i) => `key-${i}`);
      const counters = new Map(keys.map((key) => [key, 0]));
      const putRound = (chainKeys: string[]) => {
        const records = chainKeys.map((key) => {
          const n = counters.get(key)!;
          counters.set(key, n + 1);
          return { PartitionKey: key, Data: Buffer.from(`${key}#${n}`) };
        });
        return engine.putRecords({ StreamName: 'race', Records: records });
      };
      // Two chains of puts over disjoint keys, each put sent when the chain's previous one is
      // acknowledged (so each key's records are in put order), the reshards starting while a
      // put of each chain is in flight.
      const reshards: Array<Promise<unknown>> = [];
      const chain = async (chainKeys: string[], leader: boolean) => {
        for (let round = 0; round < 60; round++) {
          if (leader && round === 20) {
            reshards.push(
              engine.splitShard({
                StreamName: 'race',
                ShardToSplit: 'shardId-000000000000',
                NewStartingHashKey: (HALF / 2n).toString(),
              }),
            );
          }
          if (leader && round === 40) {
            reshards.push(
              engine.updateShardCount({
                StreamName: 'race',
                TargetShardCount: 4,
                ScalingType: 'UNIFORM_SCALING',
              }),
            );
          }
          expect((await putRound(chainKeys)).FailedRecordCount).toBe(0);
        }
      };
      await Promise.all([chain(keys.slice(0, 32), true), chain(keys.slice(32), false)]);
      await Promise.all(reshards);
      const byKey = await readByLineage(engine, 'race');
      for (const key of keys) {
        const expected = Array.from({ length: counters.get(key)! }, (_, n) => `${key}#${n}`);
        expect(byKey.get(key)).toEqual(expected);
      }
      const open = (
        await engine.listShards({ StreamName: 'race', ShardFilter: { Type: 'AT_LATEST' } })
      ).Shards!;
      expect(open.map((shard) => shard.HashKeyRange!.StartingHashKey)).toEqual(
        evenHashRanges(4).map((range) => range.start.toString()),
      );
    } finally {
      await engine.close();
    }
  });

  it('stores puts sent on every turn around a split in the shard each was acknowledged in, once', async () => {
    const { engine } = await openEngine();
    try {
      await engine.createStream({ StreamName: 'turn', ShardCount: 1 });
      // One put on every turn of the event loop while the split runs, so some are queued for the
      // parent's worker, not yet sent, in the turn the routing switches.
      const puts: Array<Promise<{ data: string; shardId: string; sequenceNumber: string }[]>> = [];
      let done = false;
      let n = 0;
      const putEveryTurn = () => {
        if (done) return;
        const records = Array.from({ length: 20 }, (_, i) => ({
          PartitionKey: `k${i}`,
          Data: Buffer.from(`v${n++}`),
        }));
        puts.push(
          engine.putRecords({ StreamName: 'turn', Records: records }).then((output) =>
            output.Records.map((result, i) => ({
              data: records[i]!.Data.toString(),
              shardId: result.ShardId!,
              sequenceNumber: result.SequenceNumber!,
            })),
          ),
        );
        setImmediate(putEveryTurn);
      };
      putEveryTurn();
      await sleep(20);
      await engine.splitShard({
        StreamName: 'turn',
        ShardToSplit: 'shardId-000000000000',
        NewStartingHashKey: HALF.toString(),
      });
      await sleep(20);
      done = true;
      const acknowledged = (await Promise.all(puts)).flat();
      const shardIds = new Set(acknowledged.map((record) => record.shardId));
      expect(shardIds).toEqual(
        new Set(['shardId-000000000000', 'shardId-000000000001', 'shardId-000000000002']),
      );
      const stored = new Map<string, { shardId: string; sequenceNumber: string }>();
      for (const shardId of shardIds) {
        for (const record of await readShard(engine, 'turn', shardId)) {
          const data = Buffer.from(record.Data!).toString();
          expect(stored.has(data)).toBe(false);
          stored.set(data, { shardId, sequenceNumber: record.SequenceNumber! });
        }
      }
      expect(stored.size).toBe(acknowledged.length);
      for (const record of acknowledged) {
        expect(stored.get(record.data)).toEqual({
          shardId: record.shardId,
          sequenceNumber: record.sequenceNumber,
        });
      }
    } finally {
      await engine.close();
    }
  });

  it("ends a closed shard's reads: GetRecords with ChildShards and no iterator, subscribe by returning", async () => {
    const { engine } = await openEngine();
    try {
      await engine.createStream({ StreamName: 'ends', ShardCount: 2 });
      await engine.putRecords({
        StreamName: 'ends',
        Records: Array.from({ length: 30 }, (_, i) => ({
          PartitionKey: `k${i}`,
          Data: Buffer.from(`v${i}`),
        })),
      });
      // A reader waiting for shard 1's next record is woken when the merge ends the shard.
      const waitStarted = performance.now();
      const waiting = engine.waitForRecords(
        'ends',
        'shardId-000000000001',
        (await readShard(engine, 'ends', 'shardId-000000000001')).length,
        60_000,
      );
      await engine.mergeShards({
        StreamName: 'ends',
        ShardToMerge: 'shardId-000000000001',
        AdjacentShardToMerge: 'shard-0',
      });
      expect(await waiting).toBe(false);
      expect(performance.now() - waitStarted).toBeLessThan(30_000);
      const child = {
        ShardId: 'shardId-000000000002',
        ParentShards: ['shardId-000000000001', 'shardId-000000000000'],
        HashKeyRange: { StartingHashKey: '0', EndingHashKey: HASH_KEY_MAX.toString() },
      };
      const [zero] = await allShards(engine, 'ends');
      const parentRecords = await readShard(engine, 'ends', 'shardId-000000000000');
      // Page by page: the last page has no next iterator and names the child.
      let iterator = (
        await engine.getShardIterator({
          StreamName: 'ends',
          ShardId: zero!.ShardId!,
          ShardIteratorType: 'TRIM_HORIZON',
        })
      ).ShardIterator;
      const seen: KinesisRecord[] = [];
      for (;;) {
        const page = await engine.getRecords({ ShardIterator: iterator!, Limit: 4 });
        seen.push(...page.Records);
        if (page.NextShardIterator === undefined) {
          expect(page.ChildShards).toEqual([child]);
          expect(page.MillisBehindLatest).toBe(0);
          break;
        }
        expect(page.ChildShards).toBeUndefined();
        iterator = page.NextShardIterator;
      }
      expect(seen).toEqual(parentRecords);
      const latest = await engine.getShardIterator({
        StreamName: 'ends',
        ShardId: 'shardId-000000000001',
        ShardIteratorType: 'LATEST',
      });
      expect(await engine.getRecords({ ShardIterator: latest.ShardIterator! })).toEqual({
        Records: [],
        MillisBehindLatest: 0,
        ChildShards: [child],
      });
      const subscribed: KinesisRecord[] = [];
      for await (const record of engine.subscribe({
        StreamName: 'ends',
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'TRIM_HORIZON',
      })) {
        subscribed.push(record);
      }
      expect(subscribed.map((record) => record.SequenceNumber)).toEqual(
        parentRecords.map((record) => record.SequenceNumber),
      );
      expect(
        await engine.waitForRecords('ends', 'shardId-000000000000', parentRecords.length, 60_000),
      ).toBe(false);
      const put = await engine.putRecord({
        StreamName: 'ends',
        PartitionKey: 'k1',
        Data: Buffer.from('later'),
      });
      expect(put.ShardId).toBe('shardId-000000000002');
    } finally {
      await engine.close();
    }
  });

  it('keeps the reshard across a reopen, and completes one cut short before the ends were recorded', async () => {
    const { engine, dir } = await openEngine();
    await engine.createStream({ StreamName: 'kept', ShardCount: 1 });
    const first = Array.from({ length: 40 }, (_, i) => ({
      PartitionKey: `k${i}`,
      Data: Buffer.from(`a${i}`),
    }));
    await engine.putRecords({ StreamName: 'kept', Records: first });
    await engine.updateShardCount({
      StreamName: 'kept',
      TargetShardCount: 2,
      ScalingType: 'UNIFORM_SCALING',
    });
    await engine.putRecords({ StreamName: 'kept', Records: first });
    const before = await engine.describeStream({ StreamName: 'kept' });
    await engine.close();
    // As if the process had stopped between the switch and the seal: the end is not recorded.
    const catalogPath = join(dir, 'catalog.json');
    const catalog = JSON.parse(readFileSync(catalogPath, 'utf8'));
    delete catalog.streams[0].shards[0].closed.endOrdinal;
    writeFileSync(catalogPath, JSON.stringify(catalog));
    const reopened = await Engine.open({ dataDir: dir, workers: 2 });
    try {
      expect(await reopened.describeStream({ StreamName: 'kept' })).toEqual(before);
      expect(
        JSON.parse(readFileSync(catalogPath, 'utf8')).streams[0].shards[0].closed.endOrdinal,
      ).toBe(40);
      const byKey = await readByLineage(reopened, 'kept');
      for (let i = 0; i < 40; i++) expect(byKey.get(`k${i}`)).toEqual([`a${i}`, `a${i}`]);
      const put = await reopened.putRecord({
        StreamName: 'kept',
        PartitionKey: 'k0',
        Data: Buffer.from('b'),
      });
      expect(['shardId-000000000001', 'shardId-000000000002']).toContain(put.ShardId);
    } finally {
      await reopened.close();
    }
  });

  it('holds no file of a closed shard open, and cuts its segment to its records, across reopens and worker restarts', async () => {
    const { engine, dir } = await openEngine({ segmentBytes: SEGMENT_BYTES_MIN });
    const streamDirOf = (shardId: string) => join(dir, 'streams', 'sealed', shardId);
    // Descriptors open for writing, and the segment files' sizes, of one shard.
    const writers = (shardId: string) =>
      openFilesUnder(streamDirOf(shardId)).filter(({ flags }) => (flags & 3) === 2);
    const segmentSizes = (shardId: string) =>
      readdirSync(streamDirOf(shardId))
        .filter((name) => name.endsWith('.seg'))
        .map((name) => statSync(join(streamDirOf(shardId), name)).size);
    const records = Array.from({ length: 60 }, (_, i) => ({
      PartitionKey: `k${i}`,
      Data: Buffer.alloc(100, i),
    }));
    let reopened: Engine | undefined;
    try {
      await engine.createStream({ StreamName: 'sealed', ShardCount: 2 });
      await engine.putRecords({ StreamName: 'sealed', Records: records });
      expect(writers('shardId-000000000000')).toHaveLength(1);
      expect(segmentSizes('shardId-000000000000')).toEqual([SEGMENT_BYTES_MIN]);
      // 2 → 3 closes both shards and makes intermediates (created closed, never written).
      await engine.updateShardCount({
        StreamName: 'sealed',
        TargetShardCount: 3,
        ScalingType: 'UNIFORM_SCALING',
      });
      const shards = await allShards(engine, 'sealed');
      const closed = shards.filter(
        (shard) => shard.SequenceNumberRange!.EndingSequenceNumber !== undefined,
      );
      const intermediates = closed.filter(
        (shard) => !['shardId-000000000000', 'shardId-000000000001'].includes(shard.ShardId!),
      );
      expect(intermediates.length).toBeGreaterThan(0);
      const expectSealed = async (on: Engine) => {
        for (const shard of closed) {
          expect(writers(shard.ShardId!)).toEqual([]);
          const stored = (await readShard(on, 'sealed', shard.ShardId!)).length;
          const sizes = segmentSizes(shard.ShardId!);
          // One segment, exactly its batches: none for a shard never written, less than the
          // preallocated size for one that was.
          expect(sizes).toHaveLength(1);
          if (stored === 0) expect(sizes).toEqual([0]);
          else expect(sizes[0]).toBeGreaterThan(stored * 100);
          expect(sizes[0]).toBeLessThan(SEGMENT_BYTES_MIN);
        }
        for (const shard of shards.filter((shard) => !closed.includes(shard)))
          expect(writers(shard.ShardId!)).toHaveLength(1);
      };
      await expectSealed(engine);
      // Opening a closed shard again leaves its files as they are (no re-extending and cutting).
      const modified = () =>
        closed.flatMap((shard) =>
          readdirSync(streamDirOf(shard.ShardId!)).map(
            (name) => statSync(join(streamDirOf(shard.ShardId!), name)).mtimeMs,
          ),
        );
      const sealedAt = modified();
      const before = await readByLineage(engine, 'sealed');
      // A fresh worker thread opens closed shards again (retention) and must keep them sealed.
      await engine.crashWorker(0);
      await engine.crashWorker(1);
      await engine.enforceRetention();
      await expectSealed(engine);
      await engine.close();
      reopened = await Engine.open({ dataDir: dir, workers: 2, segmentBytes: SEGMENT_BYTES_MIN });
      await expectSealed(reopened);
      expect(modified()).toEqual(sealedAt);
      expect(await readByLineage(reopened, 'sealed')).toEqual(before);
      await reopened.putRecords({ StreamName: 'sealed', Records: records });
      for (const [key, values] of await readByLineage(reopened, 'sealed'))
        expect(values).toHaveLength(2 * before.get(key)!.length);
    } finally {
      await (reopened ?? engine).close();
    }
  });

  it('is UPDATING for the transition, puts going to the parent meanwhile, and refuses a second reshard', async () => {
    const { engine } = await openEngine({ streamTransitionMs: TRANSITION_MS });
    try {
      await engine.createStream({ StreamName: 'slow', ShardCount: 1 });
      const status = async () =>
        (await engine.describeStreamSummary({ StreamName: 'slow' })).StreamDescriptionSummary
          .StreamStatus;
      await eventually(async () => expect(await status()).toBe('ACTIVE'));
      await engine.splitShard({
        StreamName: 'slow',
        ShardToSplit: 'shardId-000000000000',
        NewStartingHashKey: HALF.toString(),
      });
      expect(await status()).toBe('UPDATING');
      expect(
        (await engine.putRecord({ StreamName: 'slow', PartitionKey: 'k', Data: Buffer.from('x') }))
          .ShardId,
      ).toBe('shardId-000000000000');
      await expect(
        engine.updateShardCount({
          StreamName: 'slow',
          TargetShardCount: 2,
          ScalingType: 'UNIFORM_SCALING',
        }),
      ).rejects.toMatchObject({
        name: 'ResourceInUseException',
        message: 'Stream slow under account 000000000000 not ACTIVE, instead in state UPDATING',
      });
      await eventually(async () => expect(await status()).toBe('ACTIVE'));
      expect((await allShards(engine, 'slow')).map((shard) => shard.ShardId)).toEqual([
        'shardId-000000000000',
        'shardId-000000000001',
        'shardId-000000000002',
      ]);
      expect(
        (await engine.putRecord({ StreamName: 'slow', PartitionKey: 'k', Data: Buffer.from('y') }))
          .ShardId,
      ).not.toBe('shardId-000000000000');
      // A stream deleted during a reshard's transition is not brought back by it.
      await engine.mergeShards({
        StreamName: 'slow',
        ShardToMerge: 'shardId-000000000001',
        AdjacentShardToMerge: 'shardId-000000000002',
      });
      await engine.deleteStream({ StreamName: 'slow' });
      await eventually(async () => expect((await engine.listStreams()).StreamNames).toEqual([]));
      // Past the merge's own transition, which must not have brought it back.
      await sleep(TRANSITION_MS);
      expect((await engine.listStreams()).StreamNames).toEqual([]);
    } finally {
      await engine.close();
    }
  });

  it("records every closed shard's true end when one worker seals more shards than its task queue holds", async () => {
    // More closing shards on one worker than WORKER_TASK_QUEUE_MAX: one seal task per shard
    // overflowed the queue, and the ends then taken were below appends still queued.
    const shardCount = WORKER_TASK_QUEUE_MAX + 276;
    const { engine } = await openEngine({ workers: 1, segmentBytes: SEGMENT_BYTES_MIN });
    try {
      await engine.createStream({ StreamName: 'many', ShardCount: shardCount });
      const acked: Array<{ shardId: string; sequenceNumber: string }> = [];
      let stop = false;
      let n = 0;
      const producer = async () => {
        while (!stop) {
          const records = Array.from({ length: 500 }, () => ({
            PartitionKey: `k${n}`,
            Data: Buffer.from(`v${n++}`),
          }));
          const output = await engine.putRecords({ StreamName: 'many', Records: records });
          for (const record of output.Records) {
            if (record.SequenceNumber)
              acked.push({ shardId: record.ShardId!, sequenceNumber: record.SequenceNumber });
          }
        }
      };
      const producers = Array.from({ length: 8 }, producer);
      await sleep(100);
      await engine.updateShardCount({
        StreamName: 'many',
        TargetShardCount: shardCount / 2,
        ScalingType: 'UNIFORM_SCALING',
      });
      await sleep(100);
      stop = true;
      await Promise.all(producers);
      const stored = new Map<string, string>();
      for (const shard of await allShards(engine, 'many')) {
        for (const record of await readShard(engine, 'many', shard.ShardId!))
          stored.set(record.SequenceNumber!, shard.ShardId!);
      }
      const missing = acked.filter(
        (record) => stored.get(record.sequenceNumber) !== record.shardId,
      );
      expect(missing.slice(0, 3)).toEqual([]);
      // Each closed shard ends after its last record: a reader that reached an end below it
      // would have moved on to the children and never come back for the rest.
      const wrongEnds: string[] = [];
      for (const shard of await allShards(engine, 'many')) {
        const read = engine.readBatches('many', shard.ShardId!, 0, 1);
        if (
          shard.SequenceNumberRange!.EndingSequenceNumber !== undefined &&
          read.end !== read.watermark
        ) {
          wrongEnds.push(`${shard.ShardId}: end ${read.end}, last record ${read.watermark - 1}`);
        }
      }
      expect(wrongEnds.slice(0, 3)).toEqual([]);
    } finally {
      await engine.close();
    }
  });

  it('applies a reshard accepted before a restart that came before its transition ended', async () => {
    const { engine, dir } = await openEngine({ streamTransitionMs: 60_000 });
    await engine.createStream({ StreamName: 'later', ShardCount: 1 });
    await engine.close();
    const accepting = await Engine.open({ dataDir: dir, workers: 2, streamTransitionMs: 60_000 });
    await accepting.putRecord({
      StreamName: 'later',
      PartitionKey: 'k',
      Data: Buffer.from('before'),
    });
    await accepting.splitShard({
      StreamName: 'later',
      ShardToSplit: 'shardId-000000000000',
      NewStartingHashKey: HALF.toString(),
    });
    expect(
      (await accepting.describeStreamSummary({ StreamName: 'later' })).StreamDescriptionSummary
        .StreamStatus,
    ).toBe('UPDATING');
    await accepting.close();
    const reopened = await Engine.open({ dataDir: dir, workers: 2 });
    try {
      const summary = (await reopened.describeStreamSummary({ StreamName: 'later' }))
        .StreamDescriptionSummary;
      expect(summary.StreamStatus).toBe('ACTIVE');
      expect(summary.OpenShardCount).toBe(2);
      const shards = await allShards(reopened, 'later');
      expect(shards.map((shard) => [shard.ShardId, shard.ParentShardId])).toEqual([
        ['shardId-000000000000', undefined],
        ['shardId-000000000001', 'shardId-000000000000'],
        ['shardId-000000000002', 'shardId-000000000000'],
      ]);
      expect(
        (await readShard(reopened, 'later', 'shardId-000000000000')).map((record) =>
          Buffer.from(record.Data!).toString(),
        ),
      ).toEqual(['before']);
      expect(
        JSON.parse(readFileSync(join(dir, 'catalog.json'), 'utf8')).streams[0].pendingReshard,
      ).toBeUndefined();
    } finally {
      await reopened.close();
    }
  });

  it('closes a shard no earlier than its last record arrived, so timestamp listings keep it', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const { engine } = await openEngine({ clock: () => now });
    try {
      await engine.createStream({ StreamName: 'stamped', ShardCount: 1 });
      // The clock moves between the call and the switch (the new shards open in between), and
      // puts arrive meanwhile: the parent's last record arrives after the call began.
      const splitting = engine.splitShard({
        StreamName: 'stamped',
        ShardToSplit: 'shardId-000000000000',
        NewStartingHashKey: HALF.toString(),
      });
      now += 5_000;
      const put = await engine.putRecord({
        StreamName: 'stamped',
        PartitionKey: 'k',
        Data: Buffer.from('late'),
      });
      await splitting;
      expect(put.ShardId).toBe('shardId-000000000000');
      const [record] = await readShard(engine, 'stamped', 'shardId-000000000000');
      const listed = await engine.listShards({
        StreamName: 'stamped',
        ShardFilter: { Type: 'FROM_TIMESTAMP', Timestamp: record!.ApproximateArrivalTimestamp! },
      });
      expect(listed.Shards!.map((shard) => shard.ShardId)).toContain('shardId-000000000000');
    } finally {
      await engine.close();
    }
  });

  it('leaves nothing of a reshard whose stream is deleted while it runs', async () => {
    const { engine, dir } = await openEngine();
    try {
      await engine.createStream({ StreamName: 'gone', ShardCount: 2 });
      await engine.putRecord({ StreamName: 'gone', PartitionKey: 'k', Data: Buffer.from('x') });
      await Promise.all([
        engine.updateShardCount({
          StreamName: 'gone',
          TargetShardCount: 4,
          ScalingType: 'UNIFORM_SCALING',
        }),
        engine.deleteStream({ StreamName: 'gone' }),
      ]);
      expect((await engine.listStreams()).StreamNames).toEqual([]);
      expect(existsSync(join(dir, 'streams', 'gone'))).toBe(false);
      // No worker still holds a file of the old shards or the new ones.
      expect(openFilesUnder(join(dir, 'streams', 'gone'))).toEqual([]);
      expect(JSON.parse(readFileSync(join(dir, 'catalog.json'), 'utf8')).streams).toEqual([]);
      await engine.createStream({ StreamName: 'gone', ShardCount: 1 });
      expect((await allShards(engine, 'gone')).map((shard) => shard.ShardId)).toEqual([
        'shardId-000000000000',
      ]);
      expect(await readShard(engine, 'gone', 'shardId-000000000000')).toEqual([]);
    } finally {
      await engine.close();
    }
  });

  it('forgets a closed shard, files and all, once its records have expired', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const { engine, dir } = await openEngine({ clock: () => now });
    try {
      await engine.createStream({ StreamName: 'aged', ShardCount: 1 });
      await engine.putRecord({ StreamName: 'aged', PartitionKey: 'k', Data: Buffer.from('old') });
      await engine.splitShard({
        StreamName: 'aged',
        ShardToSplit: 'shardId-000000000000',
        NewStartingHashKey: HALF.toString(),
      });
      expect(await allShards(engine, 'aged')).toHaveLength(3);
      const parentDir = engine.shardInternals('aged', 'shardId-000000000000').dir;
      expect(existsSync(parentDir)).toBe(true);
      now += 23 * 3_600_000;
      await engine.enforceRetention();
      expect(await allShards(engine, 'aged')).toHaveLength(3);
      now += 2 * 3_600_000;
      await engine.enforceRetention();
      const children = ['shardId-000000000001', 'shardId-000000000002'];
      expect((await allShards(engine, 'aged')).map((shard) => shard.ShardId)).toEqual(children);
      expect(existsSync(parentDir)).toBe(false);
      await expect(
        engine.getShardIterator({
          StreamName: 'aged',
          ShardId: 'shardId-000000000000',
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
      const catalog = JSON.parse(readFileSync(join(dir, 'catalog.json'), 'utf8'));
      expect(catalog.streams[0].shards.map((shard: { shardId: string }) => shard.shardId)).toEqual(
        children,
      );
      expect(
        (await engine.describeStream({ StreamName: 'aged' })).StreamDescription.Shards[0]!
          .ParentShardId,
      ).toBe('shardId-000000000000');
    } finally {
      await engine.close();
    }
  });

  it('refuses what Kinesis refuses', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const { engine: first, dir } = await openEngine({ clock: () => now, enforceLimits: true });
    let engine = first;
    try {
      await engine.createStream({ StreamName: 'rules', ShardCount: 2 });
      await engine.createStream({
        StreamName: 'elastic',
        StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      });
      await expect(
        engine.updateShardCount({
          StreamName: 'elastic',
          TargetShardCount: 5,
          ScalingType: 'UNIFORM_SCALING',
        }),
      ).rejects.toMatchObject({ name: 'ValidationException' });
      for (const target of [5, 0.5]) {
        await expect(
          engine.updateShardCount({
            StreamName: 'rules',
            TargetShardCount: target,
            ScalingType: 'UNIFORM_SCALING',
          }),
        ).rejects.toMatchObject({
          name: target === 5 ? 'LimitExceededException' : 'ValidationException',
        });
      }
      await expect(
        engine.mergeShards({
          StreamName: 'rules',
          ShardToMerge: 'shardId-000000000000',
          AdjacentShardToMerge: 'shardId-000000000000',
        }),
      ).rejects.toMatchObject({
        name: 'InvalidArgumentException',
        message:
          'Shards shardId-000000000000 and shardId-000000000000 in stream rules under account 000000000000 are not an ' +
          'adjacent pair of shards eligible for merging',
      });
      // Limits mode: ten scalings in any 24 hours.
      for (let i = 0; i < UPDATE_SHARD_COUNT_PER_DAY_MAX; i++) {
        now += 60_000;
        await engine.updateShardCount({
          StreamName: 'rules',
          TargetShardCount: i % 2 === 0 ? 3 : 2,
          ScalingType: 'UNIFORM_SCALING',
        });
      }
      await expect(
        engine.updateShardCount({
          StreamName: 'rules',
          TargetShardCount: 3,
          ScalingType: 'UNIFORM_SCALING',
        }),
      ).rejects.toMatchObject({
        name: 'LimitExceededException',
        message: expect.stringContaining('10 times in 24 hours'),
      });
      // The count outlives a restart.
      await engine.close();
      engine = await Engine.open({
        dataDir: dir,
        workers: 2,
        clock: () => now,
        enforceLimits: true,
      });
      await expect(
        engine.updateShardCount({
          StreamName: 'rules',
          TargetShardCount: 3,
          ScalingType: 'UNIFORM_SCALING',
        }),
      ).rejects.toMatchObject({
        name: 'LimitExceededException',
        message: expect.stringContaining('10 times in 24 hours'),
      });
      now += 24 * 3_600_000;
      await engine.updateShardCount({
        StreamName: 'rules',
        TargetShardCount: 3,
        ScalingType: 'UNIFORM_SCALING',
      });
      expect(
        (await engine.describeStreamSummary({ StreamName: 'rules' })).StreamDescriptionSummary
          .OpenShardCount,
      ).toBe(3);
    } finally {
      await engine.close();
    }
  });
});
