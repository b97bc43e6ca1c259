/**
 * Goal: the CBOR 1.1 request decoder (src/server/cbor-codec.ts) meets any bytes a client can send
 * with a value or a SerializationException, and with nothing else: no RangeError, no TypeError,
 * no hang, and no allocation sized by what a header claims rather than by the bytes that came (a
 * byte string declaring 2^60 bytes costs nothing). Seeded (the seed is printed; set
 * RUNNEL_FUZZ_SEED to replay one) and bounded (RUNNEL_FUZZ_CASES, default 3000 per property):
 *  - values of every CBOR type, encoded by an independent implementation (`@smithy/core/cbor`),
 *    decode to themselves; and what Runnel's encoder writes, that implementation reads back;
 *  - random bytes, valid encodings mutated (bytes flipped, cut short, hostile heads inserted),
 *    and hostile heads alone either decode or fail with a SerializationException, each within
 *    DECODE_MS_MAX, asking Buffer for no more bytes than the input holds; decoding them as the
 *    input of a random operation fails the same way or returns that operation's members.
 */
import { cbor, tag } from '@smithy/core/cbor';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { KinesisError } from '../../src/errors.js';
import { CborTag, decodeCbor, decodeCborInput, encodeCbor } from '../../src/server/cbor-codec.js';
import { INPUT_MODELS } from '../../src/server/json-codec.js';
import { seededRandom } from '../helpers/temp-dir.js';

const SEED = Number(process.env.RUNNEL_FUZZ_SEED ?? Date.now() >>> 0);
const CASES = Number(process.env.RUNNEL_FUZZ_CASES ?? 3000);
/** Longest any one decode may take: inputs are at most a few KiB, decoded in microseconds. */
const DECODE_MS_MAX = 250;

type Random = () => number;

const int = (random: Random, below: number) => Math.floor(random() * below);
function pick<T>(random: Random, items: readonly T[]): T {
  return items[int(random, items.length)]!;
}
function randomBytes(random: Random, length: number): Buffer {
  return Buffer.from(Array.from({ length }, () => int(random, 256)));
}

// ---- values, and what each side makes of them ------------------------------------------------

/** A value of any type the decoder produces, nested up to `depth`. */
function randomValue(random: Random, depth = 0): unknown {
  switch (int(random, depth > 3 ? 7 : 9)) {
    case 0:
      return pick(random, [0, 1, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32, 2 ** 53 - 1]);
    case 1:
      return -1 - int(random, 2 ** 40);
    case 2:
      return pick(random, [0.5, -1.25, 1e300, -1e-300, Infinity, -Infinity, NaN, Math.PI]);
    case 3:
      return pick(random, ['', 'a', 'StreamName', 'é', '😀', 'x'.repeat(300)]);
    case 4:
      return new Uint8Array(randomBytes(random, int(random, 40)));
    case 5:
      return pick(random, [true, false, null]);
    case 6:
      // Not tags 2 to 4: @smithy/core/cbor reads those as bignums and decimals.
      return tag({ tag: pick(random, [1, 100, 55_799]), value: int(random, 2 ** 40) });
    case 7:
      return Array.from({ length: int(random, 4) }, () => randomValue(random, depth + 1));
    default: {
      const map: Record<string, unknown> = {};
      for (let i = int(random, 4); i > 0; i--) {
        map[`k${int(random, 10)}`] = randomValue(random, depth + 1);
      }
      return map;
    }
  }
}

/**
 * A value with bytes as arrays of numbers and tags as plain pairs, whichever side made it. With
 * `withoutNulls`, map members that are null are left out, as Runnel's encoder (which writes
 * responses) leaves them out.
 */
