/**
 * The binary WebSocket protocol's codec (docs/protocol.md), shared by the server and the client.
 * Pure TypeScript over Uint8Array and DataView: no Node module, so it runs in a browser.
 *
 * Every frame is one WebSocket binary message: a 12-byte header (version, opcode, flags,
 * request id, payload length; little-endian) and a payload. Decoders check everything a peer
 * controls — lengths, versions, opcodes, string bounds, trailing bytes — and throw a
 * ProtocolError naming the Kinesis error to answer with; PUT and RECORDS payloads are returned
 * as views, never copied. Offsets are named constants chained from each other; payload offsets
 * are relative to the payload (add FRAME_HEADER_BYTES for the message).
 */
import type { ErrorCode } from '../errors.js';
import {
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_BYTES,
  BATCH_LENGTH_OFFSET,
  type BatchFields,
  readBatchFields,
} from './batch-writer.js';

export const PROTOCOL_VERSION = 1;
/** The path a server serves version 1 on. */
export const PROTOCOL_PATH = '/v1';

// ---- frame header -------------------------------------------------------------------------------

export const VERSION_OFFSET = 0;
export const VERSION_BYTES = 1;
export const OPCODE_OFFSET = VERSION_OFFSET + VERSION_BYTES;
export const OPCODE_BYTES = 1;
export const FLAGS_OFFSET = OPCODE_OFFSET + OPCODE_BYTES;
/**
 * The one frame flag: on a PUT, the client declares that every record of the batch belongs to
 * one shard (it routed them by the shard map). The server then hashes one key and lets the
 * shard's owner check the rest; a batch that spans shards is refused whole. Every other flag
 * bit, and this one on any other opcode, must be 0.
 */
export const PUT_FLAG_ROUTED = 0x0001;
export const FLAGS_BYTES = 2;
export const REQUEST_ID_OFFSET = FLAGS_OFFSET + FLAGS_BYTES;
export const REQUEST_ID_BYTES = 4;
export const PAYLOAD_LENGTH_OFFSET = REQUEST_ID_OFFSET + REQUEST_ID_BYTES;
export const PAYLOAD_LENGTH_BYTES = 4;
export const FRAME_HEADER_BYTES = PAYLOAD_LENGTH_OFFSET + PAYLOAD_LENGTH_BYTES;

