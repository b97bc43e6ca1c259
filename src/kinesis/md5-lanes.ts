/**
 * MD5 of many short partition keys at once, four keys in the four 32-bit lanes of WebAssembly
 * SIMD vectors: one MD5 computation advances four independent digests. A shard worker checking
 * a 1,000-record batch hashes every key; done one key at a time in JavaScript (hash-key.ts
 * md5Words) that was half of the check's time.
 *
 * The module is generated here, instruction by instruction, from RFC 1321's tables (no binary is
 * shipped or built). Its memory holds, from 0, up to LANE_GROUPS_MAX groups of four padded
 * one-block messages with their 32-bit words interleaved (word w of lane l at byte 16w + 4l of
 * the group's 256), and from OUT_OFFSET each group's digest state (a, b, c, d, each a vector of
 * the four lanes). The JavaScript side writes each key's bytes, its 0x80 terminator and its bit
 * length into its lane, and reads the digests back as hash words.
 *
 * Keys of up to ONE_BLOCK_KEY_BYTES_MAX bytes fit one padded block, as partition keys usually
 * do; a longer one (up to 256 characters of UTF-8) is hashed at once by md5Words. The module is
 * compiled once per thread, and each KeyHasher has an instance, and so a memory, of its own.
 * Where WebAssembly SIMD cannot be compiled, every key is hashed at once by md5Words (SIMD_LANES
 * is then false).
 */
import {
  CodeWriter,
  OP,
  SIMD,
  TYPE,
  WASM_PAGE_BYTES,
  compileModule,
  instantiate,
  oneFunctionModule,
} from '../wasm/module-encoding.js';
import { HASH_WORDS, md5Words } from './hash-key.js';

/** The longest key whose padded message is one 64-byte block (64 - 1 - 8). */
export const ONE_BLOCK_KEY_BYTES_MAX = 55;
const LANES = 4;
const GROUP_BYTES = 64 * LANES;
/** Groups hashed per call into WebAssembly: 512 keys. */
const LANE_GROUPS_MAX = 128;
const OUT_OFFSET = LANE_GROUPS_MAX * GROUP_BYTES;
const OUT_GROUP_BYTES = 16 * LANES;
const MEMORY_PAGES = Math.ceil((OUT_OFFSET + LANE_GROUPS_MAX * OUT_GROUP_BYTES) / WASM_PAGE_BYTES);
/** Where a lane's bit length goes: word 14 of its block. */
const LENGTH_WORD = 14;

// ---- the WebAssembly module ---------------------------------------------------------------------

/** RFC 1321: the shift of each of the 64 steps, and the message word each step adds. */
const SHIFTS = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
function shiftOf(step: number): number {
  return SHIFTS[(step >> 4) * 4 + (step & 3)]!;
}
function wordOf(step: number): number {
  const round = step >> 4;
  if (round === 0) return step;
  if (round === 1) return (5 * step + 1) & 15;
  if (round === 2) return (3 * step + 5) & 15;
  return (7 * step) & 15;
}
/** floor(abs(sin(step + 1)) * 2^32), as RFC 1321 defines its table. */
function constantOf(step: number): number {
  return Math.floor(Math.abs(Math.sin(step + 1)) * 2 ** 32) >>> 0;
}
const INITIAL_STATE = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];

