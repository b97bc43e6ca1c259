/**
 * Model-driven input validation, as the Kinesis front end (Coral) does it before an operation
 * runs: every input member is checked against the constraints of the API model (botocore
 * `kinesis/2013-12-02/service-2.json`, plus the members added by `@aws-sdk/client-kinesis`
 * 3.1143) and every failure is reported in one `ValidationException`:
 *
 *   2 validation errors detected: Value 'x y' at 'streamName' failed to satisfy constraint:
 *   Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value null at 'shardId'
 *   failed to satisfy constraint: Member must not be null
 *
 * `OPERATION_MODELS` is plain data (also read by the HTTP layer for JSON type checks); at load it
 * is compiled into a tree of checkers with every regex, enum set and message built once, so a
 * 500-record PutRecords is one tight loop with no per-record allocation on the success path.
 *
 * Choices where the reference is silent:
 * - Failures are listed in model member order (botocore order; members newer than the botocore
 *   snapshot in the SDK's order). Coral's order follows Java hashing and cannot be reproduced.
 * - One failure per member, the first in the order null, type, length, pattern / range / enum.
 *   This is where Runnel knowingly differs from kinesalite, whose messages were recorded against
 *   AWS: it lists every failing constraint of a member (an empty StreamName gets a pattern and a
 *   length failure there).
 * - Every non-null value is quoted (`Value '0' at 'limit'`, as kinesalite recorded from AWS);
 *   values render as Java's toString would: blobs as `java.nio.HeapByteBuffer[pos=0 lim=N
 *   cap=N]`, lists as `[a, b]`, maps as `{k=v}`, structures as `Shape(member=value, ...)` with
 *   absent members left out, timestamps as `java.util.Date` prints them in UTC.
 * - A list of strings and a map are checked as a whole, in Coral's wording: `Member must satisfy
 *   constraint: [...]`, `Map keys must satisfy constraint: [...]`, `Map value must satisfy
 *   constraint: [...]`, listing all of the element's constraints. A list of structures is
 *   descended into: `records.2.member.partitionKey`.
 * - String lengths count Unicode code points (Smithy `@length`), not UTF-16 units.
 * - Patterns must match the whole string (Java `String.matches`).
 * - Wrong JavaScript types (only library callers can send them; the HTTP layer answers
 *   SerializationException first) fail with `Member must be of type <type>`. A blob is a
 *   `Uint8Array`, a timestamp a valid `Date`, an integer a whole number in the Java int range.
 * - `PartitionKey` is required, as in every model before 2026: the newest model makes it optional
 *   for RecordDistributionStrategy AUTO streams, which Runnel does not implement.
 * - `RetentionPeriodHours` has no range in the model; the engine checks 24–8760 and answers
 *   InvalidArgumentException in Kinesis's words. `Data` above the stream's record size (1 MiB by
 *   default) is likewise the engine's check; the model's bound is 10485760 bytes.
 * - `StreamId` (reserved by AWS) is accepted as any string and otherwise ignored.
 */

import { KinesisError } from '../errors.js';
import {
  CONSUMER_ARN_CHARS_MAX,
  CONSUMER_NAME_CHARS_MAX,
  DATA_BYTES_MAX,
  DESCRIBE_STREAM_LIMIT_MAX,
  GET_RECORDS_LIMIT_MAX,
  KMS_KEY_ID_CHARS_MAX,
  LIST_SHARDS_MAX_RESULTS_MAX,
  LIST_STREAM_CONSUMERS_MAX_RESULTS_MAX,
  LIST_STREAMS_LIMIT_MAX,
  LIST_TAGS_LIMIT_MAX,
  NEXT_TOKEN_CHARS_MAX,
  PARTITION_KEY_CHARS_MAX,
  PARTITION_KEY_CHARS_MIN,
  PUT_RECORDS_ENTRIES_MAX,
  PUT_RECORDS_ENTRIES_MIN,
  RECORD_SIZE_MAX_KIB,
  RECORD_SIZE_MIN_KIB,
  RESOURCE_ARN_CHARS_MAX,
  SHARD_COUNT_MIN,
  SHARD_ID_CHARS_MAX,
  SHARD_ITERATOR_CHARS_MAX,
  SHARD_LEVEL_METRICS_MAX,
  STREAM_ARN_CHARS_MAX,
  STREAM_NAME_CHARS_MAX,
  TAG_KEY_CHARS_MAX,
  TAG_KEYS_PER_REMOVE_MAX,
  TAG_VALUE_CHARS_MAX,
  TAGS_PER_REQUEST_MAX,
  VALIDATION_ERRORS_LISTED_MAX,
} from '../limits.js';

// ---- The model --------------------------------------------------------------------------------

export type MemberType =
  | 'string'
  | 'integer'
  | 'long'
  | 'boolean'
  | 'blob'
  | 'timestamp'
  | 'list'
  | 'map'
  | 'structure';

