// Goal: a shard log appends into real mapped segment files, rolls segments, publishes a shared
// index readers can use, recovers after reopen, cuts a torn or corrupt tail (never serving it)
// and deletes whole expired segments.
import {
  appendFileSync,
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { READER_FILES_MAX } from '../../src/limits.js';
import { ShardReader } from '../../src/storage/segment-reader.js';
import { segmentFileName } from '../../src/storage/segment.js';
import { ShardIndex, createShardIndexBuffer } from '../../src/storage/shard-index.js';
import { ShardLog } from '../../src/storage/shard-log.js';
import { batchOf, recordsOf } from '../helpers/batches.js';
import { openFilesUnder } from '../helpers/open-files.js';
import { tempDir } from '../helpers/temp-dir.js';

const SEGMENT_BYTES = 64 * 1024;
let cleanup: () => void = () => undefined;
afterEach(() => cleanup());

function openLog(dir: string, index = new ShardIndex(createShardIndexBuffer())) {
  const opened = ShardLog.open({ dir, segmentBytes: SEGMENT_BYTES, index });
  return { ...opened, index, reader: new ShardReader(dir, index) };
}

function readAll(reader: ShardReader, from = 0) {
  const result = reader.read(from, { maxRecords: 1_000_000, maxBytes: 1 << 30 });
  return result.records.map((record) => ({
    ordinal: record.ordinal,
    key: record.bytes.toString('utf8', record.keyStart, record.keyEnd),
  }));
}

describe('ShardLog', () => {
  it('appends, rolls segments and reads everything back in order', () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const { log, index, reader } = openLog(temp.dir);
    let expected = 0;
    for (let i = 0; i < 200; i++) {
      const result = log.append(batchOf(recordsOf(10, `b${i}`, 100)), 1000 + i);
      expect(result.baseOrdinal).toBe(expected);
      expected += 10;
    }
    expect(index.nextOrdinal()).toBe(2000);
    const segments = readdirSync(temp.dir).filter((name) => name.endsWith('.seg'));
    expect(segments.length).toBeGreaterThan(3);
    expect(segments[0]).toBe(segmentFileName(0));
    const records = readAll(reader);
    expect(records).toHaveLength(2000);
    expect(records.every((record, i) => record.ordinal === i)).toBe(true);
    expect(records[1234]!.key).toBe('b123-4');
    // Reading from any ordinal finds the right batch through the sparse index.
    for (const from of [0, 9, 10, 777, 1999]) expect(readAll(reader, from)[0]!.ordinal).toBe(from);
    // A time lookup finds the first batch that arrived at or after the time.
    expect(reader.locateByTime(1000 + 57)!.header.baseOrdinal).toBe(570);
  });

  it('recovers the same log after reopen', () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const first = openLog(temp.dir);
    for (let i = 0; i < 50; i++) first.log.append(batchOf(recordsOf(7, `r${i}`, 300)), 5000 + i);
    first.log.close();
    const second = openLog(temp.dir);
    expect(second.report.nextOrdinal).toBe(350);
    expect(second.report.cutBytes).toBe(0);
    expect(readAll(second.reader)).toHaveLength(350);
    second.log.append(batchOf(recordsOf(1, 'after', 10)), 9999);
    expect(readAll(second.reader)[350]!.key).toBe('after-0');
  });

  it('cuts a torn tail and a corrupt last batch, never serving them', () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const first = openLog(temp.dir);
    let validEnd = 0;
    for (let i = 0; i < 5; i++) {
      const batch = batchOf(recordsOf(4, `t${i}`, 50));
      first.log.append(batch, 100 + i);
      validEnd += batch.length;
    }
    const lastBatch = batchOf(recordsOf(4, 'last', 50));
    first.log.append(lastBatch, 200);
    validEnd += lastBatch.length;
    first.log.close();
    const path = join(temp.dir, segmentFileName(0));
    // Corrupt one data byte of the last batch: its checksum no longer matches.
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.from([0xee]), 0, 1, validEnd - 3);
    // And a torn half-written batch after it.
    writeSync(fd, lastBatch.subarray(0, 30), 0, 30, validEnd);
    closeSync(fd);
    const second = openLog(temp.dir);
    expect(second.report.nextOrdinal).toBe(20);
    expect(second.report.cutBytes).toBeGreaterThan(0);
    const records = readAll(second.reader);
    expect(records).toHaveLength(20);
    expect(records.some((record) => record.key.startsWith('last'))).toBe(false);
    // Appends continue from the cut, and a third open agrees.
    second.log.append(batchOf(recordsOf(2, 'new', 50)), 300);
    second.log.close();
    const third = openLog(temp.dir);
    expect(third.report).toMatchObject({ nextOrdinal: 22, cutBytes: 0 });
    expect(
      readAll(third.reader)
        .map((record) => record.key)
        .slice(-2),
    ).toEqual(['new-0', 'new-1']);
  });

  it('quarantines segments that follow a cut', () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const first = openLog(temp.dir);
    for (let i = 0; i < 300; i++) first.log.append(batchOf(recordsOf(5, `q${i}`, 200)), 100 + i);
    first.log.close();
    const segments = readdirSync(temp.dir)
      .filter((name) => name.endsWith('.seg'))
      .sort();
    expect(segments.length).toBeGreaterThan(2);
    // Damage the start of the second-to-last segment's first batch.
    const victim = join(temp.dir, segments[segments.length - 2]!);
    const fd = openSync(victim, 'r+');
    writeSync(fd, Buffer.from('garbage!'), 0, 8, 0);
    closeSync(fd);
    appendFileSync(join(temp.dir, 'unrelated.txt'), 'x');
    const second = openLog(temp.dir);
    expect(second.report.nextOrdinal).toBe(Number(segments[segments.length - 2]!.slice(0, 20)));
    expect(existsSync(`${join(temp.dir, segments[segments.length - 1]!)}.corrupt`)).toBe(true);
    expect(readAll(second.reader)).toHaveLength(second.report.nextOrdinal);
  });

  it('deletes whole segments older than the retention cutoff and moves the trim horizon', () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const { log, index, reader } = openLog(temp.dir);
    for (let i = 0; i < 300; i++) log.append(batchOf(recordsOf(5, `e${i}`, 200)), 1000 + i * 10);
    const segmentFiles = () => readdirSync(temp.dir).filter((name) => name.endsWith('.seg'));
    const before = segmentFiles().length;
    const deleted = log.enforceRetention(2500);
    expect(deleted).toBeGreaterThan(0);
    expect(segmentFiles().length).toBe(before - deleted);
    const trim = index.trimOrdinal();
    expect(trim).toBeGreaterThan(0);
    const records = reader.read(trim, { maxRecords: 10_000, maxBytes: 1 << 30 }).records;
    expect(records[0]!.ordinal).toBe(trim);
    expect(records[records.length - 1]!.ordinal).toBe(1499);
    // Everything expired: the active segment is rolled and removed too; the log stays writable.
    log.enforceRetention(10_000);
    expect(index.trimOrdinal()).toBe(1500);
    expect(log.append(batchOf(recordsOf(1, 'fresh', 10)), 20_000).baseOrdinal).toBe(1500);
    expect(statSync(join(temp.dir, segmentFileName(1500))).size).toBe(SEGMENT_BYTES);
    expect(segmentFiles()).toEqual([segmentFileName(1500)]);
  });

  it('seals: no more appends, no file held open, the last segment cut to its batches and kept through retention', () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const { log, index, reader } = openLog(temp.dir);
    for (let i = 0; i < 100; i++) log.append(batchOf(recordsOf(5, `s${i}`, 200)), 1000 + i * 10);
    const segmentFiles = () => readdirSync(temp.dir).filter((name) => name.endsWith('.seg'));
    const last = segmentFiles().at(-1)!;
    expect(statSync(join(temp.dir, last)).size).toBe(SEGMENT_BYTES);
    log.seal();
    log.seal();
    expect(openFilesUnder(temp.dir)).toEqual([]);
    expect(statSync(join(temp.dir, last)).size).toBeLessThan(SEGMENT_BYTES);
    expect(() => log.append(batchOf(recordsOf(1, 'late', 10)), 5000)).toThrow(/sealed/);
    expect(readAll(reader)).toHaveLength(500);
    // Everything expired: the trim passes every record, but a sealed log rolls no new segment.
    log.enforceRetention(10_000);
    expect(index.trimOrdinal()).toBe(500);
    expect(segmentFiles()).toEqual([last]);
    log.close();
    // Reopened, the cut segment is the whole log.
    const reopened = openLog(temp.dir);
    expect(reopened.report.cutBytes).toBe(0);
    expect(reopened.report.nextOrdinal).toBe(500);
    reopened.log.close();
  });

  it('opens sealed: cuts a last segment a crash left uncut, creates an empty one, and opens no writer', () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const first = openLog(temp.dir);
    for (let i = 0; i < 20; i++) first.log.append(batchOf(recordsOf(5, `u${i}`, 100)), 1000 + i);
    // As if the process died after the shard's end was saved but before its segment was cut.
    first.log.close();
    const last = readdirSync(temp.dir)
      .filter((name) => name.endsWith('.seg'))
      .at(-1)!;
    expect(statSync(join(temp.dir, last)).size).toBe(SEGMENT_BYTES);
    const index = new ShardIndex(createShardIndexBuffer());
    const sealed = ShardLog.open({
      dir: temp.dir,
      segmentBytes: SEGMENT_BYTES,
      index,
      sealed: true,
    });
    expect(sealed.report.nextOrdinal).toBe(100);
    expect(openFilesUnder(temp.dir)).toEqual([]);
    const size = statSync(join(temp.dir, last)).size;
    expect(size).toBeGreaterThan(100 * 100);
    expect(size).toBeLessThan(SEGMENT_BYTES);
    expect(readAll(new ShardReader(temp.dir, index))).toHaveLength(100);
    expect(() => sealed.log.append(batchOf(recordsOf(1, 'late', 10)), 5000)).toThrow(/sealed/);
    sealed.log.close();
    // A shard closed before its first record: one empty segment.
    const empty = join(temp.dir, 'empty');
    const none = ShardLog.open({
      dir: empty,
      segmentBytes: SEGMENT_BYTES,
      index: new ShardIndex(createShardIndexBuffer()),
      sealed: true,
    });
    expect(none.report.nextOrdinal).toBe(0);
    expect(readdirSync(empty).map((name) => [name, statSync(join(empty, name)).size])).toEqual([
      [segmentFileName(0), 0],
    ]);
    expect(openFilesUnder(empty)).toEqual([]);
    none.log.close();
  });

  it('moves the trim inside a segment to the first batch that arrived at or after the cutoff', () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const { log, index, reader } = openLog(temp.dir);
    // 40 batches of 5 records, about 44 KB: one segment, several index intervals.
    for (let i = 0; i < 40; i++) log.append(batchOf(recordsOf(5, `t${i}`, 200)), 1000 + i * 10);
    expect(readdirSync(temp.dir).filter((name) => name.endsWith('.seg'))).toHaveLength(1);
    expect(index.entryCount()).toBeGreaterThan(2);
    expect(log.enforceRetention(1205)).toBe(0);
    expect(index.trimOrdinal()).toBe(21 * 5); // batch 21 arrived at 1210
    expect(readAll(reader, index.trimOrdinal())[0]!.key).toBe('t21-0');
    // A later pass walks on from there, past an index entry.
    expect(log.enforceRetention(1305)).toBe(0);
    expect(index.trimOrdinal()).toBe(31 * 5);
    // An earlier cutoff never moves the trim back.
    log.enforceRetention(1000);
    expect(index.trimOrdinal()).toBe(31 * 5);
    // Everything expired: the segment is rolled away, as before.
    expect(log.enforceRetention(5000)).toBe(1);
    expect(index.trimOrdinal()).toBe(200);
  });

  it('lets go of segments retention removed: the reader closes them at release', () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const { log, index, reader } = openLog(temp.dir);
    for (let i = 0; i < 300; i++) log.append(batchOf(recordsOf(5, `r${i}`, 200)), 1000 + i * 10);
    // Read the oldest segments, so the reader holds them open, then expire them.
    expect(reader.read(0, { maxRecords: 200, maxBytes: 1 << 30 }).records).toHaveLength(200);
    const held = () => openFilesUnder(temp.dir).filter(({ flags }) => (flags & 3) === 0);
    expect(held().length).toBeGreaterThan(0);
    expect(log.enforceRetention(2500)).toBeGreaterThan(0);
    // Removed but still open: its bytes stay readable until the reader lets go.
    expect(held().some(({ path }) => path.endsWith(' (deleted)'))).toBe(true);
    reader.release();
    expect(held().some(({ path }) => path.endsWith(' (deleted)'))).toBe(false);
    const trim = index.trimOrdinal();
    expect(reader.read(trim, { maxRecords: 10_000, maxBytes: 1 << 30 }).records).toHaveLength(
      1500 - trim,
    );
    log.close();
    reader.close();
  });

  for (const [fsync, discard] of [
    [false, false],
    [true, false],
    [true, true],
  ] as const) {
    it(`holds one segment open for writing however many it rolls (fsync ${fsync}, close discard ${discard})`, () => {
      const temp = tempDir();
      cleanup = temp.cleanup;
      const index = new ShardIndex(createShardIndexBuffer());
      const { log } = ShardLog.open({ dir: temp.dir, segmentBytes: SEGMENT_BYTES, index, fsync });
      const reader = new ShardReader(temp.dir, index);
      for (let i = 0; i < 400; i++) {
        log.append(batchOf(recordsOf(4, `f${i}`, 1000)), 1000 + i);
        if (fsync && i % 10 === 9) log.sync();
      }
      expect(readdirSync(temp.dir).filter((name) => name.endsWith('.seg')).length).toBeGreaterThan(
        10,
      );
      expect(openFilesUnder(temp.dir)).toHaveLength(1);
      expect(readAll(reader)).toHaveLength(1600);
      // The reader keeps its last few segments open, read-only.
      const open = openFilesUnder(temp.dir);
      expect(open.filter(({ flags }) => (flags & 3) === 2)).toHaveLength(1);
      expect(open.filter(({ flags }) => (flags & 3) === 0)).toHaveLength(READER_FILES_MAX);
      log.close(discard);
      reader.close();
      expect(openFilesUnder(temp.dir)).toHaveLength(0);
    });
  }
});
