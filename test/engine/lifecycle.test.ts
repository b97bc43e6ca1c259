// Goal: streams move through CREATING → ACTIVE → DELETING → gone as Kinesis streams do, the
// catalog (streams, shards, tags, retention) survives a reopen, a stream deleted and created
// again under the same name starts empty, and retention deletes expired records.
import {
  existsSync,
  readFileSync,
  readdirSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

import { afterEach, describe, expect, it, vi } from 'vitest';
import { Engine, type EngineOptions } from '../../src/engine/engine.js';
import {
  DATA_DIR_LOCK_REFRESH_MS,
  DATA_DIR_LOCK_STALE_MS,
  SHARDS_OPENED_PER_TASK_MAX,
} from '../../src/limits.js';
import { eventually } from '../helpers/eventually.js';
import { readShard } from '../helpers/read-all.js';
import { tempDir } from '../helpers/temp-dir.js';

let cleanup: () => void = () => undefined;
afterEach(() => cleanup());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A stream's transition in the tests that watch one: long enough to be seen in, on any load. */
const TRANSITION_MS = 1_500;

describe('stream lifecycle', () => {
  it('goes CREATING → ACTIVE → DELETING → gone with a transition delay', async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const engine = await Engine.open({
      dataDir: temp.dir,
      workers: 1,
      streamTransitionMs: TRANSITION_MS,
    });
    try {
      await engine.createStream({ StreamName: 'slow', ShardCount: 1 });
      const summary = async () =>
        (await engine.describeStreamSummary({ StreamName: 'slow' })).StreamDescriptionSummary;
      expect((await summary()).StreamStatus).toBe('CREATING');
      await expect(
        engine.putRecord({ StreamName: 'slow', PartitionKey: 'k', Data: Buffer.from('x') }),
      ).rejects.toMatchObject({
        name: 'ResourceNotFoundException',
      });
      await eventually(async () => expect((await summary()).StreamStatus).toBe('ACTIVE'));
      await engine.putRecord({ StreamName: 'slow', PartitionKey: 'k', Data: Buffer.from('x') });
      await engine.deleteStream({ StreamName: 'slow' });
      expect((await summary()).StreamStatus).toBe('DELETING');
      await expect(
        engine.createStream({ StreamName: 'slow', ShardCount: 1 }),
      ).rejects.toMatchObject({ name: 'ResourceInUseException' });
      await eventually(() =>
        expect(summary()).rejects.toMatchObject({ name: 'ResourceNotFoundException' }),
      );
      expect((await engine.listStreams()).StreamNames).toEqual([]);
    } finally {
      await engine.close();
    }
  });

  it('persists streams, shards, tags and retention across reopen', async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const first = await Engine.open({ dataDir: temp.dir, workers: 2 });
    await first.createStream({ StreamName: 'kept', ShardCount: 3, Tags: { team: 'data' } });
    await first.addTagsToStream({ StreamName: 'kept', Tags: { env: 'test' } });
    await first.increaseStreamRetentionPeriod({ StreamName: 'kept', RetentionPeriodHours: 72 });
    const before = await first.describeStream({ StreamName: 'kept' });
    await first.close();
    const second = await Engine.open({ dataDir: temp.dir, workers: 2 });
    try {
      const after = await second.describeStream({ StreamName: 'kept' });
      expect(after).toEqual(before);
      expect((await second.listTagsForStream({ StreamName: 'kept' })).Tags).toEqual([
        { Key: 'env', Value: 'test' },
        { Key: 'team', Value: 'data' },
      ]);
      expect(after.StreamDescription.RetentionPeriodHours).toBe(72);
    } finally {
      await second.close();
    }
  });

  it('a stream deleted and created again under the same name starts empty', async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const engine = await Engine.open({ dataDir: temp.dir, workers: 2 });
    try {
      await engine.createStream({ StreamName: 'again', ShardCount: 1 });
      const old = await engine.putRecord({
        StreamName: 'again',
        PartitionKey: 'k',
        Data: Buffer.from('old'),
      });
      await engine.deleteStream({ StreamName: 'again' });
      // Sequence numbers carry the shard's creation second: a re-creation is a second later.
      await sleep(1100);
      await engine.createStream({ StreamName: 'again', ShardCount: 1 });
      expect(await readShard(engine, 'again', 'shardId-000000000000')).toEqual([]);
      await expect(
        engine.getShardIterator({
          StreamName: 'again',
          ShardId: 'shardId-000000000000',
          ShardIteratorType: 'AT_SEQUENCE_NUMBER',
          StartingSequenceNumber: old.SequenceNumber,
        }),
      ).rejects.toMatchObject({ name: 'InvalidArgumentException' });
      await engine.putRecord({ StreamName: 'again', PartitionKey: 'k', Data: Buffer.from('new') });
      const records = await readShard(engine, 'again', 'shardId-000000000000');
      expect(records.map((record) => Buffer.from(record.Data).toString())).toEqual(['new']);
    } finally {
      await engine.close();
    }
  });

  it('retention deletes records older than the retention period and moves TRIM_HORIZON', async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    let now = Date.parse('2026-11-01T00:00:00Z');
    const engine = await Engine.open({
      dataDir: temp.dir,
      workers: 1,
      segmentBytes: 64 * 1024,
      clock: () => now,
    });
    try {
      await engine.createStream({ StreamName: 'aging', ShardCount: 1 });
      const put = (tag: string) =>
        engine.putRecords({
          StreamName: 'aging',
          Records: Array.from({ length: 200 }, (_, i) => ({
            PartitionKey: `${tag}${i}`,
            Data: Buffer.alloc(500, 1),
          })),
        });
      for (let i = 0; i < 3; i++) await put('old');
      now += 23 * 3_600_000;
      for (let i = 0; i < 3; i++) await put('new');
      now += 2 * 3_600_000; // the old records are now 25 h old, the new ones 2 h
      expect(await engine.enforceRetention()).toBeGreaterThan(0);
      const records = await readShard(engine, 'aging', 'shardId-000000000000');
      expect(records.length).toBe(600);
      expect(records.every((record) => record.PartitionKey!.startsWith('new'))).toBe(true);
    } finally {
      await engine.close();
    }
  });
});

