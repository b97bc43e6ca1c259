/**
 * Sequence numbers in the layout the real service uses (56 decimal digits, 47 hex digits):
 *
 *   '2' + hex9(shardCreationSec) + hex1(shardIndex & 0xf) + hex16(ordinal) + '00'
 *       + hex9(recordTimeSec) + hex8(shardIndex) + '2'
 *
 * The 64-bit per-shard ordinal sits above the record time, so numbers sort by ordinal within a
 * shard and decode to it in O(1): no search is needed for AT_SEQUENCE_NUMBER. A shard's
 * StartingSequenceNumber has ordinal 0 and record time 0, below every record's number (Kinesis
 * puts the creation time there, which a first record put in the same second would share); a
 * closed shard's EndingSequenceNumber has ordinal 0x7fffffffffffffff.
 */

const VERSION_DIGIT = '2';
const HEX_DIGITS = 47;
/** The ordinal field starts after '2', nine digits of creation time and one of shard index. */
const ORDINAL_SHIFT_BITS = BigInt(4 * (2 + 9 + 8 + 1));
export const ORDINAL_MAX = 0x7fffffffffffffffn;

export interface SequenceFields {
  shardCreationSec: number;
  shardIndex: number;
  ordinal: bigint;
  recordTimeSec: number;
}

function hex(value: number | bigint, digits: number): string {
  return value.toString(16).padStart(digits, '0');
}

export function encodeSequenceNumber(fields: SequenceFields): string {
  return sequenceBigInt(fields).toString();
}

export function sequenceBigInt(fields: SequenceFields): bigint {
  const text =
    VERSION_DIGIT +
    hex(fields.shardCreationSec, 9) +
    hex(fields.shardIndex & 0xf, 1) +
    hex(fields.ordinal, 16) +
    '00' +
    hex(fields.recordTimeSec, 9) +
    hex(fields.shardIndex, 8) +
    VERSION_DIGIT;
  return BigInt('0x' + text);
}

/**
 * Sequence numbers of consecutive ordinals differ only in the ordinal field, so a batch's
 * numbers are the first one plus a multiple of this step.
 */
export const ORDINAL_STEP = 1n << ORDINAL_SHIFT_BITS;
/** One second of record time: that field sits above eight hex digits of shard index and '2'. */
const RECORD_TIME_STEP = 1n << BigInt(4 * (8 + 1));

/** Decodes a sequence number, or returns undefined when it is not in Runnel's layout. */
export function decodeSequenceNumber(sequenceNumber: string): SequenceFields | undefined {
  if (!/^[1-9]\d{0,128}$/.test(sequenceNumber)) return undefined;
  const text = BigInt(sequenceNumber).toString(16);
  if (text.length !== HEX_DIGITS || text[0] !== VERSION_DIGIT) return undefined;
  if (text[HEX_DIGITS - 1] !== VERSION_DIGIT) return undefined;
  if (text.slice(27, 29) !== '00') return undefined;
  const shardIndex = Number.parseInt(text.slice(38, 46), 16);
  if (Number.parseInt(text.slice(10, 11), 16) !== (shardIndex & 0xf)) return undefined;
  return {
    shardCreationSec: Number.parseInt(text.slice(1, 10), 16),
    shardIndex,
    ordinal: BigInt('0x' + text.slice(11, 27)),
    recordTimeSec: Number.parseInt(text.slice(29, 38), 16),
  };
}

const LIMB = 10_000;
const LIMB_DIGITS = 4;
const LIMBS = 15;
/** Every limb value as its zero-padded decimal text, so formatting is lookups, not division. */
const LIMB_TEXT: string[] = Array.from({ length: LIMB }, (_, i) =>
  String(i).padStart(LIMB_DIGITS, '0'),
);
/** The same, as ASCII bytes: limb i's digits at [i * LIMB_DIGITS, (i + 1) * LIMB_DIGITS). */
const LIMB_BYTES = new TextEncoder().encode(LIMB_TEXT.join(''));
/** Digits a sequence number can have (LIMBS base-10^4 limbs). */
export const MAX_SEQUENCE_DIGITS = LIMBS * LIMB_DIGITS;

/**
 * Ordinal and second deltas up to this are added in limbs: a limb plus delta × step limb stays
 * an exact float64 integer (10^4 × 2^30 × 2 ≪ 2^53).
 */
const LIMB_DELTA_MAX = 2 ** 30;

/**
 * Formats sequence numbers quickly. A sequence number is linear in its fields: the next
 * record's is the previous one plus ORDINAL_STEP per ordinal and RECORD_TIME_STEP per second
 * later. So instead of a BigInt-to-decimal conversion per number (about 0.7 µs and ~2 KB of
 * garbage) the number is kept in base-10^4 limbs, advanced by those steps, and its text looked
 * up: one step for the next record of a run, a multiple for the first record of the next put
 * (an ack, a PutRecords result). Only the first number, and a move backwards, use BigInt.
 */
