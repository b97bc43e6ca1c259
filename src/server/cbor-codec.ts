/**
 * The Kinesis CBOR 1.1 codec (`application/x-amz-cbor-1.1`), which the AWS Java SDKs (v1 since
 * 1.11.71, v2, and so KCL, Flink and Spark) send by default (reference §1.8).
 *
 * The body is one CBOR map with the same member names as the JSON protocol. Blobs are byte
 * strings (major type 2), timestamps are epoch **milliseconds** — Java writes tag 1 followed by
 * an integer of ms, which is not RFC 8949's seconds; Kinesis follows Java. Jackson's CBOR
 * generator writes indefinite-length maps and arrays, so the decoder accepts both forms. The
 * encoder writes definite lengths, byte strings for blobs, and tag 1 + integer ms for dates.
 *
 * The decoder is written for hostile input: every length is checked against the bytes left
 * before anything is allocated, nesting is bounded, and any malformation is a
 * `SerializationException`, never a thrown `RangeError` or a hang.
 */

import { KinesisError } from '../errors.js';
import {
  readStructure,
  serializationError,
  timestampOf,
  type DecodedInput,
  type StructureType,
  type WireScalars,
} from './json-codec.js';

/** Deepest nesting a request may use; Kinesis inputs nest three levels at most. */
const CBOR_NESTING_MAX = 32;

const MAJOR_UNSIGNED = 0;
const MAJOR_NEGATIVE = 1;
const MAJOR_BYTES = 2;
const MAJOR_TEXT = 3;
const MAJOR_ARRAY = 4;
const MAJOR_MAP = 5;
const MAJOR_TAG = 6;
const MAJOR_SIMPLE = 7;
/** Additional-information value meaning "indefinite length" (or "break" under major 7). */
const INDEFINITE = 31;
const BREAK_BYTE = 0xff;
const TAG_EPOCH = 1;

/** A tagged value whose tag the decoder does not interpret itself. */
export class CborTag {
  constructor(
    readonly tag: number,
    readonly value: unknown,
  ) {}
}

/** Marks the break byte while decoding indefinite-length items. */
const BREAK = Symbol('break');

class CborReader {
  private offset = 0;
  constructor(private readonly bytes: Buffer) {}

  decodeWhole(): unknown {
    const value = this.read(0);
    if (value === BREAK) throw malformed('unexpected break');
    if (this.offset !== this.bytes.length) throw malformed('trailing bytes after the value');
    return value;
  }

  private need(count: number): void {
    if (count > this.bytes.length - this.offset) throw malformed('truncated input');
  }

  private readArgument(info: number): number {
    if (info < 24) return info;
    switch (info) {
      case 24:
        this.need(1);
        return this.bytes[this.offset++]!;
      case 25: {
        this.need(2);
        const value = this.bytes.readUInt16BE(this.offset);
        this.offset += 2;
        return value;
      }
      case 26: {
        this.need(4);
        const value = this.bytes.readUInt32BE(this.offset);
        this.offset += 4;
        return value;
      }
      case 27: {
        this.need(8);
        const value = this.bytes.readBigUInt64BE(this.offset);
        this.offset += 8;
        // Lengths and ordinary integers fit a double exactly; larger ones are not Kinesis values.
        if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed('integer too large');
        return Number(value);
      }
      default:
        throw malformed(`reserved additional information ${info}`);
    }
  }

  private read(depth: number): unknown {
    if (depth > CBOR_NESTING_MAX) throw malformed('nesting too deep');
    this.need(1);
    const initial = this.bytes[this.offset++]!;
    const major = initial >> 5;
    const info = initial & 0x1f;
    switch (major) {
      case MAJOR_UNSIGNED:
        return this.readArgument(info);
      case MAJOR_NEGATIVE:
        return -1 - this.readArgument(info);
      case MAJOR_BYTES:
        return info === INDEFINITE ? this.readChunks(MAJOR_BYTES) : this.readBytes(info);
      case MAJOR_TEXT:
        return info === INDEFINITE ? this.readChunks(MAJOR_TEXT) : this.readText(info);
      case MAJOR_ARRAY:
        return this.readArray(info, depth);
      case MAJOR_MAP:
        return this.readMap(info, depth);
      case MAJOR_TAG: {
        const tag = this.readArgument(info);
        const value = this.read(depth + 1);
        if (value === BREAK) throw malformed('unexpected break');
        return new CborTag(tag, value);
      }
      default:
        return this.readSimple(info);
    }
  }

