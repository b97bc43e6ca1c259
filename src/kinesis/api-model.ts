/**
 * The Kinesis API model as data: for each operation, its input members with their types and
 * constraints (botocore `kinesis/2013-12-02/service-2.json`, plus the members added by
 * `@aws-sdk/client-kinesis` 3.1143). `validation.ts` compiles it into checkers; the HTTP layer
 * reads it for JSON and CBOR type checks.
 */

import { EXPLICIT_HASH_KEY_PATTERN } from './hash-key.js';
import { SHARD_LEVEL_METRICS } from './shapes.js';
import {
  CONSUMER_ARN_CHARS_MAX,
  CONSUMER_NAME_CHARS_MAX,
  DATA_BYTES_MAX,
  DESCRIBE_STREAM_LIMIT_MAX,
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
} from '../limits.js';

// ---- The model --------------------------------------------------------------------------------

export type MemberType =
  'string' | 'integer' | 'long' | 'boolean' | 'blob' | 'timestamp' | 'list' | 'map' | 'structure';

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
export const LINEAR_PATTERNS: ReadonlyMap<string, RegExp> = new Map([
  [STREAM_ARN_PATTERN, /^arn:aws(?=(.*?:kinesis:))\1(?=(.*:\d{12}:stream\/)\S)\2\S+$/],
  [RESOURCE_ARN_PATTERN, /^arn:aws(?=(.*?:kinesis:))\1(?=(.*?:\d{12}:))\2(?=(.*stream\/)\S)\3\S+$/],
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
const HASH_KEY: MemberModel = {
  type: 'string',
  shape: 'HashKey',
  pattern: EXPLICIT_HASH_KEY_PATTERN,
};
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
  member: enumeration('MetricsName', [...SHARD_LEVEL_METRICS, 'ALL']),
};
const MINIMUM_THROUGHPUT_BILLING_COMMITMENT: MemberModel = {
  type: 'structure',
  shape: 'MinimumThroughputBillingCommitmentInput',
  members: {
    Status: required(
      enumeration('MinimumThroughputBillingCommitmentInputStatus', ['ENABLED', 'DISABLED']),
    ),
  },
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
/** PutRecords's Records, with `partitionKey` as the stream's distribution strategy needs it. */
function putRecordsEntryList(partitionKey: MemberModel): MemberModel {
  return {
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
        PartitionKey: partitionKey,
      },
    },
  };
}

function operation(
  shape: string,
  members: Record<string, MemberModel>,
  streamTarget = false,
): OperationModel {
  return { shape, members, streamTarget };
}

/** Members shared by the operations that name a stream by name or ARN. */
function onStream(shape: string, members: Record<string, MemberModel>): OperationModel {
  return operation(shape, members, true);
}

function putRecordModel(partitionKey: MemberModel): OperationModel {
  return onStream('PutRecordInput', {
    StreamName: STREAM_NAME,
    Data: required(DATA),
    PartitionKey: partitionKey,
    ExplicitHashKey: HASH_KEY,
    SequenceNumberForOrdering: SEQUENCE_NUMBER,
    StreamARN: STREAM_ARN,
    StreamId: STREAM_ID,
    DryRun: BOOLEAN,
  });
}

function putRecordsModel(partitionKey: MemberModel): OperationModel {
  return onStream('PutRecordsInput', {
    Records: required(putRecordsEntryList(partitionKey)),
    StreamName: STREAM_NAME,
    StreamARN: STREAM_ARN,
    StreamId: STREAM_ID,
    DryRun: BOOLEAN,
  });
}

/**
 * Every operation's input. PutRecord's and PutRecords's PartitionKey is required here, as in
 * every model before SDK 3.1143: that is how a stream with the default record distribution
 * strategy (USER_PARTITION_KEY), or a request naming no stream, is validated, so such requests
 * fail exactly as they always have. AUTO_DISTRIBUTION_MODELS has the newest model's optional key.
 */
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
  DeleteResourcePolicy: operation('DeleteResourcePolicyInput', {
    ResourceARN: required(RESOURCE_ARN),
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
  DescribeAccountSettings: operation('DescribeAccountSettingsInput', {}),
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
    // No upper bound here, unlike the model's 10000: above GET_RECORDS_LIMIT_MAX Kinesis answers
    // InvalidArgumentException, which the engine raises (validation.ts says why).
    Limit: { type: 'integer', shape: 'GetRecordsInputLimit', min: NON_EMPTY },
    StreamARN: STREAM_ARN,
    StreamId: STREAM_ID,
    DryRun: BOOLEAN,
  }),
  GetResourcePolicy: operation('GetResourcePolicyInput', {
    ResourceARN: required(RESOURCE_ARN),
    StreamId: STREAM_ID,
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
  PutRecord: putRecordModel(required(PARTITION_KEY)),
  PutRecords: putRecordsModel(required(PARTITION_KEY)),
  // The model puts no bound on Policy; the engine checks that it is a JSON object within
  // RESOURCE_POLICY_BYTES_MAX (InvalidArgumentException).
  PutResourcePolicy: operation('PutResourcePolicyInput', {
    ResourceARN: required(RESOURCE_ARN),
    StreamId: STREAM_ID,
    Policy: required({ type: 'string', shape: 'Policy' }),
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
  // UpdateMaxRecordSize names its stream by StreamARN only; the model makes it optional, and the
  // engine answers its absence with InvalidArgumentException.
  UpdateAccountSettings: operation('UpdateAccountSettingsInput', {
    MinimumThroughputBillingCommitment: required(MINIMUM_THROUGHPUT_BILLING_COMMITMENT),
  }),
  UpdateMaxRecordSize: operation('UpdateMaxRecordSizeInput', {
    MaxRecordSizeInKiB: required(MAX_RECORD_SIZE_IN_KIB),
    StreamARN: STREAM_ARN,
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
  UpdateStreamRecordDistributionStrategy: operation('UpdateStreamRecordDistributionStrategyInput', {
    StreamARN: required(STREAM_ARN),
    RecordDistributionStrategy: required(RECORD_DISTRIBUTION_STRATEGY),
    StreamId: STREAM_ID,
  }),
  // No upper bound in the model: above WARM_THROUGHPUT_MIBPS_MAX the engine answers
  // LimitExceededException, as for Kinesis's other default limits.
  UpdateStreamWarmThroughput: onStream('UpdateStreamWarmThroughputInput', {
    StreamARN: STREAM_ARN,
    StreamName: STREAM_NAME,
    StreamId: STREAM_ID,
    WarmThroughputMiBps: required(NATURAL_INTEGER),
  }),
} as const satisfies Record<string, OperationModel>;

/**
 * PutRecord and PutRecords as SDK 3.1143's model has them, for a stream whose record
 * distribution strategy is AUTO: PartitionKey is optional (the service places records itself and
 * ignores a key for placement), and a key that is given is checked as any other (1-256
 * characters). Members keep the order of OPERATION_MODELS, so failures are listed alike.
 */
export const AUTO_DISTRIBUTION_MODELS = {
  PutRecord: putRecordModel(PARTITION_KEY),
  PutRecords: putRecordsModel(PARTITION_KEY),
} as const satisfies Record<string, OperationModel>;

export type OperationName = keyof typeof OPERATION_MODELS;

export function isOperationName(value: unknown): value is OperationName {
  return typeof value === 'string' && Object.hasOwn(OPERATION_MODELS, value);
}
