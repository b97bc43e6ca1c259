/**
 * The client's checks of its callers' arguments, made before anything is sent. Names, shard ids
 * and sequence numbers travel in `str8` fields (at most 255 bytes) and a starting position in
 * fixed fields that cannot say "no timestamp" or "unknown type", so what the wire cannot carry
 * must be refused here, with the errors the server gives for what it can carry:
 *
 *  - stream names, shard ids, iterator types, sequence numbers and timestamps are checked against
 *    the Kinesis API model (src/kinesis/api-model.ts), as GetShardIterator's model-driven
 *    validation checks them (a put's or LIST_SHARDS's stream name as PutRecords's and
 *    ListShards's), and refused in its words: one ValidationException listing every
 *    failing member in model order (`Value '…' at 'streamName' failed to satisfy constraint:
 *    …`);
 *  - an AT_TIMESTAMP position without a timestamp is refused with GetShardIterator's
 *    InvalidArgumentException.
 *
 * The wording follows src/kinesis/validation.ts, which this module cannot import: it reaches
 * Node's crypto module, and the client runs in browsers.
 */
import { KinesisError } from '../errors.js';
import { type MemberModel, OPERATION_MODELS } from '../kinesis/api-model.js';
import { VALIDATION_ERRORS_LISTED_MAX, WS_CREDIT_BYTES_MAX } from '../limits.js';
import type { StartingPositionType } from '../protocol/frames.js';

/** GetShardIterator's input members: what a SUBSCRIBE names, with their constraints. */
const MEMBERS = OPERATION_MODELS.GetShardIterator.members;
const STREAM_NAME = MEMBERS.StreamName!;
const SHARD_ID = MEMBERS.ShardId!;
const ITERATOR_TYPE = MEMBERS.ShardIteratorType!;
const SEQUENCE_NUMBER = MEMBERS.StartingSequenceNumber!;

/** The smallest subscription window: one byte of credit at a time. */
const WINDOW_BYTES_MIN = 1;
/**
 * The largest subscription window: the credit a server keeps per subscription
 * (docs/protocol.md §7.3). It ignores grants beyond it, which the client would count as in
 * flight for good.
 */
const WINDOW_BYTES_MAX = WS_CREDIT_BYTES_MAX;

const NOT_NULL = 'Member must not be null';

/** A compiled string member: its constraint messages, worded as Coral words them. */
interface StringRule {
  readonly model: MemberModel;
  readonly regex: RegExp | undefined;
  readonly enumSet: ReadonlySet<string> | undefined;
}

function rule(model: MemberModel): StringRule {
  return {
    model,
    // The model's pattern must match the whole value, as Java's String.matches does.
    regex: model.pattern === undefined ? undefined : new RegExp(`^(?:${model.pattern})$`),
    enumSet: model.enum === undefined ? undefined : new Set(model.enum),
  };
}

const STREAM_NAME_RULE = rule(STREAM_NAME);
const SHARD_ID_RULE = rule(SHARD_ID);
const ITERATOR_TYPE_RULE = rule(ITERATOR_TYPE);
const SEQUENCE_NUMBER_RULE = rule(SEQUENCE_NUMBER);

function codePoints(text: string): number {
  let length = 0;
  for (const _ of text) length++;
  return length;
}

/** The first constraint a present string member fails: type, length, pattern, enum. */
function stringFailure(value: unknown, { model, regex, enumSet }: StringRule): string | undefined {
  if (typeof value !== 'string') return 'Member must be of type string';
  // UTF-16 units bound code points from above and, halved, from below: count only when the
  // bounds cannot decide.
  let length = value.length;
  const min = model.minLength ?? 0;
  const max = model.maxLength ?? Infinity;
  if (length > max || length < 2 * min) length = codePoints(value);
  if (length < min) return `Member must have length greater than or equal to ${min}`;
  if (length > max) return `Member must have length less than or equal to ${max}`;
  if (regex && !regex.test(value)) {
    return `Member must satisfy regular expression pattern: ${model.pattern}`;
  }
  if (enumSet && !enumSet.has(value)) {
    return `Member must satisfy enum value set: [${model.enum!.join(', ')}]`;
  }
  return undefined;
}