export const Opcode = {
  WELCOME: 0x01,
  PING: 0x02,
  PONG: 0x03,
  ERROR: 0x04,
  PUT: 0x10,
  PUT_ACK: 0x11,
  SUBSCRIBE: 0x20,
  SUBSCRIBED: 0x21,
  CREDIT: 0x22,
  RECORDS: 0x23,
  UNSUBSCRIBE: 0x24,
  SUBSCRIPTION_END: 0x25,
  LIST_STREAMS: 0x30,
  STREAM_LIST: 0x31,
  LIST_SHARDS: 0x32,
  SHARD_MAP: 0x33,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

const CLIENT_OPCODES: ReadonlySet<number> = new Set([
  Opcode.PING,
  Opcode.PONG,
  Opcode.PUT,
  Opcode.SUBSCRIBE,
  Opcode.CREDIT,
  Opcode.UNSUBSCRIBE,
  Opcode.LIST_STREAMS,
  Opcode.LIST_SHARDS,
]);
const SERVER_OPCODES: ReadonlySet<number> = new Set([
  Opcode.WELCOME,
  Opcode.PING,
  Opcode.PONG,
  Opcode.ERROR,
  Opcode.PUT_ACK,
  Opcode.SUBSCRIBED,
  Opcode.RECORDS,
  Opcode.SUBSCRIPTION_END,
  Opcode.STREAM_LIST,
  Opcode.SHARD_MAP,
]);

// ---- payload layouts ----------------------------------------------------------------------------

export const STR8_MAX_BYTES = 0xff;
export const STR16_MAX_BYTES = 0xffff;
const U8 = 1;
const U16 = 2;
const U32 = 4;
const U64 = 8;

export const WELCOME_VERSION_OFFSET = 0;
export const WELCOME_RESERVED_OFFSET = WELCOME_VERSION_OFFSET + U8;
export const WELCOME_FRAME_BYTES_MAX_OFFSET = WELCOME_RESERVED_OFFSET + 3;
export const WELCOME_PUTS_IN_FLIGHT_MAX_OFFSET = WELCOME_FRAME_BYTES_MAX_OFFSET + U32;
export const WELCOME_PUT_BYTES_IN_FLIGHT_MAX_OFFSET = WELCOME_PUTS_IN_FLIGHT_MAX_OFFSET + U32;
export const WELCOME_SUBSCRIPTIONS_MAX_OFFSET = WELCOME_PUT_BYTES_IN_FLIGHT_MAX_OFFSET + U32;
export const WELCOME_IDLE_TIMEOUT_MS_OFFSET = WELCOME_SUBSCRIPTIONS_MAX_OFFSET + U32;
export const WELCOME_BATCH_BYTES_MAX_OFFSET = WELCOME_IDLE_TIMEOUT_MS_OFFSET + U32;
export const WELCOME_SOFTWARE_OFFSET = WELCOME_BATCH_BYTES_MAX_OFFSET + U32;

export const ERROR_FLAGS_OFFSET = 0;
export const ERROR_NAME_OFFSET = ERROR_FLAGS_OFFSET + U8;
export const ERROR_FLAG_FATAL = 0x01;

export const PUT_STREAM_NAME_OFFSET = 0;

export const PUT_ACK_RECORD_COUNT_OFFSET = 0;
export const PUT_ACK_FAILED_COUNT_OFFSET = PUT_ACK_RECORD_COUNT_OFFSET + U32;
export const PUT_ACK_ENTRY_COUNT_OFFSET = PUT_ACK_FAILED_COUNT_OFFSET + U32;
export const PUT_ACK_RESERVED_OFFSET = PUT_ACK_ENTRY_COUNT_OFFSET + U16;
export const PUT_ACK_ENTRIES_OFFSET = PUT_ACK_RESERVED_OFFSET + U16;
export const PUT_ACK_ENTRY_OK = 0;
export const PUT_ACK_ENTRY_FAILED = 1;
/** Entry indexes are u16. */
export const PUT_ACK_ENTRIES_MAX = 0xffff;

export const SUBSCRIBE_POSITION_OFFSET = 0;
export const SUBSCRIBE_RESERVED_OFFSET = SUBSCRIBE_POSITION_OFFSET + U8;
export const SUBSCRIBE_CREDIT_OFFSET = SUBSCRIBE_RESERVED_OFFSET + 3;
export const SUBSCRIBE_TIMESTAMP_OFFSET = SUBSCRIBE_CREDIT_OFFSET + U32;
export const SUBSCRIBE_STREAM_NAME_OFFSET = SUBSCRIBE_TIMESTAMP_OFFSET + U64;

export const SUBSCRIBED_START_ORDINAL_OFFSET = 0;
export const SUBSCRIBED_WATERMARK_OFFSET = SUBSCRIBED_START_ORDINAL_OFFSET + U64;
export const SUBSCRIBED_SEQUENCE_BASE_OFFSET = SUBSCRIBED_WATERMARK_OFFSET + U64;

export const CREDIT_BYTES_OFFSET = 0;
export const CREDIT_PAYLOAD_BYTES = CREDIT_BYTES_OFFSET + U32;

export const RECORDS_WATERMARK_OFFSET = 0;
export const RECORDS_DATA_OFFSET = RECORDS_WATERMARK_OFFSET + U64;
/** Bytes of a RECORDS frame before its batch-stream bytes (what credit does not count). */
export const RECORDS_OVERHEAD_BYTES = FRAME_HEADER_BYTES + RECORDS_DATA_OFFSET;

export const SUBSCRIPTION_END_REASON_OFFSET = 0;
export const SUBSCRIPTION_END_NEXT_ORDINAL_OFFSET = SUBSCRIPTION_END_REASON_OFFSET + U8;
export const SUBSCRIPTION_END_PAYLOAD_BYTES = SUBSCRIPTION_END_NEXT_ORDINAL_OFFSET + U64;

export const HASH_KEY_BYTES = 16;
export const SHARD_FLAG_CLOSED = 0x01;
/**
 * Set on every shard of a stream whose RecordDistributionStrategy is AUTO: the server places
 * its records itself, whatever their keys, so a client sends its puts unrouted. A bit old
 * clients ignore (they read bit 0 only): such a client routes by key, and the acks, naming other
 * shards than the one it routed to, only make it fetch the map again.
 */
export const SHARD_FLAG_AUTO_DISTRIBUTION = 0x02;

export const StartingPosition = {
  TRIM_HORIZON: 0,
  LATEST: 1,
  AT_SEQUENCE_NUMBER: 2,
  AFTER_SEQUENCE_NUMBER: 3,
  AT_TIMESTAMP: 4,
} as const;
export type StartingPositionType = keyof typeof StartingPosition;
const POSITION_NAMES = Object.keys(StartingPosition) as StartingPositionType[];

export const EndReason = { UNSUBSCRIBED: 0, SHARD_CLOSED: 1 } as const;

/** Sequence numbers of consecutive ordinals differ by 2^80; of consecutive seconds, by 2^36. */
export const SEQUENCE_ORDINAL_STEP = 1n << 80n;
export const SEQUENCE_SECOND_STEP = 1n << 36n;

/** The sequence number of the record with `ordinal` that arrived at `arrivalMs` (§4). */
export function sequenceNumberFrom(
  sequenceBase: bigint,
  ordinal: number,
  arrivalMs: number,
): string {
  return (
    sequenceBase +
    BigInt(ordinal) * SEQUENCE_ORDINAL_STEP +
    BigInt(Math.floor(arrivalMs / 1000)) * SEQUENCE_SECOND_STEP
  ).toString();
}

// ---- errors -------------------------------------------------------------------------------------

/** A peer broke the protocol (or a request failed); `code` is the Kinesis error name to report. */
export class ProtocolError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly requestId = 0,
    readonly fatal = true,
  ) {
    super(message);
    this.name = code;
  }
}

function malformed(message: string, requestId: number): ProtocolError {
  return new ProtocolError('SerializationException', message, requestId);
}

// ---- strings ------------------------------------------------------------------------------------

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 length of `text` (a fast path for ASCII, which names and sequence numbers are). */
export function utf8Length(text: string): number {
  const length = text.length;
  for (let i = 0; i < length; i++) {
    if (text.charCodeAt(i) >= 0x80) return textEncoder.encode(text).length;
  }
  return length;
}

function writeUtf8(bytes: Uint8Array, offset: number, text: string, length: number): void {
  if (length === text.length) {
    for (let i = 0; i < length; i++) bytes[offset + i] = text.charCodeAt(i);
  } else {
    textEncoder.encodeInto(text, bytes.subarray(offset, offset + length));
  }
}

function readUtf8(bytes: Uint8Array, start: number, end: number): string {
  if (end - start <= 64) {
    let ascii = '';
    let i = start;
    for (; i < end; i++) {
      const code = bytes[i]!;
      if (code >= 0x80) break;
      ascii += String.fromCharCode(code);
    }
    if (i === end) return ascii;
  }
  return textDecoder.decode(bytes.subarray(start, end));
}