/** One member (or list element, map key, map value) of an input shape. */
export interface MemberModel {
  readonly type: MemberType;
  /** The model's shape name (`StreamName`, `PutRecordsRequestEntry`, ...). */
  readonly shape?: string;
  readonly required?: boolean;
  /** Code points for strings, bytes for blobs, entries for lists and maps. */
  readonly minLength?: number;
  readonly maxLength?: number;
  /** Java regular expression the whole string must match, exactly as the model spells it. */
  readonly pattern?: string;
  /** Inclusive bounds of an integer or long. */
  readonly min?: number;
  readonly max?: number;
  readonly enum?: readonly string[];
  /** The element of a list. */
  readonly member?: MemberModel;
  /** The key and value of a map. */
  readonly key?: MemberModel;
  readonly value?: MemberModel;
  /** The members of a structure, in model order. */
  readonly members?: Readonly<Record<string, MemberModel>>;
}

export interface OperationModel {
  /** The input shape's name, e.g. `PutRecordsInput`. */
  readonly shape: string;
  readonly members: Readonly<Record<string, MemberModel>>;
  /** The stream is named by `StreamName` or `StreamARN`, at least one (see requireStreamTarget). */
  readonly streamTarget: boolean;
}

/** The model's lower bound for every non-empty string, list and map. */
const NON_EMPTY = 1;
/** The model's lower bound for a tag value, which may be empty. */
const EMPTY_ALLOWED = 0;
const NAME_PATTERN = '[a-zA-Z0-9_.-]+';
const STREAM_ARN_PATTERN = 'arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+';
const RESOURCE_ARN_PATTERN = 'arn:aws.*:kinesis:.*:\\d{12}:.*stream/\\S+';
const CONSUMER_ARN_PATTERN =
  '^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+' +
  '\\/consumer\\/[a-zA-Z0-9_.-]+:[0-9]+';

/**
 * The ARN patterns chain two or three `.*`, so a backtracking engine can spend O(n^3) steps on a
 * crafted 2048-character value (a third of a second, measured) before failing. These are the
 * same languages, matched in linear time: a lookahead captures a match and the backreference
 * consumes it, which commits to it (an atomic group). Committing is safe because the earliest
 * `:kinesis:` and `:<12 digits>:` leave the most room to what follows, and the last `stream/`
 * followed by a non-space leaves the shortest tail for `\S+`. A test compares each with the
 * model's pattern on random strings.
 */
const LINEAR_PATTERNS: ReadonlyMap<string, RegExp> = new Map([
  [STREAM_ARN_PATTERN, /^arn:aws(?=(.*?:kinesis:))\1(?=(.*:\d{12}:stream\/)\S)\2\S+$/],
  [
    RESOURCE_ARN_PATTERN,
    /^arn:aws(?=(.*?:kinesis:))\1(?=(.*?:\d{12}:))\2(?=(.*stream\/)\S)\3\S+$/,
  ],
  [
    CONSUMER_ARN_PATTERN,
    new RegExp(
      '^arn:aws(?=(.*?:kinesis:))\\1(?=(.*?:\\d{12}:))\\2' +
        '.*stream\\/[a-zA-Z0-9_.-]+\\/consumer\\/[a-zA-Z0-9_.-]+:[0-9]+$',
    ),
  ],
]);

function required(model: MemberModel): MemberModel {
  return { ...model, required: true };
}

