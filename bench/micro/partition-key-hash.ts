/**
 * Micro-benchmark: MD5 of partition keys — Runnel's four-lane WebAssembly SIMD MD5 (`KeyHasher`,
 * what shard workers and codec threads hash a batch's keys with) and its in-place unrolled MD5
 * (`md5Words`, one key at a time, no string or object per key) against `node:crypto` createHash('md5') per key, which is the baseline
 * every Node Kinesis client and emulator uses. Figure: keys hashed per second, one thread.
 * Usage: node dist/bench/micro/partition-key-hash.js
 */
import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';

import { md5Words, partitionKeyWords } from '../../src/kinesis/hash-key.js';
import { KeyHasher, SIMD_LANES } from '../../src/kinesis/md5-lanes.js';
import { runMicro } from './run.js';

const KEYS = 1000;
const keys = Array.from({ length: KEYS }, (_, i) => `user-${i}-${(i * 2654435761) >>> 0}`);
const encoded = keys.map((key) => Buffer.from(key));
const out = new Uint32Array(4);
const laneOut = new Uint32Array(4 * KEYS);
const hasher = new KeyHasher();
let sink = 0;

// Check first: both give the same digest.
for (let i = 0; i < KEYS; i++) {
  md5Words(encoded[i]!, 0, encoded[i]!.length, out, 0);
  const digest = createHash('md5').update(keys[i]!).digest();
  if (digest.readUInt32BE(0) !== out[0]) throw new Error(`md5 mismatch for ${keys[i]}`);
}
for (let i = 0; i < KEYS; i++) hasher.add(encoded[i]!, 0, encoded[i]!.length, laneOut, i * 4);
hasher.flush();
for (let i = 0; i < KEYS; i++) {
  if (createHash('md5').update(keys[i]!).digest().readUInt32BE(4) !== laneOut[i * 4 + 1]) {
    throw new Error(`lane md5 mismatch for ${keys[i]}`);
  }
}

if (!SIMD_LANES) console.log('KeyHasher: no WebAssembly SIMD here, keys are hashed one at a time');
await runMicro(
  'partition-key MD5, 1000 distinct ~20-byte keys per call',
  "node:crypto createHash('md5') per key",
  [
    {
      name: 'KeyHasher, four keys per MD5 (batch checks)',
      items: KEYS,
      fn: () => {
        for (let i = 0; i < KEYS; i++)
          hasher.add(encoded[i]!, 0, encoded[i]!.length, laneOut, i * 4);
        hasher.flush();
        sink ^= laneOut[0]!;
      },
    },
    {
      name: 'md5Words on UTF-8 bytes, one key at a time',
      items: KEYS,
      fn: () => {
        for (let i = 0; i < KEYS; i++) md5Words(encoded[i]!, 0, encoded[i]!.length, out, 0);
        sink ^= out[0]!;
      },
    },
    {
      name: 'partitionKeyWords on strings (encode + md5)',
      items: KEYS,
      fn: () => {
        for (let i = 0; i < KEYS; i++) partitionKeyWords(keys[i]!, out, 0);
        sink ^= out[0]!;
      },
    },
    {
      name: "node:crypto createHash('md5').digest()",
      items: KEYS,
      fn: () => {
        for (let i = 0; i < KEYS; i++)
          sink ^= createHash('md5').update(keys[i]!).digest().readUInt32BE(0);
      },
    },
    {
      name: "node:crypto hash('md5') one-shot (Node ≥ 20.12)",
      items: KEYS,
      fn: () => {
        // crypto.hash is newer than @types/node 20's typings.
        const hash = (
          crypto as unknown as {
            hash?: (algorithm: string, data: string, encoding: 'buffer') => Buffer;
          }
        ).hash;
        if (!hash) return;
        for (let i = 0; i < KEYS; i++) sink ^= hash('md5', keys[i]!, 'buffer').readUInt32BE(0);
      },
    },
  ],
);
if (sink === 0.5) console.log(sink);
