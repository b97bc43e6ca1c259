/**
 * hashEncodedBatch lending an earlier result's arrays (as a shard worker checks batch after
 * batch): the hashes and record places are those of a fresh check, arrays long enough are
 * reused, shorter ones replaced.
 */
import { describe, expect, it } from 'vitest';
import { type HashedBatch, hashEncodedBatch } from '../../src/engine/encoded-batch.js';
import { HASH_WORDS, hashPartitionKey, wordsToBigInt } from '../../src/kinesis/hash-key.js';
import { batchOf, recordsOf } from '../helpers/batches.js';

const MAX_RECORD_BYTES = 1024 * 1024;

function expectChecked(hashed: HashedBatch, batch: Uint8Array, keys: string[]): void {
  const fresh = hashEncodedBatch(batch, MAX_RECORD_BYTES);
  expect(hashed.recordCount).toBe(keys.length);
  expect(hashed.recordStart[keys.length]).toBe(batch.length);
  expect([...hashed.recordStart.subarray(0, keys.length + 1)]).toEqual([...fresh.recordStart]);
  keys.forEach((key, i) => expect(wordsToBigInt(hashed.hashWords, i * HASH_WORDS)).toBe(hashPartitionKey(key)));
}

describe('hashEncodedBatch with arrays to reuse', () => {
  it('reuses long enough arrays and checks each batch as a fresh call would', () => {
    let last: HashedBatch | undefined;
    const arrays = new Set<unknown>();
    for (const [count, tag] of [[300, 'a'], [300, 'b'], [120, 'c'], [299, 'd'], [301, 'e'], [5, 'f']] as const) {
      const records = recordsOf(count, tag);
      const batch = batchOf(records);
      const hashed = hashEncodedBatch(batch, MAX_RECORD_BYTES, true, last);
      expectChecked(hashed, batch, records.map((record) => record.PartitionKey));
      arrays.add(hashed.recordStart);
      arrays.add(hashed.hashWords);
      last = hashed;
    }
    // 300 records, then smaller batches on the same arrays, then 301 needed new ones.
    expect(arrays.size).toBe(4);
  });
});