const STRING: MemberModel = { type: 'string' };
const BOOLEAN: MemberModel = { type: 'boolean', shape: 'BooleanObject' };
const TIMESTAMP: MemberModel = { type: 'timestamp', shape: 'Timestamp' };
const STREAM_NAME: MemberModel = {
  type: 'string',
  shape: 'StreamName',
  minLength: NON_EMPTY,
  maxLength: STREAM_NAME_CHARS_MAX,
  pattern: NAME_PATTERN,
};
const STREAM_ARN: MemberModel = {
  type: 'string',
  shape: 'StreamARN',
  minLength: NON_EMPTY,
  maxLength: STREAM_ARN_CHARS_MAX,
  pattern: STREAM_ARN_PATTERN,
};
/** Reserved by AWS ("Not Implemented"); accepted and ignored. */
const STREAM_ID: MemberModel = { ...STRING, shape: 'StreamId' };
const SHARD_ID: MemberModel = {
  type: 'string',
  shape: 'ShardId',
  minLength: NON_EMPTY,
  maxLength: SHARD_ID_CHARS_MAX,
  pattern: NAME_PATTERN,
};
const HASH_KEY: MemberModel = { type: 'string', shape: 'HashKey', pattern: '0|([1-9]\\d{0,38})' };
const SEQUENCE_NUMBER: MemberModel = {
  type: 'string',
  shape: 'SequenceNumber',
  pattern: '0|([1-9]\\d{0,128})',
};
const PARTITION_KEY: MemberModel = {
  type: 'string',
  shape: 'PartitionKey',
  minLength: PARTITION_KEY_CHARS_MIN,
  maxLength: PARTITION_KEY_CHARS_MAX,
};
const DATA: MemberModel = { type: 'blob', shape: 'Data', maxLength: DATA_BYTES_MAX };
const NEXT_TOKEN: MemberModel = {
  type: 'string',
  shape: 'NextToken',
  minLength: NON_EMPTY,
  maxLength: NEXT_TOKEN_CHARS_MAX,
};
const SHARD_ITERATOR: MemberModel = {
  type: 'string',
  shape: 'ShardIterator',
  minLength: NON_EMPTY,
  maxLength: SHARD_ITERATOR_CHARS_MAX,
};
const CONSUMER_NAME: MemberModel = {
  type: 'string',
  shape: 'ConsumerName',
  minLength: NON_EMPTY,
  maxLength: CONSUMER_NAME_CHARS_MAX,
  pattern: NAME_PATTERN,
};
const CONSUMER_ARN: MemberModel = {
  type: 'string',
  shape: 'ConsumerARN',
  minLength: NON_EMPTY,
  maxLength: CONSUMER_ARN_CHARS_MAX,
  pattern: CONSUMER_ARN_PATTERN,
};
const RESOURCE_ARN: MemberModel = {
  type: 'string',
  shape: 'ResourceARN',
  minLength: NON_EMPTY,
  maxLength: RESOURCE_ARN_CHARS_MAX,
  pattern: RESOURCE_ARN_PATTERN,
};
const KEY_ID: MemberModel = {
  type: 'string',
  shape: 'KeyId',
  minLength: NON_EMPTY,
  maxLength: KMS_KEY_ID_CHARS_MAX,
};
const TAG_KEY: MemberModel = {
  type: 'string',
  shape: 'TagKey',
  minLength: NON_EMPTY,
  maxLength: TAG_KEY_CHARS_MAX,
};
const TAG_VALUE: MemberModel = {
  type: 'string',
  shape: 'TagValue',
  minLength: EMPTY_ALLOWED,
  maxLength: TAG_VALUE_CHARS_MAX,
};
const TAG_MAP: MemberModel = {
  type: 'map',
  shape: 'TagMap',
  minLength: NON_EMPTY,
  maxLength: TAGS_PER_REQUEST_MAX,
  key: TAG_KEY,
  value: TAG_VALUE,
};
const TAG_KEY_LIST: MemberModel = {
  type: 'list',
  shape: 'TagKeyList',
  minLength: NON_EMPTY,
  maxLength: TAG_KEYS_PER_REMOVE_MAX,
  member: TAG_KEY,
};
const POSITIVE_INTEGER: MemberModel = {
  type: 'integer',
  shape: 'PositiveIntegerObject',
  min: SHARD_COUNT_MIN,
};
const NATURAL_INTEGER: MemberModel = { type: 'integer', shape: 'NaturalIntegerObject', min: 0 };
/** No range in the model: the engine checks 24–8760 hours (InvalidArgumentException). */
const RETENTION_PERIOD_HOURS: MemberModel = { type: 'integer', shape: 'RetentionPeriodHours' };
const MAX_RECORD_SIZE_IN_KIB: MemberModel = {
  type: 'integer',
  shape: 'MaxRecordSizeInKiB',
  min: RECORD_SIZE_MIN_KIB,
  max: RECORD_SIZE_MAX_KIB,
};

function limit(shape: string, max: number): MemberModel {
  return { type: 'integer', shape, min: NON_EMPTY, max };
}

function enumeration(shape: string, values: readonly string[]): MemberModel {
  return { type: 'string', shape, enum: values };
}

const SHARD_ITERATOR_TYPE = enumeration('ShardIteratorType', [
  'AT_SEQUENCE_NUMBER',
  'AFTER_SEQUENCE_NUMBER',
  'TRIM_HORIZON',
  'LATEST',
  'AT_TIMESTAMP',
]);
const SHARD_FILTER_TYPE = enumeration('ShardFilterType', [
  'AFTER_SHARD_ID',
  'AT_TRIM_HORIZON',
  'FROM_TRIM_HORIZON',
  'AT_LATEST',
  'AT_TIMESTAMP',
  'FROM_TIMESTAMP',
]);
const STREAM_MODE = enumeration('StreamMode', ['PROVISIONED', 'ON_DEMAND']);
const ENCRYPTION_TYPE = enumeration('EncryptionType', ['NONE', 'KMS']);
const SCALING_TYPE = enumeration('ScalingType', ['UNIFORM_SCALING']);
const RECORD_DISTRIBUTION_STRATEGY = enumeration('RecordDistributionStrategy', [
  'AUTO',
  'USER_PARTITION_KEY',
]);
const METRICS_NAME_LIST: MemberModel = {
  type: 'list',
  shape: 'MetricsNameList',
  minLength: NON_EMPTY,
  maxLength: SHARD_LEVEL_METRICS_MAX,
  member: enumeration('MetricsName', [
    'IncomingBytes',
    'IncomingRecords',
    'OutgoingBytes',
    'OutgoingRecords',
    'WriteProvisionedThroughputExceeded',
    'ReadProvisionedThroughputExceeded',
    'IteratorAgeMilliseconds',
    'ALL',
  ]),
};
const STREAM_MODE_DETAILS: MemberModel = {
  type: 'structure',
  shape: 'StreamModeDetails',
  members: { StreamMode: required(STREAM_MODE) },
};
const SHARD_FILTER: MemberModel = {
  type: 'structure',
  shape: 'ShardFilter',
  members: { Type: required(SHARD_FILTER_TYPE), ShardId: SHARD_ID, Timestamp: TIMESTAMP },
};
const STARTING_POSITION: MemberModel = {
  type: 'structure',
  shape: 'StartingPosition',
  members: {
    Type: required(SHARD_ITERATOR_TYPE),
    SequenceNumber: SEQUENCE_NUMBER,
    Timestamp: TIMESTAMP,
  },
};
const PUT_RECORDS_REQUEST_ENTRY_LIST: MemberModel = {
  type: 'list',
  shape: 'PutRecordsRequestEntryList',
  minLength: PUT_RECORDS_ENTRIES_MIN,
  maxLength: PUT_RECORDS_ENTRIES_MAX,
  member: {
    type: 'structure',
    shape: 'PutRecordsRequestEntry',
    members: {
      Data: required(DATA),
      ExplicitHashKey: HASH_KEY,
      PartitionKey: required(PARTITION_KEY),
    },
  },
};