// ---- writing ------------------------------------------------------------------------------------

/** Fills one frame front to back; sizes are computed first, so the buffer is allocated once. */
class FrameWriter {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  offset = FRAME_HEADER_BYTES;

  constructor(opcode: Opcode, requestId: number, payloadBytes: number) {
    this.bytes = new Uint8Array(FRAME_HEADER_BYTES + payloadBytes);
    this.view = new DataView(this.bytes.buffer);
    writeFrameHeader(this.view, 0, opcode, requestId, payloadBytes);
  }

  u8(value: number): this {
    this.view.setUint8(this.offset, value);
    this.offset += U8;
    return this;
  }

  u16(value: number): this {
    this.view.setUint16(this.offset, value, true);
    this.offset += U16;
    return this;
  }

  u32(value: number): this {
    this.view.setUint32(this.offset, value, true);
    this.offset += U32;
    return this;
  }

  u64(value: number): this {
    writeU64(this.view, this.offset, value);
    this.offset += U64;
    return this;
  }

  str8(text: string, length = utf8Length(text)): this {
    this.u8(length);
    writeUtf8(this.bytes, this.offset, text, length);
    this.offset += length;
    return this;
  }

  str16(text: string, length = utf8Length(text)): this {
    this.u16(length);
    writeUtf8(this.bytes, this.offset, text, length);
    this.offset += length;
    return this;
  }

  raw(bytes: Uint8Array): this {
    this.bytes.set(bytes, this.offset);
    this.offset += bytes.length;
    return this;
  }

  done(): Uint8Array {
    if (this.offset !== this.bytes.length) {
      throw new Error(`frame writer: wrote ${this.offset} of ${this.bytes.length} bytes`);
    }
    return this.bytes;
  }
}

export function writeU64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value >>> 0, true);
  view.setUint32(offset + 4, Math.floor(value / 2 ** 32), true);
}

export function writeFrameHeader(
  view: DataView,
  offset: number,
  opcode: Opcode,
  requestId: number,
  payloadBytes: number,
  flags = 0,
): void {
  view.setUint8(offset + VERSION_OFFSET, PROTOCOL_VERSION);
  view.setUint8(offset + OPCODE_OFFSET, opcode);
  view.setUint16(offset + FLAGS_OFFSET, flags, true);
  view.setUint32(offset + REQUEST_ID_OFFSET, requestId >>> 0, true);
  view.setUint32(offset + PAYLOAD_LENGTH_OFFSET, payloadBytes, true);
}

/** Length of a str8 holding `text`; throws if it does not fit. */
export function str8Bytes(text: string, what: string): number {
  const length = utf8Length(text);
  if (length > STR8_MAX_BYTES) {
    throw new RangeError(`${what} is longer than ${STR8_MAX_BYTES} bytes`);
  }
  return U8 + length;
}

function str16Bytes(text: string): number {
  return U16 + Math.min(utf8Length(text), STR16_MAX_BYTES);
}

/** Messages longer than a str16 are cut (at a character boundary) to fit. */
function clip16(text: string): string {
  let clipped = text;
  while (utf8Length(clipped) > STR16_MAX_BYTES) {
    clipped = clipped.slice(0, Math.floor(clipped.length * 0.9));
  }
  return clipped;
}

// ---- decoded shapes -----------------------------------------------------------------------------

export interface FrameHeader {
  version: number;
  opcode: number;
  flags: number;
  requestId: number;
  payloadLength: number;
}

export interface Welcome {
  version: number;
  frameBytesMax: number;
  putsInFlightMax: number;
  putBytesInFlightMax: number;
  subscriptionsMax: number;
  idleTimeoutMs: number;
  batchBytesMax: number;
  software: string;
}

export type PutAckEntry =
  | { ok: true; recordCount: number; shardId: string; firstSequenceNumber: string }
  | { ok: false; recordCount: number; shardId: string; errorName: string; errorMessage: string };

export interface PutAck {
  recordCount: number;
  failedRecordCount: number;
  entries: PutAckEntry[];
  /** Entry of each record; undefined when there is one entry. */
  entryOfRecord: Uint16Array | undefined;
}

export interface ShardMapEntry {
  shardId: string;
  parentShardId: string | undefined;
  adjacentParentShardId: string | undefined;
  closed: boolean;
  /** SHARD_FLAG_AUTO_DISTRIBUTION: the stream places records itself (absent: false). */
  autoDistribution?: boolean;
  /** Decimal strings, as Kinesis's HashKeyRange. */
  startingHashKey: string;
  endingHashKey: string;
  sequenceBase: string;
}

export interface SubscribeRequest {
  position: StartingPositionType;
  initialCredit: number;
  timestampMs: number;
  streamName: string;
  shardId: string;
  sequenceNumber: string;
}

export type ClientFrame =
  | { opcode: typeof Opcode.PING | typeof Opcode.PONG; requestId: number; payload: Uint8Array }
  | {
      opcode: typeof Opcode.PUT;
      requestId: number;
      streamName: string;
      /** PUT_FLAG_ROUTED: the client declares every record to belong to one shard. */
      routed: boolean;
      /** The record batch: a view into the message. */
      batch: Uint8Array;
    }
  | ({ opcode: typeof Opcode.SUBSCRIBE; requestId: number } & SubscribeRequest)
  | { opcode: typeof Opcode.CREDIT; requestId: number; bytes: number }
  | { opcode: typeof Opcode.UNSUBSCRIBE | typeof Opcode.LIST_STREAMS; requestId: number }
  | { opcode: typeof Opcode.LIST_SHARDS; requestId: number; streamName: string };

