/**
 * Client-frame masking: the WebAssembly SIMD kernel and the JavaScript words against a byte-by-
 * byte reading of RFC 6455 §5.3 (byte i of the payload XOR key[(phase + i) mod 4]), for every
 * size around the kernel's turn and chunk boundaries, every key phase and misaligned buffers.
 */
import { randomFillSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';

import { SIMD_MASK_BYTES_MIN, copyMasked } from '../../src/client/node-websocket.js';
import { MASK_CHUNK_BYTES, SIMD_MASKING } from '../../src/client/simd-mask.js';

function expected(source: Uint8Array, key: Uint8Array, phase: number): Uint8Array {
  return source.map((byte, i) => byte ^ key[(phase + i) & 3]!);
}

/** Masks `size` random bytes taken from `sourceAt` of a buffer into `targetAt` of another. */
function check(
  size: number,
  phase: number,
  sourceAt: number,
  targetAt: number,
  simd: boolean,
): void {
  const key = randomFillSync(new Uint8Array(4));
  const source = randomFillSync(new Uint8Array(sourceAt + size)).subarray(sourceAt);
  const target = randomFillSync(new Uint8Array(targetAt + size + 8));
  const before = target.slice();
  copyMasked(target, targetAt, source, key, phase, simd);
  expect(
    Buffer.from(target.subarray(targetAt, targetAt + size)).equals(expected(source, key, phase)),
  ).toBe(true);
  // Nothing outside the payload's place is touched.
  expect(Buffer.from(target.subarray(0, targetAt)).equals(before.subarray(0, targetAt))).toBe(true);
  expect(
    Buffer.from(target.subarray(targetAt + size)).equals(before.subarray(targetAt + size)),
  ).toBe(true);
}

describe('client frame masking', () => {
  it('uses WebAssembly SIMD on this machine', () => {
    expect(SIMD_MASKING).toBe(true);
  });

  for (const simd of [true, false]) {
    const how = simd ? 'SIMD' : 'JavaScript words';

    it(`${how}: every size 0–300, every phase, misaligned source and target`, () => {
      for (let size = 0; size <= 300; size++) {
        check(size, size & 3, size % 7, (size * 3) % 5, simd);
      }
    });

    it(`${how}: sizes around 64-byte turns and at the SIMD threshold`, () => {
      for (const size of [
        SIMD_MASK_BYTES_MIN - 1,
        SIMD_MASK_BYTES_MIN,
        1023,
        1024,
        1025,
        65535,
        65536,
        65537,
      ]) {
        for (let phase = 0; phase < 4; phase++) check(size, phase, phase, 14, simd);
      }
    });
  }

  it('SIMD: payloads of several chunks, each chunk keeping the key phase', () => {
    for (const size of [
      MASK_CHUNK_BYTES - 1,
      MASK_CHUNK_BYTES,
      MASK_CHUNK_BYTES + 1,
      2 * MASK_CHUNK_BYTES + 3,
    ]) {
      check(size, 3, 1, 14, true);
    }
  });
});
