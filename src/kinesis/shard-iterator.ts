/**
 * Shard iterators: opaque, tamper-evident tokens that name a position in a shard and expire
 * SHARD_ITERATOR_TTL_MS after they were issued. Layout before base64 (big-endian):
 *
 *   [0]      version (1)
 *   [1..9)   issued at, epoch ms
 *   [9..17)  stream creation, epoch ms (an iterator of a deleted and recreated stream is invalid)
 *   [17..21) shard index
 *   [21..29) ordinal of the next record to return
 *   [29..37) position hint: base ordinal of the segment holding that record (or -1)
 *   [37..41) position hint: byte offset of the batch holding that record
 *   [41]     stream name length n, then n bytes of stream name
 *   [..+16)  HMAC-SHA256 over everything before it, truncated to 16 bytes
 *
 * The hint lets GetRecords continue where the last call stopped without an index search; it is
 * verified against the log before use, so a stale hint only costs a lookup.
 */
import { createHmac } from 'node:crypto';
import { SHARD_ITERATOR_CHARS_MAX } from '../limits.js';

const VERSION = 1;
const VERSION_OFFSET = 0;
const ISSUED_MS_OFFSET = VERSION_OFFSET + 1;
const STREAM_CREATED_MS_OFFSET = ISSUED_MS_OFFSET + 8;
const SHARD_INDEX_OFFSET = STREAM_CREATED_MS_OFFSET + 8;
const ORDINAL_OFFSET = SHARD_INDEX_OFFSET + 4;
const HINT_SEGMENT_OFFSET = ORDINAL_OFFSET + 8;
const HINT_BYTE_OFFSET = HINT_SEGMENT_OFFSET + 8;
const NAME_LENGTH_OFFSET = HINT_BYTE_OFFSET + 4;
const NAME_OFFSET = NAME_LENGTH_OFFSET + 1;
const MAC_BYTES = 16;

export interface IteratorPosition {
  issuedMs: number;
  streamName: string;
  streamCreatedMs: number;
  shardIndex: number;
  ordinal: number;
  hintSegmentBase: number;
  hintByteOffset: number;
}

export class ShardIteratorCodec {
  constructor(private readonly secret: Uint8Array) {}

  encode(position: IteratorPosition): string {
    const name = Buffer.from(position.streamName, 'utf8');
    const bytes = Buffer.alloc(NAME_OFFSET + name.length + MAC_BYTES);
    bytes.writeUInt8(VERSION, VERSION_OFFSET);
    bytes.writeBigInt64BE(BigInt(position.issuedMs), ISSUED_MS_OFFSET);
    bytes.writeBigInt64BE(BigInt(position.streamCreatedMs), STREAM_CREATED_MS_OFFSET);
    bytes.writeUInt32BE(position.shardIndex, SHARD_INDEX_OFFSET);
    bytes.writeBigInt64BE(BigInt(position.ordinal), ORDINAL_OFFSET);
    bytes.writeBigInt64BE(BigInt(position.hintSegmentBase), HINT_SEGMENT_OFFSET);
    bytes.writeUInt32BE(position.hintByteOffset, HINT_BYTE_OFFSET);
    bytes.writeUInt8(name.length, NAME_LENGTH_OFFSET);
    name.copy(bytes, NAME_OFFSET);
    const macOffset = NAME_OFFSET + name.length;
    this.mac(bytes.subarray(0, macOffset)).copy(bytes, macOffset);
    const text = bytes.toString('base64');
    if (text.length > SHARD_ITERATOR_CHARS_MAX) throw new Error('shard iterator too long');
    return text;
  }

  /** Returns the position, or undefined when the text is not an iterator this engine issued. */
  decode(text: string): IteratorPosition | undefined {
    if (text.length > SHARD_ITERATOR_CHARS_MAX || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) {
      return undefined;
    }
    const bytes = Buffer.from(text, 'base64');
    if (bytes.length < NAME_OFFSET + MAC_BYTES || bytes[VERSION_OFFSET] !== VERSION) {
      return undefined;
    }
    const nameLength = bytes.readUInt8(NAME_LENGTH_OFFSET);
    const macOffset = NAME_OFFSET + nameLength;
    if (bytes.length !== macOffset + MAC_BYTES) return undefined;
    const expected = this.mac(bytes.subarray(0, macOffset));
    if (!expected.equals(bytes.subarray(macOffset))) return undefined;
    return {
      issuedMs: Number(bytes.readBigInt64BE(ISSUED_MS_OFFSET)),
      streamCreatedMs: Number(bytes.readBigInt64BE(STREAM_CREATED_MS_OFFSET)),
      shardIndex: bytes.readUInt32BE(SHARD_INDEX_OFFSET),
      ordinal: Number(bytes.readBigInt64BE(ORDINAL_OFFSET)),
      hintSegmentBase: Number(bytes.readBigInt64BE(HINT_SEGMENT_OFFSET)),
      hintByteOffset: bytes.readUInt32BE(HINT_BYTE_OFFSET),
      streamName: bytes.toString('utf8', NAME_OFFSET, macOffset),
    };
  }

  private mac(bytes: Uint8Array): Buffer {
    return createHmac('sha256', this.secret).update(bytes).digest().subarray(0, MAC_BYTES);
  }
}