function operation(
  shape: string,
  members: Record<string, MemberModel>,
  streamTarget = false,
): OperationModel {
  return { shape, members, streamTarget };
}

/** Members shared by the operations that name a stream by name or ARN. */
function onStream(
  shape: string,
  members: Record<string, MemberModel>,
): OperationModel {
  return operation(shape, members, true);
}

export const OPERATION_MODELS = {
  AddTagsToStream: onStream('AddTagsToStreamInput', {
    StreamName: STREAM_NAME,
    Tags: required(TAG_MAP),
    StreamARN: STREAM_ARN,
    StreamId: STREAM_ID,
  }),
  CreateStream: operation('CreateStreamInput', {
    StreamName: required(STREAM_NAME),
    ShardCount: POSITIVE_INTEGER,
    StreamModeDetails: STREAM_MODE_DETAILS,
    Tags: TAG_MAP,
    WarmThroughputMiBps: NATURAL_INTEGER,
    MaxRecordSizeInKiB: MAX_RECORD_SIZE_IN_KIB,
    RecordDistributionStrategy: RECORD_DISTRIBUTION_STRATEGY,
  }),
  DecreaseStreamRetentionPeriod: onStream('DecreaseStreamRetentionPeriodInput', {
    StreamName: STREAM_NAME,
    RetentionPeriodHours: required(RETENTION_PERIOD_HOURS),
    StreamARN: STREAM_ARN,
    StreamId: STREAM_ID,
  }),
  DeleteStream: onStream('DeleteStreamInput', {
    StreamName: STREAM_NAME,
    EnforceConsumerDeletion: BOOLEAN,
    StreamARN: STREAM_ARN,
    StreamId: STREAM_ID,
  }),
  DeregisterStreamConsumer: operation('DeregisterStreamConsumerInput', {
    StreamARN: STREAM_ARN,
    ConsumerName: CONSUMER_NAME,
    ConsumerARN: CONSUMER_ARN,
    StreamId: STREAM_ID,
  }),
  DescribeLimits: operation('DescribeLimitsInput', {}),
  DescribeStream: onStream('DescribeStreamInput', {
    StreamName: STREAM_NAME,
    Limit: limit('DescribeStreamInputLimit', DESCRIBE_STREAM_LIMIT_MAX),
    ExclusiveStartShardId: SHARD_ID,
    StreamARN: STREAM_ARN,
    StreamId: STREAM_ID,
  }),
  DescribeStreamConsumer: operation('DescribeStreamConsumerInput', {
    StreamARN: STREAM_ARN,
    ConsumerName: CONSUMER_NAME,
    ConsumerARN: CONSUMER_ARN,
    StreamId: STREAM_ID,
  }),
  DescribeStreamSummary: onStream('DescribeStreamSummaryInput', {
    StreamName: STREAM_NAME,
    StreamARN: STREAM_ARN,
    StreamId: STREAM_ID,
  }),
  DisableEnhancedMonitoring: onStream('DisableEnhancedMonitoringInput', {
    StreamName: STREAM_NAME,
    ShardLevelMetrics: required(METRICS_NAME_LIST),
    StreamARN: STREAM_ARN,
    StreamId: STREAM_ID,
  }),
  EnableEnhancedMonitoring: onStream('EnableEnhancedMonitoringInput', {
    StreamName: STREAM_NAME,
    ShardLevelMetrics: required(METRICS_NAME_LIST),
    StreamARN: STREAM_ARN,
    StreamId: STREAM_ID,
  }),
  GetRecords: operation('GetRecordsInput', {
    ShardIterator: required(SHARD_ITERATOR),
    Limit: limit('GetRecordsInputLimit', GET_RECORDS_LIMIT_MAX),
    StreamARN: STREAM_ARN,
    StreamId: STREAM_ID,
    DryRun: BOOLEAN,
  }),
  GetShardIterator: onStream('GetShardIteratorInput', {
    StreamName: STREAM_NAME,
    ShardId: required(SHARD_ID),
    ShardIteratorType: required(SHARD_ITERATOR_TYPE),
    StartingSequenceNumber: SEQUENCE_NUMBER,
    Timestamp: TIMESTAMP,
    StreamARN: STREAM_ARN,
    StreamId: STREAM_ID,
    DryRun: BOOLEAN,
  }),
  IncreaseStreamRetentionPeriod: onStream('IncreaseStreamRetentionPeriodInput', {
    StreamName: STREAM_NAME,
    RetentionPeriodHours: required(RETENTION_PERIOD_HOURS),
    StreamARN: STREAM_ARN,
    StreamId: STREAM_ID,
  }),
  // ListShards names its stream by StreamName/StreamARN or by NextToken alone.
  ListShards: operation('ListShardsInput', {
    StreamName: STREAM_NAME,
    NextToken: NEXT_TOKEN,
    ExclusiveStartShardId: SHARD_ID,
    MaxResults: limit('ListShardsInputLimit', LIST_SHARDS_MAX_RESULTS_MAX),
    StreamCreationTimestamp: TIMESTAMP,
    ShardFilter: SHARD_FILTER,
    StreamARN: STREAM_ARN,
    StreamId: STREAM_ID,
  }),
  ListStreamConsumers: operation('ListStreamConsumersInput', {
    StreamARN: required(STREAM_ARN),
    NextToken: NEXT_TOKEN,
    MaxResults: limit('ListStreamConsumersInputLimit', LIST_STREAM_CONSUMERS_MAX_RESULTS_MAX),
    StreamCreationTimestamp: TIMESTAMP,
    StreamId: STREAM_ID,
  }),
  ListStreams: operation('ListStreamsInput', {
    Limit: limit('ListStreamsInputLimit', LIST_STREAMS_LIMIT_MAX),
    ExclusiveStartStreamName: STREAM_NAME,
    NextToken: NEXT_TOKEN,
  }),
  ListTagsForResource: operation('ListTagsForResourceInput', {
    ResourceARN: required(RESOURCE_ARN),
    StreamId: STREAM_ID,
  }),
  ListTagsForStream: onStream('ListTagsForStreamInput', {
    StreamName: STREAM_NAME,
    ExclusiveStartTagKey: TAG_KEY,
    Limit: limit('ListTagsForStreamInputLimit', LIST_TAGS_LIMIT_MAX),
    StreamARN: STREAM_ARN,
    StreamId: STREAM_ID,
  }),
  MergeShards: onStream('MergeShardsInput', {
    StreamName: STREAM_NAME,
    ShardToMerge: required(SHARD_ID),
    AdjacentShardToMerge: required(SHARD_ID),
    StreamARN: STREAM_ARN,
    StreamId: STREAM_ID,
  }),
  PutRecord: onStream('PutRecordInput', {
    StreamName: STREAM_NAME,
    Data: required(DATA),
    PartitionKey: required(PARTITION_KEY),
    ExplicitHashKey: HASH_KEY,
    SequenceNumberForOrdering: SEQUENCE_NUMBER,
    StreamARN: STREAM_ARN,
    StreamId: STREAM_ID,
    DryRun: BOOLEAN,
  }),
  PutRecords: onStream('PutRecordsInput', {
    Records: required(PUT_RECORDS_REQUEST_ENTRY_LIST),
    StreamName: STREAM_NAME,
    StreamARN: STREAM_ARN,
    StreamId: STREAM_ID,
    DryRun: BOOLEAN,
  }),
  RegisterStreamConsumer: operation('RegisterStreamConsumerInput', {
    StreamARN: required(STREAM_ARN),
    ConsumerName: required(CONSUMER_NAME),
    StreamId: STREAM_ID,
    Tags: TAG_MAP,
  }),
  RemoveTagsFromStream: onStream('RemoveTagsFromStreamInput', {
    StreamName: STREAM_NAME,
    TagKeys: required(TAG_KEY_LIST),
    StreamARN: STREAM_ARN,
    StreamId: STREAM_ID,
  }),
  SplitShard: onStream('SplitShardInput', {
    StreamName: STREAM_NAME,
    ShardToSplit: required(SHARD_ID),
    NewStartingHashKey: required(HASH_KEY),
    StreamARN: STREAM_ARN,
    StreamId: STREAM_ID,
  }),
  StartStreamEncryption: onStream('StartStreamEncryptionInput', {
    StreamName: STREAM_NAME,
    EncryptionType: required(ENCRYPTION_TYPE),
    KeyId: required(KEY_ID),
    StreamARN: STREAM_ARN,
    StreamId: STREAM_ID,
  }),
  StopStreamEncryption: onStream('StopStreamEncryptionInput', {
    StreamName: STREAM_NAME,
    EncryptionType: required(ENCRYPTION_TYPE),
    KeyId: required(KEY_ID),
    StreamARN: STREAM_ARN,
    StreamId: STREAM_ID,
  }),
  SubscribeToShard: operation('SubscribeToShardInput', {
    ConsumerARN: required(CONSUMER_ARN),
    ShardId: required(SHARD_ID),
    StartingPosition: required(STARTING_POSITION),
    StreamId: STREAM_ID,
    DryRun: BOOLEAN,
  }),
  TagResource: operation('TagResourceInput', {
    Tags: required(TAG_MAP),
    ResourceARN: required(RESOURCE_ARN),
    StreamId: STREAM_ID,
  }),
  UntagResource: operation('UntagResourceInput', {
    TagKeys: required(TAG_KEY_LIST),
    ResourceARN: required(RESOURCE_ARN),
    StreamId: STREAM_ID,
  }),
  UpdateShardCount: onStream('UpdateShardCountInput', {
    StreamName: STREAM_NAME,
    TargetShardCount: required(POSITIVE_INTEGER),
    ScalingType: required(SCALING_TYPE),
    StreamARN: STREAM_ARN,
    StreamId: STREAM_ID,
  }),
  UpdateStreamMode: operation('UpdateStreamModeInput', {
    StreamARN: required(STREAM_ARN),
    StreamModeDetails: required(STREAM_MODE_DETAILS),
    StreamId: STREAM_ID,
    WarmThroughputMiBps: NATURAL_INTEGER,
  }),
} as const satisfies Record<string, OperationModel>;

