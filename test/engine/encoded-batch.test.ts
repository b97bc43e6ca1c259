/**
 * hashEncodedBatch, the check of a batch that arrives encoded (a PUT frame):
 * - lending an earlier result's arrays (as a shard worker checks batch after batch): the hashes
 *   and record places are those of a fresh check, arrays long enough are reused, shorter ones
 *   replaced;
 * - which error a bad batch gets: one walk frames, checks and hashes, and a batch badly framed
 *   anywhere is refused as such even past a record that fails its own check; otherwise the
 *   first failing record's error.
 */
import { describe, expect, it } from 'vitest';
import { type HashedBatch, hashEncodedBatch } from '../../src/engine/encoded-batch.js';
import { HASH_WORDS, hashPartitionKey, wordsToBigInt } from '../../src/kinesis/hash-key.js';
import { validateInput } from '../../src/kinesis/validation.js';
import {
  ATTRIBUTES_OFFSET,
  BATCH_LENGTH_OFFSET,
  RECORD_COUNT_OFFSET,
  RESERVED_OFFSET,
  viewOf,
} from '../../src/storage/record-batch.js';
import { batchOf, recordsOf } from '../helpers/batches.js';

const MAX_RECORD_BYTES = 1024 * 1024;

function expectChecked(hashed: HashedBatch, batch: Uint8Array, keys: string[]): void {
  const fresh = hashEncodedBatch(batch, MAX_RECORD_BYTES);
  expect(hashed.recordCount).toBe(keys.length);
  expect(hashed.recordStart[keys.length]).toBe(batch.length);
  expect([...hashed.recordStart.subarray(0, keys.length + 1)]).toEqual([...fresh.recordStart]);
  keys.forEach((key, i) =>
    expect(wordsToBigInt(hashed.hashWords, i * HASH_WORDS)).toBe(hashPartitionKey(key)),
  );
}

describe('hashEncodedBatch with arrays to reuse', () => {
  it('reuses long enough arrays and checks each batch as a fresh call would', () => {
    let last: HashedBatch | undefined;
    const arrays = new Set<unknown>();
    for (const [count, tag] of [
      [300, 'a'],
      [300, 'b'],
      [120, 'c'],
      [299, 'd'],
      [301, 'e'],
      [5, 'f'],
    ] as const) {
      const records = recordsOf(count, tag);
      const batch = batchOf(records);
      const hashed = hashEncodedBatch(batch, MAX_RECORD_BYTES, { reuse: last });
      expectChecked(
        hashed,
        batch,
        records.map((record) => record.PartitionKey!),
      );
      arrays.add(hashed.recordStart);
      arrays.add(hashed.hashWords);
      last = hashed;
    }
    // 300 records, then smaller batches on the same arrays, then 301 needed new ones.
    expect(arrays.size).toBe(4);
  });
});

/** `batch` with the first byte of `key`'s bytes replaced by 0xff (invalid UTF-8). */
function withBadKey(batch: Uint8Array, key: string): Uint8Array {
  const at = Buffer.from(batch).indexOf(key);
  expect(at).toBeGreaterThan(0);
  const copy = batch.slice();
  copy[at] = 0xff;
  return copy;
}

/** `batch` less its last byte, its header saying so: the last record's data runs past the end. */
function truncated(batch: Uint8Array): Uint8Array {
  const copy = batch.slice(0, batch.length - 1);
  viewOf(copy).setUint32(BATCH_LENGTH_OFFSET, copy.length, true);
  return copy;
}

function errorOf(check: () => unknown): { name: string; message: string } {
  try {
    check();
  } catch (error) {
    return error as Error;
  }
  throw new Error('no error');
}