describe('retention inside a segment', () => {
  it('hides records older than the retention period while their segment holds newer ones, across a reopen', async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    let now = Date.parse('2026-11-01T00:00:00Z');
    // The default segment size: a quiet stream keeps days of records in its first segment.
    const options = { dataDir: temp.dir, workers: 1, clock: () => now };
    const first = await Engine.open(options);
    const shardId = 'shardId-000000000000';
    const put = (engine: Engine, tag: string) =>
      engine.putRecords({
        StreamName: 'quiet',
        Records: Array.from({ length: 3 }, (_, i) => ({
          PartitionKey: `${tag}-${i}`,
          Data: Buffer.from(tag),
        })),
      });
    const tags = async (engine: Engine) =>
      (await readShard(engine, 'quiet', shardId)).map((record) => record.PartitionKey);
    try {
      await first.createStream({ StreamName: 'quiet', ShardCount: 1 });
      await put(first, 'day1');
      now += 24 * 3_600_000;
      await put(first, 'day2');
      now += 24 * 3_600_000;
      await put(first, 'day3');
      now += 3_600_000; // day1 is 49 h old, day2 25 h, day3 1 h; the retention period is 24 h
      expect(await tags(first)).toHaveLength(9);
      expect(await first.enforceRetention()).toBe(0); // no segment can go: day3 is in it
      expect(await tags(first)).toEqual(['day3-0', 'day3-1', 'day3-2']);
      // A position inside the expired records reads from the first record still kept.
      const { ShardIterator } = await first.getShardIterator({
        StreamName: 'quiet',
        ShardId: shardId,
        ShardIteratorType: 'AT_TIMESTAMP',
        Timestamp: new Date(now - 30 * 3_600_000),
      });
      const page = await first.getRecords({ ShardIterator });
      expect(page.Records.map((record) => record.PartitionKey)).toEqual([
        'day3-0',
        'day3-1',
        'day3-2',
      ]);
      await put(first, 'day3b');
    } finally {
      await first.close();
    }
    // Reopened, the shard's trim is rebuilt from its files: the expired records stay hidden.
    const second = await Engine.open(options);
    try {
      expect(await tags(second)).toEqual([
        'day3-0',
        'day3-1',
        'day3-2',
        'day3b-0',
        'day3b-1',
        'day3b-2',
      ]);
      now += 24 * 3_600_000 - 1; // day3 is now a millisecond short of 25 h old, day3b of 24 h
      await second.enforceRetention();
      expect(await tags(second)).toEqual(['day3b-0', 'day3b-1', 'day3b-2']);
    } finally {
      await second.close();
    }
  });
});