export type OperationName = keyof typeof OPERATION_MODELS;

export function isOperationName(value: unknown): value is OperationName {
  return typeof value === 'string' && Object.hasOwn(OPERATION_MODELS, value);
}

// ---- Compiled checkers ------------------------------------------------------------------------

const NOT_NULL = 'Member must not be null';

/** A member model with everything the hot loop needs precomputed. */
interface Checker {
  readonly model: MemberModel;
  readonly type: MemberType;
  readonly required: boolean;
  readonly minLength: number;
  readonly maxLength: number;
  readonly min: number;
  readonly max: number;
  readonly regex: RegExp | null;
  readonly enumSet: ReadonlySet<string> | null;
  /** List element or map value. */
  readonly element: Checker | null;
  readonly key: Checker | null;
  readonly fields: readonly Field[];
  readonly typeMessage: string;
  readonly minLengthMessage: string;
  readonly maxLengthMessage: string;
  readonly minMessage: string;
  readonly maxMessage: string;
  readonly patternMessage: string;
  readonly enumMessage: string;
  /** For lists of scalars: every element constraint, in Coral's bracketed form. */
  readonly elementsMessage: string;
  readonly keysMessage: string;
  readonly valuesMessage: string;
}

interface Field {
  readonly name: string;
  /** The member's name in messages: lowerCamel, as Coral's Java field names are. */
  readonly pathName: string;
  readonly checker: Checker;
}

