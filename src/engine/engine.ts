/**
 * The Engine: Runnel as a library. Every Kinesis operation is a method named in camelCase that
 * takes and returns the shapes of `@aws-sdk/client-kinesis` (src/kinesis/shapes.ts) and throws
 * errors named as Kinesis names them. The main thread validates, routes records by MD5 of the
 * partition key (on a stream whose RecordDistributionStrategy is AUTO, in turn over the open
 * shards: record-distribution.ts) and encodes one batch per shard; shard workers append; reads
 * come straight from the shared index and the segment files, without messaging the owner.
 *
 * This class is the facade: Engine.open builds the engine's parts around one EngineContext
 * (engine-context.ts: the streams, catalog, worker pool, options and the helpers they share) and
 * each method hands its call to the part that implements it, where its behaviour is documented:
 *
 *   engine-lifecycle.ts     restoring the catalog's streams at open, close, worker test hooks
 *   stream-admin.ts         CreateStream, DeleteStream, DescribeStream(Summary), ListStreams,
 *                           ListShards
 *   retention.ts            retention periods, and expiring records past them
 *   stream-settings.ts      stream mode, record distribution strategy, maximum record size,
 *                           enhanced monitoring, warm throughput, encryption
 *   resharding.ts           SplitShard, MergeShards, UpdateShardCount
 *   account-settings.ts     account settings and limits
 *   resource-tags.ts        tags of streams and consumers
 *   resource-policies.ts    resource policies of streams and consumers
 *   consumers.ts            enhanced fan-out consumers
 *   record-writes.ts        PutRecord(s) and the batch put paths
 *   record-reads.ts         GetShardIterator, GetRecords and the push reads
 *   shard-subscriptions.ts  SubscribeToShard
 *
 * The parts import the context and one another, never this file.
 */
import { availableParallelism } from 'node:os';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { WORKERS_MAX } from '../limits.js';
import type * as K from '../kinesis/shapes.js';
import type { RecordInput } from './batch-encoder.js';
import { type CatalogFile, loadCatalog } from './catalog.js';
import { WorkerPool } from './worker-pool.js';
import { DataDirLock } from './data-dir-lock.js';
import { type EngineOptions, checkOptions } from './engine-options.js';
import { EngineContext } from './engine-context.js';
import { EngineLifecycle } from './engine-lifecycle.js';
import { AccountSettings } from './account-settings.js';
import { StreamRetention } from './retention.js';
import { StreamSettings } from './stream-settings.js';
import { StreamAdmin } from './stream-admin.js';
import { Resharding } from './resharding.js';
import { StreamConsumers } from './consumers.js';
import { ResourceTags } from './resource-tags.js';
import { ResourcePolicies } from './resource-policies.js';
import { type PreparedRecords, RecordWrites } from './record-writes.js';
import { RecordReads } from './record-reads.js';
import { type ShardSubscription, ShardSubscriptions } from './shard-subscriptions.js';
import type { PutRecordBatchResult } from './put-record-batch-result.js';

export type { EngineOptions } from './engine-options.js';
export type { ShardSubscription } from './shard-subscriptions.js';
export type { PreparedRecords } from './record-writes.js';
export type { PutRecordBatchResult } from './put-record-batch-result.js';

export class Engine {
  private readonly context: EngineContext;
  private readonly lifecycle: EngineLifecycle;
  private readonly account: AccountSettings;
  private readonly retention: StreamRetention;
  private readonly settings: StreamSettings;
  private readonly streamAdmin: StreamAdmin;
  private readonly resharding: Resharding;
  private readonly consumers: StreamConsumers;
  private readonly tags: ResourceTags;
  private readonly policies: ResourcePolicies;
  private readonly writes: RecordWrites;
  private readonly reads: RecordReads;
  private readonly subscriptions: ShardSubscriptions;

