/**
 * Partition-key hashing, exactly as Kinesis does it: the hash key of a record is the MD5 digest
 * of the UTF-8 partition key read as an unsigned big-endian 128-bit integer, unless the record
 * carries an ExplicitHashKey. Hash keys are handled as four big-endian 32-bit words (`HashWords`,
 * word 0 most significant) so routing compares integers, never BigInts or strings.
 *
 * MD5 is the largest single per-record cost of ingest. `node:crypto` spends most of its time per
 * call (object creation, native transition), not per byte, so partition keys are hashed by the
 * plain-JavaScript MD5 below, which works on bytes in place and allocates nothing. The test
 * checks it against `node:crypto` for every length 0-300 and random inputs. Where a whole batch
 * of keys is hashed (a shard worker's check, the HTTP fast path), md5-lanes.ts hashes them four
 * at a time in WebAssembly SIMD lanes, and uses this one for keys longer than one block.
 */

export const HASH_KEY_MAX = (1n << 128n) - 1n;
export const HASH_WORDS = 4;

const MD5_BLOCK_BYTES = 64;
const MD5_LENGTH_FIELD_BYTES = 8;

const block = new Int32Array(16);
const blockBytes = new Uint8Array(block.buffer);
const state = new Int32Array(4);

/**
 * One MD5 compression of the block in `block` into `state`, fully unrolled: the per-round
 * branches and table lookups of a loop cost more than the arithmetic for short keys. The
 * constants are RFC 1321's (per-round shifts, and floor(abs(sin(i + 1)) * 2^32)); the tests
 * compare the result with node:crypto for every length from 0 to 300 bytes.
 */