  private readBytes(info: number): Buffer {
    const length = this.readArgument(info);
    this.need(length);
    const start = this.offset;
    this.offset += length;
    return this.bytes.subarray(start, start + length);
  }

  private readText(info: number): string {
    const length = this.readArgument(info);
    this.need(length);
    const start = this.offset;
    this.offset += length;
    return this.bytes.toString('utf8', start, start + length);
  }

  /** An indefinite-length string: definite chunks of the same major type, then a break. */
  private readChunks(major: number): Buffer | string {
    const chunks: Buffer[] = [];
    for (;;) {
      this.need(1);
      const initial = this.bytes[this.offset++]!;
      if (initial === BREAK_BYTE) break;
      if (initial >> 5 !== major || (initial & 0x1f) === INDEFINITE) {
        throw malformed('bad chunk in indefinite-length string');
      }
      chunks.push(this.readBytes(initial & 0x1f));
    }
    const joined = Buffer.concat(chunks);
    return major === MAJOR_TEXT ? joined.toString('utf8') : joined;
  }

  private readArray(info: number, depth: number): unknown[] {
    const out: unknown[] = [];
    if (info === INDEFINITE) {
      for (;;) {
        const item = this.read(depth + 1);
        if (item === BREAK) return out;
        out.push(item);
      }
    }
    const length = this.readArgument(info);
    // Every item takes at least one byte: a length beyond the bytes left is a lie.
    this.need(length);
    for (let i = 0; i < length; i++) {
      const item = this.read(depth + 1);
      if (item === BREAK) throw malformed('unexpected break');
      out.push(item);
    }
    return out;
  }