export type ServerFrame =
  | { opcode: typeof Opcode.WELCOME; requestId: number; welcome: Welcome }
  | { opcode: typeof Opcode.PING | typeof Opcode.PONG; requestId: number; payload: Uint8Array }
  | {
      opcode: typeof Opcode.ERROR;
      requestId: number;
      fatal: boolean;
      name: string;
      message: string;
    }
  | { opcode: typeof Opcode.PUT_ACK; requestId: number; ack: PutAck }
  | {
      opcode: typeof Opcode.SUBSCRIBED;
      requestId: number;
      startOrdinal: number;
      watermark: number;
      sequenceBase: string;
    }
  | { opcode: typeof Opcode.RECORDS; requestId: number; watermark: number; data: Uint8Array }
  | {
      opcode: typeof Opcode.SUBSCRIPTION_END;
      requestId: number;
      reason: number;
      nextOrdinal: number;
    }
  | { opcode: typeof Opcode.STREAM_LIST; requestId: number; streamNames: string[] }
  | { opcode: typeof Opcode.SHARD_MAP; requestId: number; shards: ShardMapEntry[] };

// ---- reading ------------------------------------------------------------------------------------

/** A bounds-checked cursor over one frame's payload. */
class PayloadReader {
  private readonly view: DataView;
  offset: number;
  readonly end: number;

  constructor(
    readonly bytes: Uint8Array,
    private readonly requestId: number,
    private readonly opcode: number,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = FRAME_HEADER_BYTES;
    this.end = bytes.length;
  }

  /** The opcode's name, for messages (computed only when something is wrong). */
  private get what(): string {
    return opcodeName(this.opcode);
  }

  private need(bytes: number): void {
    if (this.offset + bytes > this.end) {
      throw malformed(`${this.what} payload is truncated`, this.requestId);
    }
  }

  u8(): number {
    this.need(U8);
    return this.view.getUint8(this.offset++);
  }

  u16(): number {
    this.need(U16);
    const value = this.view.getUint16(this.offset, true);
    this.offset += U16;
    return value;
  }

  u32(): number {
    this.need(U32);
    const value = this.view.getUint32(this.offset, true);
    this.offset += U32;
    return value;
  }

  u64(): number {
    this.need(U64);
    const low = this.view.getUint32(this.offset, true);
    const high = this.view.getUint32(this.offset + 4, true);
    if (high >= 2 ** 21) {
      throw malformed(`${this.what}: a u64 field is 2^53 or more`, this.requestId);
    }
    this.offset += U64;
    return low + high * 2 ** 32;
  }

  zeros(bytes: number): void {
    this.need(bytes);
    for (let i = 0; i < bytes; i++) {
      if (this.bytes[this.offset + i] !== 0) {
        throw malformed(`${this.what}: reserved bytes are not zero`, this.requestId);
      }
    }
    this.offset += bytes;
  }

  private utf8(length: number): string {
    this.need(length);
    const start = this.offset;
    this.offset += length;
    try {
      return readUtf8(this.bytes, start, this.offset);
    } catch {
      throw malformed(`${this.what}: a string is not valid UTF-8`, this.requestId);
    }
  }

  str8(): string {
    return this.utf8(this.u8());
  }

  str16(): string {
    return this.utf8(this.u16());
  }

  raw(bytes: number): Uint8Array {
    this.need(bytes);
    const view = this.bytes.subarray(this.offset, this.offset + bytes);
    this.offset += bytes;
    return view;
  }

  rest(): Uint8Array {
    const view = this.bytes.subarray(this.offset, this.end);
    this.offset = this.end;
    return view;
  }

  done(): void {
    if (this.offset !== this.end) {
      const extra = this.end - this.offset;
      throw malformed(`${this.what} payload has ${extra} bytes too many`, this.requestId);
    }
  }
}

function opcodeName(opcode: number): string {
  for (const [name, value] of Object.entries(Opcode)) if (value === opcode) return name;
  return `0x${opcode.toString(16)}`;
}

/** Reads and checks a frame header against the message it came in. */
export function decodeFrameHeader(bytes: Uint8Array): FrameHeader {
  if (bytes.length < FRAME_HEADER_BYTES) {
    throw malformed(`A frame is at least ${FRAME_HEADER_BYTES} bytes; got ${bytes.length}`, 0);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, FRAME_HEADER_BYTES);
  const header: FrameHeader = {
    version: view.getUint8(VERSION_OFFSET),
    opcode: view.getUint8(OPCODE_OFFSET),
    flags: view.getUint16(FLAGS_OFFSET, true),
    requestId: view.getUint32(REQUEST_ID_OFFSET, true),
    payloadLength: view.getUint32(PAYLOAD_LENGTH_OFFSET, true),
  };
  if (header.version !== PROTOCOL_VERSION) {
    throw malformed(
      `Unsupported protocol version ${header.version}; ` +
        `this peer speaks version ${PROTOCOL_VERSION} at ${PROTOCOL_PATH}`,
      0,
    );
  }
  const allowed = header.opcode === Opcode.PUT ? PUT_FLAG_ROUTED : 0;
  if ((header.flags & ~allowed) !== 0) {
    throw malformed(
      `Frame flags must be ${allowed === 0 ? '0' : `0 or ${allowed}`} for ${opcodeName(header.opcode)}; got ${header.flags}`,
      header.requestId,
    );
  }
  if (header.payloadLength !== bytes.length - FRAME_HEADER_BYTES) {
    throw malformed(
      `Payload length ${header.payloadLength} does not match the ` +
        `${bytes.length - FRAME_HEADER_BYTES} payload bytes of the message`,
      header.requestId,
    );
  }
  return header;
}

