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
 * each method hands its call to the part that implements it. What a method does for its caller
 * is documented here, on the public surface (docs/api-coverage.md has each Kinesis operation's
 * behaviour in full); how it does it, in its part:
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

  /**
   * Syncs and closes every shard, then stops the workers and frees the data directory. Every
   * call after it (but close) fails with ServiceUnavailableException; a second close waits for
   * the first.
   */
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

  /**
   * Expires what is older than each stream's retention period: moves each shard's trim past it
   * and deletes the segments that hold nothing newer. Returns the segments deleted.
   */
  enforceRetention(): Promise<number> {
    return this.retention.enforceRetention();
  }

  // ---- stream settings (stream-settings.ts) -------------------------------------------------------

  /**
   * Switches the stream between PROVISIONED and ON_DEMAND. The mode changes at once (Describe*
   * and ListStreams report it, and resharding on an ON_DEMAND stream is refused from then on);
   * the stream is UPDATING for the stream transition, then ACTIVE. The shards stay as they are.
   * A request for the mode the stream already has changes nothing and leaves it ACTIVE.
   * WarmThroughputMiBps is accepted with ON_DEMAND only and otherwise ignored (warm throughput
   * is set with UpdateStreamWarmThroughput); a stream switched to PROVISIONED loses its warm
   * throughput.
   */
  updateStreamMode(input: K.UpdateStreamModeInput): Promise<Record<string, never>> {
    return this.settings.updateStreamMode(input);
  }

  /**
   * Sets how the stream places records: AUTO (on an ON_DEMAND stream only; on a PROVISIONED one
   * InvalidArgumentException, as Kinesis answers) or USER_PARTITION_KEY (the default, accepted on
   * any stream). The stream must be ACTIVE; the change takes effect at once, without UPDATING,
   * for every put from then on, and records already stored stay in their shards.
   */
  updateStreamRecordDistributionStrategy(
    input: K.UpdateStreamRecordDistributionStrategyInput,
  ): Promise<Record<string, never>> {
    return this.settings.updateStreamRecordDistributionStrategy(input);
  }

  /**
   * Sets the stream's record size limit (data + partition key), which every put checks from
   * the next one on; records already stored stay as they are. The stream must be ACTIVE; the
   * change takes effect at once, without UPDATING.
   */
  updateMaxRecordSize(input: K.UpdateMaxRecordSizeInput): Promise<Record<string, never>> {
    return this.settings.updateMaxRecordSize(input);
  }

  /**
   * Enables enhanced monitoring for shard-level metrics (`ALL` names all seven): the stream
   * records which are enabled and Describe* report them. Runnel publishes no per-shard metrics
   * of its own for them; `/metrics` is unaffected.
   */
  enableEnhancedMonitoring(input: K.EnhancedMonitoringInput): Promise<K.EnhancedMonitoringOutput> {
    return this.settings.enableEnhancedMonitoring(input);
  }

  /** Disables enhanced monitoring for the named shard-level metrics (`ALL`: every one). */
  disableEnhancedMonitoring(input: K.EnhancedMonitoringInput): Promise<K.EnhancedMonitoringOutput> {
    return this.settings.disableEnhancedMonitoring(input);
  }

  /**
   * Sets an ON_DEMAND stream's warm throughput: the write throughput it is to be scaled to before
   * traffic comes. Only on an ON_DEMAND stream (else ValidationException, the error Kinesis
   * documents for an operation of the other capacity mode) in an account whose minimum
   * throughput billing commitment is on (else InvalidArgumentException), at most
   * WARM_THROUGHPUT_MIBPS_MAX (LimitExceededException); the stream must be ACTIVE. It is
   * UPDATING for the stream transition, and its CurrentMiBps reaches the target when it is ACTIVE
   * again. Runnel keeps the setting only: its shards take what they are given either way.
   */
  updateStreamWarmThroughput(
    input: K.UpdateStreamWarmThroughputInput,
  ): Promise<K.UpdateStreamWarmThroughputOutput> {
    return this.settings.updateStreamWarmThroughput(input);
  }

  /**
   * Turns on server-side encryption with a KMS key, or changes its key: Describe* report
   * EncryptionType KMS and the KeyId at once; the stream is UPDATING for the stream transition,
   * and records put and read report KMS from when it is ACTIVE again, as Kinesis encrypts records
   * from then on. Runnel does not encrypt them (it has no KMS): the setting is recorded and
   * reported so that code that sets it runs unchanged. Asking for the key already in effect
   * changes nothing and leaves the stream ACTIVE.
   */
  startStreamEncryption(input: K.StreamEncryptionInput): Promise<Record<string, never>> {
    return this.settings.startStreamEncryption(input);
  }

  /**
   * Turns server-side encryption off (EncryptionType NONE, no KeyId), as StartStreamEncryption
   * turns it on; the stream is UPDATING for the transition, and records report NONE from when it
   * is ACTIVE again. On a stream without encryption it changes nothing.
   */
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

  /**
   * UNIFORM_SCALING to `TargetShardCount` open shards with CreateStream's ranges for that count,
   * by splits and merges (reshard-plan.ts). Kinesis's bounds apply: at most double and at least
   * half the open shards, at most SHARD_COUNT_MAX, within the account's shard limit, and in
   * limits mode at most UPDATE_SHARD_COUNT_PER_DAY_MAX calls per stream in any 24 hours.
   */
  updateShardCount(input: K.UpdateShardCountInput): Promise<K.UpdateShardCountOutput> {
    return this.resharding.updateShardCount(input);
  }

  // ---- account settings and limits (account-settings.ts) ------------------------------------------

  /** The account's settings: its minimum throughput billing commitment. */
  describeAccountSettings(_input: Record<string, never> = {}): Promise<K.AccountSettingsOutput> {
    return this.account.describeAccountSettings(_input);
  }

  /**
   * Turns the account's minimum throughput billing commitment on or off, and answers the
   * settings as they are then. On: a commitment starts now, with its earliest allowed end
   * THROUGHPUT_COMMITMENT_MS_MIN later (on again while an end is pending cancels the end, as the
   * API documents; on while on changes nothing). Off: the commitment ends now if its earliest
   * allowed end has passed, else it is ENABLED_UNTIL_EARLIEST_ALLOWED_END and ends then; off while
   * off changes nothing. Runnel bills nothing: only the state is kept.
   */
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

  /** Every tag of the resource (at most TAGS_PER_STREAM_MAX), by key. */
  listTagsForResource(input: K.ListTagsForResourceInput): Promise<K.ListTagsForResourceOutput> {
    return this.tags.listTagsForResource(input);
  }

  // ---- resource policies (resource-policies.ts) ---------------------------------------------------

  /** Attaches (or replaces) the resource's policy: a JSON object, stored as given. */
  putResourcePolicy(input: K.PutResourcePolicyInput): Promise<Record<string, never>> {
    return this.policies.putResourcePolicy(input);
  }

  /**
   * The resource's policy as it was put. A resource without one answers the empty policy `{}`
   * rather than an error. The reference is silent; the public evidence points there: client
   * tools that read every stream's policy treat only a missing stream as an error, and test
   * suites written for the API expect `{}` once a policy is deleted.
   */
  getResourcePolicy(input: K.ResourceTarget): Promise<K.GetResourcePolicyOutput> {
    return this.policies.getResourcePolicy(input);
  }

  /**
   * Removes the resource's policy. A resource without one is ResourceNotFoundException, worded as
   * the public implementations of the API agree (Terraform's provider takes that error as the
   * policy being gone already).
   */
  deleteResourcePolicy(input: K.ResourceTarget): Promise<Record<string, never>> {
    return this.policies.deleteResourcePolicy(input);
  }

  // ---- enhanced fan-out: consumers (consumers.ts) -------------------------------------------------

  /**
   * Registers an enhanced fan-out consumer: CREATING for the stream transition, then ACTIVE. At
   * most CONSUMERS_PER_STREAM_MAX per stream, and in limits mode at most
   * CONSUMERS_CREATING_PER_STREAM_MAX of them CREATING at once (LimitExceededException); a name
   * already registered is ResourceInUseException.
   */
  registerStreamConsumer(
    input: K.RegisterStreamConsumerInput,
  ): Promise<K.RegisterStreamConsumerOutput> {
    return this.consumers.registerStreamConsumer(input);
  }

  /** Deregisters a consumer: DELETING for the stream transition, then gone. */
  deregisterStreamConsumer(input: K.ConsumerTarget): Promise<Record<string, never>> {
    return this.consumers.deregisterStreamConsumer(input);
  }

  describeStreamConsumer(input: K.ConsumerTarget): Promise<K.DescribeStreamConsumerOutput> {
    return this.consumers.describeStreamConsumer(input);
  }

  /**
   * A stream's consumers in registration order, at most LIST_STREAM_CONSUMERS_RETURNED_MAX per
   * call; NextToken (with the same StreamARN) continues after the last one returned.
   */
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

  /**
   * The fast path for embedding: any number of records for one stream in one call, with no
   * promise and no result object per record. Records are checked like PutRecords entries
   * (partition key 1-256 characters, or none on an AUTO stream; size within the stream's limit)
   * but the 500-record and 10 MiB request limits do not apply; large calls are cut into batches
   * internally.
   */
  putRecordBatch(
    streamName: string,
    records: readonly RecordInput[],
  ): Promise<PutRecordBatchResult> {
    return this.writes.putRecordBatch(streamName, records);
  }

  /**
   * A buffer for a batch a front end copies out of a request before it puts the batch
   * (putRoutedBatch, putEncodedBatch): when the batch goes to a shard worker as it is, the worker
   * moves the buffer back after the append, for a later put (src/engine/put-buffers.ts). Its
   * bytes are undefined until the caller writes them.
   */
  putBuffer(bytes: number): Uint8Array {
    return this.writes.putBuffer(bytes);
  }

  putBufferStats(): { reused: number; allocated: number; pooledBytes: number } {
    return this.writes.putBufferStats();
  }

  /**
   * Appends a batch whose sender declared every record to belong to one shard (the binary
   * protocol's routed PUT). The shard is the one its first record hashes to; its owner worker
   * checks every record as putEncodedBatch would and hashes every key, and appends the batch only
   * if all of them belong to that shard, else refuses it whole (InvalidArgumentException), so
   * puts stay in order. The event loop hashes one key instead of every key. In limits mode, or on
   * a one-shard stream (no key is hashed), it is putEncodedBatch.
   */
  putRoutedBatch(streamName: string, batch: Uint8Array): Promise<PutRecordBatchResult> {
    return this.writes.putRoutedBatch(streamName, batch);
  }

  /**
   * Appends a record batch already in Runnel's batch encoding (the binary protocol's put
   * frame): checked and routed at the edge, forwarded unchanged when all its records belong to
   * one shard, split per shard otherwise.
   */
  putEncodedBatch(streamName: string, batch: Uint8Array): Promise<PutRecordBatchResult> {
    return this.writes.putEncodedBatch(streamName, batch);
  }

  /**
   * PutRecords whose records were decoded, checked and hashed off the event loop (the server's
   * codec threads, src/server/put-records-prepare.ts): here the stream is looked up, each
   * record's size is checked against the stream's limit, and the records are routed with the
   * stream's current shard map and appended. Errors are PutRecords's own, in its order (the
   * request-level checks passed where it was prepared); per-record outcomes are in the result
   * (see `putRecordsEntryError`); in limits mode a record its shard cannot take now is refused
   * with ProvisionedThroughputExceededException, as PutRecords refuses it.
   */
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

  /** The sequence number of a record of a shard, given its ordinal and arrival time. */
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

  /**
   * Whole committed batches of a shard from the one holding `ordinal` on, up to about
   * `maxBytes`, as stored (record-batch.ts encoding; views of buffers read for the call, or of
   * `scratch` while the reads fit in it, valid until it is reused). A batch's attributes byte
   * may hold ATTRIBUTE_KMS: clear it before putting the batch again. Reading below the trim
   * horizon starts at the trim horizon. Never messages the owner worker.
   */
  readBatches(
    streamName: string,
    shardId: string,
    ordinal: number,
    maxBytes: number,
    scratch?: Buffer,
  ) {
    return this.reads.readBatches(streamName, shardId, ordinal, maxBytes, scratch);
  }

  /**
   * Resolves when the shard has a committed record at or after `ordinal`, or after
   * `timeoutMs`. Waits on the shared index (Atomics.waitAsync), so the main thread never blocks.
   */
  waitForRecords(
    streamName: string,
    shardId: string,
    ordinal: number,
    timeoutMs: number,
  ): Promise<boolean> {
    return this.reads.waitForRecords(streamName, shardId, ordinal, timeoutMs);
  }

  /**
   * Reads a shard as an async iterator, from any iterator position, pushed as records commit
   * (no polling: it waits on the shard's shared index). Ends when `signal` aborts, the engine
   * closes, or a closed (resharded) shard's last record has been read. Records have the
   * GetRecords shape.
   */
  subscribe(
    input: K.GetShardIteratorInput,
    options: { signal?: AbortSignal; batchBytes?: number } = {},
  ): AsyncGenerator<K.KinesisRecord> {
    return this.reads.subscribe(input, options);
  }

  // ---- enhanced fan-out: SubscribeToShard (shard-subscriptions.ts) --------------------------------

  /**
   * Starts a SubscribeToShard subscription. Errors before it starts: an unknown consumer or shard
   * is ResourceNotFoundException; a consumer that is not ACTIVE, or one that already has a
   * subscription to this shard, is ResourceInUseException; a bad StartingPosition is
   * InvalidArgumentException, as for GetShardIterator. The events then come as records commit
   * (no polling), at least one every subscription heartbeat (SUBSCRIPTION_HEARTBEAT_MS), each of at most about
   * SUBSCRIPTION_EVENT_BYTES_MAX of records; the next read happens only when the caller asks for
   * the next event. The events end after the subscription lifetime, or at a closed shard's end
   * (with ChildShards and no ContinuationSequenceNumber), or when the engine closes. In limits
   * mode a consumer's second call on a shard within a second is LimitExceededException, and its
   * events are paced to SUBSCRIPTION_BYTES_PER_SEC (subscription-throttle.ts).
   */
  subscribeToShard(input: K.SubscribeToShardInput): Promise<ShardSubscription> {
    return this.subscriptions.subscribeToShard(input);
  }

  // ---- introspection for tests and tools (record-reads.ts, engine-lifecycle.ts) -------------------

  /** The shard's owner worker, shared index and reader (for tests and the inspection tool). */
  shardInternals(streamName: string, shardId: string) {
    return this.reads.shardInternals(streamName, shardId);
  }

  /** Tasks sent to shard workers so far. */
  get workerTasksSent(): number {
    return this.context.pool.tasksSent;
  }

  /** Blocks a worker thread for `ms` (tests: reads must not depend on the owner). */
  stallWorker(worker: number, ms: number): Promise<unknown> {
    return this.lifecycle.stallWorker(worker, ms);
  }

  /** Kills a worker thread as a failed assertion would (tests of worker-failure handling). */
  crashWorker(worker: number): Promise<void> {
    return this.lifecycle.crashWorker(worker);
  }
}