function normalize(value: unknown, withoutNulls = false): unknown {
  if (value instanceof Uint8Array) return { bytes: [...value] };
  if (value instanceof CborTag) {
    return { tag: value.tag, value: normalize(value.value, withoutNulls) };
  }
  if (Array.isArray(value)) return value.map((item) => normalize(item, withoutNulls));
  if (typeof value === 'object' && value !== null) {
    const source = value as Record<string, unknown>;
    if ('tag' in source && 'value' in source) {
      return { tag: source.tag, value: normalize(source.value, withoutNulls) };
    }
    const keys = Object.keys(source).filter((key) => !withoutNulls || source[key] !== null);
    return Object.fromEntries(keys.map((key) => [key, normalize(source[key], withoutNulls)]));
  }
  return value;
}

// ---- hostile input ---------------------------------------------------------------------------

/** Heads that claim more than any request holds, or that no valid request has. */
const HOSTILE_HEADS: readonly Buffer[] = [
  '5b1000000000000000', // a byte string of 2^60 bytes
  '7b1000000000000000', // a text string of 2^60 bytes
  '9b1000000000000000', // an array of 2^60 items
  'bb1000000000000000', // a map of 2^60 entries
  '5bffffffffffffffff', // a byte string of 2^64 - 1 bytes
  '5b0000000100000000', // a byte string of 2^32 bytes
  '9b0000000100000000', // an array of 2^32 items (past what a JavaScript array holds)
  'bb001fffffffffffff', // a map of 2^53 - 1 entries
  '5affffffff', // a byte string of 4 GiB
  '7a7fffffff', // a text string of 2 GiB
  '9a7fffffff', // an array of 2^31 - 1 items
  'ba7fffffff', // a map of 2^31 - 1 entries
  '5f5b1000000000000000', // a chunk of 2^60 bytes in an indefinite byte string
  '5f5f', // an indefinite chunk inside an indefinite byte string
  '1bffffffffffffffff', // 2^64 - 1
  '3bffffffffffffffff', // -2^64
  'c1', // tag 1 (of whatever follows)
  'db0000000000000001', // tag 1 in its longest form
  '1c', // reserved additional information
  'f818', // simple value 24
  'ff', // a break
  '9f', // an indefinite array never closed
  'bf', // an indefinite map never closed
].map((hex) => Buffer.from(hex, 'hex'));

/** A nesting far past CBOR_NESTING_MAX, of arrays, maps, tags or indefinite arrays. */
function deepNesting(random: Random): Buffer {
  const depth = 33 + int(random, 1300);
  const level = pick(random, ['81', 'a16161', 'c1', '9f']);
  return Buffer.concat([Buffer.from(level.repeat(depth), 'hex'), Buffer.from([0])]);
}

function validEncoding(random: Random): Buffer {
  return Buffer.from(cbor.serialize(randomValue(random)));
}

function hostileInput(random: Random): Buffer {
  switch (int(random, 5)) {
    case 0:
      return randomBytes(random, int(random, 64));
    case 1: {
      const bytes = validEncoding(random);
      for (let flips = 1 + int(random, 3); flips > 0; flips--) {
        bytes[int(random, bytes.length)] = int(random, 256);
      }
      return bytes.subarray(0, int(random, bytes.length + 1));
    }
    case 2: {
      const bytes = validEncoding(random);
      const at = int(random, bytes.length + 1);
      const head = pick(random, HOSTILE_HEADS);
      const inserted = Buffer.concat([head, randomBytes(random, int(random, 8))]);
      return Buffer.concat([bytes.subarray(0, at), inserted, bytes.subarray(at)]);
    }
    case 3:
      return deepNesting(random);
    default:
      return Buffer.concat([pick(random, HOSTILE_HEADS), randomBytes(random, int(random, 16))]);
  }
}

// ---- watching what the decoder asks of Buffer ---------------------------------------------------

/** The most bytes one Buffer allocation asked for since `reset`. */
const allocations = { largest: 0 };