describe('retention across restarts', () => {
  it('does not bring expired records back after a longer retention and a reopen', async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    let now = Date.parse('2026-11-01T00:00:00Z');
    const options = { dataDir: temp.dir, workers: 1, clock: () => now };
    const put = (engine: Engine, key: string) =>
      engine.putRecord({ StreamName: 'longer', PartitionKey: key, Data: Buffer.from(key) });
    const keys = async (engine: Engine) =>
      (await readShard(engine, 'longer', 'shardId-000000000000')).map(
        (record) => record.PartitionKey,
      );
    const first = await Engine.open(options);
    try {
      await first.createStream({ StreamName: 'longer', ShardCount: 1 });
      await put(first, 'old');
      now += 12 * 3_600_000;
      await put(first, 'mid');
      now += 13 * 3_600_000; // old is 25 h old, mid 13 h
      await first.enforceRetention();
      expect(await keys(first)).toEqual(['mid']);
      // Increasing retention does not resurrect already-expired data (Kinesis reference §3.8).
      await first.increaseStreamRetentionPeriod({ StreamName: 'longer', RetentionPeriodHours: 48 });
    } finally {
      await first.close();
    }
    const second = await Engine.open(options);
    try {
      expect(await keys(second)).toEqual(['mid']);
    } finally {
      await second.close();
    }
  });

  it('keeps expiring records, and deletes their segments, after a shard worker is replaced', async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    let now = Date.parse('2026-11-01T00:00:00Z');
    const engine = await Engine.open({
      dataDir: temp.dir,
      workers: 1,
      segmentBytes: 64 * 1024,
      clock: () => now,
    });
    const shardDir = join(temp.dir, 'streams');
    const segments = () =>
      readdirSync(shardDir, { recursive: true }).filter((name) => String(name).endsWith('.seg'));
    try {
      await engine.createStream({ StreamName: 'restarted', ShardCount: 1 });
      // 100 puts of 2 KB half an hour apart: 50 hours over several segments.
      for (let i = 0; i < 100; i++) {
        await engine.putRecord({
          StreamName: 'restarted',
          PartitionKey: `k${i}`,
          Data: Buffer.alloc(2000, i),
        });
        now += 1_800_000;
      }
      await engine.enforceRetention();
      const oldest = async () => (await readShard(engine, 'restarted', 'shardId-000000000000'))[0]!;
      const age = async () => now - (await oldest()).ApproximateArrivalTimestamp.getTime();
      expect(await age()).toBeLessThanOrEqual(24 * 3_600_000);
      const before = segments().length;
      await engine.crashWorker(0);
      now += 10 * 3_600_000; // past the newest record of the segment the trim was inside
      await engine.enforceRetention();
      expect(await age()).toBeLessThanOrEqual(24 * 3_600_000);
      expect(segments().length).toBeLessThan(before);
    } finally {
      await engine.close();
    }
  });
});

describe('Engine.open options', () => {
  it('refuses an option out of its range or of the wrong type before opening anything', async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const refused = (options: object, message: RegExp) =>
      expect(Engine.open(options as EngineOptions)).rejects.toMatchObject({
        name: 'ValidationException',
        message,
      });
    await refused(
      { dataDir: temp.dir, workers: Number.NaN },
      /workers must be an integer from 1 to 256, got NaN/,
    );
    await refused({ dataDir: temp.dir, workers: 1.5 }, /workers must be an integer/);
    await refused({ dataDir: temp.dir, workers: 0 }, /workers must be an integer/);
    await refused(
      { dataDir: temp.dir, workers: Number.POSITIVE_INFINITY },
      /workers must be an integer/,
    );
    await refused(
      { dataDir: temp.dir, workers: '2' },
      /workers must be an integer from 1 to 256, got '2'/,
    );
    await refused(
      { dataDir: temp.dir, segmentBytes: Number.NaN },
      /segmentBytes must be an integer from 65536/,
    );
    await refused({ dataDir: temp.dir, segmentBytes: 65536.5 }, /segmentBytes must be an integer/);
    await refused(
      { dataDir: temp.dir, streamTransitionMs: -5 },
      /streamTransitionMs must be an integer from 0 to 600000/,
    );
    await refused(
      { dataDir: temp.dir, streamTransitionMs: 2 ** 40 },
      /streamTransitionMs must be an integer/,
    );
    await refused({ dataDir: '' }, /dataDir must be a directory path, got ''/);
    await refused({ dataDir: 42 }, /dataDir must be a directory path, got 42/);
    await refused({}, /dataDir must be a directory path, got undefined/);
    await expect(Engine.open(undefined as unknown as EngineOptions)).rejects.toMatchObject({
      name: 'ValidationException',
      message: /options must be an object/,
    });
    // Nothing was opened: the directory is free.
    const engine = await Engine.open({ dataDir: temp.dir, workers: 1 });
    await engine.close();
  });
});