/** Java's int range: a library caller's 2**31 would not survive Coral's deserializer. */
const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** Each constraint of a scalar model, worded as Coral lists them inside `[...]`. */
function constraintMessages(model: MemberModel): string[] {
  const messages: string[] = [];
  if (model.maxLength !== undefined) {
    messages.push(`Member must have length less than or equal to ${model.maxLength}`);
  }
  if (model.minLength !== undefined) {
    messages.push(`Member must have length greater than or equal to ${model.minLength}`);
  }
  if (model.pattern !== undefined) {
    messages.push(`Member must satisfy regular expression pattern: ${model.pattern}`);
  }
  if (model.enum !== undefined) {
    messages.push(`Member must satisfy enum value set: [${model.enum.join(', ')}]`);
  }
  if (model.max !== undefined) {
    messages.push(`Member must have value less than or equal to ${model.max}`);
  }
  if (model.min !== undefined) {
    messages.push(`Member must have value greater than or equal to ${model.min}`);
  }
  return messages;
}

/** The model's pattern must match the whole value, as Java's `String.matches` does. */
function modelRegex(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}

function patternRegex(pattern: string): RegExp {
  return LINEAR_PATTERNS.get(pattern) ?? modelRegex(pattern);
}

function compile(model: MemberModel, forceRequired = false): Checker {
  const elementModel = model.type === 'list' ? model.member : model.value;
  const fields: Field[] = [];
  for (const [name, member] of Object.entries(model.members ?? {})) {
    fields.push({ name, pathName: lowerFirst(name), checker: compile(member) });
  }
  const elementConstraints = elementModel ? constraintMessages(elementModel).join(', ') : '';
  const keyConstraints = model.key ? constraintMessages(model.key).join(', ') : '';
  return {
    model,
    type: model.type,
    required: forceRequired || model.required === true,
    minLength: model.minLength ?? 0,
    maxLength: model.maxLength ?? Infinity,
    min: model.min ?? -Infinity,
    max: model.max ?? Infinity,
    regex: model.pattern === undefined ? null : patternRegex(model.pattern),
    enumSet: model.enum === undefined ? null : new Set(model.enum),
    // List elements are never null in a well-formed request; a null one is reported as such.
    element: elementModel ? compile(elementModel, true) : null,
    key: model.key ? compile(model.key, true) : null,
    fields,
    typeMessage: `Member must be of type ${model.type}`,
    minLengthMessage: `Member must have length greater than or equal to ${model.minLength}`,
    maxLengthMessage: `Member must have length less than or equal to ${model.maxLength}`,
    minMessage: `Member must have value greater than or equal to ${model.min}`,
    maxMessage: `Member must have value less than or equal to ${model.max}`,
    patternMessage: `Member must satisfy regular expression pattern: ${model.pattern}`,
    enumMessage: `Member must satisfy enum value set: [${model.enum?.join(', ')}]`,
    elementsMessage: `Member must satisfy constraint: [${elementConstraints}]`,
    keysMessage: `Map keys must satisfy constraint: [${keyConstraints}]`,
    valuesMessage: `Map value must satisfy constraint: [${elementConstraints}]`,
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

deepFreeze(OPERATION_MODELS);

const CHECKERS: ReadonlyMap<string, readonly Field[]> = new Map(
  Object.entries(OPERATION_MODELS).map(([name, op]): [string, readonly Field[]] => [
    name,
    compile({ type: 'structure', shape: op.shape, members: op.members }).fields,
  ]),
);

// ---- Checking ---------------------------------------------------------------------------------

/** One validation pass: the failures found so far and the path to the member being checked. */
interface Context {
  count: number;
  readonly messages: string[];
  /** Member names, map keys, and list indexes (numbers, 0-based). */
  readonly path: (string | number)[];
}

function codePointLength(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // A high surrogate followed by a low one is a single code point.
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    length++;
  }
  return length;
}

function lengthFailure(length: number, checker: Checker): string | null {
  if (length < checker.minLength) return checker.minLengthMessage;
  if (length > checker.maxLength) return checker.maxLengthMessage;
  return null;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** The first constraint a present scalar fails (its type first), or null. */
function scalarFailure(value: unknown, checker: Checker): string | null {
  switch (checker.type) {
    case 'string': {
      if (typeof value !== 'string') return checker.typeMessage;
      let length = value.length;
      // UTF-16 units bound code points from above and, halved, from below: count only when the
      // bounds cannot decide.
      if (length > checker.maxLength || length < 2 * checker.minLength) {
        length = codePointLength(value);
      }
      const failure = lengthFailure(length, checker);
      if (failure !== null) return failure;
      if (checker.regex !== null && !checker.regex.test(value)) return checker.patternMessage;
      if (checker.enumSet !== null && !checker.enumSet.has(value)) return checker.enumMessage;
      return null;
    }
    case 'integer':
    case 'long': {
      if (typeof value !== 'number' || !Number.isInteger(value)) return checker.typeMessage;
      const representable = checker.type === 'integer'
        ? value >= INT_MIN && value <= INT_MAX
        : Number.isSafeInteger(value);
      if (!representable) return checker.typeMessage;
      if (value < checker.min) return checker.minMessage;
      if (value > checker.max) return checker.maxMessage;
      return null;
    }
    case 'boolean':
      return typeof value === 'boolean' ? null : checker.typeMessage;
    case 'blob':
      if (!(value instanceof Uint8Array)) return checker.typeMessage;
      return lengthFailure(value.byteLength, checker);
    case 'timestamp':
      return value instanceof Date && !Number.isNaN(value.getTime()) ? null : checker.typeMessage;
    default:
      return checker.typeMessage;
  }
}

function checkFields(context: Context, input: Record<string, unknown>, fields: readonly Field[]) {
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!;
    context.path.push(field.pathName);
    checkValue(context, input[field.name], field.checker);
    context.path.pop();
  }
}

function checkValue(context: Context, value: unknown, checker: Checker): void {
  if (value === undefined || value === null) {
    if (checker.required) report(context, null, checker, NOT_NULL);
    return;
  }
  switch (checker.type) {
    case 'structure':
      if (!isPlainObject(value)) return report(context, value, checker, checker.typeMessage);
      return checkFields(context, value, checker.fields);
    case 'list': {
      if (!Array.isArray(value)) return report(context, value, checker, checker.typeMessage);
      const failure = lengthFailure(value.length, checker);
      if (failure !== null) return report(context, value, checker, failure);
      return checkList(context, value, checker);
    }
    case 'map':
      if (!isPlainObject(value)) return report(context, value, checker, checker.typeMessage);
      return checkMap(context, value, checker);
    default: {
      const failure = scalarFailure(value, checker);
      if (failure !== null) report(context, value, checker, failure);
    }
  }
}

function checkList(context: Context, list: readonly unknown[], checker: Checker): void {
  const element = checker.element!;
  const { type } = element;
  if (type === 'structure' || type === 'list' || type === 'map') {
    for (let i = 0; i < list.length; i++) {
      context.path.push(i);
      checkValue(context, list[i], element);
      context.path.pop();
    }
    return;
  }
  // Coral checks a list of scalars as a whole; only a missing or mistyped element has a path.
  let constraintFailed = false;
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    const failure = item === undefined || item === null ? NOT_NULL : scalarFailure(item, element);
    if (failure === null) continue;
    if (failure === NOT_NULL || failure === element.typeMessage) {
      context.path.push(i);
      report(context, item, element, failure);
      context.path.pop();
    } else {
      constraintFailed = true;
    }
  }
  if (constraintFailed) report(context, list, checker, checker.elementsMessage);
}