function md5BlockUnrolled(): void {
  const w0 = block[0]!,
    w1 = block[1]!,
    w2 = block[2]!,
    w3 = block[3]!;
  const w4 = block[4]!,
    w5 = block[5]!,
    w6 = block[6]!,
    w7 = block[7]!;
  const w8 = block[8]!,
    w9 = block[9]!,
    w10 = block[10]!,
    w11 = block[11]!;
  const w12 = block[12]!,
    w13 = block[13]!,
    w14 = block[14]!,
    w15 = block[15]!;
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let t: number;
  t = (a + ((b & c) | (~b & d)) + -680876936 + w0) | 0;
  a = (b + ((t << 7) | (t >>> 25))) | 0;
  t = (d + ((a & b) | (~a & c)) + -389564586 + w1) | 0;
  d = (a + ((t << 12) | (t >>> 20))) | 0;
  t = (c + ((d & a) | (~d & b)) + 606105819 + w2) | 0;
  c = (d + ((t << 17) | (t >>> 15))) | 0;
  t = (b + ((c & d) | (~c & a)) + -1044525330 + w3) | 0;
  b = (c + ((t << 22) | (t >>> 10))) | 0;
  t = (a + ((b & c) | (~b & d)) + -176418897 + w4) | 0;
  a = (b + ((t << 7) | (t >>> 25))) | 0;
  t = (d + ((a & b) | (~a & c)) + 1200080426 + w5) | 0;
  d = (a + ((t << 12) | (t >>> 20))) | 0;
  t = (c + ((d & a) | (~d & b)) + -1473231341 + w6) | 0;
  c = (d + ((t << 17) | (t >>> 15))) | 0;
  t = (b + ((c & d) | (~c & a)) + -45705983 + w7) | 0;
  b = (c + ((t << 22) | (t >>> 10))) | 0;
  t = (a + ((b & c) | (~b & d)) + 1770035416 + w8) | 0;
  a = (b + ((t << 7) | (t >>> 25))) | 0;
  t = (d + ((a & b) | (~a & c)) + -1958414417 + w9) | 0;
  d = (a + ((t << 12) | (t >>> 20))) | 0;
  t = (c + ((d & a) | (~d & b)) + -42063 + w10) | 0;
  c = (d + ((t << 17) | (t >>> 15))) | 0;
  t = (b + ((c & d) | (~c & a)) + -1990404162 + w11) | 0;
  b = (c + ((t << 22) | (t >>> 10))) | 0;
  t = (a + ((b & c) | (~b & d)) + 1804603682 + w12) | 0;
  a = (b + ((t << 7) | (t >>> 25))) | 0;
  t = (d + ((a & b) | (~a & c)) + -40341101 + w13) | 0;
  d = (a + ((t << 12) | (t >>> 20))) | 0;
  t = (c + ((d & a) | (~d & b)) + -1502002290 + w14) | 0;
  c = (d + ((t << 17) | (t >>> 15))) | 0;
  t = (b + ((c & d) | (~c & a)) + 1236535329 + w15) | 0;
  b = (c + ((t << 22) | (t >>> 10))) | 0;
  t = (a + ((d & b) | (~d & c)) + -165796510 + w1) | 0;
  a = (b + ((t << 5) | (t >>> 27))) | 0;
  t = (d + ((c & a) | (~c & b)) + -1069501632 + w6) | 0;
  d = (a + ((t << 9) | (t >>> 23))) | 0;
  t = (c + ((b & d) | (~b & a)) + 643717713 + w11) | 0;
  c = (d + ((t << 14) | (t >>> 18))) | 0;
  t = (b + ((a & c) | (~a & d)) + -373897302 + w0) | 0;
  b = (c + ((t << 20) | (t >>> 12))) | 0;
  t = (a + ((d & b) | (~d & c)) + -701558691 + w5) | 0;
  a = (b + ((t << 5) | (t >>> 27))) | 0;
  t = (d + ((c & a) | (~c & b)) + 38016083 + w10) | 0;
  d = (a + ((t << 9) | (t >>> 23))) | 0;
  t = (c + ((b & d) | (~b & a)) + -660478335 + w15) | 0;
  c = (d + ((t << 14) | (t >>> 18))) | 0;
  t = (b + ((a & c) | (~a & d)) + -405537848 + w4) | 0;
  b = (c + ((t << 20) | (t >>> 12))) | 0;
  t = (a + ((d & b) | (~d & c)) + 568446438 + w9) | 0;
  a = (b + ((t << 5) | (t >>> 27))) | 0;
  t = (d + ((c & a) | (~c & b)) + -1019803690 + w14) | 0;
  d = (a + ((t << 9) | (t >>> 23))) | 0;
  t = (c + ((b & d) | (~b & a)) + -187363961 + w3) | 0;
  c = (d + ((t << 14) | (t >>> 18))) | 0;
  t = (b + ((a & c) | (~a & d)) + 1163531501 + w8) | 0;
  b = (c + ((t << 20) | (t >>> 12))) | 0;
  t = (a + ((d & b) | (~d & c)) + -1444681467 + w13) | 0;
  a = (b + ((t << 5) | (t >>> 27))) | 0;
  t = (d + ((c & a) | (~c & b)) + -51403784 + w2) | 0;
  d = (a + ((t << 9) | (t >>> 23))) | 0;
  t = (c + ((b & d) | (~b & a)) + 1735328473 + w7) | 0;
  c = (d + ((t << 14) | (t >>> 18))) | 0;
  t = (b + ((a & c) | (~a & d)) + -1926607734 + w12) | 0;
  b = (c + ((t << 20) | (t >>> 12))) | 0;
  t = (a + (b ^ c ^ d) + -378558 + w5) | 0;
  a = (b + ((t << 4) | (t >>> 28))) | 0;
  t = (d + (a ^ b ^ c) + -2022574463 + w8) | 0;
  d = (a + ((t << 11) | (t >>> 21))) | 0;
  t = (c + (d ^ a ^ b) + 1839030562 + w11) | 0;
  c = (d + ((t << 16) | (t >>> 16))) | 0;
  t = (b + (c ^ d ^ a) + -35309556 + w14) | 0;
  b = (c + ((t << 23) | (t >>> 9))) | 0;
  t = (a + (b ^ c ^ d) + -1530992060 + w1) | 0;
  a = (b + ((t << 4) | (t >>> 28))) | 0;
  t = (d + (a ^ b ^ c) + 1272893353 + w4) | 0;
  d = (a + ((t << 11) | (t >>> 21))) | 0;
  t = (c + (d ^ a ^ b) + -155497632 + w7) | 0;
  c = (d + ((t << 16) | (t >>> 16))) | 0;
  t = (b + (c ^ d ^ a) + -1094730640 + w10) | 0;
  b = (c + ((t << 23) | (t >>> 9))) | 0;
  t = (a + (b ^ c ^ d) + 681279174 + w13) | 0;
  a = (b + ((t << 4) | (t >>> 28))) | 0;
  t = (d + (a ^ b ^ c) + -358537222 + w0) | 0;
  d = (a + ((t << 11) | (t >>> 21))) | 0;
  t = (c + (d ^ a ^ b) + -722521979 + w3) | 0;
  c = (d + ((t << 16) | (t >>> 16))) | 0;
  t = (b + (c ^ d ^ a) + 76029189 + w6) | 0;
  b = (c + ((t << 23) | (t >>> 9))) | 0;
  t = (a + (b ^ c ^ d) + -640364487 + w9) | 0;
  a = (b + ((t << 4) | (t >>> 28))) | 0;
  t = (d + (a ^ b ^ c) + -421815835 + w12) | 0;
  d = (a + ((t << 11) | (t >>> 21))) | 0;
  t = (c + (d ^ a ^ b) + 530742520 + w15) | 0;
  c = (d + ((t << 16) | (t >>> 16))) | 0;
  t = (b + (c ^ d ^ a) + -995338651 + w2) | 0;
  b = (c + ((t << 23) | (t >>> 9))) | 0;
  t = (a + (c ^ (b | ~d)) + -198630844 + w0) | 0;
  a = (b + ((t << 6) | (t >>> 26))) | 0;
  t = (d + (b ^ (a | ~c)) + 1126891415 + w7) | 0;
  d = (a + ((t << 10) | (t >>> 22))) | 0;
  t = (c + (a ^ (d | ~b)) + -1416354905 + w14) | 0;
  c = (d + ((t << 15) | (t >>> 17))) | 0;
  t = (b + (d ^ (c | ~a)) + -57434055 + w5) | 0;
  b = (c + ((t << 21) | (t >>> 11))) | 0;
  t = (a + (c ^ (b | ~d)) + 1700485571 + w12) | 0;
  a = (b + ((t << 6) | (t >>> 26))) | 0;
  t = (d + (b ^ (a | ~c)) + -1894986606 + w3) | 0;
  d = (a + ((t << 10) | (t >>> 22))) | 0;
  t = (c + (a ^ (d | ~b)) + -1051523 + w10) | 0;
  c = (d + ((t << 15) | (t >>> 17))) | 0;
  t = (b + (d ^ (c | ~a)) + -2054922799 + w1) | 0;
  b = (c + ((t << 21) | (t >>> 11))) | 0;
  t = (a + (c ^ (b | ~d)) + 1873313359 + w8) | 0;
  a = (b + ((t << 6) | (t >>> 26))) | 0;
  t = (d + (b ^ (a | ~c)) + -30611744 + w15) | 0;
  d = (a + ((t << 10) | (t >>> 22))) | 0;
  t = (c + (a ^ (d | ~b)) + -1560198380 + w6) | 0;
  c = (d + ((t << 15) | (t >>> 17))) | 0;
  t = (b + (d ^ (c | ~a)) + 1309151649 + w13) | 0;
  b = (c + ((t << 21) | (t >>> 11))) | 0;
  t = (a + (c ^ (b | ~d)) + -145523070 + w4) | 0;
  a = (b + ((t << 6) | (t >>> 26))) | 0;
  t = (d + (b ^ (a | ~c)) + -1120210379 + w11) | 0;
  d = (a + ((t << 10) | (t >>> 22))) | 0;
  t = (c + (a ^ (d | ~b)) + 718787259 + w2) | 0;
  c = (d + ((t << 15) | (t >>> 17))) | 0;
  t = (b + (d ^ (c | ~a)) + -343485551 + w9) | 0;
  b = (c + ((t << 21) | (t >>> 11))) | 0;
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
}

