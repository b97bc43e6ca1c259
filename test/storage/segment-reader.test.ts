/**
 * Goal: the shard reader returns exactly what was committed, however its pread windows fall:
 * records larger than a window, reads cut by record or byte limits and resumed from their
 * position hints, batches larger than the byte limit, reads across sealed segments (with their
 * sparse tails) and into the active one, and a committed-end hint that is stale. Real files,
 * the real ShardLog writing them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { READ_WINDOW_BYTES_MIN } from '../../src/limits.js';
import { ShardReader } from '../../src/storage/segment-reader.js';
import { ShardIndex, createShardIndexBuffer } from '../../src/storage/shard-index.js';
import { ShardLog } from '../../src/storage/shard-log.js';
import { batchOf } from '../helpers/batches.js';
import { tempDir } from '../helpers/temp-dir.js';

const SEGMENT_BYTES = 1024 * 1024;
let cleanup: () => void = () => undefined;
afterEach(() => cleanup());

/** Record `i`'s data: its size varies from a few bytes to several read windows. */
function dataOf(i: number): Buffer {
  const size = i % 7 === 3 ? 3 * READ_WINDOW_BYTES_MIN + i : 1 + ((i * 131) % 3000);
  return Buffer.alloc(size, i & 0xff);
}

/** A log of `batches` batches of 1 to 5 records, across several segments. */
function writtenLog(batches: number) {
  const temp = tempDir();
  cleanup = temp.cleanup;
  const index = new ShardIndex(createShardIndexBuffer());
  const { log } = ShardLog.open({ dir: temp.dir, segmentBytes: SEGMENT_BYTES, index });
  let next = 0;
  for (let b = 0; b < batches; b++) {
    const count = 1 + (b % 5);
    const records = Array.from({ length: count }, (_, k) => ({
      PartitionKey: `k${next + k}`,
      Data: dataOf(next + k),
    }));
    log.append(batchOf(records), 1000 + b);
    next += count;
  }
  return { log, index, reader: new ShardReader(temp.dir, index), total: next, dir: temp.dir };
}

function expectRecord(record: {
  ordinal: number;
  bytes: Buffer;
  keyStart: number;
  keyEnd: number;
  dataStart: number;
  dataEnd: number;
}) {
  const i = record.ordinal;
  expect(record.bytes.toString('utf8', record.keyStart, record.keyEnd)).toBe(`k${i}`);
  expect(record.bytes.subarray(record.dataStart, record.dataEnd).equals(dataOf(i))).toBe(true);
}

describe('ShardReader (pread windows)', () => {
  it('reads everything in one call, whole records of every size, across segments', () => {
    const { log, reader, total } = writtenLog(120);
    const { records, nextOrdinal } = reader.read(0, { maxRecords: 1_000_000, maxBytes: 1 << 30 });
    expect(records.map((record) => record.ordinal)).toEqual(
      Array.from({ length: total }, (_, i) => i),
    );
    records.forEach(expectRecord);
    expect(nextOrdinal).toBe(total);
    log.close();
    reader.close();
  });

  it('reads the same records in small steps, resumed from each position hint', () => {
    const { log, reader, total } = writtenLog(80);
    for (const limits of [
      { maxRecords: 1, maxBytes: 1 << 30 },
      { maxRecords: 3, maxBytes: 1 << 30 },
      { maxRecords: 1_000, maxBytes: 5_000 },
    ]) {
      const seen: number[] = [];
      let ordinal = 0;
      let hint: ReturnType<ShardReader['read']>['nextLocation'];
      for (let calls = 0; ordinal < total; calls++) {
        expect(calls).toBeLessThan(10 * total);
        const result = reader.read(ordinal, limits, hint);
        expect(result.records.length).toBeGreaterThan(0);
        expect(result.records.length).toBeLessThanOrEqual(limits.maxRecords);
        result.records.forEach(expectRecord);
        seen.push(...result.records.map((record) => record.ordinal));
        ordinal = result.nextOrdinal;
        hint = result.nextLocation;
      }
      expect(seen).toEqual(Array.from({ length: total }, (_, i) => i));
    }
    log.close();
    reader.close();
  });

  it('returns whole batches up to the byte limit, and a batch larger than the limit alone', () => {
    const { log, reader, total } = writtenLog(60);
    for (const maxBytes of [100, 20_000, 300_000, 4 * 1024 * 1024]) {
      let ordinal = 0;
      let covered = 0;
      while (ordinal < total) {
        const batches = reader.readBatches(ordinal, maxBytes);
        expect(batches.length).toBeGreaterThan(0);
        const bytes = batches.reduce((sum, batch) => sum + batch.bytes.length, 0);
        if (batches.length > 1) expect(bytes).toBeLessThanOrEqual(maxBytes);
        for (const batch of batches) {
          expect(batch.baseOrdinal).toBe(ordinal);
          ordinal += batch.recordCount;
          covered += batch.recordCount;
        }
      }
      expect(covered).toBe(total);
    }
    log.close();
    reader.close();
  });

  it('reads correctly when the committed-end hint is stale, short or far past the data', () => {
    const { log, index, reader, total } = writtenLog(40);
    const full = reader
      .read(0, { maxRecords: 1_000_000, maxBytes: 1 << 30 })
      .records.map((r) => r.ordinal);
    for (const hint of [0, 1, 1 << 40]) {
      index.commit(index.nextOrdinal(), index.lastArrivalMs(), hint);
      const records = reader.read(0, { maxRecords: 1_000_000, maxBytes: 1 << 30 }).records;
      expect(records.map((record) => record.ordinal)).toEqual(full);
      records.forEach(expectRecord);
      const batches = reader.readBatches(total - 1, 1 << 20);
      expect(batches).toHaveLength(1);
      expect(batches[0]!.baseOrdinal + batches[0]!.recordCount).toBe(total);
    }
    log.close();
    reader.close();
  });

  it('sees nothing past the watermark, and a new batch once it is committed', () => {
    const { log, reader, total } = writtenLog(10);
    expect(reader.read(total, { maxRecords: 10, maxBytes: 1 << 20 }).records).toEqual([]);
    expect(reader.readBatches(total, 1 << 20)).toEqual([]);
    log.append(batchOf([{ PartitionKey: `k${total}`, Data: dataOf(total) }]), 9_999);
    const [record] = reader.read(total, { maxRecords: 10, maxBytes: 1 << 20 }).records;
    expectRecord(record!);
    log.close();
    reader.close();
  });
});
