/**
 * Routes a 128-bit hash key to the open shard whose [StartingHashKey, EndingHashKey] holds it.
 * Open shards of a stream cover the whole key space without overlap, so the shard is the last
 * one whose starting key is at or below the hash key: a binary search over starting keys kept
 * as packed 32-bit words.
 */
import { HASH_WORDS, bigIntToWords, compareWords } from '../kinesis/hash-key.js';

export class ShardRouter {
  private readonly starts: Uint32Array;

  /** `startingKeys` must be sorted ascending and start at 0. */
  constructor(startingKeys: readonly bigint[]) {
    this.starts = new Uint32Array(startingKeys.length * HASH_WORDS);
    startingKeys.forEach((key, i) => bigIntToWords(key, this.starts, i * HASH_WORDS));
  }

  get size(): number {
    return this.starts.length / HASH_WORDS;
  }

  /** The slot (position in the sorted open-shard list) that owns the hash key at `words[offset..]`. */
  route(words: Uint32Array, offset = 0): number {
    let low = 0;
    let high = this.size - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (compareWords(this.starts, middle * HASH_WORDS, words, offset) <= 0) low = middle;
      else high = middle - 1;
    }
    return low;
  }
}