/** `md5x4(groups)`: the digests of `groups` groups of four one-block messages. */
function md5x4Code(): number[] {
  // Locals: 0 = groups (the parameter), 1 = g, 2 = g's byte offset, then 16 message words,
  // the four state vectors and one temporary.
  const GROUPS = 0,
    G = 1,
    BASE = 2,
    W = 3,
    STATE = W + 16,
    T = STATE + 4;
  const out = new CodeWriter();
  out.loopBelow(G, GROUPS, 1, () => {
    out.get(G);
    out.i32(Math.log2(GROUP_BYTES));
    out.op(OP.i32Shl);
    out.set(BASE);
    for (let w = 0; w < 16; w++) {
      out.get(BASE);
      out.load(w * 16);
      out.set(W + w);
    }
    for (let r = 0; r < 4; r++) {
      out.splat(INITIAL_STATE[r]!);
      out.set(STATE + r);
    }
    // The roles a, b, c, d move one local along after every step; 64 steps bring them back.
    let [a, b, c, d] = [STATE, STATE + 1, STATE + 2, STATE + 3];
    for (let step = 0; step < 64; step++) {
      // t = a + K + W + f(b, c, d), with f last: b was computed by the step before, and the
      // sum of the rest does not wait for it.
      out.get(W + wordOf(step));
      out.splat(constantOf(step));
      out.simd(SIMD.i32x4Add);
      out.get(a);
      out.simd(SIMD.i32x4Add);
      const round = step >> 4;
      if (round === 0) {
        // F = (b & c) | (~b & d)
        out.get(c);
        out.get(d);
        out.get(b);
        out.simd(SIMD.bitselect);
      } else if (round === 1) {
        // G = (b & d) | (c & ~d)
        out.get(b);
        out.get(c);
        out.get(d);
        out.simd(SIMD.bitselect);
      } else if (round === 2) {
        // H = b ^ c ^ d
        out.get(b);
        out.get(c);
        out.simd(SIMD.xor);
        out.get(d);
        out.simd(SIMD.xor);
      } else {
        // I = c ^ (b | ~d)
        out.get(c);
        out.get(b);
        out.get(d);
        out.simd(SIMD.not);
        out.simd(SIMD.or);
        out.simd(SIMD.xor);
      }
      out.simd(SIMD.i32x4Add);
      // a = b + rotl(t, s)
      const shift = shiftOf(step);
      out.tee(T);
      out.i32(shift);
      out.simd(SIMD.i32x4Shl);
      out.get(T);
      out.i32(32 - shift);
      out.simd(SIMD.i32x4ShrU);
      out.simd(SIMD.or);
      out.get(b);
      out.simd(SIMD.i32x4Add);
      out.set(a);
      [a, b, c, d] = [d, a, b, c];
    }
    // The digest of each lane, as hash words: the state plus the initial state, each word's bytes
    // reversed (the hash key reads the digest big-endian) and the 4 x 4 words transposed, so that
    // a lane's four words lie together. The message-word locals are free again and hold the
    // intermediates.
    for (let r = 0; r < 4; r++) {
      out.get(STATE + r);
      out.splat(INITIAL_STATE[r]!);
      out.simd(SIMD.i32x4Add);
      out.set(STATE + r);
    }
    // Byte indexes into the pair (x, y) of a shuffle: word w of x is bytes 4w..4w+3, of y 16+4w...
    const reversedWord = (vector: number, word: number) =>
      [3, 2, 1, 0].map((i) => vector * 16 + word * 4 + i);
    const word = (vector: number, w: number) => [0, 1, 2, 3].map((i) => vector * 16 + w * 4 + i);
    const shuffle = (x: number, y: number, lanes: number[]) => {
      out.get(x);
      out.get(y);
      out.simd(SIMD.shuffle);
      out.op(...lanes);
    };
    const [A, B, C, D] = [STATE, STATE + 1, STATE + 2, STATE + 3];
    // [a0 b0 a1 b1], [a2 b2 a3 b3], [c0 d0 c1 d1], [c2 d2 c3 d3], bytes reversed.
    for (const [x, y, first, target] of [
      [A, B, 0, W],
      [A, B, 2, W + 1],
      [C, D, 0, W + 2],
      [C, D, 2, W + 3],
    ] as const) {
      shuffle(x, y, [
        ...reversedWord(0, first),
        ...reversedWord(1, first),
        ...reversedWord(0, first + 1),
        ...reversedWord(1, first + 1),
      ]);
      out.set(target);
    }
    // Lane l: [a_l b_l c_l d_l] at OUT_OFFSET + group * OUT_GROUP_BYTES + 16 l.
    for (let lane = 0; lane < LANES; lane++) {
      out.get(G);
      out.i32(Math.log2(OUT_GROUP_BYTES));
      out.op(OP.i32Shl);
      const ab = W + (lane >> 1);
      const cd = W + 2 + (lane >> 1);
      const half = (lane & 1) * 2;
      shuffle(ab, cd, [
        ...word(0, half),
        ...word(0, half + 1),
        ...word(1, half),
        ...word(1, half + 1),
      ]);
      out.store(OUT_OFFSET + lane * 16);
    }
  });
  return out.code;
}

function md5x4Module(): Uint8Array {
  return oneFunctionModule({
    exportName: 'md5x4',
    params: 1,
    memoryPages: MEMORY_PAGES,
    // The parameter (groups) is local 0; then g and its byte offset, 16 message words, the four
    // state vectors and one temporary.
    locals: [
      [2, TYPE.i32],
      [16 + 4 + 1, TYPE.v128],
    ],
    code: md5x4Code(),
  });
}

/**
 * Compiled once per thread; every KeyHasher has an instance, and so lanes, of its own. Undefined
 * where WebAssembly SIMD is not available (a CPU or runtime without it): hashers then hash every
 * key one at a time with md5Words, with the same results.
 */
const md5x4Compiled = compileModule(md5x4Module());

/** Whether keys are hashed in SIMD lanes here (the benchmarks say which). */
export const SIMD_LANES = md5x4Compiled !== undefined;

// ---- the JavaScript side --------------------------------------------------------------------------

/**
 * Collects keys and hashes them four at a time: `add` puts a key in the next lane (or hashes a
 * long one at once), `flush` hashes what is pending and writes each key's hash words where its
 * `add` asked. Results are only written by `flush` (or by a full set of groups during `add`).
 * Keys added for consecutive places of one array (a batch's records, in order) have their hash
 * words copied there in one piece; a key that breaks the run has its place kept.
 */