  private readMap(info: number, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const indefinite = info === INDEFINITE;
    const length = indefinite ? Infinity : this.readArgument(info);
    if (!indefinite) this.need(length * 2);
    for (let i = 0; i < length; i++) {
      const key = this.read(depth + 1);
      if (key === BREAK) {
        if (indefinite) return out;
        throw malformed('unexpected break');
      }
      if (typeof key !== 'string') throw malformed('map keys must be text strings');
      const value = this.read(depth + 1);
      if (value === BREAK) throw malformed('unexpected break');
      // defineProperty keeps a "__proto__" key an ordinary member instead of a prototype change.
      Object.defineProperty(out, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }

  private readSimple(info: number): unknown {
    switch (info) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
      case 23:
        return null;
      case 25: {
        this.need(2);
        const value = readHalfFloat(this.bytes.readUInt16BE(this.offset));
        this.offset += 2;
        return value;
      }
      case 26: {
        this.need(4);
        const value = this.bytes.readFloatBE(this.offset);
        this.offset += 4;
        return value;
      }
      case 27: {
        this.need(8);
        const value = this.bytes.readDoubleBE(this.offset);
        this.offset += 8;
        return value;
      }
      case INDEFINITE:
        return BREAK;
      default:
        throw malformed(`unsupported simple value ${info}`);
    }
  }
}

function readHalfFloat(half: number): number {
  const exponent = (half >> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  const sign = half & 0x8000 ? -1 : 1;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (mantissa + 1024) * 2 ** (exponent - 25);
}

function malformed(reason: string): KinesisError {
  return serializationError(`Malformed CBOR request body: ${reason}`);
}

/** Decodes one CBOR data item that fills the whole buffer. */
export function decodeCbor(bytes: Buffer): unknown {
  return new CborReader(bytes).decodeWhole();
}

// ---- CBOR scalars for the shared input walk --------------------------------------------------

class CborScalars implements WireScalars {
  blobBytes = 0;

  readBlob(value: unknown): Buffer {
    if (value instanceof Uint8Array) {
      this.blobBytes += value.length;
      return Buffer.isBuffer(value) ? value : Buffer.from(value);
    }
    if (typeof value === 'string') {
      throw serializationError('class java.lang.String can not be converted to a Blob');
    }
    if (typeof value === 'boolean') {
      throw serializationError('class java.lang.Boolean can not be converted to a Blob');
    }
    if (typeof value === 'number') {
      throw serializationError('class java.math.BigDecimal can not be converted to a Blob');
    }
    if (Array.isArray(value)) throw serializationError('Start of list found where not expected');
    throw serializationError('Start of structure or map found where not expected.');
  }

  readTimestamp(value: unknown): Date {
    const millis = value instanceof CborTag && value.tag === TAG_EPOCH ? value.value : value;
    if (typeof millis === 'number' && Number.isFinite(millis)) return timestampOf(millis, millis);
    throw serializationError('Timestamps in CBOR must be epoch milliseconds (tag 1, integer)');
  }
}

/** Parses a CBOR request body into the operation's input shape. */
export function decodeCborInput(body: Buffer, model: StructureType): DecodedInput {
  const parsed = decodeCbor(body);
  if (parsed instanceof CborTag) throw serializationError('Request body must be a CBOR map');
  const wire = new CborScalars();
  const input = readStructure(parsed, model, wire);
  return { input, blobBytes: wire.blobBytes };
}

// ---- encoding ------------------------------------------------------------------------------

const OMITTED_OUTPUT_MEMBERS: ReadonlySet<string> = new Set(['StreamId', '$metadata']);

/** Grows as needed; one writer per response. */
class CborWriter {
  private buffer = Buffer.allocUnsafe(1024);
  private offset = 0;

  private ensure(count: number): void {
    if (this.offset + count <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.offset + count) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buffer.copy(next, 0, 0, this.offset);
    this.buffer = next;
  }

  private head(major: number, argument: number): void {
    const high = major << 5;
    this.ensure(9);
    if (argument < 24) {
      this.buffer[this.offset++] = high | argument;
    } else if (argument < 0x100) {
      this.buffer[this.offset++] = high | 24;
      this.buffer[this.offset++] = argument;
    } else if (argument < 0x10000) {
      this.buffer[this.offset++] = high | 25;
      this.buffer.writeUInt16BE(argument, this.offset);
      this.offset += 2;
    } else if (argument < 0x100000000) {
      this.buffer[this.offset++] = high | 26;
      this.buffer.writeUInt32BE(argument, this.offset);
      this.offset += 4;
    } else {
      this.buffer[this.offset++] = high | 27;
      this.buffer.writeBigUInt64BE(BigInt(argument), this.offset);
      this.offset += 8;
    }
  }

  private bytes(data: Uint8Array): void {
    this.head(MAJOR_BYTES, data.length);
    this.ensure(data.length);
    this.buffer.set(data, this.offset);
    this.offset += data.length;
  }

  private text(value: string): void {
    const length = Buffer.byteLength(value, 'utf8');
    this.head(MAJOR_TEXT, length);
    this.ensure(length);
    this.offset += this.buffer.write(value, this.offset, length, 'utf8');
  }

  private number(value: number): void {
    if (Number.isSafeInteger(value)) {
      if (value >= 0) this.head(MAJOR_UNSIGNED, value);
      else this.head(MAJOR_NEGATIVE, -1 - value);
      return;
    }
    this.ensure(9);
    this.buffer[this.offset++] = (MAJOR_SIMPLE << 5) | 27;
    this.buffer.writeDoubleBE(value, this.offset);
    this.offset += 8;
  }

  write(value: unknown): void {
    if (value === null || value === undefined) {
      this.ensure(1);
      this.buffer[this.offset++] = (MAJOR_SIMPLE << 5) | 22;
    } else if (typeof value === 'string') {
      this.text(value);
    } else if (typeof value === 'number') {
      this.number(value);
    } else if (typeof value === 'boolean') {
      this.ensure(1);
      this.buffer[this.offset++] = (MAJOR_SIMPLE << 5) | (value ? 21 : 20);
    } else if (typeof value === 'bigint') {
      this.number(Number(value));
    } else if (value instanceof Uint8Array) {
      this.bytes(value);
    } else if (value instanceof Date) {
      this.head(MAJOR_TAG, TAG_EPOCH);
      this.number(value.getTime());
    } else if (value instanceof CborTag) {
      this.head(MAJOR_TAG, value.tag);
      this.write(value.value);
    } else if (Array.isArray(value)) {
      this.head(MAJOR_ARRAY, value.length);
      for (const item of value) this.write(item);
    } else {
      this.map(value as Record<string, unknown>);
    }
  }

  private map(source: Record<string, unknown>): void {
    const keys = Object.keys(source).filter(
      (key) => source[key] != null && !OMITTED_OUTPUT_MEMBERS.has(key),
    );
    this.head(MAJOR_MAP, keys.length);
    for (const key of keys) {
      this.text(key);
      this.write(source[key]);
    }
  }

  finish(): Buffer {
    return this.buffer.subarray(0, this.offset);
  }
}

/** Encodes a value (an output shape or an error map) as one CBOR data item. */
export function encodeCbor(value: unknown): Buffer {
  const writer = new CborWriter();
  writer.write(value);
  return writer.finish();
}

export function encodeCborError(type: string, message: string): Buffer {
  return encodeCbor({ __type: type, message });
}
