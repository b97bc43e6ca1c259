// Goal: sequence numbers have the real service's 56-digit layout, sort by ordinal within a
// shard, and decode to their shard and ordinal in O(1).
import { describe, expect, it } from 'vitest';
import {
  decodeSequenceNumber,
  encodeSequenceNumber,
  ORDINAL_STEP,
  sequenceBigInt,
} from '../../src/kinesis/sequence-number.js';

describe('sequence numbers', () => {
  it('decodes the StartingSequenceNumbers the AWS CLI documentation shows', () => {
    const fields = decodeSequenceNumber('49600871682957036442365024926191073437251060580128653314');
    expect(fields).toEqual({
      shardCreationSec: Date.parse('2019-10-28T21:12:45Z') / 1000,
      shardIndex: 0,
      ordinal: 0n,
      recordTimeSec: Date.parse('2019-10-28T21:12:45Z') / 1000,
    });
  });

  it('round-trips and has 56 digits', () => {
    const fields = {
      shardCreationSec: 1764000000,
      shardIndex: 17,
      ordinal: 123456789n,
      recordTimeSec: 1764000123,
    };
    const text = encodeSequenceNumber(fields);
    expect(text).toHaveLength(56);
    expect(decodeSequenceNumber(text)).toEqual(fields);
  });

  it('orders by ordinal before record time, and steps by ORDINAL_STEP', () => {
    const base = { shardCreationSec: 1764000000, shardIndex: 3, recordTimeSec: 1764009999 };
    const a = sequenceBigInt({ ...base, ordinal: 5n });
    const b = sequenceBigInt({ ...base, ordinal: 6n, recordTimeSec: 1764000001 });
    expect(b > a).toBe(true);
    expect(sequenceBigInt({ ...base, ordinal: 6n }) - a).toBe(ORDINAL_STEP);
  });

  it('rejects numbers that are not in the layout', () => {
    for (const text of ['0', '1', '12345', 'abc', '0123', '9'.repeat(56), '4'.repeat(130)]) {
      expect(decodeSequenceNumber(text), text).toBeUndefined();
    }
  });
});

describe('SequenceFormatter', () => {
  it('formats runs and jumps exactly as the BigInt encoding does', async () => {
    const { SequenceFormatter } = await import('../../src/kinesis/sequence-number.js');
    const formatter = new SequenceFormatter(1764000000, 7);
    const check = (ordinal: number, second: number) =>
      expect(formatter.format(ordinal, second)).toBe(
        encodeSequenceNumber({
          shardCreationSec: 1764000000,
          shardIndex: 7,
          ordinal: BigInt(ordinal),
          recordTimeSec: second,
        }),
      );
    for (let ordinal = 0; ordinal < 5000; ordinal++)
      check(ordinal, 1764000100 + Math.floor(ordinal / 1000));
    for (const ordinal of [2 ** 40, 2 ** 40 + 1, 2 ** 52, 2 ** 52 + 1, 3, 4, 10_000_000])
      check(ordinal, 1764009999);
  });
});

describe('SequenceFormatter, stepping over jumps', () => {
  it('formats the first record of each put, and any later number, as the BigInt encoding does', async () => {
    const { SequenceFormatter, MAX_SEQUENCE_DIGITS } =
      await import('../../src/kinesis/sequence-number.js');
    // Seeded, so a failure replays: a walk of acks (jumps of a put's record count), runs, pauses
    // of seconds, moves back (a reader going back to an older record), and jumps past the
    // limb arithmetic's bound (2^30), in every order.
    let seed = 0x5eed;
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (const [creation, index] of [
      [1764000000, 0],
      [1764000000, 15],
      [0, 0],
      [2 ** 35, 2 ** 31 - 1],
    ] as const) {
      const formatter = new SequenceFormatter(creation, index);
      const target = new Uint8Array(MAX_SEQUENCE_DIGITS);
      let ordinal = 0;
      let second = creation;
      for (let step = 0; step < 3000; step++) {
        const pick = random();
        if (pick < 0.4) ordinal += 1 + Math.floor(random() * 1000);
        else if (pick < 0.6) ordinal += 1;
        else if (pick < 0.7) second += 1 + Math.floor(random() * 100_000);
        else if (pick < 0.8) ordinal = Math.floor(random() * ordinal);
        else if (pick < 0.85) ordinal += 2 ** 30 + Math.floor(random() * 2 ** 40);
        else if (pick < 0.9) second = Math.max(creation, second - Math.floor(random() * 100));
        else if (pick < 0.95) second += 2 ** 30 + 1;
        // The record time field holds nine hex digits.
        if (second >= 16 ** 9) second = creation;
        const expected = encodeSequenceNumber({
          shardCreationSec: creation,
          shardIndex: index,
          ordinal: BigInt(ordinal),
          recordTimeSec: second,
        });
        // Both entry points share the limbs: alternate them.
        const text =
          step % 2 === 0
            ? formatter.format(ordinal, second)
            : Buffer.from(target.subarray(0, formatter.write(ordinal, second, target, 0))).toString(
                'latin1',
              );
        expect(text, `step ${step}: ordinal ${ordinal}, second ${second}`).toBe(expected);
      }
    }
  });
});

describe('SequenceFormatter.write', () => {
  it('writes the same digits as format, in place, for runs and jumps', async () => {
    const { SequenceFormatter, MAX_SEQUENCE_DIGITS } =
      await import('../../src/kinesis/sequence-number.js');
    const writer = new SequenceFormatter(1764000000, 3);
    const target = new Uint8Array(MAX_SEQUENCE_DIGITS + 8).fill(0x2a);
    const check = (ordinal: number, second: number) => {
      const end = writer.write(ordinal, second, target, 4);
      const expected = encodeSequenceNumber({
        shardCreationSec: 1764000000,
        shardIndex: 3,
        ordinal: BigInt(ordinal),
        recordTimeSec: second,
      });
      expect(Buffer.from(target.subarray(4, end)).toString('latin1')).toBe(expected);
      expect(target[3]).toBe(0x2a);
    };
    for (let ordinal = 0; ordinal < 3000; ordinal++)
      check(ordinal, 1764000100 + Math.floor(ordinal / 700));
    for (const ordinal of [2 ** 40, 2 ** 52 + 1, 0, 1, 10_000_000]) check(ordinal, 1764009999);
    // The smallest sequence number (shard 0, time 0, ordinal 0) still writes its digits.
    const zero = new SequenceFormatter(0, 0);
    const end = zero.write(0, 0, target, 0);
    expect(Buffer.from(target.subarray(0, end)).toString('latin1')).toBe(
      encodeSequenceNumber({ shardCreationSec: 0, shardIndex: 0, ordinal: 0n, recordTimeSec: 0 }),
    );
  });
});
