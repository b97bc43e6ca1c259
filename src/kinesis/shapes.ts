/**
 * The request and response shapes of the Kinesis operations Runnel implements, member for member
 * as `@aws-sdk/client-kinesis` declares them (PascalCase members, blobs as `Uint8Array`,
 * timestamps as `Date`), so that a caller can swap an SDK command for an Engine method 1:1.
 */

export type StreamStatus = 'CREATING' | 'DELETING' | 'ACTIVE' | 'UPDATING';
export type StreamMode = 'PROVISIONED' | 'ON_DEMAND';
export type ShardIteratorType =
  'AT_SEQUENCE_NUMBER' | 'AFTER_SEQUENCE_NUMBER' | 'TRIM_HORIZON' | 'LATEST' | 'AT_TIMESTAMP';
export type EncryptionType = 'NONE' | 'KMS';
export type ShardFilterType =
  | 'AFTER_SHARD_ID'
  | 'AT_TRIM_HORIZON'
  | 'FROM_TRIM_HORIZON'
  | 'AT_LATEST'
  | 'AT_TIMESTAMP'
  | 'FROM_TIMESTAMP';

export const SHARD_ITERATOR_TYPES: readonly ShardIteratorType[] = [
  'AT_SEQUENCE_NUMBER',
  'AFTER_SEQUENCE_NUMBER',
  'TRIM_HORIZON',
  'LATEST',
  'AT_TIMESTAMP',
];

export interface StreamModeDetails {
  StreamMode: StreamMode | undefined;
}

/** Every stream operation names its stream by name, by ARN, or both. */
export interface StreamTarget {
  StreamName?: string;
  StreamARN?: string;
}

export interface HashKeyRange {
  StartingHashKey: string;
  EndingHashKey: string;
}

export interface SequenceNumberRange {
  StartingSequenceNumber: string;
  EndingSequenceNumber?: string;
}

export interface Shard {
  ShardId: string;
  ParentShardId?: string;
  AdjacentParentShardId?: string;
  HashKeyRange: HashKeyRange;
  SequenceNumberRange: SequenceNumberRange;
}

export interface ChildShard {
  ShardId: string;
  ParentShards: string[];
  HashKeyRange: HashKeyRange;
}

/** The shard-level metrics enhanced monitoring names, in the model's order. */
export const SHARD_LEVEL_METRICS = [
  'IncomingBytes',
  'IncomingRecords',
  'OutgoingBytes',
  'OutgoingRecords',
  'WriteProvisionedThroughputExceeded',
  'ReadProvisionedThroughputExceeded',
  'IteratorAgeMilliseconds',
] as const;
export type ShardLevelMetric = (typeof SHARD_LEVEL_METRICS)[number];
/** A metric a request may name: any of the seven, or `ALL` for every one. */
export type MetricsName = ShardLevelMetric | 'ALL';

export interface EnhancedMetrics {
  ShardLevelMetrics: ShardLevelMetric[];
}

export interface Tag {
  Key: string;
  Value?: string;
}

// ---- control plane --------------------------------------------------------------------------

export interface CreateStreamInput {
  StreamName: string;
  ShardCount?: number;
  StreamModeDetails?: StreamModeDetails;
  Tags?: Record<string, string>;
  MaxRecordSizeInKiB?: number;
  WarmThroughputMiBps?: number;
  RecordDistributionStrategy?: RecordDistributionStrategy;
}

export type RecordDistributionStrategy = 'AUTO' | 'USER_PARTITION_KEY';

export interface DeleteStreamInput extends StreamTarget {
  EnforceConsumerDeletion?: boolean;
}

export interface DescribeStreamInput extends StreamTarget {
  Limit?: number;
  ExclusiveStartShardId?: string;
}

export interface StreamDescription {
  StreamName: string;
  StreamARN: string;
  StreamStatus: StreamStatus;
  StreamModeDetails: StreamModeDetails;
  Shards: Shard[];
  HasMoreShards: boolean;
  RetentionPeriodHours: number;
  StreamCreationTimestamp: Date;
  EnhancedMonitoring: EnhancedMetrics[];
  EncryptionType: EncryptionType;
  /** The KMS key StartStreamEncryption named, while EncryptionType is KMS. */
  KeyId?: string;
}

export interface DescribeStreamOutput {
  StreamDescription: StreamDescription;
}

export interface StreamDescriptionSummary {
  StreamName: string;
  StreamARN: string;
  StreamStatus: StreamStatus;
  StreamModeDetails: StreamModeDetails;
  RetentionPeriodHours: number;
  StreamCreationTimestamp: Date;
  EnhancedMonitoring: EnhancedMetrics[];
  EncryptionType: EncryptionType;
  KeyId?: string;
  OpenShardCount: number;
  ConsumerCount: number;
  /** Present for an ON_DEMAND stream whose warm throughput was set, while the account's minimum
   * throughput billing commitment is on. */
  WarmThroughput?: WarmThroughputObject;
  MaxRecordSizeInKiB: number;
  /** Present for ON_DEMAND streams only, as the model documents it. */
  RecordDistributionStrategy?: RecordDistributionStrategy;
}