function checkMap(context: Context, map: Record<string, unknown>, checker: Checker): void {
  const keys = Object.keys(map);
  const failure = lengthFailure(keys.length, checker);
  if (failure !== null) return report(context, map, checker, failure);
  const keyChecker = checker.key!;
  const valueChecker = checker.element!;
  let keyFailed = false;
  let valueFailed = false;
  for (const key of keys) {
    if (scalarFailure(key, keyChecker) !== null) keyFailed = true;
    const value = map[key];
    const valueFailure =
      value === undefined || value === null ? NOT_NULL : scalarFailure(value, valueChecker);
    if (valueFailure === null) continue;
    if (valueFailure === NOT_NULL || valueFailure === valueChecker.typeMessage) {
      context.path.push(key);
      report(context, value, valueChecker, valueFailure);
      context.path.pop();
    } else {
      valueFailed = true;
    }
  }
  if (keyFailed) report(context, map, checker, checker.keysMessage);
  else if (valueFailed) report(context, map, checker, checker.valuesMessage);
}

function report(context: Context, value: unknown, checker: Checker, constraint: string): void {
  context.count++;
  if (context.messages.length >= VALIDATION_ERRORS_LISTED_MAX) return;
  const shown =
    value === undefined || value === null ? 'null' : `'${render(value, checker.model)}'`;
  context.messages.push(
    `Value ${shown} at '${renderPath(context.path)}' failed to satisfy constraint: ${constraint}`,
  );
}