describe('a closed engine', () => {
  it('refuses every call without touching the directory, and a second close waits for the first', async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const first = await Engine.open({ dataDir: temp.dir, workers: 1 });
    await first.createStream({ StreamName: 'kept', ShardCount: 1 });
    await first.putRecord({ StreamName: 'kept', PartitionKey: 'k', Data: Buffer.from('before') });
    const closing = first.close();
    await first.close();
    // Both closes are done: the directory is free at once.
    const second = await Engine.open({ dataDir: temp.dir, workers: 1 });
    try {
      await closing;
      await second.createStream({ StreamName: 'other', ShardCount: 1 });
      const closed = {
        name: 'ServiceUnavailableException',
        message: expect.stringMatching(/engine is closed/),
      };
      const calls: Array<[string, () => Promise<unknown>]> = [
        [
          'putRecord',
          () =>
            first.putRecord({ StreamName: 'kept', PartitionKey: 'k', Data: Buffer.from('late') }),
        ],
        [
          'putRecords',
          () =>
            first.putRecords({
              StreamName: 'kept',
              Records: [{ PartitionKey: 'k', Data: Buffer.from('late') }],
            }),
        ],
        [
          'addTagsToStream',
          () => first.addTagsToStream({ StreamName: 'kept', Tags: { late: 'yes' } }),
        ],
        ['createStream', () => first.createStream({ StreamName: 'late', ShardCount: 1 })],
        ['deleteStream', () => first.deleteStream({ StreamName: 'kept' })],
        ['listStreams', () => first.listStreams()],
        [
          'getShardIterator',
          () =>
            first.getShardIterator({
              StreamName: 'kept',
              ShardId: 'shardId-000000000000',
              ShardIteratorType: 'TRIM_HORIZON',
            }),
        ],
        ['enforceRetention', () => first.enforceRetention()],
      ];
      for (const [name, call] of calls) {
        await expect(call(), name).rejects.toMatchObject(closed);
      }
      // The open engine's catalog and log are as it left them.
      expect((await second.listStreams()).StreamNames).toEqual(['kept', 'other']);
      expect((await second.listTagsForStream({ StreamName: 'kept' })).Tags).toEqual([]);
      const records = await readShard(second, 'kept', 'shardId-000000000000');
      expect(records.map((record) => Buffer.from(record.Data).toString())).toEqual(['before']);
    } finally {
      await second.close();
    }
  });
});

describe('data directory lock', () => {
  it('names the catalog file when it cannot be read, and leaves the directory unlocked', async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    writeFileSync(join(temp.dir, 'catalog.json'), '{ broken');
    await expect(Engine.open({ dataDir: temp.dir, workers: 1 })).rejects.toThrow(
      `${join(temp.dir, 'catalog.json')}: the catalog is not valid JSON`,
    );
    expect(existsSync(join(temp.dir, 'LOCK'))).toBe(false);
  });

  it('keeps its LOCK fresh, and takes over one nobody refreshes even when its id names a running process', async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const lock = join(temp.dir, 'LOCK');
    const minuteAgo = () => new Date(Date.now() - 60_000);
    // A running process's id, refreshed: refused at once.
    writeFileSync(lock, String(process.ppid));
    await expect(Engine.open({ dataDir: temp.dir, workers: 1 })).rejects.toThrow(
      `in use by process ${process.ppid}`,
    );
    // The same id, untouched for a minute: a process that had the id before, gone (a reboot).
    utimesSync(lock, minuteAgo(), minuteAgo());
    await (await Engine.open({ dataDir: temp.dir, workers: 1 })).close();
    // This process's own id, untouched: an earlier process with the same id, as a container's
    // pid 1 restarted after kill -9 finds. Taken over at once.
    writeFileSync(lock, String(process.pid));
    utimesSync(lock, minuteAgo(), minuteAgo());
    const engine = await Engine.open({ dataDir: temp.dir, workers: 1 });
    try {
      // Its owner touches it: a minute-old mtime is recent again within a refresh or two.
      utimesSync(lock, minuteAgo(), minuteAgo());
      await sleep(2.5 * DATA_DIR_LOCK_REFRESH_MS);
      expect(Date.now() - statSync(lock).mtimeMs).toBeLessThan(2 * DATA_DIR_LOCK_REFRESH_MS);
    } finally {
      await engine.close();
    }
  });

  it(
    "waits out a LOCK of this process's id that another process keeps fresh, then refuses",
    async () => {
      const temp = tempDir();
      cleanup = temp.cleanup;
      const lock = join(temp.dir, 'LOCK');
      // Another pid namespace's process with the same id (two containers, each pid 1), running.
      writeFileSync(lock, String(process.pid));
      const refresh = setInterval(
        () => utimesSync(lock, new Date(), new Date()),
        DATA_DIR_LOCK_REFRESH_MS / 2,
      );
      try {
        const started = Date.now();
        await expect(Engine.open({ dataDir: temp.dir, workers: 1 })).rejects.toThrow(
          /another pid namespace/,
        );
        expect(Date.now() - started).toBeGreaterThanOrEqual(DATA_DIR_LOCK_STALE_MS);
        expect(readFileSync(lock, 'utf8')).toBe(String(process.pid));
      } finally {
        clearInterval(refresh);
      }
    },
    3 * DATA_DIR_LOCK_STALE_MS,
  );

  it('refuses a second engine on the same directory and frees it on close', async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const first = await Engine.open({ dataDir: temp.dir, workers: 1 });
    await expect(Engine.open({ dataDir: temp.dir, workers: 1 })).rejects.toThrow(
      /already open in this process/,
    );
    await first.close();
    const second = await Engine.open({ dataDir: temp.dir, workers: 1 });
    await second.close();
  });
});