  private constructor(
    readonly dataDir: string,
    pool: WorkerPool,
    catalog: CatalogFile,
    lock: DataDirLock,
    options: EngineOptions,
  ) {
    const context = new EngineContext(dataDir, pool, catalog, options);
    this.context = context;
    this.account = new AccountSettings(context);
    this.retention = new StreamRetention(context);
    this.settings = new StreamSettings(context, this.account);
    this.streamAdmin = new StreamAdmin(context, this.account, this.settings);
    this.resharding = new Resharding(context, this.account);
    this.consumers = new StreamConsumers(context);
    this.tags = new ResourceTags(context, this.consumers);
    this.policies = new ResourcePolicies(context, this.consumers);
    this.writes = new RecordWrites(context);
    this.reads = new RecordReads(context);
    this.subscriptions = new ShardSubscriptions(context, this.consumers, this.reads, options);
    this.lifecycle = new EngineLifecycle(context, lock, this.resharding, this.retention);
  }

  static async open(options: EngineOptions): Promise<Engine> {
    checkOptions(options);
    const dataDir = resolve(options.dataDir);
    mkdirSync(dataDir, { recursive: true });
    const lock = await DataDirLock.acquire(dataDir);
    let engine: Engine;
    try {
      const catalog = loadCatalog(dataDir);
      const workers = options.workers ?? Math.min(availableParallelism(), WORKERS_MAX);
      engine = new Engine(dataDir, new WorkerPool(workers), catalog, lock, options);
    } catch (error) {
      lock.release();
      throw error;
    }
    try {
      await engine.lifecycle.restore();
    } catch (error) {
      await engine.close();
      throw error;
    }
    return engine;
  }

  /** Number of shard worker threads. */
  get workerCount(): number {
    return this.context.pool.size;
  }

  // ---- lifecycle (engine-lifecycle.ts) --------------------------------------------------------------

  close(): Promise<void> {
    return this.lifecycle.close();
  }

  // ---- streams (stream-admin.ts) ------------------------------------------------------------------

  createStream(input: K.CreateStreamInput): Promise<Record<string, never>> {
    return this.streamAdmin.createStream(input);
  }

  deleteStream(input: K.DeleteStreamInput): Promise<Record<string, never>> {
    return this.streamAdmin.deleteStream(input);
  }

  describeStream(input: K.DescribeStreamInput): Promise<K.DescribeStreamOutput> {
    return this.streamAdmin.describeStream(input);
  }

  describeStreamSummary(input: K.StreamTarget): Promise<K.DescribeStreamSummaryOutput> {
    return this.streamAdmin.describeStreamSummary(input);
  }

  listStreams(input: K.ListStreamsInput = {}): Promise<K.ListStreamsOutput> {
    return this.streamAdmin.listStreams(input);
  }

  listShards(input: K.ListShardsInput): Promise<K.ListShardsOutput> {
    return this.streamAdmin.listShards(input);
  }

  // ---- retention (retention.ts) -------------------------------------------------------------------

  increaseStreamRetentionPeriod(input: K.RetentionPeriodInput): Promise<Record<string, never>> {
    return this.retention.increaseStreamRetentionPeriod(input);
  }

  decreaseStreamRetentionPeriod(input: K.RetentionPeriodInput): Promise<Record<string, never>> {
    return this.retention.decreaseStreamRetentionPeriod(input);
  }

  enforceRetention(): Promise<number> {
    return this.retention.enforceRetention();
  }

  // ---- stream settings (stream-settings.ts) -------------------------------------------------------

  updateStreamMode(input: K.UpdateStreamModeInput): Promise<Record<string, never>> {
    return this.settings.updateStreamMode(input);
  }

  updateStreamRecordDistributionStrategy(
    input: K.UpdateStreamRecordDistributionStrategyInput,
  ): Promise<Record<string, never>> {
    return this.settings.updateStreamRecordDistributionStrategy(input);
  }

  updateMaxRecordSize(input: K.UpdateMaxRecordSizeInput): Promise<Record<string, never>> {
    return this.settings.updateMaxRecordSize(input);
  }

