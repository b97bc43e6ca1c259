// Goal: the record batch encodes and decodes records byte-exactly, its header offsets are the
// documented ones, and any damage is detected by the structure checks or the checksum.
import { describe, expect, it } from 'vitest';
import {
  ARRIVAL_MS_OFFSET,
  BASE_ORDINAL_OFFSET,
  BATCH_HEADER_BYTES,
  CHECKSUM_OFFSET,
  batchChecksum,
  batchDataBytes,
  newRecordCursor,
  nextRecord,
  readBatchHeader,
  readVarint,
  verifyBatch,
  viewOf,
  writeVarint,
} from '../../src/storage/record-batch.js';
import { batchOf } from '../helpers/batches.js';
import { seededRandom } from '../helpers/temp-dir.js';

function sealed(batch: Uint8Array): Uint8Array {
  const view = viewOf(batch);
  view.setBigUint64(CHECKSUM_OFFSET, batchChecksum(batch, 0, batch.length), true);
  return batch;
}

describe('record batch', () => {
  it('has the documented header layout', () => {
    expect([CHECKSUM_OFFSET, BASE_ORDINAL_OFFSET, ARRIVAL_MS_OFFSET, BATCH_HEADER_BYTES]).toEqual([
      16, 24, 32, 40,
    ]);
  });

  it('round-trips varints at their boundaries', () => {
    const bytes = new Uint8Array(8);
    for (const value of [0, 1, 127, 128, 16383, 16384, 10485760, 2 ** 31]) {
      const end = writeVarint(bytes, 0, value);
      const cursor = { offset: 0 };
      expect(readVarint(bytes, cursor, 8)).toBe(value);
      expect(cursor.offset).toBe(end);
    }
    expect(readVarint(new Uint8Array([0x80, 0x80]), { offset: 0 }, 2)).toBe(-1);
  });

  it('decodes what it encodes, with keys, explicit hash keys and empty data', () => {
    const records = [
      { PartitionKey: 'a', Data: new Uint8Array([1, 2, 3]) },
      { PartitionKey: 'ключ', Data: new Uint8Array(0), ExplicitHashKey: '12345' },
      { PartitionKey: 'x'.repeat(256), Data: new Uint8Array(70000).fill(9) },
    ];
    const batch = sealed(batchOf(records));
    const header = verifyBatch(batch, viewOf(batch), 0, batch.length)!;
    expect(header.recordCount).toBe(3);
    const cursor = newRecordCursor(BATCH_HEADER_BYTES);
    const text = (start: number, end: number) =>
      Buffer.from(batch.subarray(start, end)).toString('utf8');
    for (const record of records) {
      expect(nextRecord(batch, cursor, batch.length)).toBe(true);
      expect(text(cursor.keyStart, cursor.keyEnd)).toBe(record.PartitionKey);
      expect(text(cursor.hashKeyStart, cursor.hashKeyEnd)).toBe(record.ExplicitHashKey ?? '');
      expect(
        Buffer.from(batch.subarray(cursor.dataStart, cursor.dataEnd)).equals(record.Data),
      ).toBe(true);
    }
    expect(cursor.offset).toBe(batch.length);
  });

  it('detects a flipped bit anywhere after the checksum, and structural damage', () => {
    const batch = sealed(batchOf([{ PartitionKey: 'k', Data: new Uint8Array(100).fill(5) }]));
    for (let offset = BASE_ORDINAL_OFFSET; offset < batch.length; offset += 7) {
      const copy = batch.slice();
      copy[offset] = copy[offset]! ^ 0x10;
      expect(verifyBatch(copy, viewOf(copy), 0, copy.length), `offset ${offset}`).toBeUndefined();
    }
    const truncated = batch.slice(0, batch.length - 1);
    expect(readBatchHeader(truncated, viewOf(truncated), 0, truncated.length)).toBeUndefined();
    const badMagic = batch.slice();
    badMagic[0] = 0;
    expect(readBatchHeader(badMagic, viewOf(badMagic), 0, badMagic.length)).toBeUndefined();
  });

  it('counts data bytes as the record walk does, from any record on, for any framing and any cut', () => {
    // The reference: nextRecord over the batch, counting each whole record from `skip` on.
    const reference = (bytes: Uint8Array, skip: number) => {
      const cursor = newRecordCursor(BATCH_HEADER_BYTES);
      let total = 0;
      for (
        let i = 0;
        cursor.offset < bytes.length && nextRecord(bytes, cursor, bytes.length);
        i++
      ) {
        if (i >= skip) total += cursor.dataEnd - cursor.dataStart;
      }
      return total;
    };
    const seed = 20261127;
    console.log(`batchDataBytes seed ${seed}`);
    const random = seededRandom(seed);
    const pick = (values: number[]) => values[Math.floor(random() * values.length)]!;
    for (let round = 0; round < 200; round++) {
      // Lengths around the varint boundaries: 1, 2 and 3 bytes.
      const records = Array.from({ length: 1 + Math.floor(random() * 12) }, (_, i) => ({
        PartitionKey: 'k'.repeat(pick([1, 20, 127, 128, 200, 256])),
        Data: new Uint8Array(pick([0, 1, 100, 127, 128, 16383, 16384, 70000])).fill(i),
        ...(random() < 0.3 ? { ExplicitHashKey: String(Math.floor(random() * 2 ** 40)) } : {}),
      }));
      const batch = batchOf(records);
      const whole = records.reduce((sum, record) => sum + record.Data.length, 0);
      expect(batchDataBytes(batch)).toBe(whole);
      const skip = Math.floor(random() * (records.length + 1));
      expect(batchDataBytes(batch, skip)).toBe(reference(batch, skip));
      // Cut one byte short of each record's end, and at it: that record counts only whole.
      const cursor = newRecordCursor(BATCH_HEADER_BYTES);
      for (let i = 0; nextRecord(batch, cursor, batch.length) && i < records.length; i++) {
        for (const end of [cursor.dataEnd - 1, cursor.dataEnd]) {
          const short = batch.subarray(0, end);
          expect(batchDataBytes(short, skip), `cut at ${end}`).toBe(reference(short, skip));
        }
      }
      // Cut anywhere, or with a length byte damaged: the records before the damage.
      const cut = batch.subarray(
        0,
        BATCH_HEADER_BYTES + Math.floor(random() * (batch.length - BATCH_HEADER_BYTES)),
      );
      expect(batchDataBytes(cut, skip)).toBe(reference(cut, skip));
      const damaged = batch.slice();
      damaged[BATCH_HEADER_BYTES + Math.floor(random() * (batch.length - BATCH_HEADER_BYTES))] =
        0xff;
      expect(batchDataBytes(damaged)).toBe(reference(damaged, 0));
    }
  });
});
