/**
 * The `application/vnd.amazon.eventstream` message encoding SubscribeToShard answers with: each
 * message is
 *
 *   total length (uint32) | headers length (uint32) | prelude CRC32 (of the first 8 bytes)
 *   | headers | payload | message CRC32 (of everything before it)
 *
 * all big-endian, CRC32 the IEEE polynomial (zlib's). Each header is its name's length (uint8),
 * the name, a type byte and the value; Runnel sends string headers only (type 7: uint16 length,
 * then UTF-8), which is all Kinesis's events use.
 */
import { crc32 } from 'node:zlib';

export const EVENT_STREAM_CONTENT_TYPE = 'application/vnd.amazon.eventstream';
const HEADER_TYPE_STRING = 7;
const PRELUDE_BYTES = 12;
const CRC_BYTES = 4;

/** One message with string headers, in the order given. */
export function encodeEventMessage(
  headers: ReadonlyArray<readonly [string, string]>,
  payload: Buffer,
): Buffer {
  const encoded = headers.map(
    ([name, value]) => [Buffer.from(name, 'utf8'), Buffer.from(value, 'utf8')] as const,
  );
  let headersBytes = 0;
  for (const [name, value] of encoded) headersBytes += 1 + name.length + 1 + 2 + value.length;
  const total = PRELUDE_BYTES + headersBytes + payload.length + CRC_BYTES;
  const message = Buffer.allocUnsafe(total);
  message.writeUInt32BE(total, 0);
  message.writeUInt32BE(headersBytes, 4);
  message.writeUInt32BE(crc32(message.subarray(0, 8)), 8);
  let offset = PRELUDE_BYTES;
  for (const [name, value] of encoded) {
    message.writeUInt8(name.length, offset);
    offset += 1;
    offset += name.copy(message, offset);
    message.writeUInt8(HEADER_TYPE_STRING, offset);
    offset += 1;
    message.writeUInt16BE(value.length, offset);
    offset += 2;
    offset += value.copy(message, offset);
  }
  offset += payload.copy(message, offset);
  message.writeUInt32BE(crc32(message.subarray(0, offset)), offset);
  return message;
}

/**
 * An event: `:message-type` event, its `:event-type`, and a payload in the request's format (a
 * JSON or CBOR document, named by `:content-type`).
 */
export function encodeEvent(eventType: string, contentType: string, payload: Buffer): Buffer {
  return encodeEventMessage(
    [
      [':message-type', 'event'],
      [':event-type', eventType],
      [':content-type', contentType],
    ],
    payload,
  );
}

/**
 * A modeled error inside the stream: `:message-type` exception, named by `:exception-type`,
 * its payload the error's `{message}` document in the request's format.
 */
export function encodeException(
  exceptionType: string,
  contentType: string,
  payload: Buffer,
): Buffer {
  return encodeEventMessage(
    [
      [':message-type', 'exception'],
      [':exception-type', exceptionType],
      [':content-type', contentType],
    ],
    payload,
  );
}