/** Zeroes the block word by word: cheaper for 64 bytes than a call to TypedArray#fill. */
function clearBlock(): void {
  for (let i = 0; i < 16; i++) block[i] = 0;
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
    md5BlockUnrolled();
    position += MD5_BLOCK_BYTES;
  }
  const tail = end - position;
  clearBlock();
  for (let i = 0; i < tail; i++) blockBytes[i] = bytes[position + i]!;
  blockBytes[tail] = 0x80;
  if (tail >= MD5_BLOCK_BYTES - MD5_LENGTH_FIELD_BYTES) {
    md5BlockUnrolled();
    clearBlock();
  }
  const bits = length * 8;
  block[14] = bits | 0;
  block[15] = Math.floor(bits / 2 ** 32) | 0;
  md5BlockUnrolled();
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

/** The API model's pattern of an ExplicitHashKey: a decimal of at most 39 digits, no leading zero. */
export const EXPLICIT_HASH_KEY_PATTERN = '0|([1-9]\\d{0,38})';
const EXPLICIT_HASH_KEY_FORM = new RegExp(`^(${EXPLICIT_HASH_KEY_PATTERN})$`);

/** Whether an ExplicitHashKey has the model's form (its value may still exceed 2^128 - 1). */
export function isExplicitHashKeyForm(value: string): boolean {
  return EXPLICIT_HASH_KEY_FORM.test(value);
}

/**
 * What PutRecords's model check says of record `record` (0-based) when its ExplicitHashKey
 * `value` does not have the model's form (src/kinesis/validation.ts words it the same).
 */
export function explicitHashKeyFormMessage(value: string, record: number): string {
  return (
    `1 validation error detected: Value '${value}' at 'records.${record + 1}.member.explicitHashKey' failed to ` +
    `satisfy constraint: Member must satisfy regular expression pattern: ${EXPLICIT_HASH_KEY_PATTERN}`
  );
}

/** Parses an ExplicitHashKey; undefined when it is not a decimal in [0, 2^128 - 1]. */
export function parseExplicitHashKey(value: string): bigint | undefined {
  if (!EXPLICIT_HASH_KEY_FORM.test(value)) return undefined;
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