/** Decodes a frame a client sent (the server's side). */
export function decodeClientFrame(bytes: Uint8Array): ClientFrame {
  const { opcode, requestId, flags } = decodeFrameHeader(bytes);
  if (!CLIENT_OPCODES.has(opcode)) {
    throw new ProtocolError(
      'UnknownOperationException',
      `Unknown opcode ${opcodeName(opcode)} from a client`,
      requestId,
    );
  }
  const reader = new PayloadReader(bytes, requestId, opcode);
  switch (opcode) {
    case Opcode.PING:
    case Opcode.PONG:
      return { opcode, requestId, payload: reader.rest() };
    case Opcode.PUT: {
      const streamName = reader.str8();
      return {
        opcode,
        requestId,
        streamName,
        routed: (flags & PUT_FLAG_ROUTED) !== 0,
        batch: reader.rest(),
      };
    }
    case Opcode.SUBSCRIBE: {
      const position = reader.u8();
      if (position >= POSITION_NAMES.length) {
        throw malformed(`Unknown starting position ${position}`, requestId);
      }
      reader.zeros(3);
      const frame = {
        opcode,
        requestId,
        position: POSITION_NAMES[position]!,
        initialCredit: reader.u32(),
        timestampMs: reader.u64(),
        streamName: reader.str8(),
        shardId: reader.str8(),
        sequenceNumber: reader.str8(),
      } as const;
      reader.done();
      return frame;
    }
    case Opcode.CREDIT: {
      const bytesGranted = reader.u32();
      reader.done();
      return { opcode, requestId, bytes: bytesGranted };
    }
    case Opcode.UNSUBSCRIBE:
    case Opcode.LIST_STREAMS:
      reader.done();
      return { opcode, requestId };
    default: {
      const streamName = reader.str8();
      reader.done();
      return { opcode: Opcode.LIST_SHARDS, requestId, streamName };
    }
  }
}

/** Decodes a frame a server sent (the client's side). */
export function decodeServerFrame(bytes: Uint8Array): ServerFrame {
  const { opcode, requestId } = decodeFrameHeader(bytes);
  if (!SERVER_OPCODES.has(opcode)) {
    throw new ProtocolError(
      'UnknownOperationException',
      `Unknown opcode ${opcodeName(opcode)} from a server`,
      requestId,
    );
  }
  const reader = new PayloadReader(bytes, requestId, opcode);
  switch (opcode) {
    case Opcode.WELCOME: {
      const version = reader.u8();
      reader.raw(3);
      const welcome: Welcome = {
        version,
        frameBytesMax: reader.u32(),
        putsInFlightMax: reader.u32(),
        putBytesInFlightMax: reader.u32(),
        subscriptionsMax: reader.u32(),
        idleTimeoutMs: reader.u32(),
        batchBytesMax: reader.u32(),
        software: reader.str8(),
      };
      // Later revisions may append fields; WELCOME alone allows trailing bytes.
      return { opcode, requestId, welcome };
    }
    case Opcode.PING:
    case Opcode.PONG:
      return { opcode, requestId, payload: reader.rest() };
    case Opcode.ERROR: {
      const flags = reader.u8();
      const name = reader.str8();
      const message = reader.str16();
      reader.done();
      return { opcode, requestId, fatal: (flags & ERROR_FLAG_FATAL) !== 0, name, message };
    }
    case Opcode.PUT_ACK:
      return { opcode, requestId, ack: readPutAck(reader, requestId) };
    case Opcode.SUBSCRIBED: {
      const frame = {
        opcode,
        requestId,
        startOrdinal: reader.u64(),
        watermark: reader.u64(),
        sequenceBase: reader.str8(),
      } as const;
      reader.done();
      if (!/^\d+$/.test(frame.sequenceBase)) {
        throw malformed('SUBSCRIBED: sequence base is not decimal', requestId);
      }
      return frame;
    }
    case Opcode.RECORDS: {
      const watermark = reader.u64();
      const data = reader.rest();
      if (data.length === 0) throw malformed('RECORDS carries no bytes', requestId);
      return { opcode, requestId, watermark, data };
    }
    case Opcode.SUBSCRIPTION_END: {
      const frame = { opcode, requestId, reason: reader.u8(), nextOrdinal: reader.u64() } as const;
      reader.done();
      return frame;
    }
    case Opcode.STREAM_LIST: {
      const count = reader.u32();
      const streamNames: string[] = [];
      for (let i = 0; i < count; i++) streamNames.push(reader.str8());
      reader.done();
      return { opcode, requestId, streamNames };
    }
    default:
      return { opcode: Opcode.SHARD_MAP, requestId, shards: readShardMap(reader) };
  }
}