describe('fsync mode', () => {
  it('acknowledges after msync, across segment rolls, and reads back after reopen', async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const options = { dataDir: temp.dir, workers: 1, fsync: true, segmentBytes: 64 * 1024 };
    const first = await Engine.open(options);
    await first.createStream({ StreamName: 'durable', ShardCount: 1 });
    for (let i = 0; i < 20; i++) {
      const Records = Array.from({ length: 50 }, (_, j) => ({
        PartitionKey: `d${i}-${j}`,
        Data: Buffer.alloc(300, j),
      }));
      expect((await first.putRecords({ StreamName: 'durable', Records })).FailedRecordCount).toBe(
        0,
      );
    }
    await first.close();
    const second = await Engine.open(options);
    try {
      expect(await readShard(second, 'durable', 'shardId-000000000000')).toHaveLength(1000);
    } finally {
      await second.close();
    }
  });
});

describe('a stream whose removal fails', () => {
  it('is removed by a later attempt, DELETING until then, its name taken until it is gone', async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const engine = await Engine.open({ dataDir: temp.dir, workers: 1, streamTransitionMs: 0 });
    const logged: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      logged.push(args.join(' '));
    });
    try {
      await engine.createStream({ StreamName: 'doomed', ShardCount: 2 });
      await engine.putRecord({ StreamName: 'doomed', PartitionKey: 'k', Data: Buffer.from('x') });
      // The worker dies before it can take the removal's task, which fails with it.
      const crash = engine.crashWorker(0);
      await expect(engine.deleteStream({ StreamName: 'doomed' })).resolves.toEqual({});
      await crash;
      expect(logged.some((line) => line.includes('removing stream doomed failed'))).toBe(true);
      const status = async () =>
        (await engine.describeStreamSummary({ StreamName: 'doomed' })).StreamDescriptionSummary
          .StreamStatus;
      expect(await status()).toBe('DELETING');
      await expect(
        engine.createStream({ StreamName: 'doomed', ShardCount: 1 }),
      ).rejects.toMatchObject({ name: 'ResourceInUseException' });
      // The next attempt (STREAM_REMOVAL_RETRY_MS_MIN later) runs on the thread that replaced it.
      await eventually(() =>
        expect(status()).rejects.toMatchObject({ name: 'ResourceNotFoundException' }),
      );
      expect(existsSync(join(temp.dir, 'streams', 'doomed'))).toBe(false);
      await engine.createStream({ StreamName: 'doomed', ShardCount: 1 });
      expect(await readShard(engine, 'doomed', 'shardId-000000000000')).toEqual([]);
    } finally {
      spy.mockRestore();
      await engine.close();
    }
    // The catalog was written without it.
    const reopened = await Engine.open({ dataDir: temp.dir, workers: 1 });
    try {
      expect((await reopened.listStreams()).StreamNames).toEqual(['doomed']);
      expect(await readShard(reopened, 'doomed', 'shardId-000000000000')).toEqual([]);
    } finally {
      await reopened.close();
    }
  });
});

