/**
 * Client-to-server WebSocket masking (RFC 6455 §5.3) in WebAssembly SIMD: a frame's payload is
 * copied into the module's memory, XOR-ed there with the mask key 64 bytes at a time, and copied
 * out into the frame. A client must mask every byte it sends; done 4 bytes at a time in
 * JavaScript that was ~40 % of the Node client's CPU when sending 64 KiB records.
 * `bench/micro/ws-mask.ts` measures the two.
 *
 * The chunk sits mid-page in the module's memory (CHUNK_OFFSET). glibc (2.36 here) copies sizes
 * from a few KiB up to the L2 size with `rep movsb`, which on some AMD CPUs runs an order of
 * magnitude slower when the destination is 1–31 bytes past the source modulo 4 KiB (glibc bug
 * 30994; bench/RESULTS.md, session 7). Buffers
 * large enough to be mapped on their own start 16 bytes into a page, and frame payloads start
 * 2–14 bytes into their frame, so a chunk at the start of a page would hit that band often; one
 * half a page away does not.
 *
 * Compiled once per thread, with one instance whose memory is reused by every call (masking is
 * synchronous). Where WebAssembly SIMD cannot be compiled, SIMD_MASKING is false and callers
 * mask in JavaScript.
 */
import {
  CodeWriter,
  SIMD,
  TYPE,
  WASM_PAGE_BYTES,
  compileModule,
  instantiate,
  oneFunctionModule,
} from '../wasm/module-encoding.js';

/** Payload bytes masked per call into WebAssembly. */
export const MASK_CHUNK_BYTES = 1024 * 1024;
/** Where the chunk starts in the module's memory: half a page in (see above). */
const CHUNK_OFFSET = 2048;
/** Bytes XOR-ed per loop turn; a chunk is masked in whole turns, past its end if need be. */
const TURN_BYTES = 64;
const VECTOR_BYTES = 16;
const MEMORY_PAGES = Math.ceil((CHUNK_OFFSET + MASK_CHUNK_BYTES + TURN_BYTES) / WASM_PAGE_BYTES);

/** `mask(bytes, key)`: XORs the chunk's first `bytes` (rounded up to a turn) with `key` in every lane. */
function maskModule(): Uint8Array {
  const BYTES = 0,
    KEY = 1,
    I = 2,
    V = 3;
  const w = new CodeWriter();
  w.get(KEY);
  w.simd(SIMD.i32x4Splat);
  w.set(V);
  w.loopBelow(I, BYTES, TURN_BYTES, () => {
    for (let at = CHUNK_OFFSET; at < CHUNK_OFFSET + TURN_BYTES; at += VECTOR_BYTES) {
      w.get(I); // the store's address
      w.get(I);
      w.load(at);
      w.get(V);
      w.simd(SIMD.xor);
      w.store(at);
    }
  });
  return oneFunctionModule({
    exportName: 'mask',
    params: 2,
    memoryPages: MEMORY_PAGES,
    locals: [
      [1, TYPE.i32],
      [1, TYPE.v128],
    ],
    code: w.code,
  });
}

const compiled = compileModule(maskModule());

/** Whether frames are masked in WebAssembly SIMD here. */
export const SIMD_MASKING = compiled !== undefined;

let kernel: { mask: (bytes: number, key: number) => void; chunk: Uint8Array } | undefined;

/**
 * Writes `source` XOR-ed with `keyWord` to `target[at..]`. `keyWord` is the 4 mask-key bytes
 * that fall on `source`'s bytes 0–3, little-endian (the key rotated to the message position of
 * `source`). Only where SIMD_MASKING is true.
 */
export function copyMaskedSimd(
  target: Uint8Array,
  at: number,
  source: Uint8Array,
  keyWord: number,
): void {
  if (kernel === undefined) {
    const { run, memory } = instantiate<(bytes: number, key: number) => void>(compiled!, 'mask');
    kernel = { mask: run, chunk: new Uint8Array(memory, CHUNK_OFFSET, MASK_CHUNK_BYTES) };
  }
  const { mask, chunk } = kernel;
  // Each chunk but the last is a whole number of key periods, so the key word holds for all.
  for (let done = 0; done < source.length; done += MASK_CHUNK_BYTES) {
    const bytes = Math.min(MASK_CHUNK_BYTES, source.length - done);
    chunk.set(bytes === source.length ? source : source.subarray(done, done + bytes));
    mask(bytes, keyWord | 0);
    target.set(bytes === MASK_CHUNK_BYTES ? chunk : chunk.subarray(0, bytes), at + done);
  }
}