function readPutAck(reader: PayloadReader, requestId: number): PutAck {
  const recordCount = reader.u32();
  const failedRecordCount = reader.u32();
  const entryCount = reader.u16();
  reader.zeros(2);
  if (entryCount === 0) throw malformed('PUT_ACK has no entries', requestId);
  const entries: PutAckEntry[] = [];
  let total = 0;
  let failed = 0;
  for (let i = 0; i < entryCount; i++) {
    const status = reader.u8();
    const count = reader.u32();
    const shardId = reader.str8();
    if (status === PUT_ACK_ENTRY_OK) {
      entries.push({ ok: true, recordCount: count, shardId, firstSequenceNumber: reader.str8() });
    } else if (status === PUT_ACK_ENTRY_FAILED) {
      const errorName = reader.str8();
      const errorMessage = reader.str16();
      entries.push({ ok: false, recordCount: count, shardId, errorName, errorMessage });
      failed += count;
    } else {
      throw malformed(`PUT_ACK entry status ${status}`, requestId);
    }
    total += count;
  }
  if (total !== recordCount || failed !== failedRecordCount) {
    throw malformed('PUT_ACK entry counts do not add up', requestId);
  }
  let entryOfRecord: Uint16Array | undefined;
  if (entryCount > 1) {
    const table = reader.raw(recordCount * U16);
    entryOfRecord = new Uint16Array(recordCount);
    const seen = new Uint32Array(entryCount);
    const view = new DataView(table.buffer, table.byteOffset, table.byteLength);
    for (let i = 0; i < recordCount; i++) {
      const entry = view.getUint16(i * U16, true);
      if (entry >= entryCount) {
        throw malformed('PUT_ACK names an entry that does not exist', requestId);
      }
      entryOfRecord[i] = entry;
      seen[entry]!++;
    }
    for (let i = 0; i < entryCount; i++) {
      if (seen[i] !== entries[i]!.recordCount) {
        throw malformed('PUT_ACK record table disagrees with its entries', requestId);
      }
    }
  }
  reader.done();
  return { recordCount, failedRecordCount, entries, entryOfRecord };
}

function hashKeyText(bytes: Uint8Array): string {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value.toString();
}

function readShardMap(reader: PayloadReader): ShardMapEntry[] {
  const count = reader.u32();
  const shards: ShardMapEntry[] = [];
  for (let i = 0; i < count; i++) {
    const flags = reader.u8();
    const shardId = reader.str8();
    const parent = reader.str8();
    const adjacent = reader.str8();
    shards.push({
      shardId,
      parentShardId: parent || undefined,
      adjacentParentShardId: adjacent || undefined,
      closed: (flags & SHARD_FLAG_CLOSED) !== 0,
      autoDistribution: (flags & SHARD_FLAG_AUTO_DISTRIBUTION) !== 0,
      startingHashKey: hashKeyText(reader.raw(HASH_KEY_BYTES)),
      endingHashKey: hashKeyText(reader.raw(HASH_KEY_BYTES)),
      sequenceBase: reader.str8(),
    });
  }
  reader.done();
  return shards;
}

// ---- encoding: client → server ------------------------------------------------------------------

export function encodePing(requestId: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  return new FrameWriter(Opcode.PING, requestId, payload.length).raw(payload).done();
}

export function encodePong(requestId: number, payload: Uint8Array): Uint8Array {
  return new FrameWriter(Opcode.PONG, requestId, payload.length).raw(payload).done();
}

/** Bytes a PUT frame needs in front of its record batch. */
export function putPrefixBytes(streamName: string): number {
  return FRAME_HEADER_BYTES + str8Bytes(streamName, 'the stream name');
}

/**
 * Writes a PUT frame's header and stream name into the first `putPrefixBytes(streamName)` bytes
 * of `frame`, whose remaining bytes already hold the record batch (batch-writer.ts writes it
 * there), so the batch is never copied to be framed.
 */
export function writePutPrefix(
  frame: Uint8Array,
  requestId: number,
  streamName: string,
  routed = false,
): Uint8Array {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  writeFrameHeader(
    view,
    0,
    Opcode.PUT,
    requestId,
    frame.length - FRAME_HEADER_BYTES,
    routed ? PUT_FLAG_ROUTED : 0,
  );
  const length = utf8Length(streamName);
  frame[FRAME_HEADER_BYTES + PUT_STREAM_NAME_OFFSET] = length;
  writeUtf8(frame, FRAME_HEADER_BYTES + PUT_STREAM_NAME_OFFSET + U8, streamName, length);
  return frame;
}

/** The header and stream name of a PUT frame whose batch of `batchBytes` is sent after it. */
export function encodePutPrefix(
  requestId: number,
  streamName: string,
  batchBytes: number,
  routed = false,
): Uint8Array {
  const prefix = new Uint8Array(putPrefixBytes(streamName));
  const view = new DataView(prefix.buffer);
  writeFrameHeader(
    view,
    0,
    Opcode.PUT,
    requestId,
    prefix.length - FRAME_HEADER_BYTES + batchBytes,
    routed ? PUT_FLAG_ROUTED : 0,
  );
  const length = utf8Length(streamName);
  prefix[FRAME_HEADER_BYTES + PUT_STREAM_NAME_OFFSET] = length;
  writeUtf8(prefix, FRAME_HEADER_BYTES + PUT_STREAM_NAME_OFFSET + U8, streamName, length);
  return prefix;
}

/** A PUT frame around an already-encoded batch (copies it once). */
export function encodePut(
  requestId: number,
  streamName: string,
  batch: Uint8Array,
  routed = false,
): Uint8Array {
  const prefix = putPrefixBytes(streamName);
  const frame = new Uint8Array(prefix + batch.length);
  frame.set(batch, prefix);
  return writePutPrefix(frame, requestId, streamName, routed);
}

export function encodeSubscribe(requestId: number, request: SubscribeRequest): Uint8Array {
  const payload =
    SUBSCRIBE_STREAM_NAME_OFFSET +
    str8Bytes(request.streamName, 'the stream name') +
    str8Bytes(request.shardId, 'the shard id') +
    str8Bytes(request.sequenceNumber, 'the sequence number');
  return new FrameWriter(Opcode.SUBSCRIBE, requestId, payload)
    .u8(StartingPosition[request.position])
    .u8(0)
    .u16(0)
    .u32(request.initialCredit)
    .u64(request.timestampMs)
    .str8(request.streamName)
    .str8(request.shardId)
    .str8(request.sequenceNumber)
    .done();
}