export interface DescribeStreamSummaryOutput {
  StreamDescriptionSummary: StreamDescriptionSummary;
}

export interface ListStreamsInput {
  Limit?: number;
  ExclusiveStartStreamName?: string;
  NextToken?: string;
}

export interface StreamSummary {
  StreamName: string;
  StreamARN: string;
  StreamStatus: StreamStatus;
  StreamModeDetails: StreamModeDetails;
  StreamCreationTimestamp: Date;
}

export interface ListStreamsOutput {
  StreamNames: string[];
  HasMoreStreams: boolean;
  NextToken?: string;
  StreamSummaries: StreamSummary[];
}

export interface ShardFilter {
  Type: ShardFilterType | undefined;
  ShardId?: string;
  Timestamp?: Date;
}

export interface ListShardsInput extends StreamTarget {
  NextToken?: string;
  ExclusiveStartShardId?: string;
  MaxResults?: number;
  StreamCreationTimestamp?: Date;
  ShardFilter?: ShardFilter;
}

export interface ListShardsOutput {
  Shards: Shard[];
  NextToken?: string;
}

export interface RetentionPeriodInput extends StreamTarget {
  RetentionPeriodHours: number;
}

export interface DescribeLimitsOutput {
  ShardLimit: number;
  OpenShardCount: number;
  OnDemandStreamCount: number;
  OnDemandStreamCountLimit: number;
}

export interface SplitShardInput extends StreamTarget {
  ShardToSplit: string;
  NewStartingHashKey: string;
}

export interface MergeShardsInput extends StreamTarget {
  ShardToMerge: string;
  AdjacentShardToMerge: string;
}

export type ScalingType = 'UNIFORM_SCALING';

export interface UpdateShardCountInput extends StreamTarget {
  TargetShardCount: number;
  ScalingType: ScalingType;
}

export interface UpdateShardCountOutput {
  StreamName: string;
  CurrentShardCount: number;
  TargetShardCount: number;
  StreamARN: string;
}

export interface UpdateStreamModeInput {
  StreamARN: string;
  StreamModeDetails: StreamModeDetails;
  WarmThroughputMiBps?: number;
}

export interface UpdateStreamRecordDistributionStrategyInput {
  StreamARN: string;
  RecordDistributionStrategy: RecordDistributionStrategy;
}

export interface UpdateMaxRecordSizeInput {
  StreamARN?: string;
  MaxRecordSizeInKiB: number;
}

export interface EnhancedMonitoringInput extends StreamTarget {
  ShardLevelMetrics: MetricsName[];
}

export interface EnhancedMonitoringOutput {
  StreamName: string;
  StreamARN: string;
  /** The stream's metrics before the call. */
  CurrentShardLevelMetrics: ShardLevelMetric[];
  /** The stream's metrics after the call. */
  DesiredShardLevelMetrics: ShardLevelMetric[];
}

/** StartStreamEncryption and StopStreamEncryption. */
export interface StreamEncryptionInput extends StreamTarget {
  EncryptionType: EncryptionType;
  KeyId: string;
}

export interface WarmThroughputObject {
  TargetMiBps?: number;
  CurrentMiBps?: number;
}

export interface UpdateStreamWarmThroughputInput extends StreamTarget {
  WarmThroughputMiBps: number;
}

export interface UpdateStreamWarmThroughputOutput {
  StreamARN: string;
  StreamName: string;
  WarmThroughput: WarmThroughputObject;
}

export type MinimumThroughputBillingCommitmentInputStatus = 'ENABLED' | 'DISABLED';
export type MinimumThroughputBillingCommitmentOutputStatus =
  'ENABLED' | 'DISABLED' | 'ENABLED_UNTIL_EARLIEST_ALLOWED_END';

export interface MinimumThroughputBillingCommitmentOutput {
  Status: MinimumThroughputBillingCommitmentOutputStatus;
  StartedAt?: Date;
  EndedAt?: Date;
  EarliestAllowedEndAt?: Date;
}

export interface UpdateAccountSettingsInput {
  MinimumThroughputBillingCommitment: { Status: MinimumThroughputBillingCommitmentInputStatus };
}

/** DescribeAccountSettings's and UpdateAccountSettings's answer. */
export interface AccountSettingsOutput {
  MinimumThroughputBillingCommitment: MinimumThroughputBillingCommitmentOutput;
}

/** A stream or a consumer, named by its ARN (the resource-policy operations). */
export interface ResourceTarget {
  ResourceARN: string;
}

export interface PutResourcePolicyInput extends ResourceTarget {
  /** A JSON policy document, as text. */
  Policy: string;
}

export interface GetResourcePolicyOutput {
  Policy: string;
}