beforeEach(() => {
  const watch = (name: 'alloc' | 'allocUnsafe' | 'allocUnsafeSlow') => {
    const original = Buffer[name].bind(Buffer) as (size: number) => Buffer;
    vi.spyOn(Buffer, name).mockImplementation(((size: number, ...rest: unknown[]) => {
      allocations.largest = Math.max(allocations.largest, size);
      return (original as (...args: unknown[]) => Buffer)(size, ...rest);
    }) as never);
  };
  watch('alloc');
  watch('allocUnsafe');
  watch('allocUnsafeSlow');
  const concat = Buffer.concat.bind(Buffer);
  vi.spyOn(Buffer, 'concat').mockImplementation(((list: readonly Uint8Array[], length?: number) => {
    const total = length ?? list.reduce((sum, item) => sum + item.length, 0);
    allocations.largest = Math.max(allocations.largest, total);
    return concat(list, length);
  }) as never);
});

afterEach(() => {
  vi.restoreAllMocks();
});

/**
 * Runs one decode of `input`: it must return, or throw a SerializationException, in time and
 * within the input's size. Returns what it returned, or undefined when it threw.
 */
function decodeChecked(input: Buffer, decode: (bytes: Buffer) => unknown, label: string): unknown {
  allocations.largest = 0;
  const started = performance.now();
  let result: unknown;
  try {
    result = decode(input);
  } catch (error) {
    expect(error, `${label}: a typed error`).toBeInstanceOf(KinesisError);
    expect((error as KinesisError).code, label).toBe('SerializationException');
  }
  expect(performance.now() - started, `${label}: decode time (ms)`).toBeLessThan(DECODE_MS_MAX);
  expect(allocations.largest, `${label}: bytes allocated`).toBeLessThanOrEqual(input.length);
  return result;
}

const OPERATIONS = Object.keys(INPUT_MODELS);

describe('CBOR request decoder fuzzing', () => {
  it(`reads what an independent encoder writes, and writes what it reads (seed ${SEED})`, () => {
    console.log(`cbor codec fuzz: seed ${SEED}, ${CASES} cases (RUNNEL_FUZZ_SEED replays)`);
    const random = seededRandom(SEED);
    for (let i = 0; i < CASES; i++) {
      const value = randomValue(random);
      const label = `seed ${SEED} case ${i}: ${JSON.stringify(normalize(value))?.slice(0, 200)}`;
      const decoded = decodeChecked(Buffer.from(cbor.serialize(value)), decodeCbor, label);
      expect(normalize(decoded), label).toEqual(normalize(value));
      const written = cbor.deserialize(new Uint8Array(encodeCbor(decoded)));
      expect(normalize(written, true), label).toEqual(normalize(value, true));
    }
  });

  it(`meets hostile bytes with a value or a SerializationException (seed ${SEED})`, () => {
    const random = seededRandom(SEED ^ 0x5bd1e995);
    for (let i = 0; i < CASES; i++) {
      const input = hostileInput(random);
      const label = `seed ${SEED} case ${i}: 0x${input.subarray(0, 64).toString('hex')}`;
      decodeChecked(input, decodeCbor, label);
      const operation = pick(random, OPERATIONS);
      const model = INPUT_MODELS[operation]!;
      const decode = (bytes: Buffer) => decodeCborInput(bytes, model);
      const decoded = decodeChecked(input, decode, `${label} as ${operation}`) as
        { input: Record<string, unknown> } | undefined;
      // What decodes holds the operation's members only.
      const members = new Set(model.members.map((member) => member.name));
      for (const name of Object.keys(decoded?.input ?? {})) {
        expect(members.has(name), `${label}: member ${name}`).toBe(true);
      }
    }
  });

  it('refuses each hostile head without allocating what it claims', () => {
    for (const head of HOSTILE_HEADS) {
      for (const tail of [Buffer.alloc(0), Buffer.from([0]), Buffer.alloc(100, 0x41)]) {
        const input = Buffer.concat([head, tail]);
        decodeChecked(input, decodeCbor, `0x${input.subarray(0, 16).toString('hex')}`);
      }
    }
  });
});
