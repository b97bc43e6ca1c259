/**
 * KeyHasher (four MD5 lanes in WebAssembly SIMD) against node:crypto: every key length from 0
 * to 300 bytes (one-block keys in lanes, longer ones hashed at once), more keys than one call
 * into WebAssembly takes, partial groups, several output arrays, and discard.
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HASH_WORDS } from '../../src/kinesis/hash-key.js';
import { KeyHasher, ONE_BLOCK_KEY_BYTES_MAX, SIMD_LANES } from '../../src/kinesis/md5-lanes.js';
import { joined } from '../helpers/joined.js';

function expected(key: Uint8Array): number[] {
  const digest = createHash('md5').update(key).digest();
  return Array.from({ length: HASH_WORDS }, (_, w) => digest.readUInt32BE(w * 4));
}

function hashAll(hasher: KeyHasher, keys: Uint8Array[]): Uint32Array {
  // Keys laid end to end in one buffer, as a batch holds them.
  const { bytes, starts } = joined(keys);
  const out = new Uint32Array(keys.length * HASH_WORDS);
  keys.forEach((key, i) => hasher.add(bytes, starts[i]!, key.length, out, i * HASH_WORDS));
  hasher.flush();
  return out;
}

function expectDigests(out: Uint32Array, keys: Uint8Array[], offset = 0): void {
  keys.forEach((key, i) => {
    const at = (offset + i) * HASH_WORDS;
    expect([...out.subarray(at, at + HASH_WORDS)], `key ${i} of ${key.length} bytes`).toEqual(
      expected(key),
    );
  });
}

describe('KeyHasher', () => {
  it('hashes every length from 0 to 300 bytes as node:crypto does', () => {
    const keys = Array.from({ length: 301 }, (_, length) => randomBytes(length));
    expectDigests(hashAll(new KeyHasher(), keys), keys);
  });

  it('hashes the last one-block length and the first two-block one', () => {
    const keys = [
      ONE_BLOCK_KEY_BYTES_MAX,
      ONE_BLOCK_KEY_BYTES_MAX + 1,
      0,
      ONE_BLOCK_KEY_BYTES_MAX,
    ].map((n) => new Uint8Array(n).fill(0xff));
    expectDigests(hashAll(new KeyHasher(), keys), keys);
  });

  it('hashes more keys than one call takes, and any count of a partial group', () => {
    const hasher = new KeyHasher();
    for (const count of [1, 2, 3, 5, 511, 512, 513, 2000]) {
      const keys = Array.from({ length: count }, (_, i) => Buffer.from(`key-${count}-${i}`));
      expectDigests(hashAll(hasher, keys), keys);
    }
  });

  it('writes each digest where its add asked, in several arrays', () => {
    const hasher = new KeyHasher();
    const keys = Array.from({ length: 9 }, (_, i) => Buffer.from(`k${i}`));
    const outs = [new Uint32Array(40), new Uint32Array(40)];
    keys.forEach((key, i) => hasher.add(key, 0, key.length, outs[i % 2]!, (9 - i) * HASH_WORDS));
    hasher.flush();
    keys.forEach((key, i) => {
      const at = (9 - i) * HASH_WORDS;
      expect([...outs[i % 2]!.subarray(at, at + HASH_WORDS)]).toEqual(expected(key));
    });
  });

  it('drops discarded keys: nothing written for them, later keys hashed right', () => {
    const hasher = new KeyHasher();
    const dropped = new Uint32Array(3 * HASH_WORDS);
    for (let i = 0; i < 3; i++)
      hasher.add(Buffer.from(`dropped-${i}`), 0, 9, dropped, i * HASH_WORDS);
    hasher.discard();
    const keys = Array.from({ length: 6 }, (_, i) => Buffer.from(`kept-${i}`));
    expectDigests(hashAll(hasher, keys), keys);
    expect([...dropped]).toEqual(new Array(3 * HASH_WORDS).fill(0));
  });

  it('keeps two hashers apart: keys added to each in turn are each hashed right', () => {
    const first = new KeyHasher();
    const second = new KeyHasher();
    const keys = Array.from({ length: 10 }, (_, i) => Buffer.from(`interleaved-${i}`));
    const outs = [new Uint32Array(10 * HASH_WORDS), new Uint32Array(10 * HASH_WORDS)];
    keys.forEach((key, i) => {
      first.add(key, 0, key.length, outs[0]!, i * HASH_WORDS);
      second.add(key, 0, key.length, outs[1]!, (9 - i) * HASH_WORDS);
    });
    first.flush();
    second.flush();
    expectDigests(outs[0]!, keys);
    expectDigests(outs[1]!, [...keys].reverse());
  });

  it("clears what a slot's earlier, longer key left: long keys, then short ones in the same slots", () => {
    const hasher = new KeyHasher();
    const long = Array.from({ length: 9 }, (_, i) =>
      Buffer.alloc(ONE_BLOCK_KEY_BYTES_MAX, 0x61 + i),
    );
    expectDigests(hashAll(hasher, long), long);
    const short = Array.from({ length: 9 }, (_, i) => Buffer.from(`s${i}`.repeat(i % 3)));
    expectDigests(hashAll(hasher, short), short);
    // And after a discard, whose keys were written into the lanes too.
    const dropped = new Uint32Array(9 * HASH_WORDS);
    long.forEach((key, i) => hasher.add(key, 0, key.length, dropped, i * HASH_WORDS));
    hasher.discard();
    expectDigests(hashAll(hasher, short), short);
  });

  it('hashes the same without lanes (where WebAssembly SIMD is missing), every length 0-300', () => {
    const keys = Array.from({ length: 301 }, (_, length) => randomBytes(length));
    expectDigests(hashAll(new KeyHasher(false), keys), keys);
    // Node 20 and later on x64 and arm64 have WebAssembly SIMD; this machine must use the lanes.
    expect(SIMD_LANES).toBe(true);
  });
});