/** The failures of one call, reported as one ValidationException. */
class Failures {
  private count = 0;
  private readonly messages: string[] = [];

  add(value: unknown, path: string, constraint: string): void {
    this.count++;
    if (this.messages.length >= VALIDATION_ERRORS_LISTED_MAX) return;
    const shown = value === undefined || value === null ? 'null' : `'${String(value)}'`;
    this.messages.push(`Value ${shown} at '${path}' failed to satisfy constraint: ${constraint}`);
  }

  /** Checks a string member; `required` members may not be absent. */
  check(value: unknown, path: string, stringRule: StringRule, required: boolean): void {
    if (value === undefined || value === null) {
      if (required) this.add(value, path, NOT_NULL);
      return;
    }
    const failure = stringFailure(value, stringRule);
    if (failure !== undefined) this.add(value, path, failure);
  }

  throwIfAny(): void {
    if (this.count === 0) return;
    const noun = this.count === 1 ? 'error' : 'errors';
    throw new KinesisError(
      'ValidationException',
      `${this.count} validation ${noun} detected: ${this.messages.join('; ')}`,
    );
  }
}

/** A stream operation names no stream: the server's words for it (validation.ts). */
function noStream(): KinesisError {
  const message = 'Neither StreamName nor StreamARN was provided.';
  return new KinesisError('InvalidArgumentException', message);
}

/** Checks the stream name of a put or LIST_SHARDS, as the Kinesis API model constrains it. */
export function checkStreamName(streamName: unknown): void {
  const failures = new Failures();
  failures.check(streamName, 'streamName', STREAM_NAME_RULE, false);
  failures.throwIfAny();
  if (streamName === undefined || streamName === null) throw noStream();
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
  const failures = new Failures();
  failures.check(streamName, 'streamName', STREAM_NAME_RULE, false);
  failures.check(shardId, 'shardId', SHARD_ID_RULE, true);
  failures.check(type, 'shardIteratorType', ITERATOR_TYPE_RULE, true);
  failures.check(sequenceNumber, 'startingSequenceNumber', SEQUENCE_NUMBER_RULE, false);
  let timestampMs = Number.NaN;
  if (timestamp !== undefined && timestamp !== null) {
    if (timestamp instanceof Date) timestampMs = timestamp.getTime();
    else if (typeof timestamp === 'number') timestampMs = new Date(timestamp).getTime();
    if (Number.isNaN(timestampMs)) {
      // A Date of a number outside the Date range is invalid too, as GetShardIterator sees it.
      const isTime = timestamp instanceof Date || typeof timestamp === 'number';
      const shown = isTime ? 'Invalid Date' : timestamp;
      failures.add(shown, 'timestamp', 'Member must be of type timestamp');
    }
  }
  failures.throwIfAny();
  if (streamName === undefined || streamName === null) throw noStream();
  if (type === 'AT_TIMESTAMP' && (timestamp === undefined || timestamp === null)) {
    throw new KinesisError(
      'InvalidArgumentException',
      'Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. ' +
        'Current request has no timestamp parameter.',
    );
  }
  return {
    type: type as StartingPositionType,
    // The wire's empty sequence number is an absent one; the server refuses a type that needs it.
    sequenceNumber: typeof sequenceNumber === 'string' ? sequenceNumber : '',
    timestampMs: type === 'AT_TIMESTAMP' ? Math.max(0, timestampMs) : 0,
  };
}

/** Checks a subscription window: an integer number of bytes the server's credit can hold. */
export function checkWindowBytes(windowBytes: unknown, path: string): number {
  const failures = new Failures();
  if (typeof windowBytes !== 'number' || !Number.isInteger(windowBytes)) {
    failures.add(windowBytes, path, 'Member must be of type integer');
  } else if (windowBytes < WINDOW_BYTES_MIN) {
    const constraint = `Member must have value greater than or equal to ${WINDOW_BYTES_MIN}`;
    failures.add(windowBytes, path, constraint);
  } else if (windowBytes > WINDOW_BYTES_MAX) {
    const constraint = `Member must have value less than or equal to ${WINDOW_BYTES_MAX}`;
    failures.add(windowBytes, path, constraint);
  }
  failures.throwIfAny();
  return windowBytes as number;
}