export interface AddTagsToStreamInput extends StreamTarget {
  Tags: Record<string, string>;
}

export interface RemoveTagsFromStreamInput extends StreamTarget {
  TagKeys: string[];
}

export interface ListTagsForStreamInput extends StreamTarget {
  ExclusiveStartTagKey?: string;
  Limit?: number;
}

export interface ListTagsForStreamOutput {
  Tags: Tag[];
  HasMoreTags: boolean;
}

export interface TagResourceInput {
  ResourceARN: string;
  Tags: Record<string, string>;
}

export interface UntagResourceInput {
  ResourceARN: string;
  TagKeys: string[];
}

export interface ListTagsForResourceInput {
  ResourceARN: string;
}

export interface ListTagsForResourceOutput {
  Tags: Tag[];
}

// ---- data plane -----------------------------------------------------------------------------

/** Data-plane operations accept DryRun: check everything, then answer DryRunOperationException. */
export interface DryRunnable {
  DryRun?: boolean;
}

export interface PutRecordInput extends StreamTarget, DryRunnable {
  Data: Uint8Array;
  /** Required unless the stream's RecordDistributionStrategy is AUTO, which ignores it. */
  PartitionKey?: string;
  ExplicitHashKey?: string;
  SequenceNumberForOrdering?: string;
}

export interface PutRecordOutput {
  ShardId: string;
  SequenceNumber: string;
  EncryptionType: EncryptionType;
}

export interface PutRecordsRequestEntry {
  Data: Uint8Array;
  /** Required unless the stream's RecordDistributionStrategy is AUTO, which ignores it. */
  PartitionKey?: string;
  ExplicitHashKey?: string;
}

export interface PutRecordsInput extends StreamTarget, DryRunnable {
  Records: PutRecordsRequestEntry[];
}

export interface PutRecordsResultEntry {
  SequenceNumber?: string;
  ShardId?: string;
  ErrorCode?: string;
  ErrorMessage?: string;
}

export interface PutRecordsOutput {
  FailedRecordCount: number;
  Records: PutRecordsResultEntry[];
  EncryptionType: EncryptionType;
}

export interface GetShardIteratorInput extends StreamTarget, DryRunnable {
  ShardId: string;
  ShardIteratorType: ShardIteratorType;
  StartingSequenceNumber?: string;
  Timestamp?: Date;
}

export interface GetShardIteratorOutput {
  ShardIterator: string;
}

export interface GetRecordsInput extends DryRunnable {
  ShardIterator: string;
  Limit?: number;
  StreamARN?: string;
}

export interface KinesisRecord {
  SequenceNumber: string;
  ApproximateArrivalTimestamp: Date;
  Data: Uint8Array;
  /** Absent for a record put without one (a stream whose strategy is AUTO). */
  PartitionKey?: string;
  EncryptionType?: EncryptionType;
}

export interface GetRecordsOutput {
  Records: KinesisRecord[];
  NextShardIterator?: string;
  MillisBehindLatest: number;
  ChildShards?: ChildShard[];
}

// ---- enhanced fan-out ------------------------------------------------------------------------

export type ConsumerStatus = 'CREATING' | 'DELETING' | 'ACTIVE';

export interface Consumer {
  ConsumerName: string;
  ConsumerARN: string;
  ConsumerStatus: ConsumerStatus;
  ConsumerCreationTimestamp: Date;
}

export interface ConsumerDescription extends Consumer {
  StreamARN: string;
}

export interface RegisterStreamConsumerInput {
  StreamARN: string;
  ConsumerName: string;
  Tags?: Record<string, string>;
}

export interface RegisterStreamConsumerOutput {
  Consumer: Consumer;
}

/** A consumer named by its ARN, or by its stream's ARN and its name. */
export interface ConsumerTarget {
  StreamARN?: string;
  ConsumerName?: string;
  ConsumerARN?: string;
}

export interface DescribeStreamConsumerOutput {
  ConsumerDescription: ConsumerDescription;
}

export interface ListStreamConsumersInput {
  StreamARN: string;
  NextToken?: string;
  MaxResults?: number;
  StreamCreationTimestamp?: Date;
}

export interface ListStreamConsumersOutput {
  Consumers: Consumer[];
  NextToken?: string;
}

export interface StartingPosition {
  Type: ShardIteratorType;
  SequenceNumber?: string;
  Timestamp?: Date;
}

export interface SubscribeToShardInput {
  ConsumerARN: string;
  ShardId: string;
  StartingPosition: StartingPosition;
  DryRun?: boolean;
}

/** One event of a SubscribeToShard stream. At a closed shard's end, ContinuationSequenceNumber
 * is absent and ChildShards lists the shards it became. */
export interface SubscribeToShardEvent {
  Records: KinesisRecord[];
  ContinuationSequenceNumber?: string;
  MillisBehindLatest: number;
  ChildShards?: ChildShard[];
}
