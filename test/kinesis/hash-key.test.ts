// Goal: partition keys hash exactly as Kinesis hashes them (MD5 of the UTF-8 key as an unsigned
// big-endian 128-bit integer), and CreateStream splits the key space as the service does.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  HASH_KEY_MAX,
  evenHashRanges,
  hashPartitionKey,
  md5Words,
  parseExplicitHashKey,
  wordsToBigInt,
} from '../../src/kinesis/hash-key.js';
import { seededRandom } from '../helpers/temp-dir.js';

function reference(bytes: Uint8Array): bigint {
  return BigInt('0x' + createHash('md5').update(bytes).digest('hex'));
}

describe('md5Words', () => {
  it('matches node:crypto for every length from 0 to 300 bytes', () => {
    const out = new Uint32Array(4);
    for (let length = 0; length <= 300; length++) {
      const bytes = new Uint8Array(length).map((_, i) => (i * 31 + length) & 0xff);
      md5Words(bytes, 0, length, out, 0);
      expect(wordsToBigInt(out, 0), `length ${length}`).toBe(reference(bytes));
    }
  });

  it('matches node:crypto on random keys at random offsets', () => {
    const seed = 20261125;
    console.log(`md5 random seed ${seed}`);
    const random = seededRandom(seed);
    const out = new Uint32Array(8);
    for (let i = 0; i < 2000; i++) {
      const buffer = new Uint8Array(400).map(() => Math.floor(random() * 256));
      const start = Math.floor(random() * 100);
      const length = Math.floor(random() * 290);
      md5Words(buffer, start, length, out, 4);
      expect(wordsToBigInt(out, 4)).toBe(reference(buffer.subarray(start, start + length)));
    }
  });

  it('hashes non-ASCII partition keys as UTF-8', () => {
    for (const key of ['ключ', '鍵', '🔑-key', 'a'.repeat(256)]) {
      expect(hashPartitionKey(key)).toBe(reference(Buffer.from(key, 'utf8')));
    }
  });
});

describe('hash key ranges', () => {
  it('splits 3 shards exactly as Kinesis does', () => {
    const ranges = evenHashRanges(3);
    expect(ranges.map((range) => [range.start.toString(), range.end.toString()])).toEqual([
      ['0', '113427455640312821154458202477256070484'],
      ['113427455640312821154458202477256070485', '226854911280625642308916404954512140969'],
      ['226854911280625642308916404954512140970', '340282366920938463463374607431768211455'],
    ]);
  });

  it('puts the 2-shard boundary at 2^127 and covers the key space without gaps', () => {
    expect(evenHashRanges(2)[1]!.start.toString()).toBe('170141183460469231731687303715884105728');
    for (const count of [1, 7, 64, 1000]) {
      const ranges = evenHashRanges(count);
      expect(ranges[0]!.start).toBe(0n);
      expect(ranges[count - 1]!.end).toBe(HASH_KEY_MAX);
      for (let i = 1; i < count; i++) expect(ranges[i]!.start).toBe(ranges[i - 1]!.end + 1n);
    }
  });

  it('parses explicit hash keys only within [0, 2^128 - 1]', () => {
    expect(parseExplicitHashKey('0')).toBe(0n);
    expect(parseExplicitHashKey(HASH_KEY_MAX.toString())).toBe(HASH_KEY_MAX);
    expect(parseExplicitHashKey((HASH_KEY_MAX + 1n).toString())).toBeUndefined();
    expect(parseExplicitHashKey('01')).toBeUndefined();
    expect(parseExplicitHashKey('-1')).toBeUndefined();
    expect(parseExplicitHashKey('12a')).toBeUndefined();
  });
});