export function encodeCredit(requestId: number, bytes: number): Uint8Array {
  return new FrameWriter(Opcode.CREDIT, requestId, CREDIT_PAYLOAD_BYTES).u32(bytes).done();
}

export function encodeUnsubscribe(requestId: number): Uint8Array {
  return new FrameWriter(Opcode.UNSUBSCRIBE, requestId, 0).done();
}

export function encodeListStreams(requestId: number): Uint8Array {
  return new FrameWriter(Opcode.LIST_STREAMS, requestId, 0).done();
}

export function encodeListShards(requestId: number, streamName: string): Uint8Array {
  const payload = str8Bytes(streamName, 'the stream name');
  return new FrameWriter(Opcode.LIST_SHARDS, requestId, payload).str8(streamName).done();
}

// ---- encoding: server → client ------------------------------------------------------------------

export function encodeWelcome(welcome: Welcome): Uint8Array {
  const payload = WELCOME_SOFTWARE_OFFSET + str8Bytes(welcome.software, 'the software name');
  return new FrameWriter(Opcode.WELCOME, 0, payload)
    .u8(welcome.version)
    .u8(0)
    .u16(0)
    .u32(welcome.frameBytesMax)
    .u32(welcome.putsInFlightMax)
    .u32(welcome.putBytesInFlightMax)
    .u32(welcome.subscriptionsMax)
    .u32(welcome.idleTimeoutMs)
    .u32(welcome.batchBytesMax)
    .str8(welcome.software)
    .done();
}

export function encodeError(
  requestId: number,
  fatal: boolean,
  name: string,
  message: string,
): Uint8Array {
  const text = clip16(message);
  const payload = ERROR_NAME_OFFSET + str8Bytes(name, 'the error name') + str16Bytes(text);
  return new FrameWriter(Opcode.ERROR, requestId, payload)
    .u8(fatal ? ERROR_FLAG_FATAL : 0)
    .str8(name)
    .str16(text)
    .done();
}

export function encodePutAck(requestId: number, ack: PutAck): Uint8Array {
  const entryCount = ack.entries.length;
  if (entryCount < 1 || entryCount > PUT_ACK_ENTRIES_MAX) {
    throw new RangeError('PUT_ACK entry count');
  }
  let payload = PUT_ACK_ENTRIES_OFFSET;
  for (const entry of ack.entries) {
    payload += U8 + U32 + str8Bytes(entry.shardId, 'the shard id');
    payload += entry.ok
      ? str8Bytes(entry.firstSequenceNumber, 'the sequence number')
      : str8Bytes(entry.errorName, 'the error name') + str16Bytes(clip16(entry.errorMessage));
  }
  if (entryCount > 1) payload += ack.recordCount * U16;
  const writer = new FrameWriter(Opcode.PUT_ACK, requestId, payload)
    .u32(ack.recordCount)
    .u32(ack.failedRecordCount)
    .u16(entryCount)
    .u16(0);
  for (const entry of ack.entries) {
    writer
      .u8(entry.ok ? PUT_ACK_ENTRY_OK : PUT_ACK_ENTRY_FAILED)
      .u32(entry.recordCount)
      .str8(entry.shardId);
    if (entry.ok) writer.str8(entry.firstSequenceNumber);
    else writer.str8(entry.errorName).str16(clip16(entry.errorMessage));
  }
  if (entryCount > 1) {
    const table = ack.entryOfRecord!;
    for (let i = 0; i < ack.recordCount; i++) writer.u16(table[i]!);
  }
  return writer.done();
}

export function encodeSubscribed(
  requestId: number,
  startOrdinal: number,
  watermark: number,
  sequenceBase: string,
): Uint8Array {
  const payload = SUBSCRIBED_SEQUENCE_BASE_OFFSET + str8Bytes(sequenceBase, 'the sequence base');
  return new FrameWriter(Opcode.SUBSCRIBED, requestId, payload)
    .u64(startOrdinal)
    .u64(watermark)
    .str8(sequenceBase)
    .done();
}

/**
 * The first RECORDS_OVERHEAD_BYTES of a RECORDS frame carrying `dataBytes` of batch stream: the
 * server sends this and then the stored batch bytes as further WebSocket fragments of the same
 * message, so the batches are never copied to be framed.
 */
export function encodeRecordsHead(
  requestId: number,
  watermark: number,
  dataBytes: number,
): Uint8Array {
  const head = new Uint8Array(RECORDS_OVERHEAD_BYTES);
  const view = new DataView(head.buffer);
  writeFrameHeader(view, 0, Opcode.RECORDS, requestId, RECORDS_DATA_OFFSET + dataBytes);
  writeU64(view, FRAME_HEADER_BYTES + RECORDS_WATERMARK_OFFSET, watermark);
  return head;
}

/** A whole RECORDS frame (copies `data`; for tests and simple servers). */
export function encodeRecords(requestId: number, watermark: number, data: Uint8Array): Uint8Array {
  const frame = new Uint8Array(RECORDS_OVERHEAD_BYTES + data.length);
  frame.set(encodeRecordsHead(requestId, watermark, data.length));
  frame.set(data, RECORDS_OVERHEAD_BYTES);
  return frame;
}

