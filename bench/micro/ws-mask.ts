/**
 * Micro-benchmark: masking a WebSocket frame's payload as the Node client sends it
 * (`copyMasked` in src/client/node-websocket.ts) — 32-bit words in JavaScript against
 * WebAssembly SIMD (src/client/simd-mask.ts) — with a plain copy of the same bytes
 * (`Uint8Array.set`) as the baseline: masking can at best cost a copy. Payloads land where
 * they do in a frame: after a 14-byte header (8 bytes below 64 KiB), in a buffer of their own.
 * Figure: MB/s of payload, one thread; also checks that both give the same bytes.
 * Usage: node dist/bench/micro/ws-mask.js
 */
import { randomFillSync } from 'node:crypto';

import { SIMD_MASK_BYTES_MIN, copyMasked } from '../../src/client/node-websocket.js';
import { SIMD_MASKING } from '../../src/client/simd-mask.js';
import { runMicro } from './run.js';

const SIZES = [SIMD_MASK_BYTES_MIN, 1024, 65536, 1024 * 1024, 4 * 1024 * 1024];
const key = randomFillSync(Buffer.alloc(4));

for (const size of SIZES) {
  const header = size < 65536 ? 8 : 14;
  const source = randomFillSync(Buffer.allocUnsafeSlow(size));
  const words = Buffer.allocUnsafeSlow(header + size);
  const simd = Buffer.allocUnsafeSlow(header + size);
  copyMasked(words, header, source, key, 1, false);
  copyMasked(simd, header, source, key, 1, true);
  if (!words.subarray(header).equals(simd.subarray(header)))
    throw new Error(`masking differs at ${size} bytes`);
  for (let i = 0; i < size; i++) {
    if (words[header + i] !== (source[i]! ^ key[(1 + i) & 3]!))
      throw new Error(`wrong mask at byte ${i}`);
  }
  const mb = size / 1e6;
  await runMicro(
    `WebSocket masking of a ${size}-byte payload into its frame (items: MB)`,
    'Uint8Array.set (a copy, no masking)',
    [
      { name: 'Uint8Array.set', items: mb, fn: () => simd.set(source, header) },
      {
        name: 'copyMasked, JavaScript words',
        items: mb,
        fn: () => copyMasked(words, header, source, key, 1, false),
      },
      {
        name: 'copyMasked, WebAssembly SIMD',
        items: mb,
        fn: () => copyMasked(simd, header, source, key, 1, true),
      },
    ],
    400,
  );
}
if (!SIMD_MASKING) console.log('no WebAssembly SIMD here: the SIMD rows ran the JavaScript words');