  enableEnhancedMonitoring(input: K.EnhancedMonitoringInput): Promise<K.EnhancedMonitoringOutput> {
    return this.settings.enableEnhancedMonitoring(input);
  }

  disableEnhancedMonitoring(input: K.EnhancedMonitoringInput): Promise<K.EnhancedMonitoringOutput> {
    return this.settings.disableEnhancedMonitoring(input);
  }

  updateStreamWarmThroughput(
    input: K.UpdateStreamWarmThroughputInput,
  ): Promise<K.UpdateStreamWarmThroughputOutput> {
    return this.settings.updateStreamWarmThroughput(input);
  }

  startStreamEncryption(input: K.StreamEncryptionInput): Promise<Record<string, never>> {
    return this.settings.startStreamEncryption(input);
  }

  stopStreamEncryption(input: K.StreamEncryptionInput): Promise<Record<string, never>> {
    return this.settings.stopStreamEncryption(input);
  }

  // ---- resharding (resharding.ts) -----------------------------------------------------------------

  splitShard(input: K.SplitShardInput): Promise<Record<string, never>> {
    return this.resharding.splitShard(input);
  }

  mergeShards(input: K.MergeShardsInput): Promise<Record<string, never>> {
    return this.resharding.mergeShards(input);
  }

  updateShardCount(input: K.UpdateShardCountInput): Promise<K.UpdateShardCountOutput> {
    return this.resharding.updateShardCount(input);
  }

  // ---- account settings and limits (account-settings.ts) ------------------------------------------

  describeAccountSettings(_input: Record<string, never> = {}): Promise<K.AccountSettingsOutput> {
    return this.account.describeAccountSettings(_input);
  }

  updateAccountSettings(input: K.UpdateAccountSettingsInput): Promise<K.AccountSettingsOutput> {
    return this.account.updateAccountSettings(input);
  }

  describeLimits(_input: Record<string, never> = {}): Promise<K.DescribeLimitsOutput> {
    return this.account.describeLimits(_input);
  }

  // ---- tags (resource-tags.ts) --------------------------------------------------------------------

  addTagsToStream(input: K.AddTagsToStreamInput): Promise<Record<string, never>> {
    return this.tags.addTagsToStream(input);
  }

  removeTagsFromStream(input: K.RemoveTagsFromStreamInput): Promise<Record<string, never>> {
    return this.tags.removeTagsFromStream(input);
  }

  listTagsForStream(input: K.ListTagsForStreamInput): Promise<K.ListTagsForStreamOutput> {
    return this.tags.listTagsForStream(input);
  }

  tagResource(input: K.TagResourceInput): Promise<Record<string, never>> {
    return this.tags.tagResource(input);
  }

  untagResource(input: K.UntagResourceInput): Promise<Record<string, never>> {
    return this.tags.untagResource(input);
  }

  listTagsForResource(input: K.ListTagsForResourceInput): Promise<K.ListTagsForResourceOutput> {
    return this.tags.listTagsForResource(input);
  }

  // ---- resource policies (resource-policies.ts) ---------------------------------------------------

  putResourcePolicy(input: K.PutResourcePolicyInput): Promise<Record<string, never>> {
    return this.policies.putResourcePolicy(input);
  }

  getResourcePolicy(input: K.ResourceTarget): Promise<K.GetResourcePolicyOutput> {
    return this.policies.getResourcePolicy(input);
  }

  deleteResourcePolicy(input: K.ResourceTarget): Promise<Record<string, never>> {
    return this.policies.deleteResourcePolicy(input);
  }

  // ---- enhanced fan-out: consumers (consumers.ts) -------------------------------------------------

  registerStreamConsumer(
    input: K.RegisterStreamConsumerInput,
  ): Promise<K.RegisterStreamConsumerOutput> {
    return this.consumers.registerStreamConsumer(input);
  }

  deregisterStreamConsumer(input: K.ConsumerTarget): Promise<Record<string, never>> {
    return this.consumers.deregisterStreamConsumer(input);
  }