export function encodeSubscriptionEnd(
  requestId: number,
  reason: number,
  nextOrdinal: number,
): Uint8Array {
  return new FrameWriter(Opcode.SUBSCRIPTION_END, requestId, SUBSCRIPTION_END_PAYLOAD_BYTES)
    .u8(reason)
    .u64(nextOrdinal)
    .done();
}

export function encodeStreamList(requestId: number, streamNames: readonly string[]): Uint8Array {
  let payload = U32;
  for (const name of streamNames) payload += str8Bytes(name, 'a stream name');
  const writer = new FrameWriter(Opcode.STREAM_LIST, requestId, payload).u32(streamNames.length);
  for (const name of streamNames) writer.str8(name);
  return writer.done();
}

function writeHashKey(writer: FrameWriter, decimal: string): void {
  let value = BigInt(decimal);
  const bytes = new Uint8Array(HASH_KEY_BYTES);
  for (let i = HASH_KEY_BYTES - 1; i >= 0; i--) {
    bytes[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  writer.raw(bytes);
}

export function encodeShardMap(requestId: number, shards: readonly ShardMapEntry[]): Uint8Array {
  let payload = U32;
  for (const shard of shards) {
    payload +=
      U8 +
      str8Bytes(shard.shardId, 'a shard id') +
      str8Bytes(shard.parentShardId ?? '', 'a shard id') +
      str8Bytes(shard.adjacentParentShardId ?? '', 'a shard id') +
      2 * HASH_KEY_BYTES +
      str8Bytes(shard.sequenceBase, 'a sequence base');
  }
  const writer = new FrameWriter(Opcode.SHARD_MAP, requestId, payload).u32(shards.length);
  for (const shard of shards) {
    const auto = shard.autoDistribution === true ? SHARD_FLAG_AUTO_DISTRIBUTION : 0;
    writer
      .u8((shard.closed ? SHARD_FLAG_CLOSED : 0) | auto)
      .str8(shard.shardId)
      .str8(shard.parentShardId ?? '')
      .str8(shard.adjacentParentShardId ?? '');
    writeHashKey(writer, shard.startingHashKey);
    writeHashKey(writer, shard.endingHashKey);
    writer.str8(shard.sequenceBase);
  }
  return writer.done();
}

// ---- the batch stream of a subscription ---------------------------------------------------------

/** Bigger batches than this in a batch stream mean the stream is corrupt. */
export const STREAM_BATCH_BYTES_MAX = 64 * 1024 * 1024;
const LENGTH_END = BATCH_LENGTH_OFFSET + BATCH_LENGTH_BYTES;

/** A complete batch out of a subscription's batch stream. */
export type BatchHandler = (batch: Uint8Array, fields: BatchFields, assembled: boolean) => void;

/**
 * Cuts a subscription's batch stream (the concatenated data of its RECORDS frames) back into
 * batches. A batch that lies within one frame is handed on as a view of it; one that straddles
 * frames is assembled into a buffer of its own (`assembled` is then true).
 */
export class BatchStreamDecoder {
  private readonly head = new Uint8Array(LENGTH_END);
  private headFilled = 0;
  private assembly: Uint8Array | undefined;
  private assemblyFilled = 0;

  /** Bytes of an incomplete batch held here. */
  get pendingBytes(): number {
    return this.assembly ? this.assemblyFilled : this.headFilled;
  }

  push(data: Uint8Array, onBatch: BatchHandler): void {
    let position = 0;
    while (position < data.length) {
      if (this.headFilled > 0 || this.assembly) {
        position = this.continueAssembly(data, position, onBatch);
        continue;
      }
      const left = data.length - position;
      if (left < LENGTH_END) {
        this.head.set(data.subarray(position));
        this.headFilled = left;
        return;
      }
      const length = this.lengthAt(data, position);
      if (length <= left) {
        const fields = readBatchFields(data, position);
        if (!fields) throw new Error('subscription stream: corrupt batch header');
        onBatch(data.subarray(position, position + length), fields, false);
        position += length;
      } else {
        this.assembly = new Uint8Array(length);
        this.assembly.set(data.subarray(position));
        this.assemblyFilled = left;
        return;
      }
    }
  }

  private lengthAt(bytes: Uint8Array, offset: number): number {
    const view = new DataView(bytes.buffer, bytes.byteOffset + offset, LENGTH_END);
    const length = view.getUint32(BATCH_LENGTH_OFFSET, true);
    if (length < BATCH_HEADER_BYTES || length > STREAM_BATCH_BYTES_MAX) {
      throw new Error(`subscription stream: batch length ${length} is out of range`);
    }
    return length;
  }

  private continueAssembly(data: Uint8Array, position: number, onBatch: BatchHandler): number {
    if (!this.assembly) {
      const take = Math.min(LENGTH_END - this.headFilled, data.length - position);
      this.head.set(data.subarray(position, position + take), this.headFilled);
      this.headFilled += take;
      position += take;
      if (this.headFilled < LENGTH_END) return position;
      this.assembly = new Uint8Array(this.lengthAt(this.head, 0));
      this.assembly.set(this.head);
      this.assemblyFilled = LENGTH_END;
      this.headFilled = 0;
    }
    const take = Math.min(this.assembly.length - this.assemblyFilled, data.length - position);
    this.assembly.set(data.subarray(position, position + take), this.assemblyFilled);
    this.assemblyFilled += take;
    position += take;
    if (this.assemblyFilled === this.assembly.length) {
      const batch = this.assembly;
      this.assembly = undefined;
      this.assemblyFilled = 0;
      const fields = readBatchFields(batch, 0);
      if (!fields) throw new Error('subscription stream: corrupt batch header');
      onBatch(batch, fields, true);
    }
    return position;
  }
}