describe('retention while streams are deleted', () => {
  it('a retention pass after a deletion skips the deleted stream instead of failing', async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const engine = await Engine.open({
      dataDir: temp.dir,
      workers: 2,
      streamTransitionMs: TRANSITION_MS,
    });
    try {
      await engine.createStream({ StreamName: 'going', ShardCount: 2 });
      await engine.createStream({ StreamName: 'staying', ShardCount: 2 });
      await eventually(async () =>
        expect((await engine.listStreams()).StreamSummaries!.map((s) => s.StreamStatus)).toEqual([
          'ACTIVE',
          'ACTIVE',
        ]),
      );
      await engine.deleteStream({ StreamName: 'going' });
      await expect(engine.enforceRetention()).resolves.toBe(0);
      await eventually(async () =>
        expect((await engine.listStreams()).StreamNames).toEqual(['staying']),
      );
      await expect(engine.enforceRetention()).resolves.toBe(0);
    } finally {
      await engine.close();
    }
  });
});

describe('streams of many shards', () => {
  it.each([1, 2])(
    'deletes a large stream while its shards are still being opened (%i workers)',
    async (workers) => {
      const temp = tempDir();
      cleanup = temp.cleanup;
      const engine = await Engine.open({ dataDir: temp.dir, workers });
      try {
        const shardCount = 40 * SHARDS_OPENED_PER_TASK_MAX;
        const creation = engine.createStream({ StreamName: 'brief', ShardCount: shardCount });
        // Deleted as soon as the first tasks of opening are under way.
        await sleep(1);
        await engine.deleteStream({ StreamName: 'brief' });
        await creation;
        expect((await engine.listStreams()).StreamNames).toEqual([]);
        expect(existsSync(join(temp.dir, 'streams', 'brief'))).toBe(false);
        // The name is free again, and the new stream starts empty.
        await engine.createStream({ StreamName: 'brief', ShardCount: 2 });
        await engine.putRecord({ StreamName: 'brief', PartitionKey: 'k', Data: Buffer.from('x') });
        const shards = readdirSync(join(temp.dir, 'streams', 'brief'));
        expect(shards.sort()).toEqual(['shardId-000000000000', 'shardId-000000000001']);
      } finally {
        await engine.close();
      }
    },
  );

  it('deletes a stream only once every worker has opened the shards a reshard made, however late one is', async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const engine = await Engine.open({ dataDir: temp.dir, workers: 2 });
    try {
      const shardCount = 2 * SHARDS_OPENED_PER_TASK_MAX;
      await engine.createStream({ StreamName: 'late', ShardCount: shardCount });
      // Worker 1 starts its share of the new shards late; worker 0 has opened its own by then.
      const stall = engine.stallWorker(1, 500);
      const resharding = engine
        .updateShardCount({
          StreamName: 'late',
          TargetShardCount: 2 * shardCount,
          ScalingType: 'UNIFORM_SCALING',
        })
        .catch((error: unknown) => error);
      await sleep(200);
      await engine.deleteStream({ StreamName: 'late' });
      await Promise.all([resharding, stall]);
      expect((await engine.listStreams()).StreamNames).toEqual([]);
      expect(existsSync(join(temp.dir, 'streams', 'late'))).toBe(false);
    } finally {
      await engine.close();
    }
  });

  it('holds up no put to another stream of the same worker until a large stream has opened', async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    // One worker owns every shard: the new stream's opening and the put share its queue.
    const engine = await Engine.open({ dataDir: temp.dir, workers: 1 });
    try {
      await engine.createStream({ StreamName: 'small', ShardCount: 1 });
      const order: string[] = [];
      const creation = engine
        .createStream({ StreamName: 'large', ShardCount: 20 * SHARDS_OPENED_PER_TASK_MAX })
        .then(() => order.push('large created'));
      await sleep(20);
      const put = engine
        .putRecord({ StreamName: 'small', PartitionKey: 'k', Data: Buffer.from('x') })
        .then(() => order.push('put stored'));
      await Promise.all([creation, put]);
      expect(order).toEqual(['put stored', 'large created']);
      const summary = await engine.describeStreamSummary({ StreamName: 'large' });
      expect(summary.StreamDescriptionSummary.OpenShardCount).toBe(20 * SHARDS_OPENED_PER_TASK_MAX);
      await engine.putRecord({ StreamName: 'large', PartitionKey: 'k', Data: Buffer.from('y') });
    } finally {
      await engine.close();
    }
  });
});
