/**
 * The client's checks of its callers' arguments, made before anything is sent. Names, shard ids
 * and sequence numbers travel in `str8` fields (at most 255 bytes) and a starting position in
 * fixed fields that cannot say "no timestamp" or "unknown type", so what the wire cannot carry
 * must be refused here, with the errors the server gives for what it can carry: the checks are
 * the server's own (src/kinesis/validation.ts, driven by the Kinesis API model), as
 * GetShardIterator makes them for a subscription and as every stream operation makes them for a
 * stream name.
 */
import { KinesisError } from '../errors.js';
import { requireStreamTarget, requireTimestamp, validateInput } from '../kinesis/validation.js';
import { WS_CREDIT_BYTES_MAX } from '../limits.js';
import type { StartingPositionType } from '../protocol/frames.js';

/** The smallest subscription window: one byte of credit at a time. */
const WINDOW_BYTES_MIN = 1;
/**
 * The largest subscription window: the credit a server keeps per subscription
 * (docs/protocol.md §7.3). It ignores grants beyond it, which the client would count as in
 * flight for good.
 */
const WINDOW_BYTES_MAX = WS_CREDIT_BYTES_MAX;

/** The last stream name checkStreamName passed: a client puts to the same stream again and again. */
let lastValidStreamName: string | undefined;

/** Checks the stream name of a put or LIST_SHARDS, as the Kinesis API model constrains it. */
export function checkStreamName(streamName: unknown): void {
  if (typeof streamName === 'string' && streamName === lastValidStreamName) return;
  validateInput('DescribeStreamSummary', { StreamName: streamName });
  requireStreamTarget({ StreamName: streamName });
  lastValidStreamName = streamName as string;
}

export interface PositionInput {
  type?: unknown;
  sequenceNumber?: unknown;
  timestamp?: unknown;
}

/** What a SUBSCRIBE carries of a checked starting position. */
export interface CheckedPosition {
  type: StartingPositionType;
  sequenceNumber: string;
  /** Epoch ms, 0 unless AT_TIMESTAMP. */
  timestampMs: number;
}

/**
 * Checks a subscription's stream, shard and starting position as GetShardIterator checks its
 * input, and returns the position's wire fields. A timestamp before the epoch (which the wire's
 * u64 cannot hold) is sent as 0: both precede every record, so both start at the first record.
 */
export function checkSubscribeArguments(
  streamName: unknown,
  shardId: unknown,
  position: PositionInput | undefined | null,
): CheckedPosition {
  const { type, sequenceNumber, timestamp } = position ?? {};
  // Epoch ms are a time as a Date is (a number outside the Date range is an invalid one).
  const time = typeof timestamp === 'number' ? new Date(timestamp) : timestamp;
  validateInput('GetShardIterator', {
    StreamName: streamName,
    ShardId: shardId,
    ShardIteratorType: type,
    StartingSequenceNumber: sequenceNumber,
    Timestamp: time,
  });
  requireStreamTarget({ StreamName: streamName });
  requireTimestamp(type, timestamp);
  return {
    type: type as StartingPositionType,
    // The wire's empty sequence number is an absent one; the server refuses a type that needs it.
    sequenceNumber: typeof sequenceNumber === 'string' ? sequenceNumber : '',
    timestampMs: type === 'AT_TIMESTAMP' ? Math.max(0, (time as Date).getTime()) : 0,
  };
}

/** Checks a subscription window: an integer number of bytes the server's credit can hold. */
export function checkWindowBytes(windowBytes: unknown, path: string): number {
  let constraint: string | undefined;
  if (typeof windowBytes !== 'number' || !Number.isInteger(windowBytes)) {
    constraint = 'Member must be of type integer';
  } else if (windowBytes < WINDOW_BYTES_MIN) {
    constraint = `Member must have value greater than or equal to ${WINDOW_BYTES_MIN}`;
  } else if (windowBytes > WINDOW_BYTES_MAX) {
    constraint = `Member must have value less than or equal to ${WINDOW_BYTES_MAX}`;
  }
  if (constraint === undefined) return windowBytes as number;
  throw new KinesisError(
    'ValidationException',
    `1 validation error detected: Value '${String(windowBytes)}' at '${path}' failed to satisfy constraint: ${constraint}`,
  );
}