export class SequenceFormatter {
  private readonly limbs = new Int32Array(LIMBS);
  private lastOrdinal = -2;
  private lastSecond = -1;
  private static readonly stepLimbs = SequenceFormatter.toLimbs(ORDINAL_STEP);
  private static readonly secondLimbs = SequenceFormatter.toLimbs(RECORD_TIME_STEP);

  constructor(
    private readonly shardCreationSec: number,
    private readonly shardIndex: number,
  ) {}

  private static toLimbs(value: bigint, out = new Int32Array(LIMBS)): Int32Array {
    for (let i = 0; i < LIMBS; i++) {
      out[i] = Number(value % BigInt(LIMB));
      value /= BigInt(LIMB);
    }
    return out;
  }

  format(ordinal: number, recordTimeSec: number): string {
    const limbs = this.advance(ordinal, recordTimeSec);
    let top = LIMBS - 1;
    while (top > 0 && limbs[top] === 0) top--;
    let text = String(limbs[top]);
    for (let i = top - 1; i >= 0; i--) text += LIMB_TEXT[limbs[i]!]!;
    return text;
  }

  /**
   * Writes the sequence number as ASCII digits at `target[offset..]` and returns the offset
   * after it: the same digits `format` returns, with no string built (a response encoder
   * writes them straight into the body). `target` needs MAX_SEQUENCE_DIGITS bytes of room.
   */
  write(ordinal: number, recordTimeSec: number, target: Uint8Array, offset: number): number {
    const limbs = this.advance(ordinal, recordTimeSec);
    let top = LIMBS - 1;
    while (top > 0 && limbs[top] === 0) top--;
    let at = offset;
    // The leading limb without its leading zeros (a lone zero stays).
    const first = limbs[top]! * LIMB_DIGITS;
    let digit = 0;
    while (digit < LIMB_DIGITS - 1 && LIMB_BYTES[first + digit] === 0x30) digit++;
    for (; digit < LIMB_DIGITS; digit++) target[at++] = LIMB_BYTES[first + digit]!;
    for (let i = top - 1; i >= 0; i--) {
      const from = limbs[i]! * LIMB_DIGITS;
      target[at] = LIMB_BYTES[from]!;
      target[at + 1] = LIMB_BYTES[from + 1]!;
      target[at + 2] = LIMB_BYTES[from + 2]!;
      target[at + 3] = LIMB_BYTES[from + 3]!;
      at += LIMB_DIGITS;
    }
    return at;
  }

  /** The limbs of the sequence number of (ordinal, second): steps on from the last, or anew. */
  private advance(ordinal: number, recordTimeSec: number): Int32Array {
    const limbs = this.limbs;
    if (ordinal === this.lastOrdinal + 1 && recordTimeSec === this.lastSecond) {
      // The next record of a run: one step, a carry of at most 1.
      const step = SequenceFormatter.stepLimbs;
      let carry = 0;
      for (let i = 0; i < LIMBS; i++) {
        const sum = limbs[i]! + step[i]! + carry;
        carry = sum >= LIMB ? 1 : 0;
        limbs[i] = sum - carry * LIMB;
      }
    } else if (!this.jump(ordinal - this.lastOrdinal, recordTimeSec - this.lastSecond)) {
      const value = sequenceBigInt({
        shardCreationSec: this.shardCreationSec,
        shardIndex: this.shardIndex,
        ordinal: BigInt(ordinal),
        recordTimeSec,
      });
      SequenceFormatter.toLimbs(value, limbs);
    }
    this.lastOrdinal = ordinal;
    this.lastSecond = recordTimeSec;
    return limbs;
  }

  /**
   * Steps the limbs on by `ordinals` ordinals and `seconds` seconds of record time; false, with
   * nothing changed, for a move back, a jump past LIMB_DELTA_MAX, or no number yet.
   */
  private jump(ordinals: number, seconds: number): boolean {
    if (this.lastSecond < 0 || ordinals < 0 || seconds < 0) return false;
    if (ordinals > LIMB_DELTA_MAX || seconds > LIMB_DELTA_MAX) return false;
    const limbs = this.limbs;
    const step = SequenceFormatter.stepLimbs;
    const second = SequenceFormatter.secondLimbs;
    let carry = 0;
    for (let i = 0; i < LIMBS; i++) {
      const sum = limbs[i]! + ordinals * step[i]! + seconds * second[i]! + carry;
      carry = Math.floor(sum / LIMB);
      limbs[i] = sum - carry * LIMB;
    }
    return true;
  }
}
