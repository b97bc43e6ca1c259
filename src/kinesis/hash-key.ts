/**
 * Partition-key hashing, exactly as Kinesis does it: the hash key of a record is the MD5 digest
 * of the UTF-8 partition key read as an unsigned big-endian 128-bit integer, unless the record
 * carries an ExplicitHashKey. Hash keys are handled as four big-endian 32-bit words (`HashWords`,
 * word 0 most significant) so routing compares integers, never BigInts or strings.
 *
 * MD5 is the largest single per-record cost of ingest. `node:crypto` spends most of its time per
 * call (object creation, native transition), not per byte, so partition keys are hashed by the
 * plain-JavaScript MD5 below, which works on bytes in place and allocates nothing. The test
 * checks it against `node:crypto` for every length 0-300 and random inputs.
 */

export const HASH_KEY_MAX = (1n << 128n) - 1n;
export const HASH_WORDS = 4;

const MD5_BLOCK_BYTES = 64;
const MD5_LENGTH_FIELD_BYTES = 8;

// Per-round shift amounts and the constants floor(abs(sin(i + 1)) * 2^32).
const S = [
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14,
  20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10,
  15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
];
const K = new Int32Array(64);
for (let i = 0; i < 64; i++) K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0;
const G = new Uint8Array(64);
for (let i = 0; i < 64; i++) {
  if (i < 16) G[i] = i;
  else if (i < 32) G[i] = (5 * i + 1) % 16;
  else if (i < 48) G[i] = (3 * i + 5) % 16;
  else G[i] = (7 * i) % 16;
}

const block = new Int32Array(16);
const blockBytes = new Uint8Array(block.buffer);
const state = new Int32Array(4);

function md5Block(): void {
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  for (let i = 0; i < 64; i++) {
    let f: number;
    if (i < 16) f = (b & c) | (~b & d);
    else if (i < 32) f = (d & b) | (~d & c);
    else if (i < 48) f = b ^ c ^ d;
    else f = c ^ (b | ~d);
    const sum = (a + f + K[i]! + block[G[i]!]!) | 0;
    const s = S[i]!;
    a = d;
    d = c;
    c = b;
    b = (b + ((sum << s) | (sum >>> (32 - s)))) | 0;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
}

function bswap(x: number): number {
  return (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
}

/**
 * MD5 of `bytes[start, start + length)` written into `out[outOffset..outOffset+4)` as the
 * digest's big-endian 32-bit words (the 128-bit hash key, most significant word first).
 * Relies on a little-endian host for the block view, as every platform Node runs on is.
 */
export function md5Words(
  bytes: Uint8Array,
  start: number,
  length: number,
  out: Uint32Array,
  outOffset: number,
): void {
  state[0] = 0x67452301;
  state[1] = 0xefcdab89 | 0;
  state[2] = 0x98badcfe | 0;
  state[3] = 0x10325476;
  let position = start;
  const end = start + length;
  while (end - position >= MD5_BLOCK_BYTES) {
    blockBytes.set(bytes.subarray(position, position + MD5_BLOCK_BYTES));
    md5Block();
    position += MD5_BLOCK_BYTES;
  }
  const tail = end - position;
  blockBytes.fill(0);
  for (let i = 0; i < tail; i++) blockBytes[i] = bytes[position + i]!;
  blockBytes[tail] = 0x80;
  if (tail >= MD5_BLOCK_BYTES - MD5_LENGTH_FIELD_BYTES) {
    md5Block();
    blockBytes.fill(0);
  }
  const bits = length * 8;
  block[14] = bits | 0;
  block[15] = Math.floor(bits / 2 ** 32) | 0;
  md5Block();
  out[outOffset] = bswap(state[0]!);
  out[outOffset + 1] = bswap(state[1]!);
  out[outOffset + 2] = bswap(state[2]!);
  out[outOffset + 3] = bswap(state[3]!);
}

const keyScratch = new Uint8Array(1024 * 4);
const encoder = new TextEncoder();

/** Hash words of a partition key given as a string. */
export function partitionKeyWords(partitionKey: string, out: Uint32Array, outOffset = 0): void {
  const { written } = encoder.encodeInto(partitionKey, keyScratch);
  md5Words(keyScratch, 0, written, out, outOffset);
}

/** The 128-bit hash key of a partition key, as Kinesis computes it. */
export function hashPartitionKey(partitionKey: string): bigint {
  const words = new Uint32Array(HASH_WORDS);
  partitionKeyWords(partitionKey, words);
  return wordsToBigInt(words, 0);
}

export function wordsToBigInt(words: Uint32Array, offset: number): bigint {
  return (
    (BigInt(words[offset]!) << 96n) |
    (BigInt(words[offset + 1]!) << 64n) |
    (BigInt(words[offset + 2]!) << 32n) |
    BigInt(words[offset + 3]!)
  );
}

export function bigIntToWords(value: bigint, out: Uint32Array, offset: number): void {
  out[offset] = Number((value >> 96n) & 0xffffffffn);
  out[offset + 1] = Number((value >> 64n) & 0xffffffffn);
  out[offset + 2] = Number((value >> 32n) & 0xffffffffn);
  out[offset + 3] = Number(value & 0xffffffffn);
}

/** Compares hash words `a[ai..]` with `b[bi..]`: negative, zero or positive. */
export function compareWords(a: Uint32Array, ai: number, b: Uint32Array, bi: number): number {
  for (let i = 0; i < HASH_WORDS; i++) {
    const difference = a[ai + i]! - b[bi + i]!;
    if (difference !== 0) return difference;
  }
  return 0;
}

/** Parses an ExplicitHashKey; undefined when it is not a decimal in [0, 2^128 - 1]. */
export function parseExplicitHashKey(value: string): bigint | undefined {
  if (!/^(0|[1-9]\d{0,38})$/.test(value)) return undefined;
  const key = BigInt(value);
  return key <= HASH_KEY_MAX ? key : undefined;
}

/**
 * The hash-key ranges CreateStream gives N shards: step = floor(2^128 / N); shard i starts at
 * step * i and ends one before the next start; the last shard ends at 2^128 - 1.
 */
export function evenHashRanges(shardCount: number): Array<{ start: bigint; end: bigint }> {
  const step = (1n << 128n) / BigInt(shardCount);
  const ranges: Array<{ start: bigint; end: bigint }> = [];
  for (let i = 0; i < shardCount; i++) {
    const start = step * BigInt(i);
    const end = i === shardCount - 1 ? HASH_KEY_MAX : step * BigInt(i + 1) - 1n;
    ranges.push({ start, end });
  }
  return ranges;
}