function renderPath(path: readonly (string | number)[]): string {
  return path.map((segment) => (typeof segment === 'number' ? `${segment + 1}.member` : segment))
    .join('.');
}

// ---- Rendering values as Java's toString would -----------------------------------------------

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTH_NAMES = [
  'Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec',
];

function twoDigits(value: number): string {
  return String(value).padStart(2, '0');
}

/** `java.util.Date#toString` in UTC: `Thu Jan 22 01:22:02 UTC 2015`. */
function renderDate(date: Date): string {
  if (Number.isNaN(date.getTime())) return 'Invalid Date';
  const time = [date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()]
    .map(twoDigits)
    .join(':');
  return `${DAY_NAMES[date.getUTCDay()]} ${MONTH_NAMES[date.getUTCMonth()]} ` +
    `${twoDigits(date.getUTCDate())} ${time} UTC ${date.getUTCFullYear()}`;
}

function render(value: unknown, model: MemberModel | undefined): string {
  if (value === undefined || value === null) return 'null';
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) {
    return `java.nio.HeapByteBuffer[pos=0 lim=${value.byteLength} cap=${value.byteLength}]`;
  }
  if (value instanceof Date) return renderDate(value);
  if (Array.isArray(value)) {
    const element = model?.type === 'list' ? model.member : undefined;
    return `[${value.map((item) => render(item, element)).join(', ')}]`;
  }
  if (typeof value === 'object') {
    const object = value as Record<string, unknown>;
    if (model?.type === 'structure' && model.members !== undefined) {
      const parts: string[] = [];
      for (const [name, member] of Object.entries(model.members)) {
        const memberValue = object[name];
        if (memberValue === undefined || memberValue === null) continue;
        parts.push(`${lowerFirst(name)}=${render(memberValue, member)}`);
      }
      return `${model.shape ?? 'Object'}(${parts.join(', ')})`;
    }
    const entryModel = model?.type === 'map' ? model.value : undefined;
    const entries = Object.keys(object).map((key) => `${key}=${render(object[key], entryModel)}`);
    return `{${entries.join(', ')}}`;
  }
  return String(value);
}

// ---- Public entry points ----------------------------------------------------------------------

const NO_INPUT: Record<string, unknown> = Object.freeze({});

/**
 * Checks `input` against the model of `operation` and throws one ValidationException listing
 * every failing member (at most VALIDATION_ERRORS_LISTED_MAX, counted in full). Members the
 * model does not know are ignored, as Coral ignores them. A missing input counts as `{}`. The
 * input's type is `object` so that typed inputs (`PutRecordsInput`, ...) need no cast.
 */
export function validateInput(operation: string, input: object): void {
  const fields = CHECKERS.get(operation);
  if (fields === undefined) {
    throw new KinesisError('UnknownOperationException', `Operation ${operation} is not supported.`);
  }
  const context: Context = { count: 0, messages: [], path: [] };
  // Typed inputs (CreateStreamInput, ...) are read member by member, like any other object.
  checkFields(context, (input ?? NO_INPUT) as Record<string, unknown>, fields);
  if (context.count === 0) return;
  const noun = context.count === 1 ? 'error' : 'errors';
  throw new KinesisError(
    'ValidationException',
    `${context.count} validation ${noun} detected: ${context.messages.join('; ')}`,
  );
}

/**
 * Every stream operation needs StreamName, StreamARN, or both. AWS does not document its message
 * for neither; kinesis-mock answers InvalidArgumentException "Neither streamArn or streamName
 * was provided". Runnel keeps that error code, in the model's member names.
 */
export function requireStreamTarget(input: { StreamName?: unknown; StreamARN?: unknown }): void {
  const { StreamName, StreamARN } = input;
  if ((StreamName === undefined || StreamName === null) &&
    (StreamARN === undefined || StreamARN === null)) {
    throw new KinesisError(
      'InvalidArgumentException',
      'Neither StreamName nor StreamARN was provided.',
    );
  }
}