describe('hashEncodedBatch errors', () => {
  const records = recordsOf(5, 'rec');
  const batch = batchOf(records);

  it("gives a record's own error when the batch is well framed", () => {
    const error = errorOf(() => hashEncodedBatch(withBadKey(batch, 'rec-2'), MAX_RECORD_BYTES));
    expect(error.name).toBe('ValidationException');
    expect(error.message).toContain("'records.3.member.partitionKey'");
  });

  it('gives the first failing record, not a later one', () => {
    const twoBad = withBadKey(withBadKey(batch, 'rec-3'), 'rec-1');
    expect(errorOf(() => hashEncodedBatch(twoBad, MAX_RECORD_BYTES)).message).toContain(
      "'records.2.member.partitionKey'",
    );
    // Record 1 is too large (16 data bytes and a 5-byte key), record 3 has a bad key: as
    // PutRecords answers, data and key together over the limit are InvalidArgumentException,
    // data alone over it the model's ValidationException on the record's data.
    const error = errorOf(() => hashEncodedBatch(withBadKey(batch, 'rec-2'), 20));
    expect(error.name).toBe('InvalidArgumentException');
    expect(error.message).toBe(
      'Record size 21 bytes (data plus partition key) exceeds the maximum record size of 20 bytes.',
    );
    const dataAlone = errorOf(() => hashEncodedBatch(withBadKey(batch, 'rec-2'), 15));
    expect(dataAlone.name).toBe('ValidationException');
    expect(dataAlone.message).toContain("'records.1.member.data'");
    expect(dataAlone.message).toContain('less than or equal to 15');
  });

  it('refuses a badly framed batch as such, even past a record that fails its own check', () => {
    for (const bad of [truncated(batch), truncated(withBadKey(batch, 'rec-0'))]) {
      const error = errorOf(() => hashEncodedBatch(bad, MAX_RECORD_BYTES));
      expect(error.name).toBe('ValidationException');
      expect(error.message).toBe('Invalid record batch: records do not fill the batch');
    }
    // A header that claims more records than the body holds, and one that claims fewer.
    for (const count of [records.length + 1, records.length - 1]) {
      const miscounted = withBadKey(batch, 'rec-0');
      viewOf(miscounted).setUint32(RECORD_COUNT_OFFSET, count, true);
      expect(errorOf(() => hashEncodedBatch(miscounted, MAX_RECORD_BYTES)).message).toContain(
        'do not fill',
      );
    }
  });

  it('refuses a bad explicit hash key, and keeps the framing first there too', () => {
    const explicit = batchOf([
      { PartitionKey: 'a', Data: Buffer.alloc(4) },
      {
        PartitionKey: 'b',
        Data: Buffer.alloc(4),
        ExplicitHashKey: '340282366920938463463374607431768211456',
      },
    ]);
    expect(errorOf(() => hashEncodedBatch(explicit, MAX_RECORD_BYTES)).message).toContain(
      'Invalid ExplicitHashKey',
    );
    expect(
      errorOf(() => hashEncodedBatch(truncated(explicit), MAX_RECORD_BYTES)).message,
    ).toContain('do not fill');
  });

  it('refuses an explicit hash key that is not a decimal as the PutRecords model check does', () => {
    for (const key of ['abc', '-1', '007', ' 1', '1.0']) {
      const records = [
        { PartitionKey: 'a', Data: new Uint8Array(4) },
        { PartitionKey: 'b', Data: new Uint8Array(4), ExplicitHashKey: key },
      ];
      const error = errorOf(() => hashEncodedBatch(batchOf(records), MAX_RECORD_BYTES));
      const modelError = errorOf(() =>
        validateInput('PutRecords', { StreamName: 's', Records: records }),
      );
      expect(error.name).toBe('ValidationException');
      expect(error.message).toBe(modelError.message);
    }
  });

  it('refuses a header whose attributes or reserved bytes are not 0', () => {
    for (const offset of [ATTRIBUTES_OFFSET, RESERVED_OFFSET, RESERVED_OFFSET + 1]) {
      const flagged = batchOf(recordsOf(2, 'flag'));
      flagged[offset] = 0x80;
      const error = errorOf(() => hashEncodedBatch(flagged, MAX_RECORD_BYTES));
      expect(error.name).toBe('ValidationException');
      expect(error.message).toMatch(
        /^Invalid record batch: .*attributes and reserved bytes must be 0/,
      );
    }
  });

  it('leaves nothing pending after a refusal: arrays it was lent are not written by a later check', () => {
    const lent = hashEncodedBatch(batchOf(recordsOf(10, 'lent')), MAX_RECORD_BYTES);
    expect(() =>
      hashEncodedBatch(truncated(batchOf(recordsOf(10, 'refused'))), MAX_RECORD_BYTES, {
        reuse: lent,
      }),
    ).toThrow('do not fill');
    const before = [...lent.hashWords];
    const next = recordsOf(3, 'next');
    const batch = batchOf(next);
    expectChecked(
      hashEncodedBatch(batch, MAX_RECORD_BYTES),
      batch,
      next.map((record) => record.PartitionKey!),
    );
    expect([...lent.hashWords]).toEqual(before);
  });

  it('puts an explicit hash key between hashed keys in its own place', () => {
    const explicit = 340282366920938463463374607431768211455n;
    const mixed = batchOf([
      { PartitionKey: 'before', Data: Buffer.alloc(4) },
      { PartitionKey: 'ignored', Data: Buffer.alloc(4), ExplicitHashKey: String(explicit) },
      { PartitionKey: 'after-1', Data: Buffer.alloc(4) },
      { PartitionKey: 'after-2', Data: Buffer.alloc(4) },
    ]);
    const hashed = hashEncodedBatch(mixed, MAX_RECORD_BYTES);
    const at = (i: number) => wordsToBigInt(hashed.hashWords, i * HASH_WORDS);
    expect([at(0), at(1), at(2), at(3)]).toEqual([
      hashPartitionKey('before'),
      explicit,
      hashPartitionKey('after-1'),
      hashPartitionKey('after-2'),
    ]);
  });
});