  describeStreamConsumer(input: K.ConsumerTarget): Promise<K.DescribeStreamConsumerOutput> {
    return this.consumers.describeStreamConsumer(input);
  }

  listStreamConsumers(input: K.ListStreamConsumersInput): Promise<K.ListStreamConsumersOutput> {
    return this.consumers.listStreamConsumers(input);
  }

  // ---- data plane: writes (record-writes.ts) ------------------------------------------------------

  putRecord(input: K.PutRecordInput): Promise<K.PutRecordOutput> {
    return this.writes.putRecord(input);
  }

  putRecords(input: K.PutRecordsInput): Promise<K.PutRecordsOutput> {
    return this.writes.putRecords(input);
  }

  putRecordBatch(
    streamName: string,
    records: readonly RecordInput[],
  ): Promise<PutRecordBatchResult> {
    return this.writes.putRecordBatch(streamName, records);
  }

  putBuffer(bytes: number): Uint8Array {
    return this.writes.putBuffer(bytes);
  }

  putBufferStats(): { reused: number; allocated: number; pooledBytes: number } {
    return this.writes.putBufferStats();
  }

  putRoutedBatch(streamName: string, batch: Uint8Array): Promise<PutRecordBatchResult> {
    return this.writes.putRoutedBatch(streamName, batch);
  }

  putEncodedBatch(streamName: string, batch: Uint8Array): Promise<PutRecordBatchResult> {
    return this.writes.putEncodedBatch(streamName, batch);
  }

  putPreparedRecords(prepared: PreparedRecords): Promise<PutRecordBatchResult> {
    return this.writes.putPreparedRecords(prepared);
  }

  // ---- data plane: reads (record-reads.ts) --------------------------------------------------------

  getShardIterator(input: K.GetShardIteratorInput): Promise<K.GetShardIteratorOutput> {
    return this.reads.getShardIterator(input);
  }

  getRecords(input: K.GetRecordsInput): Promise<K.GetRecordsOutput> {
    return this.reads.getRecords(input);
  }

  sequenceNumberOf(
    streamName: string,
    shardId: string,
    ordinal: number,
    arrivalMs: number,
  ): string {
    return this.reads.sequenceNumberOf(streamName, shardId, ordinal, arrivalMs);
  }

  shardPosition(input: K.GetShardIteratorInput): Promise<{ ordinal: number; watermark: number }> {
    return this.reads.shardPosition(input);
  }

  readBatches(
    streamName: string,
    shardId: string,
    ordinal: number,
    maxBytes: number,
    scratch?: Buffer,
  ) {
    return this.reads.readBatches(streamName, shardId, ordinal, maxBytes, scratch);
  }

  waitForRecords(
    streamName: string,
    shardId: string,
    ordinal: number,
    timeoutMs: number,
  ): Promise<boolean> {
    return this.reads.waitForRecords(streamName, shardId, ordinal, timeoutMs);
  }

  subscribe(
    input: K.GetShardIteratorInput,
    options: { signal?: AbortSignal; batchBytes?: number } = {},
  ): AsyncGenerator<K.KinesisRecord> {
    return this.reads.subscribe(input, options);
  }

  // ---- enhanced fan-out: SubscribeToShard (shard-subscriptions.ts) --------------------------------

  subscribeToShard(input: K.SubscribeToShardInput): Promise<ShardSubscription> {
    return this.subscriptions.subscribeToShard(input);
  }

  // ---- introspection for tests and tools (record-reads.ts, engine-lifecycle.ts) -------------------

  shardInternals(streamName: string, shardId: string) {
    return this.reads.shardInternals(streamName, shardId);
  }

  /** Tasks sent to shard workers so far. */
  get workerTasksSent(): number {
    return this.context.pool.tasksSent;
  }

  stallWorker(worker: number, ms: number): Promise<unknown> {
    return this.lifecycle.stallWorker(worker, ms);
  }

  crashWorker(worker: number): Promise<void> {
    return this.lifecycle.crashWorker(worker);
  }
}