export class KeyHasher {
  private readonly md5x4: (groups: number) => void;
  /** The lanes' words; the memory never grows, so these views stay valid. */
  private readonly laneWords: Uint32Array;
  private readonly digestWords: Uint32Array;
  private pending = 0;
  /** Where the pending keys' hash words go while they go to consecutive places of one array. */
  private runOut: Uint32Array | undefined;
  private runOffset = 0;
  /** The first pending key outside that run; its place and every later one's are kept. */
  private runEnd = -1;
  private readonly targets: Array<Uint32Array | undefined> = new Array(LANE_GROUPS_MAX * LANES);
  private readonly targetOffsets = new Int32Array(LANE_GROUPS_MAX * LANES);
  /** Per slot, the words before the bit length its last key wrote non-zero. */
  private readonly wordsUsed = new Uint8Array(LANE_GROUPS_MAX * LANES);
  /** Longer keys are hashed at once: ONE_BLOCK_KEY_BYTES_MAX with lanes, every key without. */
  private readonly laneKeyBytesMax: number;

  /** `lanes` false (or no SIMD here) hashes every key at once, as md5Words does. */
  constructor(lanes = SIMD_LANES) {
    if (lanes && md5x4Compiled !== undefined) {
      const { run, memory } = instantiate<(groups: number) => void>(md5x4Compiled, 'md5x4');
      this.md5x4 = run;
      this.laneWords = new Uint32Array(memory, 0, OUT_OFFSET / 4);
      this.digestWords = new Uint32Array(
        memory,
        OUT_OFFSET,
        (LANE_GROUPS_MAX * OUT_GROUP_BYTES) / 4,
      );
      this.laneKeyBytesMax = ONE_BLOCK_KEY_BYTES_MAX;
    } else {
      this.md5x4 = () => undefined;
      this.laneWords = new Uint32Array(0);
      this.digestWords = new Uint32Array(0);
      this.laneKeyBytesMax = -1;
    }
  }

  /** Queues the MD5 of `bytes[start, start + length)` for `out[outOffset..outOffset + 4)`. */
  add(bytes: Uint8Array, start: number, length: number, out: Uint32Array, outOffset: number): void {
    if (length > this.laneKeyBytesMax) {
      md5Words(bytes, start, length, out, outOffset);
      return;
    }
    const slot = this.pending;
    const laneWords = this.laneWords;
    // Word w of this lane's block is laneWords[base + w * LANES]: the key's words, the one with
    // its end and the 0x80 terminator, zeros, the bit length (word 14) and zero (word 15, never
    // written: the memory starts zeroed). Of the zeros, only words the slot's last key used are
    // cleared.
    const base = (slot >> 2) * (GROUP_BYTES / 4) + (slot & (LANES - 1));
    let word = 0;
    let i = 0;
    for (let p = start; i + 4 <= length; i += 4, p += 4, word++) {
      laneWords[base + word * LANES] =
        bytes[p]! | (bytes[p + 1]! << 8) | (bytes[p + 2]! << 16) | (bytes[p + 3]! << 24);
    }
    let last = 0x80 << ((length - i) * 8);
    for (let j = 0; i + j < length; j++) last |= bytes[start + i + j]! << (j * 8);
    laneWords[base + word * LANES] = last;
    const used = this.wordsUsed[slot]!;
    this.wordsUsed[slot] = ++word;
    for (; word < used; word++) laneWords[base + word * LANES] = 0;
    laneWords[base + LENGTH_WORD * LANES] = length * 8;
    if (slot === 0) {
      this.runOut = out;
      this.runOffset = outOffset;
      this.runEnd = -1;
    } else if (
      this.runEnd < 0 &&
      (out !== this.runOut || outOffset !== this.runOffset + slot * HASH_WORDS)
    ) {
      this.runEnd = slot;
    }
    if (this.runEnd >= 0) {
      this.targets[slot] = out;
      this.targetOffsets[slot] = outOffset;
    }
    this.pending = slot + 1;
    if (this.pending === LANE_GROUPS_MAX * LANES) this.flush();
  }

  /** Hashes every pending key and writes its hash words. */
  flush(): void {
    const count = this.pending;
    if (count === 0) return;
    this.md5x4((count + LANES - 1) >> 2);
    // The module leaves each key's hash words at HASH_WORDS * its slot, in order.
    const digestWords = this.digestWords;
    const run = this.runEnd < 0 ? count : this.runEnd;
    this.runOut!.set(digestWords.subarray(0, run * HASH_WORDS), this.runOffset);
    for (let slot = run; slot < count; slot++) {
      const out = this.targets[slot]!;
      const at = this.targetOffsets[slot]!;
      for (let word = 0; word < HASH_WORDS; word++)
        out[at + word] = digestWords[slot * HASH_WORDS + word]!;
      this.targets[slot] = undefined;
    }
    this.runOut = undefined;
    this.pending = 0;
  }

  /** Drops what is pending without hashing it. */
  discard(): void {
    if (this.runEnd >= 0) this.targets.fill(undefined, this.runEnd, this.pending);
    this.runOut = undefined;
    this.pending = 0;
  }
}
