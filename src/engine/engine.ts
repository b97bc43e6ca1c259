/**
 * The Engine: Runnel as a library. Every Kinesis operation is a method named in camelCase that
 * takes and returns the shapes of `@aws-sdk/client-kinesis` (src/kinesis/shapes.ts) and throws
 * errors named as Kinesis names them. The main thread validates, routes records by MD5 of the
 * partition key and encodes one batch per shard; shard workers append; reads come straight from
 * the shared index and the segment files, without messaging the owner.
 */
import { availableParallelism } from 'node:os';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { KinesisError, fail, putRecordsEntryError } from '../errors.js';
import {
  ACCOUNT_SHARD_LIMIT,
  GET_RECORDS_BYTES_MAX,
  GET_RECORDS_LIMIT_MAX,
  KIB,
  LIST_SHARDS_RETURNED_MAX,
  LIST_STREAMS_RETURNED_MAX,
  DESCRIBE_STREAM_RETURNED_MAX,
  LIST_TAGS_LIMIT_MAX,
  LIST_STREAM_CONSUMERS_RETURNED_MAX,
  CONSUMERS_PER_STREAM_MAX,
  CONSUMERS_CREATING_PER_STREAM_MAX,
  TAGS_PER_CONSUMER_MAX,
  NEXT_TOKEN_TTL_MS,
  ON_DEMAND_INITIAL_SHARD_COUNT,
  ON_DEMAND_STREAM_COUNT_LIMIT,
  PUT_RECORDS_BYTES_MAX,
  RECORD_SIZE_DEFAULT_KIB,
  RETENTION_CHECK_INTERVAL_MS,
  RETENTION_HOURS_DEFAULT,
  RETENTION_HOURS_MAX,
  RETENTION_HOURS_MIN,
  SEGMENT_BYTES_DEFAULT,
  SEGMENT_BYTES_MAX,
  SEGMENT_BYTES_MIN,
  STREAM_TRANSITION_MS_MAX,
  SUBSCRIPTION_EVENT_BYTES_MAX,
  SUBSCRIPTION_HEARTBEAT_MS,
  SUBSCRIPTION_LIFETIME_MS,
  WORKERS_MAX,
  SHARD_ITERATOR_TTL_MS,
  TAGS_PER_STREAM_MAX,
  WORKER_BATCH_BYTES_MAX,
  PARTITION_KEY_CHARS_MAX,
  SHARD_COUNT_MAX,
  SHARD_INDEX_MAX,
  UPDATE_SHARD_COUNT_PER_DAY_MAX,
  RESHARD_SEAL_ATTEMPTS,
  SUBSCRIPTION_TAKEOVER_MS,
  SUBSCRIBE_TO_SHARD_CALLS_PER_SEC,
  THROUGHPUT_COMMITMENT_MS_MIN,
  WARM_THROUGHPUT_MIBPS_MAX,
} from '../limits.js';
import { HASH_WORDS, evenHashRanges, parseExplicitHashKey } from '../kinesis/hash-key.js';
import { decodeSequenceNumber, encodeSequenceNumber } from '../kinesis/sequence-number.js';
import { javaDateString } from '../kinesis/java-date.js';
import { ShardIteratorCodec, type IteratorPosition } from '../kinesis/shard-iterator.js';
import type * as K from '../kinesis/shapes.js';
import { SHARD_LEVEL_METRICS } from '../kinesis/shapes.js';
import {
  checkResourcePolicy,
  checkStreamEncryption,
  checkTags,
  requireStreamTarget,
  requireTimestamp,
  validateInput,
} from '../kinesis/validation.js';
import type { RawBatch, ReadResult } from '../storage/segment-reader.js';
import { BATCH_HEADER_BYTES, newRecordCursor, nextRecord } from '../storage/record-batch.js';
import type {
  OpenReply,
  RetentionReply,
  RoutedBatchCheck,
  SealReply,
  ShardDescriptor,
} from '../storage/worker-protocol.js';
import { Batcher, type Committed } from './batcher.js';
import { encodeBatches, type EncodedBatches, type RecordInput } from './batch-encoder.js';
import { firstRecordHash, hashEncodedBatch, refusedSlot, routeHashedBatch } from './encoded-batch.js';
import {
  type CatalogFile,
  type ConsumerRecord,
  type ShardRecord,
  type StreamRecord,
  loadCatalog,
  saveCatalog,
} from './catalog.js';
import { ShardState, StreamState, canonicalShardId, shardIdOf, streamDir } from './stream-state.js';
import { ShardThrottle } from './shard-throttle.js';
import { SubscriptionThrottle } from './subscription-throttle.js';
import { type ReshardPlan, areAdjacent, planMerge, planSplit, planUniform } from './reshard-plan.js';
import { WorkerPool } from './worker-pool.js';
import { DataDirLock } from './data-dir-lock.js';

export interface EngineOptions {
  /** Directory holding the catalog and segments; created if missing. */
  dataDir: string;
  /** Shard worker threads (default: available cores). */
  workers?: number;
  /** Size of each preallocated segment file (default 64 MiB). */
  segmentBytes?: number;
  /** How long CREATING/DELETING/UPDATING last, in ms (default 0: immediate, for embedding). */
  streamTransitionMs?: number;
  /** fdatasync before acknowledging writes (survives power loss), default false. */
  fsync?: boolean;
  accountId?: string;
  region?: string;
  /** The clock, in epoch ms; tests move it to expire iterators and retention. */
  clock?: () => number;
  /**
   * Limits mode: throttle every shard exactly as a provisioned Kinesis shard (1 MiB/s and
   * 1,000 records/s written, 2 MiB/s and 5 GetRecords calls/s read, 5 GetShardIterator calls/s),
   * and enhanced fan-out as Kinesis does (1 SubscribeToShard call/s and 2 MiB/s delivered per
   * consumer and shard, at most 5 consumers of a stream CREATING at once), default false.
   */
  enforceLimits?: boolean;
  /**
   * How long a SubscribeToShard event stream lasts before it ends normally, in ms (default and
   * most SUBSCRIPTION_LIFETIME_MS, Kinesis's 5 minutes).
   */
  subscriptionLifetimeMs?: number;
  /**
   * A subscription with no new records sends an event at least this often, in ms (default and
   * most SUBSCRIPTION_HEARTBEAT_MS, as Kinesis's 5 s).
   */
  subscriptionHeartbeatMs?: number;
}

/** A SubscribeToShard subscription: its events, pushed as records commit, and how to end it. */
export interface ShardSubscription {
  readonly events: AsyncGenerator<K.SubscribeToShardEvent>;
  /** Ends the subscription (the client went away): frees the consumer's shard at once. */
  close(): void;
  /**
   * Aborted when the subscription ends from the engine's side whatever its events are doing: its
   * lifetime is over, a newer call took it over, its consumer was deregistered, or close().
   * Whoever writes the events stops waiting on a client that reads nothing then.
   */
  readonly signal: AbortSignal;
}

/**
 * A PutRecords decoded, checked and hashed elsewhere (see `Engine.putPreparedRecords`): its
 * records in one batch in request order, where each begins, and each one's 128-bit hash key.
 */
export interface PreparedRecords {
  StreamName?: string;
  StreamARN?: string;
  recordCount: number;
  batch: Uint8Array;
  /** Byte offset of each record in `batch`; [recordCount] is the batch's end. */
  recordStart: Int32Array;
  /** HASH_WORDS big-endian words per record. */
  hashWords: Uint32Array;
  /** The largest record's data plus partition-key bytes. */
  maxRecordBytes: number;
}

export interface PutRecordBatchResult {
  readonly recordCount: number;
  readonly FailedRecordCount: number;
  /** ShardId of record `i`. */
  shardIdOf(i: number): string;
  /** Sequence number of record `i` (undefined when it failed). */
  sequenceNumberOf(i: number): string | undefined;
  /**
   * Writes the sequence number of stored record `i` as ASCII digits at `target[offset..]`
   * (MAX_SEQUENCE_DIGITS bytes of room) and returns the offset after it.
   */
  writeSequenceNumber(i: number, target: Uint8Array, offset: number): number;
  /**
   * Why record `i` was not stored, or undefined when it was. A batch spanning shards can fail
   * in one shard (its worker died, or is saturated) while the others store their records, as
   * PutRecords reports per record.
   */
  errorOf(i: number): KinesisError | undefined;
  /** Set when every record went to this one shard (a routed batch): no need to ask per record. */
  readonly onlyShardId?: string;
  /** The stream's record encryption when the call was made (PutRecords reports it); NONE if
   * absent. */
  readonly EncryptionType?: K.EncryptionType;
}

const DEFAULT_ACCOUNT = '000000000000';
const DEFAULT_REGION = 'us-east-1';
const MS_PER_HOUR = 3_600_000;
const MS_PER_DAY = 24 * MS_PER_HOUR;
const FAST_PATH_CHUNK_BYTES = WORKER_BATCH_BYTES_MAX / 2;
/** A subscription reads up to this much per step, and re-checks for closing this often. */
const SUBSCRIBE_READ_BYTES = 1024 * KIB;
const SUBSCRIBE_WAIT_MS = 1000;
/** A consumer ARN: `<stream ARN>/consumer/<consumer name>:<creation epoch seconds>`. */
const CONSUMER_ARN_PARTS = /^(.*)\/consumer\/([^/:]+):(\d+)$/;
/** A ResourceARN that names a stream consumer (`.../stream/<name>/consumer/<name>:<seconds>`). */
const CONSUMER_IN_ARN = /:stream\/[^/]*\/consumer\//;

/** A consumer together with the stream it is registered on. */
interface ConsumerRef {
  stream: StreamState;
  consumer: ConsumerRecord;
  arn: string;
}

type Decoded<T> = { issuedMs: number } & T;

/** After every check has passed, a DryRun request stops here, having changed nothing. */
function dryRun(input: K.DryRunnable): void {
  if (input.DryRun === true) {
    throw new KinesisError('DryRunOperationException', 'Request would have succeeded, but DryRun flag is set.');
  }
}

/**
 * Where a listing starts after (ExclusiveStartShardId, ShardFilter.ShardId): the canonical id of
 * the shard the id names by number, or the id as given when it names none.
 */
function exclusiveStart(shardId: string | undefined): string | undefined {
  return shardId === undefined ? undefined : (canonicalShardId(shardId) ?? shardId);
}

/** An option of Engine.open that is out of its range, or of the wrong type. */
function badOption(name: string, value: unknown, expected: string): KinesisError {
  const shown = typeof value === 'string' ? `'${value}'` : String(value);
  return new KinesisError('ValidationException', `Engine.open: ${name} must be ${expected}, got ${shown}`);
}

/** An optional integer option in [min, max]. */
function checkInteger(name: string, value: unknown, min: number, max: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw badOption(name, value, `an integer from ${min} to ${max}`);
  }
}

/** Checks Engine.open's options before anything is opened: a bad one fails there, not later. */
function checkOptions(options: EngineOptions): void {
  if (typeof options !== 'object' || options === null) throw badOption('options', options, 'an object');
  if (typeof options.dataDir !== 'string' || options.dataDir.trim() === '') {
    throw badOption('dataDir', options.dataDir, 'a directory path');
  }
  checkInteger('workers', options.workers, 1, WORKERS_MAX);
  checkInteger('segmentBytes', options.segmentBytes, SEGMENT_BYTES_MIN, SEGMENT_BYTES_MAX);
  checkInteger('streamTransitionMs', options.streamTransitionMs, 0, STREAM_TRANSITION_MS_MAX);
  checkInteger('subscriptionLifetimeMs', options.subscriptionLifetimeMs, 1, SUBSCRIPTION_LIFETIME_MS);
  checkInteger('subscriptionHeartbeatMs', options.subscriptionHeartbeatMs, 1, SUBSCRIPTION_HEARTBEAT_MS);
  if (options.clock !== undefined && typeof options.clock !== 'function') {
    throw badOption('clock', options.clock, 'a function returning epoch ms');
  }
}

/**
 * Refuses the fast path's records once one failed its quick check, with PutRecords's model check
 * of the whole call: the error is the one putRecords gives for the same records (its cost is paid
 * only on failure). The quick checks refuse nothing the model passes.
 */
function refuseAsPutRecords(streamName: string, records: unknown): never {
  validateInput('PutRecords', { StreamName: streamName, Records: records });
  throw new KinesisError('InternalFailureException', 'A record failed a check PutRecords\'s model passes.');
}

/** Errors of a routed batch's check in its owner worker: the request's, not its records'. */
/**
 * The records of a stored batch from ordinal `from` on, in the GetRecords shape, added to `into`.
 * Their data are views of the batch's bytes, which belong to the read that returned it. With
 * `encryption` KMS each record says so (see `withEncryption`).
 */
function batchRecords(
  shard: ShardState,
  batch: RawBatch,
  from: number,
  into: K.KinesisRecord[] = [],
  encryption: K.EncryptionType = 'NONE',
): K.KinesisRecord[] {
  const bytes = Buffer.from(batch.bytes.buffer, batch.bytes.byteOffset, batch.bytes.byteLength);
  const cursor = newRecordCursor(BATCH_HEADER_BYTES);
  for (let i = 0; i < batch.recordCount; i++) {
    nextRecord(bytes, cursor, bytes.length);
    const ordinal = batch.baseOrdinal + i;
    if (ordinal < from) continue;
    into.push(
      withEncryption(
        {
          SequenceNumber: shard.sequenceNumber(ordinal, batch.arrivalMs),
          ApproximateArrivalTimestamp: new Date(batch.arrivalMs),
          Data: bytes.subarray(cursor.dataStart, cursor.dataEnd),
          PartitionKey: bytes.toString('utf8', cursor.keyStart, cursor.keyEnd),
        },
        encryption,
      ),
    );
  }
  return into;
}

/**
 * A record as GetRecords and SubscribeToShard return it: `EncryptionType: KMS` while the stream's
 * encryption is in effect when the call reads it (Runnel stores records as they came, so the
 * stream's setting then is what it reports); with NONE the optional member is left out, as
 * before encryption was served.
 */
function withEncryption(record: K.KinesisRecord, encryption: K.EncryptionType): K.KinesisRecord {
  if (encryption === 'KMS') record.EncryptionType = 'KMS';
  return record;
}

/**
 * Settles with `wait`, or as soon as `signal` aborts, leaving no listener behind: a subscription
 * waits once per commit for minutes, and a listener kept per wait grew its memory by each one.
 */
function untilAborted(wait: Promise<unknown>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    void wait.then(done, done);
  });
}

const ROUTED_CHECK_ERRORS = new Set(['ValidationException', 'InvalidArgumentException']);

/** Where each record of a batch call landed; sequence numbers are formatted only on demand. */
class BatchResult implements PutRecordBatchResult {
  FailedRecordCount = 0;
  private readonly shardOf: Int32Array;
  private readonly ordinalOf: Float64Array;
  private readonly arrivalOf: Float64Array;
  private errors: Map<number, KinesisError> | undefined;

  constructor(
    readonly routing: ShardState[],
    readonly recordCount: number,
    readonly EncryptionType: K.EncryptionType = 'NONE',
  ) {
    this.shardOf = new Int32Array(recordCount);
    this.ordinalOf = new Float64Array(recordCount);
    this.arrivalOf = new Float64Array(recordCount);
  }

  /**
   * Records where each record of one encoded chunk (starting at `offset`) landed; `failures`
   * holds the error of each slot whose append failed.
   */
  settle(
    encoded: EncodedBatches,
    offset: number,
    base: Float64Array,
    arrival: Float64Array,
    failures: Map<number, KinesisError> | undefined,
    refusal: (slot: number) => KinesisError,
  ): void {
    const { shardOfRecord, positionOfRecord } = encoded;
    for (let i = 0; i < shardOfRecord.length; i++) {
      let slot = shardOfRecord[i]!;
      let failure = failures?.get(slot);
      if (slot < 0) {
        // Refused by its shard's limits before anything was appended (refusedSlot).
        slot = refusedSlot(slot);
        failure = refusal(slot);
      }
      this.shardOf[offset + i] = slot;
      if (failure) {
        this.errors ??= new Map();
        this.errors.set(offset + i, failure);
        this.FailedRecordCount++;
        continue;
      }
      this.ordinalOf[offset + i] = base[slot]! + positionOfRecord[i]!;
      this.arrivalOf[offset + i] = arrival[slot]!;
    }
  }

  shardIdOf(i: number): string {
    return this.routing[this.shardOf[i]!]!.shardId;
  }

  sequenceNumberOf(i: number): string | undefined {
    if (this.errors?.has(i)) return undefined;
    return this.routing[this.shardOf[i]!]!.sequenceNumber(this.ordinalOf[i]!, this.arrivalOf[i]!);
  }

  writeSequenceNumber(i: number, target: Uint8Array, offset: number): number {
    return this.routing[this.shardOf[i]!]!.writeSequenceNumber(this.ordinalOf[i]!, this.arrivalOf[i]!, target, offset);
  }

  errorOf(i: number): KinesisError | undefined {
    return this.errors?.get(i);
  }
}

/**
 * The outcome of a batch appended whole to one shard (a routed put): consecutive ordinals from
 * one base and one arrival time, or one error for every record. Nothing per record is kept.
 */
class ShardBatchResult implements PutRecordBatchResult {
  readonly FailedRecordCount: number;
  readonly onlyShardId: string;

  constructor(
    readonly recordCount: number,
    private readonly shard: ShardState,
    private readonly committed: Committed | undefined,
    private readonly error?: KinesisError,
  ) {
    this.FailedRecordCount = committed ? 0 : recordCount;
    this.onlyShardId = shard.shardId;
  }

  shardIdOf(): string {
    return this.shard.shardId;
  }

  sequenceNumberOf(i: number): string | undefined {
    const { committed } = this;
    return committed && this.shard.sequenceNumber(committed.baseOrdinal + i, committed.arrivalMs);
  }

  writeSequenceNumber(i: number, target: Uint8Array, offset: number): number {
    const { baseOrdinal, arrivalMs } = this.committed!;
    return this.shard.writeSequenceNumber(baseOrdinal + i, arrivalMs, target, offset);
  }

  errorOf(): KinesisError | undefined {
    return this.error;
  }
}

export class Engine {
  private readonly streams = new Map<string, StreamState>();
  private readonly batcher: Batcher;
  private readonly iterators: ShardIteratorCodec;
  private readonly clock: () => number;
  private readonly accountId: string;
  private readonly region: string;
  private readonly segmentBytes: number;
  private readonly transitionMs: number;
  private readonly fsync: boolean;
  private readonly timers = new Set<NodeJS.Timeout>();
  private retentionTimer: NodeJS.Timeout | undefined;
  private nextWorker = 0;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly throttles: Map<ShardState, ShardThrottle> | undefined;
  /** Limits mode: when each stream's UpdateShardCount calls of the last 24 h were made. */
  private readonly subscriptionLifetimeMs: number;
  private readonly subscriptionHeartbeatMs: number;
  /** SubscribeToShard subscriptions by `<consumer ARN>\n<shard id>`: when each began, and its end. */
  private readonly subscriptions = new Map<string, { startedMs: number; controller: AbortController }>();
  /**
   * Limits mode: each consumer's quotas on each shard, by the same key as `subscriptions`. They
   * outlive a subscription (the next one continues its allowance) and go with the consumer.
   */
  private readonly subscriptionThrottles: Map<string, SubscriptionThrottle> | undefined;

  private constructor(
    readonly dataDir: string,
    private readonly pool: WorkerPool,
    private readonly catalog: CatalogFile,
    private readonly lock: DataDirLock,
    options: EngineOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.accountId = options.accountId ?? DEFAULT_ACCOUNT;
    this.region = options.region ?? DEFAULT_REGION;
    this.segmentBytes = options.segmentBytes ?? SEGMENT_BYTES_DEFAULT;
    this.transitionMs = options.streamTransitionMs ?? 0;
    this.fsync = options.fsync ?? false;
    this.subscriptionLifetimeMs = options.subscriptionLifetimeMs ?? SUBSCRIPTION_LIFETIME_MS;
    this.subscriptionHeartbeatMs = options.subscriptionHeartbeatMs ?? SUBSCRIPTION_HEARTBEAT_MS;
    this.batcher = new Batcher(pool, this.clock, this.fsync);
    this.throttles = options.enforceLimits ? new Map() : undefined;
    this.subscriptionThrottles = options.enforceLimits ? new Map() : undefined;
    this.iterators = new ShardIteratorCodec(Buffer.from(catalog.iteratorSecret, 'hex'));
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
      await engine.restore();
    } catch (error) {
      await engine.close();
      throw error;
    }
    return engine;
  }

  /** Number of shard worker threads. */
  get workerCount(): number {
    return this.pool.size;
  }

  // ---- lifecycle --------------------------------------------------------------------------------

  private async restore(): Promise<void> {
    const deleting: StreamRecord[] = [];
    for (const record of this.catalog.streams) {
      if (record.status === 'DELETING') {
        deleting.push(record);
        continue;
      }
      // A transition cut short by a restart completes now.
      record.status = 'ACTIVE';
      const warm = record.warmThroughput;
      if (warm) warm.currentMiBps = warm.targetMiBps;
      if (record.consumers) {
        record.consumers = record.consumers.filter((consumer) => consumer.status !== 'DELETING');
        for (const consumer of record.consumers) consumer.status = 'ACTIVE';
      }
      this.streams.set(record.name, this.buildStream(record));
    }
    for (const record of deleting) {
      await this.pool.run(0, { kind: 'close', shards: [], removeDirs: [streamDir(this.dataDir, record.name)] });
    }
    this.catalog.streams = this.catalog.streams.filter((record) => record.status !== 'DELETING');
    this.persist();
    const ends = await this.openShards([...this.streams.values()].flatMap((stream) => stream.shards));
    // A reshard cut short after it took effect: nothing was routed to its closed shards since,
    // so each ends where its files end.
    let completed = false;
    for (const stream of this.streams.values()) {
      for (const shard of stream.shards) {
        const closed = shard.record.closed;
        if (closed && closed.endOrdinal === undefined) {
          closed.endOrdinal = ends.get(shard.descriptor.key)!;
          completed = true;
        }
      }
    }
    if (completed) this.persist();
    // A reshard accepted before the restart and not yet in effect takes effect now.
    for (const stream of this.streams.values()) {
      if (!stream.record.pendingReshard) continue;
      stream.record.status = 'UPDATING';
      await this.applyReshard(stream);
    }
    // Opening rebuilds each shard's trim from its files (the oldest segment's first record):
    // expire what is older than the retention period before anyone reads.
    await this.enforceRetention();
    this.retentionTimer = setInterval(() => {
      // A failed pass (a worker restarting, say) is retried at the next interval; it must never
      // become an unhandled rejection that takes the process down.
      this.enforceRetention().catch((error: unknown) => {
        console.error(`runnel: retention pass failed: ${(error as Error).message}`);
      });
    }, RETENTION_CHECK_INTERVAL_MS);
    this.retentionTimer.unref();
  }

  /**
   * Syncs and closes every shard, then stops the workers and frees the data directory. Every
   * call after it (but close) fails with ServiceUnavailableException; a second close waits for
   * the first.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.closed = true;
    for (const { controller } of this.subscriptions.values()) controller.abort();
    clearInterval(this.retentionTimer);
    for (const timer of this.timers) clearTimeout(timer);
    for (let worker = 0; worker < this.pool.size; worker++) {
      await this.pool.run(worker, { kind: 'sync' }).catch(() => undefined);
    }
    await this.pool.close();
    for (const stream of this.streams.values()) for (const shard of stream.shards) shard.reader.close();
    this.lock.release();
  }

  /** Refuses a call on a closed engine: it would write a directory it no longer holds. */
  private assertOpen(): void {
    if (!this.closed) return;
    throw new KinesisError(
      'ServiceUnavailableException',
      `This engine is closed (Engine.close() was called): open ${this.dataDir} again to use it.`,
    );
  }

  private buildStream(record: StreamRecord): StreamState {
    const shards = record.shards.map(
      (shard) =>
        new ShardState(shard, this.assignWorker(), record.name, record.createdMs, this.dataDir, this.segmentBytes, this.fsync),
    );
    return new StreamState(record, this.streamArn(record.name), shards);
  }

  private assignWorker(): number {
    const worker = this.nextWorker;
    this.nextWorker = (this.nextWorker + 1) % this.pool.size;
    return worker;
  }

  /** Opens shards in their workers; returns each shard's next ordinal by descriptor key. */
  private async openShards(shards: ShardState[]): Promise<Map<string, number>> {
    const byWorker = new Map<number, ShardState[]>();
    for (const shard of shards) {
      const list = byWorker.get(shard.worker) ?? [];
      list.push(shard);
      byWorker.set(shard.worker, list);
    }
    const replies = await Promise.all(
      [...byWorker].map(([worker, list]) =>
        this.pool.run<OpenReply>(worker, { kind: 'open', shards: list.map((shard) => shard.descriptor) }),
      ),
    );
    return new Map(replies.flatMap((reply) => reply.shards.map((shard) => [shard.key, shard.nextOrdinal] as const)));
  }

  private persist(): void {
    saveCatalog(this.dataDir, this.catalog);
  }

  private later(action: () => void | Promise<void>): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.closed) return;
      // A transition that fails (a worker restarting, the engine closing under it) is reported;
      // it must never become an unhandled rejection that takes the process down.
      Promise.resolve()
        .then(action)
        .catch((error: unknown) => {
          if (!this.closed) console.error(`runnel: stream transition failed: ${(error as Error).message}`);
        });
    }, this.transitionMs);
    this.timers.add(timer);
  }

  /**
   * Expires what is older than each stream's retention period: moves each shard's trim past it
   * and deletes the segments that hold nothing newer. Returns the segments deleted.
   */
  async enforceRetention(): Promise<number> {
    this.assertOpen();
    const now = this.clock();
    const byWorker = new Map<number, Array<{ shard: ShardState['descriptor']; cutoffMs: number }>>();
    for (const stream of this.streams.values()) {
      // A stream being deleted has its shards closed (or closing) in their workers.
      if (stream.record.status === 'DELETING') continue;
      const cutoffMs = now - stream.record.retentionHours * MS_PER_HOUR;
      for (const shard of stream.shards) {
        const list = byWorker.get(shard.worker) ?? [];
        list.push({ shard: shard.descriptor, cutoffMs });
        byWorker.set(shard.worker, list);
      }
    }
    const replies = await Promise.all(
      [...byWorker].map(([worker, shards]) => this.pool.run<RetentionReply>(worker, { kind: 'retention', shards })),
    );
    for (const stream of this.streams.values()) for (const shard of stream.shards) shard.reader.release();
    await this.removeExpiredShards(now);
    return replies.reduce((sum, reply) => sum + reply.deletedSegments, 0);
  }

  /**
   * Forgets closed shards whose records have all expired (closed before the retention cutoff), as
   * Kinesis stops listing them: the catalog drops them and their files are deleted. Their
   * children still name them as parents, as in Kinesis.
   */
  private async removeExpiredShards(now: number): Promise<void> {
    for (const stream of this.streams.values()) {
      if (stream.record.status === 'DELETING') continue;
      const cutoffMs = now - stream.record.retentionHours * MS_PER_HOUR;
      const expired = stream.shards.filter(
        (shard) => shard.endOrdinal !== undefined && shard.record.closed!.closedMs < cutoffMs,
      );
      if (expired.length === 0) continue;
      stream.remove(expired);
      this.persist();
      for (const shard of expired) {
        this.throttles?.delete(shard);
        this.forgetSubscriptionThrottles(`${stream.arn}/consumer/`, `\n${shard.shardId}`);
        shard.reader.close();
        // Its files, whatever happens to the others' (the catalog no longer names them).
        await this.pool
          .run(shard.worker, { kind: 'close', shards: [shard.descriptor], removeDirs: [shard.descriptor.dir], discard: true })
          .catch((error: unknown) => {
            console.error(`runnel: deleting expired shard ${shard.descriptor.dir} failed: ${(error as Error).message}`);
          });
      }
    }
  }

  // ---- naming -------------------------------------------------------------------------------------

  private streamArn(name: string): string {
    return `arn:aws:kinesis:${this.region}:${this.accountId}:stream/${name}`;
  }

  private notFound(name: string): KinesisError {
    return fail.notFound(`Stream ${name} under account ${this.accountId} not found.`);
  }

  private readonly streamNotFound = (name: string): KinesisError => this.notFound(name);

  /**
   * The stream an input names by StreamName and/or StreamARN; `missing` words the error when
   * there is none (by default `Stream <name> under account <account> not found.`).
   */
  private target(input: K.StreamTarget, missing = this.streamNotFound): StreamState {
    requireStreamTarget(input);
    let name = input.StreamName;
    if (input.StreamARN !== undefined) {
      const prefix = `arn:aws:kinesis:${this.region}:${this.accountId}:stream/`;
      const fromArn = input.StreamARN.startsWith(prefix) ? input.StreamARN.slice(prefix.length) : undefined;
      if (fromArn === undefined) throw missing(input.StreamARN);
      if (name !== undefined && name !== fromArn) {
        throw fail.invalid(`StreamARN ${input.StreamARN} and StreamName ${name} do not name the same stream.`);
      }
      name = fromArn;
    }
    const stream = this.streams.get(name!);
    if (!stream) throw missing(name!);
    return stream;
  }

  /** A stream that accepts reads and writes (ACTIVE or UPDATING); any other is `missing`. */
  private writable(input: K.StreamTarget, missing = this.streamNotFound): StreamState {
    const stream = this.target(input, missing);
    const status = stream.record.status;
    if (status !== 'ACTIVE' && status !== 'UPDATING') throw missing(stream.name);
    return stream;
  }

  private requireActive(stream: StreamState): void {
    if (stream.record.status !== 'ACTIVE') {
      throw fail.inUse(
        `Stream ${stream.name} under account ${this.accountId} not ACTIVE, instead in state ${stream.record.status}`,
      );
    }
  }

  // ---- control plane --------------------------------------------------------------------------------

  async createStream(input: K.CreateStreamInput): Promise<Record<string, never>> {
    this.assertOpen();
    validateInput('CreateStream', input);
    const name = input.StreamName;
    if (this.streams.has(name)) {
      throw fail.inUse(`Stream ${name} under account ${this.accountId} already exists.`);
    }
    const mode: K.StreamMode =
      input.StreamModeDetails?.StreamMode ?? (input.ShardCount === undefined ? 'ON_DEMAND' : 'PROVISIONED');
    if (mode === 'PROVISIONED' && input.ShardCount === undefined) {
      throw fail.invalid('ShardCount is required for PROVISIONED streams.');
    }
    if (mode === 'ON_DEMAND' && input.ShardCount !== undefined) {
      throw fail.invalid('ShardCount cannot be specified for ON_DEMAND streams.');
    }
    if (input.RecordDistributionStrategy === 'AUTO') {
      // Kinesis refuses AUTO for a provisioned stream with InvalidArgumentException (wording
      // Runnel's own); Runnel routes every stream by partition key, so it refuses AUTO for an
      // on-demand one too.
      throw fail.invalid(
        mode === 'PROVISIONED'
          ? 'RecordDistributionStrategy AUTO is only available for ON_DEMAND streams.'
          : 'RecordDistributionStrategy AUTO is not supported by Runnel: records go to shards by ' +
              'partition key (USER_PARTITION_KEY).',
      );
    }
    if (mode === 'ON_DEMAND') this.checkOnDemandLimit();
    const shardCount = input.ShardCount ?? ON_DEMAND_INITIAL_SHARD_COUNT;
    this.checkShardLimit(shardCount);
    if (input.Tags) checkTags(Object.keys(input.Tags), Object.values(input.Tags), true);
    if (input.Tags && Object.keys(input.Tags).length > TAGS_PER_STREAM_MAX) {
      throw fail.invalid(`A stream cannot have more than ${TAGS_PER_STREAM_MAX} tags.`);
    }
    const createdMs = this.clock();
    const shards: ShardRecord[] = evenHashRanges(shardCount).map((range, index) => ({
      shardId: shardIdOf(index),
      index,
      startingHashKey: range.start.toString(),
      endingHashKey: range.end.toString(),
      createdMs,
    }));
    const record: StreamRecord = {
      name,
      createdMs,
      status: 'CREATING',
      mode,
      retentionHours: RETENTION_HOURS_DEFAULT,
      maxRecordSizeKiB: input.MaxRecordSizeInKiB ?? RECORD_SIZE_DEFAULT_KIB,
      tags: { ...(input.Tags ?? {}) },
      nextShardIndex: shardCount,
      shards,
    };
    const stream = this.buildStream(record);
    this.streams.set(name, stream);
    this.catalog.streams.push(record);
    this.persist();
    try {
      await this.openShards(stream.shards);
    } catch (error) {
      this.streams.delete(name);
      this.catalog.streams = this.catalog.streams.filter((candidate) => candidate !== record);
      this.persist();
      throw error;
    }
    const activate = () => {
      if (this.streams.get(name) !== stream || record.status !== 'CREATING') return;
      record.status = 'ACTIVE';
      this.persist();
    };
    if (this.transitionMs === 0) activate();
    else this.later(activate);
    return {};
  }

  /** LimitExceededException when `additional` more open shards would pass the account's limit. */
  private checkShardLimit(additional: number): void {
    const current = this.openShardCount();
    if (current + additional <= ACCOUNT_SHARD_LIMIT) return;
    throw fail.limit(
      `This request would exceed the shard limit for the account ${this.accountId} in ${this.region}. ` +
        `Current shard count for the account: ${current}. Limit: ${ACCOUNT_SHARD_LIMIT}. ` +
        `Number of additional shards that would have resulted from this request: ${additional}. ` +
        'Refer to the AWS Service Limits page (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) ' +
        'for current limits and how to request higher limits.',
    );
  }

  async deleteStream(input: K.DeleteStreamInput): Promise<Record<string, never>> {
    this.assertOpen();
    validateInput('DeleteStream', input);
    const stream = this.target(input);
    if (stream.record.status === 'DELETING') return {};
    const consumers = stream.record.consumers?.length ?? 0;
    if (consumers > 0 && input.EnforceConsumerDeletion !== true) {
      throw fail.inUse(
        `Stream ${stream.name} under account ${this.accountId} has ${consumers} registered consumer(s): ` +
          'deregister them first, or set EnforceConsumerDeletion to delete them with the stream.',
      );
    }
    stream.record.status = 'DELETING';
    for (const consumer of stream.record.consumers ?? []) consumer.status = 'DELETING';
    this.endSubscriptions(`${stream.arn}/consumer/`);
    this.persist();
    const remove = async () => {
      const byWorker = new Map<number, ShardDescriptor[]>();
      for (const shard of stream.shards) {
        byWorker.set(shard.worker, [...(byWorker.get(shard.worker) ?? []), shard.descriptor]);
      }
      await Promise.all(
        [...byWorker].map(([worker, shards]) =>
          this.pool.run(worker, { kind: 'close', shards, removeDirs: [], discard: true }),
        ),
      );
      await this.pool.run(0, { kind: 'close', shards: [], removeDirs: [streamDir(this.dataDir, stream.name)] });
      for (const shard of stream.shards) shard.reader.close();
      this.streams.delete(stream.name);
      this.catalog.streams = this.catalog.streams.filter((record) => record !== stream.record);
      this.persist();
    };
    if (this.transitionMs === 0) await remove();
    else this.later(remove);
    return {};
  }

  async describeStream(input: K.DescribeStreamInput): Promise<K.DescribeStreamOutput> {
    this.assertOpen();
    validateInput('DescribeStream', input);
    const stream = this.target(input);
    const limit = Math.min(input.Limit ?? DESCRIBE_STREAM_RETURNED_MAX, DESCRIBE_STREAM_RETURNED_MAX);
    const all = this.listedShards(stream);
    const after = exclusiveStart(input.ExclusiveStartShardId);
    const candidates = after === undefined ? all : all.filter((shard) => shard.shardId > after);
    const page = candidates.slice(0, limit);
    return {
      StreamDescription: {
        ...this.streamFields(stream),
        Shards: page.map((shard) => shard.describe()),
        HasMoreShards: candidates.length > page.length,
      },
    };
  }

  async describeStreamSummary(input: K.StreamTarget): Promise<K.DescribeStreamSummaryOutput> {
    this.assertOpen();
    validateInput('DescribeStreamSummary', input);
    const stream = this.target(input);
    return {
      StreamDescriptionSummary: {
        ...this.streamFields(stream),
        OpenShardCount: stream.open.length,
        ConsumerCount: stream.record.consumers?.length ?? 0,
        ...this.warmThroughputOf(stream),
        MaxRecordSizeInKiB: stream.record.maxRecordSizeKiB,
      },
    };
  }

  /** The members DescribeStream and DescribeStreamSummary share. */
  private streamFields(stream: StreamState) {
    const { record } = stream;
    return {
      StreamName: record.name,
      StreamARN: stream.arn,
      StreamStatus: record.status,
      StreamModeDetails: { StreamMode: record.mode },
      RetentionPeriodHours: record.retentionHours,
      StreamCreationTimestamp: new Date(record.createdMs),
      EnhancedMonitoring: [{ ShardLevelMetrics: [...(record.shardLevelMetrics ?? [])] }],
      EncryptionType: record.encryption ? ('KMS' as const) : ('NONE' as const),
      ...(record.encryption ? { KeyId: record.encryption.keyId } : {}),
    };
  }

  async listStreams(input: K.ListStreamsInput = {}): Promise<K.ListStreamsOutput> {
    this.assertOpen();
    validateInput('ListStreams', input);
    let after = input.ExclusiveStartStreamName;
    if (input.NextToken !== undefined) {
      const token = this.decodeToken<{ after: string }>(input.NextToken, 'list-streams');
      after = token.after;
    }
    const limit = Math.min(input.Limit ?? LIST_STREAMS_RETURNED_MAX, LIST_STREAMS_RETURNED_MAX);
    const names = [...this.streams.keys()].sort();
    const candidates = after === undefined ? names : names.filter((name) => name > after!);
    const page = candidates.slice(0, limit);
    const hasMore = candidates.length > page.length;
    const output: K.ListStreamsOutput = {
      StreamNames: page,
      HasMoreStreams: hasMore,
      StreamSummaries: page.map((name) => {
        const stream = this.streams.get(name)!;
        return {
          StreamName: name,
          StreamARN: stream.arn,
          StreamStatus: stream.record.status,
          StreamModeDetails: { StreamMode: stream.record.mode },
          StreamCreationTimestamp: new Date(stream.record.createdMs),
        };
      }),
    };
    if (hasMore) output.NextToken = this.encodeToken('list-streams', { after: page[page.length - 1]! });
    return output;
  }

  async listShards(input: K.ListShardsInput): Promise<K.ListShardsOutput> {
    this.assertOpen();
    validateInput('ListShards', input);
    let streamName = input.StreamName;
    let after = exclusiveStart(input.ExclusiveStartShardId);
    let filter = input.ShardFilter;
    if (input.NextToken !== undefined) {
      if (input.StreamName !== undefined || input.StreamARN !== undefined) {
        throw fail.invalid('NextToken and StreamName cannot be provided together.');
      }
      if (input.ExclusiveStartShardId !== undefined) {
        throw fail.invalid('NextToken and ExclusiveStartShardId cannot be provided together.');
      }
      if (input.StreamCreationTimestamp !== undefined) {
        throw fail.invalid('NextToken and StreamCreationTimestamp cannot be provided together.');
      }
      const token = this.decodeToken<{ stream: string; after: string; filter?: K.ShardFilter & { ms?: number } }>(
        input.NextToken,
        'list-shards',
      );
      streamName = token.stream;
      after = token.after;
      filter = token.filter && {
        Type: token.filter.Type,
        ...(token.filter.ShardId !== undefined ? { ShardId: token.filter.ShardId } : {}),
        ...(token.filter.ms !== undefined ? { Timestamp: new Date(token.filter.ms) } : {}),
      };
    } else if (input.StreamName === undefined && input.StreamARN === undefined) {
      throw fail.invalid('Either NextToken or StreamName should be provided.');
    }
    const stream = this.target({ StreamName: streamName, StreamARN: input.NextToken ? undefined : input.StreamARN });
    const limit = Math.min(input.MaxResults ?? LIST_SHARDS_RETURNED_MAX, LIST_SHARDS_RETURNED_MAX);
    let shards = this.filterShards(stream, filter);
    if (after !== undefined) shards = shards.filter((shard) => shard.shardId > after!);
    const page = shards.slice(0, limit);
    const output: K.ListShardsOutput = { Shards: page.map((shard) => shard.describe()) };
    if (shards.length > page.length) {
      const tokenFilter = filter && {
        Type: filter.Type,
        ShardId: filter.ShardId,
        ms: filter.Timestamp?.getTime(),
      };
      output.NextToken = this.encodeToken('list-shards', {
        stream: stream.name,
        after: page[page.length - 1]!.shardId,
        filter: tokenFilter,
      });
    }
    return output;
  }

  /** Shards still within retention, in shard-id order (what FROM_TRIM_HORIZON lists). */
  private listedShards(stream: StreamState): ShardState[] {
    const cutoff = this.clock() - stream.record.retentionHours * MS_PER_HOUR;
    return stream.shards
      .filter((shard) => !shard.record.closed || shard.record.closed.closedMs >= cutoff)
      .sort((a, b) => a.record.index - b.record.index);
  }

  private filterShards(stream: StreamState, filter: K.ShardFilter | undefined): ShardState[] {
    const listed = this.listedShards(stream);
    switch (filter?.Type) {
      case undefined:
      case 'FROM_TRIM_HORIZON':
      case 'AT_TRIM_HORIZON':
        return listed;
      case 'AT_LATEST':
        return listed.filter((shard) => shard.isOpen);
      case 'AFTER_SHARD_ID': {
        const after = exclusiveStart(filter.ShardId);
        if (after === undefined) throw fail.invalid('ShardId is required for the AFTER_SHARD_ID filter.');
        return listed.filter((shard) => shard.shardId > after);
      }
      case 'AT_TIMESTAMP':
      case 'FROM_TIMESTAMP': {
        if (filter.Timestamp === undefined) {
          throw fail.invalid(`Timestamp is required for the ${filter.Type} filter.`);
        }
        const ms = filter.Timestamp.getTime();
        return listed.filter((shard) => {
          const closedMs = shard.record.closed?.closedMs;
          // A shard closed at `ms` may hold records that arrived at `ms`.
          const openAt = closedMs === undefined || closedMs >= ms;
          return filter.Type === 'FROM_TIMESTAMP' ? openAt : openAt && shard.record.createdMs <= Math.max(ms, stream.record.createdMs);
        });
      }
    }
  }

  async increaseStreamRetentionPeriod(input: K.RetentionPeriodInput): Promise<Record<string, never>> {
    this.assertOpen();
    validateInput('IncreaseStreamRetentionPeriod', input);
    return this.changeRetention(input, 'increase');
  }

  async decreaseStreamRetentionPeriod(input: K.RetentionPeriodInput): Promise<Record<string, never>> {
    this.assertOpen();
    validateInput('DecreaseStreamRetentionPeriod', input);
    return this.changeRetention(input, 'decrease');
  }

  /** Retention only moves in the named direction (an equal value is accepted as a no-op). */
  private changeRetention(input: K.RetentionPeriodInput, direction: 'increase' | 'decrease') {
    const stream = this.target(input);
    const hours = input.RetentionPeriodHours;
    const current = stream.record.retentionHours;
    this.checkRetentionRange(hours);
    const wrongWay = direction === 'increase' ? hours < current : hours > current;
    if (wrongWay) {
      const [relation, other] = direction === 'increase' ? ['shorter', 'Decrease'] : ['longer', 'Increase'];
      throw fail.invalid(
        `Requested retention period (${hours} hours) for stream ${stream.name} can not be ${relation} than ` +
          `existing retention period (${current} hours). Use ${other}RetentionPeriod API.`,
      );
    }
    this.requireActive(stream);
    stream.record.retentionHours = hours;
    this.persist();
    return {};
  }

  private checkRetentionRange(hours: number): void {
    if (hours < RETENTION_HOURS_MIN) {
      throw fail.invalid(
        `Minimum allowed retention period is ${RETENTION_HOURS_MIN} hours. ` +
          `Requested retention period (${hours} hours) is too short.`,
      );
    }
    if (hours > RETENTION_HOURS_MAX) {
      throw fail.invalid(
        `Maximum allowed retention period is ${RETENTION_HOURS_MAX} hours. ` +
          `Requested retention period (${hours} hours) is too long.`,
      );
    }
  }

  // ---- stream settings ----------------------------------------------------------------------------

  /**
   * Switches the stream between PROVISIONED and ON_DEMAND. The mode changes at once (Describe*
   * and ListStreams report it, and resharding on an ON_DEMAND stream is refused from then on);
   * the stream is UPDATING for the stream transition, then ACTIVE. The shards stay as they are.
   * A request for the mode the stream already has changes nothing and leaves it ACTIVE.
   * WarmThroughputMiBps is accepted with ON_DEMAND only and otherwise ignored (warm throughput
   * is set with UpdateStreamWarmThroughput); a stream switched to PROVISIONED loses its warm
   * throughput.
   */
  async updateStreamMode(input: K.UpdateStreamModeInput): Promise<Record<string, never>> {
    this.assertOpen();
    validateInput('UpdateStreamMode', input);
    const stream = this.target({ StreamARN: input.StreamARN });
    const mode = input.StreamModeDetails.StreamMode!;
    if (input.WarmThroughputMiBps !== undefined && mode !== 'ON_DEMAND') {
      throw fail.invalid(
        `WarmThroughputMiBps can only be given when the stream mode is being updated to ON_DEMAND, ` +
          `not ${mode}.`,
      );
    }
    this.requireActive(stream);
    const record = stream.record;
    if (record.mode === mode) return {};
    if (mode === 'ON_DEMAND') this.checkOnDemandLimit();
    record.mode = mode;
    // A provisioned stream has no warm throughput (switching back starts from none).
    if (mode === 'PROVISIONED') delete record.warmThroughput;
    this.updating(stream);
    return {};
  }

  /**
   * Sets the stream's record size limit (data + partition key), which every put checks from
   * the next one on; records already stored stay as they are. The stream must be ACTIVE; the
   * change takes effect at once, without UPDATING.
   */
  async updateMaxRecordSize(input: K.UpdateMaxRecordSizeInput): Promise<Record<string, never>> {
    this.assertOpen();
    validateInput('UpdateMaxRecordSize', input);
    if (input.StreamARN === undefined || input.StreamARN === null) {
      throw fail.invalid('StreamARN was not provided: UpdateMaxRecordSize names its stream by StreamARN.');
    }
    const stream = this.target({ StreamARN: input.StreamARN });
    this.requireActive(stream);
    stream.record.maxRecordSizeKiB = input.MaxRecordSizeInKiB;
    this.persist();
    return {};
  }

  /**
   * Enables enhanced monitoring for shard-level metrics (`ALL` names all seven): the stream
   * records which are enabled and Describe* report them. Runnel publishes no per-shard metrics
   * of its own for them; `/metrics` is unaffected.
   */
  async enableEnhancedMonitoring(input: K.EnhancedMonitoringInput): Promise<K.EnhancedMonitoringOutput> {
    this.assertOpen();
    validateInput('EnableEnhancedMonitoring', input);
    return this.changeMonitoring(input, true);
  }

  /** Disables enhanced monitoring for the named shard-level metrics (`ALL`: every one). */
  async disableEnhancedMonitoring(input: K.EnhancedMonitoringInput): Promise<K.EnhancedMonitoringOutput> {
    this.assertOpen();
    validateInput('DisableEnhancedMonitoring', input);
    return this.changeMonitoring(input, false);
  }

  /**
   * The stream must be ACTIVE; the change takes effect at once, without UPDATING. Metrics are
   * listed in the model's order, each once.
   */
  private changeMonitoring(input: K.EnhancedMonitoringInput, enable: boolean): K.EnhancedMonitoringOutput {
    const stream = this.target(input);
    this.requireActive(stream);
    const record = stream.record;
    const current = record.shardLevelMetrics ?? [];
    const named = new Set<string>(input.ShardLevelMetrics.includes('ALL') ? SHARD_LEVEL_METRICS : input.ShardLevelMetrics);
    const desired = SHARD_LEVEL_METRICS.filter((metric) =>
      enable ? current.includes(metric) || named.has(metric) : current.includes(metric) && !named.has(metric),
    );
    record.shardLevelMetrics = desired;
    this.persist();
    return {
      StreamName: stream.name,
      StreamARN: stream.arn,
      CurrentShardLevelMetrics: [...current],
      DesiredShardLevelMetrics: [...desired],
    };
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
  async updateStreamWarmThroughput(
    input: K.UpdateStreamWarmThroughputInput,
  ): Promise<K.UpdateStreamWarmThroughputOutput> {
    this.assertOpen();
    validateInput('UpdateStreamWarmThroughput', input);
    const stream = this.target(input);
    const record = stream.record;
    if (record.mode !== 'ON_DEMAND') {
      throw new KinesisError(
        'ValidationException',
        `Stream ${stream.name} under account ${this.accountId} is in PROVISIONED mode: ` +
          'UpdateStreamWarmThroughput applies to ON_DEMAND streams only.',
      );
    }
    if (!this.throughputCommitted()) {
      throw fail.invalid(
        `Account ${this.accountId} has no minimum throughput billing commitment: warm ` +
          'throughput needs MinimumThroughputBillingCommitment ENABLED (UpdateAccountSettings).',
      );
    }
    if (input.WarmThroughputMiBps > WARM_THROUGHPUT_MIBPS_MAX) {
      throw fail.limit(
        `Requested warm throughput (${input.WarmThroughputMiBps} MiBps) for stream ` +
          `${stream.name} under account ${this.accountId} exceeds the maximum of ` +
          `${WARM_THROUGHPUT_MIBPS_MAX} MiBps.`,
      );
    }
    this.requireActive(stream);
    const warm = (record.warmThroughput ??= { targetMiBps: 0, currentMiBps: 0 });
    warm.targetMiBps = input.WarmThroughputMiBps;
    this.updating(stream, () => {
      const current = record.warmThroughput;
      if (current) current.currentMiBps = current.targetMiBps;
    });
    return {
      StreamARN: stream.arn,
      StreamName: stream.name,
      WarmThroughput: { TargetMiBps: warm.targetMiBps, CurrentMiBps: warm.currentMiBps },
    };
  }

  /**
   * DescribeStreamSummary's WarmThroughput: present for an ON_DEMAND stream whose warm throughput
   * was set, while the account's commitment is on (the API documents it only then).
   */
  private warmThroughputOf(stream: StreamState): { WarmThroughput?: K.WarmThroughputObject } {
    const warm = stream.record.warmThroughput;
    if (!warm || stream.record.mode !== 'ON_DEMAND' || !this.throughputCommitted()) return {};
    return { WarmThroughput: { TargetMiBps: warm.targetMiBps, CurrentMiBps: warm.currentMiBps } };
  }

  /**
   * Turns on server-side encryption with a KMS key, or changes its key: Describe* report
   * EncryptionType KMS and the KeyId at once; the stream is UPDATING for the stream transition,
   * and records put and read report KMS from when it is ACTIVE again, as Kinesis encrypts records
   * from then on. Runnel does not encrypt them (it has no KMS): the setting is recorded and
   * reported so that code that sets it runs unchanged. Asking for the key already in effect
   * changes nothing and leaves the stream ACTIVE.
   */
  async startStreamEncryption(input: K.StreamEncryptionInput): Promise<Record<string, never>> {
    this.assertOpen();
    validateInput('StartStreamEncryption', input);
    return this.changeEncryption(input, input.KeyId);
  }

  /**
   * Turns server-side encryption off (EncryptionType NONE, no KeyId), as StartStreamEncryption
   * turns it on; the stream is UPDATING for the transition, and records report NONE from when it
   * is ACTIVE again. On a stream without encryption it changes nothing.
   */
  async stopStreamEncryption(input: K.StreamEncryptionInput): Promise<Record<string, never>> {
    this.assertOpen();
    validateInput('StopStreamEncryption', input);
    return this.changeEncryption(input, undefined);
  }

  /** Sets the stream's encryption to KMS with `keyId`, or (undefined) to NONE. */
  private changeEncryption(
    input: K.StreamEncryptionInput,
    keyId: string | undefined,
  ): Record<string, never> {
    const stream = this.target(input);
    checkStreamEncryption(input.EncryptionType, input.KeyId);
    this.requireActive(stream);
    const record = stream.record;
    if (record.encryption?.keyId === keyId) return {};
    if (keyId === undefined) delete record.encryption;
    else record.encryption = { keyId };
    const encryption: K.EncryptionType = keyId === undefined ? 'NONE' : 'KMS';
    this.updating(stream, () => {
      stream.recordEncryption = encryption;
    });
    return {};
  }

  /**
   * A change that leaves the stream UPDATING for the stream transition, already applied to its
   * record: saved now, with the stream ACTIVE again at once when streamTransitionMs is 0. A
   * restart during the transition completes it (restore makes every stream ACTIVE).
   * `completed` runs when the stream is ACTIVE again (what takes effect only then), before the
   * save that records it.
   */
  private updating(stream: StreamState, completed?: () => void): void {
    const record = stream.record;
    if (this.transitionMs === 0) {
      completed?.();
      this.persist();
      return;
    }
    record.status = 'UPDATING';
    this.persist();
    this.later(() => {
      if (this.streams.get(stream.name) !== stream || record.status !== 'UPDATING') return;
      record.status = 'ACTIVE';
      completed?.();
      this.persist();
    });
  }

  // ---- resharding -------------------------------------------------------------------------------------

  async splitShard(input: K.SplitShardInput): Promise<Record<string, never>> {
    this.assertOpen();
    validateInput('SplitShard', input);
    const stream = this.reshardable(input, 'SplitShard');
    const shard = this.openShardNamed(stream, input.ShardToSplit);
    this.checkShardLimit(1);
    const newStart = BigInt(input.NewStartingHashKey);
    if (newStart <= shard.start + 1n || newStart >= shard.end) {
      throw fail.invalid(
        `NewStartingHashKey ${input.NewStartingHashKey} used in SplitShard() on shard ${shard.shardId} in stream ` +
          `${stream.name} under account ${this.accountId} is not both greater than one plus the shard's ` +
          `StartingHashKey ${shard.start} and less than the shard's EndingHashKey ${shard.end}.`,
      );
    }
    this.requireActive(stream);
    await this.reshard(stream, planSplit(shard, newStart, stream.record.nextShardIndex));
    return {};
  }

  async mergeShards(input: K.MergeShardsInput): Promise<Record<string, never>> {
    this.assertOpen();
    validateInput('MergeShards', input);
    const stream = this.reshardable(input, 'MergeShards');
    const shard = this.openShardNamed(stream, input.ShardToMerge);
    const adjacent = this.openShardNamed(stream, input.AdjacentShardToMerge);
    if (shard === adjacent || !areAdjacent(shard, adjacent)) {
      throw fail.invalid(
        `Shards ${shard.shardId} and ${adjacent.shardId} in stream ${stream.name} under account ${this.accountId} ` +
          'are not an adjacent pair of shards eligible for merging',
      );
    }
    this.requireActive(stream);
    await this.reshard(stream, planMerge(shard, adjacent, stream.record.nextShardIndex));
    return {};
  }

  /**
   * UNIFORM_SCALING to `TargetShardCount` open shards with CreateStream's ranges for that count,
   * by splits and merges (reshard-plan.ts). Kinesis's bounds apply: at most double and at least
   * half the open shards, at most SHARD_COUNT_MAX, within the account's shard limit, and in
   * limits mode at most UPDATE_SHARD_COUNT_PER_DAY_MAX calls per stream in any 24 hours.
   */
  async updateShardCount(input: K.UpdateShardCountInput): Promise<K.UpdateShardCountOutput> {
    this.assertOpen();
    validateInput('UpdateShardCount', input);
    const stream = this.reshardable(input, 'UpdateShardCount');
    this.requireActive(stream);
    const current = stream.open.length;
    const target = input.TargetShardCount;
    const counts = `Current open shard count: ${current} Target shard count: ${target}`;
    if (target > 2 * current) {
      throw fail.limit(`UpdateShardCount cannot scale up over double your current open shard count. ${counts}`);
    }
    if (2 * target < current) {
      throw fail.limit(`UpdateShardCount cannot scale down below half your current open shard count. ${counts}`);
    }
    if (target > SHARD_COUNT_MAX) {
      throw fail.limit(`UpdateShardCount cannot scale up to more than ${SHARD_COUNT_MAX} shards. ${counts}`);
    }
    const plan = planUniform(stream.open, target, stream.record.nextShardIndex);
    // Kinesis counts the short-lived intermediate shards toward the limit too.
    const intermediates = plan.created.filter((shard) => shard.intermediate).length;
    this.checkShardLimit(Math.max(0, target - current) + intermediates);
    const now = this.clock();
    const recent = this.throttles ? (stream.record.shardCountUpdatesMs ?? []).filter((ms) => ms > now - MS_PER_DAY) : [];
    if (recent.length >= UPDATE_SHARD_COUNT_PER_DAY_MAX) {
      throw fail.limit(
        `UpdateShardCount of stream ${stream.name} under account ${this.accountId} is not allowed: a stream ` +
          `may be scaled at most ${UPDATE_SHARD_COUNT_PER_DAY_MAX} times in 24 hours.`,
      );
    }
    // Counted before the reshard saves the catalog, so the count and the accepted reshard are
    // saved together; a refused reshard is not counted.
    if (this.throttles) stream.record.shardCountUpdatesMs = [...recent, now];
    try {
      if (plan.created.length > 0) await this.reshard(stream, plan);
      else if (this.throttles) this.persist();
    } catch (error) {
      if (this.throttles) {
        stream.record.shardCountUpdatesMs = recent;
        if (!this.closed) this.persist();
      }
      throw error;
    }
    return { StreamName: stream.name, CurrentShardCount: current, TargetShardCount: target, StreamARN: stream.arn };
  }

  /** The stream a reshard names, which must be PROVISIONED (Kinesis: ValidationException). */
  private reshardable(input: K.StreamTarget, operation: string): StreamState {
    const stream = this.target(input);
    if (stream.record.mode === 'ON_DEMAND') {
      throw new KinesisError(
        'ValidationException',
        `Stream ${stream.name} under account ${this.accountId} is in ON_DEMAND mode: ${operation} applies to ` +
          'PROVISIONED streams only.',
      );
    }
    return stream;
  }

  /** An open shard of the stream by id (read by number), with Kinesis's errors otherwise. */
  private openShardNamed(stream: StreamState, shardId: string): ShardState {
    const canonical = canonicalShardId(shardId);
    const shard = canonical === undefined ? undefined : stream.byShardId.get(canonical);
    if (!shard) {
      throw fail.notFound(
        `Could not find shard ${canonical ?? shardId} in stream ${stream.name} under account ${this.accountId}.`,
      );
    }
    if (!shard.isOpen) {
      throw fail.invalid(
        `Shard ${shard.shardId} in stream ${stream.name} under account ${this.accountId} has already been merged ` +
          'or split, and thus is not eligible for merging or splitting.',
      );
    }
    return shard;
  }

  /**
   * Applies a reshard plan. The stream is UPDATING until it is done: at once when
   * streamTransitionMs is 0 (the call returns after it), else after the transition, puts going
   * to the old shards meanwhile, as Kinesis does. In order:
   *  1. the new shards are opened in their workers (empty logs);
   *  2. in one turn of the event loop, the closed shards leave routing, the new ones enter it,
   *     and the catalog is saved with both: every put routed from then on goes to a new shard,
   *     and none is acknowledged before the catalog knows that shard;
   *  3. each closed shard's worker confirms, after every append routed to it before step 2, its
   *     end ordinal (`seal`), which the catalog then records.
   */
  private async reshard(stream: StreamState, plan: ReshardPlan): Promise<void> {
    const last = plan.created[plan.created.length - 1]!;
    if (last.index > SHARD_INDEX_MAX) {
      throw fail.limit(`Stream ${stream.name} has used every shard id up to ${SHARD_INDEX_MAX}.`);
    }
    const record = stream.record;
    record.status = 'UPDATING';
    record.pendingReshard = {
      closes: plan.closes,
      created: plan.created.map((planned) => ({
        shardId: planned.shardId,
        index: planned.index,
        startingHashKey: planned.start.toString(),
        endingHashKey: planned.end.toString(),
        parentShardId: planned.parentShardId,
        ...(planned.adjacentParentShardId !== undefined ? { adjacentParentShardId: planned.adjacentParentShardId } : {}),
        intermediate: planned.intermediate,
      })),
    };
    this.persist();
    if (this.transitionMs === 0) {
      try {
        await this.applyReshard(stream);
      } catch (error) {
        // Nothing took effect (a failure comes before the switch): the call fails as a whole.
        this.endReshard(stream);
        throw error;
      }
      return;
    }
    const apply = async (): Promise<void> => {
      try {
        await this.applyReshard(stream);
      } catch (error) {
        // Accepted, so it must happen: tried again after another transition.
        if (!this.closed) console.error(`runnel: reshard of stream ${stream.name} failed, retrying: ${(error as Error).message}`);
        if (this.streams.get(stream.name) === stream && record.pendingReshard) this.later(apply);
      }
    };
    this.later(apply);
  }

  /** The stream is ACTIVE again and has no reshard pending. */
  private endReshard(stream: StreamState): void {
    const record = stream.record;
    if (this.streams.get(stream.name) !== stream || record.status !== 'UPDATING') return;
    record.status = 'ACTIVE';
    delete record.pendingReshard;
    if (!this.closed) this.persist();
  }

  /**
   * Puts the stream's pending reshard in effect (the steps of `reshard`'s comment), then makes
   * the stream ACTIVE. A no-op when the stream was deleted meanwhile or has none pending.
   */
  private async applyReshard(stream: StreamState): Promise<void> {
    const record = stream.record;
    const pending = record.pendingReshard;
    if (this.streams.get(stream.name) !== stream || !pending) return;
    const createdMs = this.clock();
    const records: ShardRecord[] = pending.created.map(({ intermediate, ...planned }) => ({
      ...planned,
      createdMs,
      ...(intermediate ? { closed: { endOrdinal: 0, closedMs: createdMs } } : {}),
    }));
    const created = records.map(
      (shard) =>
        new ShardState(shard, this.assignWorker(), record.name, record.createdMs, this.dataDir, this.segmentBytes, this.fsync),
    );
    await this.openShards(created);
    if (this.closed) return;
    if (this.streams.get(stream.name) !== stream || record.status !== 'UPDATING') {
      // Deleted meanwhile: the new shards never took a record. Their files go too, unless a new
      // stream of the same name has been made since (its own shards may use those directories).
      const removeDirs = (shard: ShardState) => (this.streams.has(stream.name) ? [] : [shard.descriptor.dir]);
      await Promise.all(
        created.map((shard) =>
          this.pool.run(shard.worker, { kind: 'close', shards: [shard.descriptor], removeDirs: removeDirs(shard), discard: true }),
        ),
      );
      return;
    }
    // Step 2, in one turn: routing and the catalog change together.
    const switchedMs = this.clock();
    const closing = pending.closes.map((shardId) => stream.byShardId.get(shardId)!);
    for (const shard of closing) {
      shard.closing = true;
      shard.record.closed = { closedMs: switchedMs };
    }
    record.shards.push(...records);
    record.nextShardIndex = Math.max(record.nextShardIndex, ...records.map((shard) => shard.index + 1));
    delete record.pendingReshard;
    stream.add(created);
    this.persist();
    await this.sealClosed(closing, switchedMs);
    this.endReshard(stream);
  }

  /**
   * Step 3: each closed shard's worker confirms its end after every append routed to it before
   * the switch (one task per worker, queued behind those appends). A shard closes when its last
   * record arrived, if that is after the switch. A seal that fails is tried again
   * (RESHARD_SEAL_ATTEMPTS); a shard still unconfirmed stays closing, its end left to the next
   * open, which takes it from the shard's files.
   */
  private async sealClosed(closing: ShardState[], switchedMs: number): Promise<void> {
    const byWorker = new Map<number, ShardState[]>();
    for (const shard of closing) byWorker.set(shard.worker, [...(byWorker.get(shard.worker) ?? []), shard]);
    await Promise.all(
      [...byWorker].map(async ([worker, shards]) => {
        for (let attempt = 1; attempt <= RESHARD_SEAL_ATTEMPTS; attempt++) {
          try {
            const task = { kind: 'seal' as const, shards: shards.map((shard) => shard.descriptor) };
            const reply = await this.batcher.runAfterAppends<SealReply>(worker, task);
            shards.forEach((shard, i) => {
              const { endOrdinal, lastArrivalMs } = reply.shards[i]!;
              shard.record.closed = { endOrdinal, closedMs: Math.max(switchedMs, lastArrivalMs) };
              shard.closing = false;
              // A worker that opens it again (after a restart of the thread) keeps it sealed.
              shard.descriptor.sealed = true;
              // Readers waiting for the shard's next record learn that none will come.
              shard.index.wakeWaiters();
            });
            return;
          } catch (error) {
            if (this.closed) return;
            console.error(`runnel: sealing closed shards on worker ${worker} failed: ${(error as Error).message}`);
          }
        }
      }),
    );
    if (!this.closed) this.persist();
  }

  // ---- account settings --------------------------------------------------------------------------------

  /** The account's settings: its minimum throughput billing commitment. */
  async describeAccountSettings(
    _input: Record<string, never> = {},
  ): Promise<K.AccountSettingsOutput> {
    this.assertOpen();
    return { MinimumThroughputBillingCommitment: this.throughputCommitment(this.clock()) };
  }

  /**
   * Turns the account's minimum throughput billing commitment on or off, and answers the
   * settings as they are then. On: a commitment starts now, with its earliest allowed end
   * THROUGHPUT_COMMITMENT_MS_MIN later (on again while an end is pending cancels the end, as the
   * API documents; on while on changes nothing). Off: the commitment ends now if its earliest
   * allowed end has passed, else it is ENABLED_UNTIL_EARLIEST_ALLOWED_END and ends then; off while
   * off changes nothing. Runnel bills nothing: only the state is kept.
   */
  async updateAccountSettings(
    input: K.UpdateAccountSettingsInput,
  ): Promise<K.AccountSettingsOutput> {
    this.assertOpen();
    validateInput('UpdateAccountSettings', input);
    const now = this.clock();
    const status = this.throughputCommitment(now).Status;
    const account = (this.catalog.account ??= {});
    const commitment = account.minimumThroughputBillingCommitment;
    if (input.MinimumThroughputBillingCommitment.Status === 'ENABLED') {
      if (status === 'ENABLED_UNTIL_EARLIEST_ALLOWED_END') delete commitment!.endRequested;
      else if (status === 'DISABLED') {
        account.minimumThroughputBillingCommitment = {
          startedMs: now,
          earliestAllowedEndMs: now + THROUGHPUT_COMMITMENT_MS_MIN,
        };
      }
    } else if (status === 'ENABLED') {
      if (now >= commitment!.earliestAllowedEndMs) commitment!.endedMs = now;
      else commitment!.endRequested = true;
    }
    this.persist();
    return { MinimumThroughputBillingCommitment: this.throughputCommitment(now) };
  }

  /** The commitment as it stands at `now` (a pending end takes effect when its time comes). */
  private throughputCommitment(now: number): K.MinimumThroughputBillingCommitmentOutput {
    const commitment = this.catalog.account?.minimumThroughputBillingCommitment;
    if (!commitment) return { Status: 'DISABLED' };
    const StartedAt = new Date(commitment.startedMs);
    if (commitment.endedMs !== undefined) {
      return { Status: 'DISABLED', StartedAt, EndedAt: new Date(commitment.endedMs) };
    }
    const EarliestAllowedEndAt = new Date(commitment.earliestAllowedEndMs);
    if (!commitment.endRequested) return { Status: 'ENABLED', StartedAt, EarliestAllowedEndAt };
    if (now >= commitment.earliestAllowedEndMs) {
      return { Status: 'DISABLED', StartedAt, EndedAt: EarliestAllowedEndAt };
    }
    return { Status: 'ENABLED_UNTIL_EARLIEST_ALLOWED_END', StartedAt, EarliestAllowedEndAt };
  }

  /** Whether the commitment is on now (ENABLED, or ENABLED until its earliest allowed end). */
  private throughputCommitted(): boolean {
    return this.throughputCommitment(this.clock()).Status !== 'DISABLED';
  }

  async describeLimits(_input: Record<string, never> = {}): Promise<K.DescribeLimitsOutput> {
    this.assertOpen();
    return {
      ShardLimit: ACCOUNT_SHARD_LIMIT,
      OpenShardCount: this.openShardCount(),
      OnDemandStreamCount: this.onDemandStreamCount(),
      OnDemandStreamCountLimit: ON_DEMAND_STREAM_COUNT_LIMIT,
    };
  }

  private openShardCount(): number {
    let count = 0;
    for (const stream of this.streams.values()) count += stream.open.length;
    return count;
  }

  /** LimitExceededException when one more ON_DEMAND stream would pass the account's limit. */
  private checkOnDemandLimit(): void {
    if (this.onDemandStreamCount() < ON_DEMAND_STREAM_COUNT_LIMIT) return;
    throw fail.limit(`This request would exceed the on-demand stream limit of ${ON_DEMAND_STREAM_COUNT_LIMIT}.`);
  }

  private onDemandStreamCount(): number {
    let count = 0;
    for (const stream of this.streams.values()) if (stream.record.mode === 'ON_DEMAND') count++;
    return count;
  }

  // ---- tags -------------------------------------------------------------------------------------------
  // AddTagsToStream / RemoveTagsFromStream / ListTagsForStream name the stream by StreamName or
  // StreamARN; TagResource / UntagResource / ListTagsForResource by ResourceARN. Both change and
  // read the same tags, through addTags, removeTags and sortedTags.

  async addTagsToStream(input: K.AddTagsToStreamInput): Promise<Record<string, never>> {
    this.assertOpen();
    validateInput('AddTagsToStream', input);
    this.addTags(this.target(input), input.Tags);
    return {};
  }

  async removeTagsFromStream(input: K.RemoveTagsFromStreamInput): Promise<Record<string, never>> {
    this.assertOpen();
    validateInput('RemoveTagsFromStream', input);
    this.removeTags(this.target(input), input.TagKeys);
    return {};
  }

  async listTagsForStream(input: K.ListTagsForStreamInput): Promise<K.ListTagsForStreamOutput> {
    this.assertOpen();
    validateInput('ListTagsForStream', input);
    const limit = Math.min(input.Limit ?? LIST_TAGS_LIMIT_MAX, LIST_TAGS_LIMIT_MAX);
    const after = input.ExclusiveStartTagKey;
    const tags = this.sortedTags(this.target(input)).filter((tag) => after === undefined || tag.Key > after);
    const page = tags.slice(0, limit);
    return { Tags: page, HasMoreTags: tags.length > page.length };
  }

  async tagResource(input: K.TagResourceInput): Promise<Record<string, never>> {
    this.assertOpen();
    validateInput('TagResource', input);
    this.addTags(this.resource(input.ResourceARN), input.Tags);
    return {};
  }

  async untagResource(input: K.UntagResourceInput): Promise<Record<string, never>> {
    this.assertOpen();
    validateInput('UntagResource', input);
    this.removeTags(this.resource(input.ResourceARN), input.TagKeys);
    return {};
  }

  /** Every tag of the resource (at most TAGS_PER_STREAM_MAX), by key. */
  async listTagsForResource(input: K.ListTagsForResourceInput): Promise<K.ListTagsForResourceOutput> {
    this.assertOpen();
    validateInput('ListTagsForResource', input);
    return { Tags: this.sortedTags(this.resource(input.ResourceARN)) };
  }

  /**
   * The stream or consumer a ResourceARN names. A stream ARN of another region or account, an
   * unknown stream name, or a consumer ARN naming no registered consumer is
   * ResourceNotFoundException.
   */
  private resource(arn: string): StreamState | ConsumerRef {
    if (CONSUMER_IN_ARN.test(arn)) return this.consumerByArn(arn);
    const prefix = this.streamArn('');
    if (!arn.startsWith(prefix)) {
      throw fail.notFound(
        `Resource ${arn} not found: this endpoint serves the streams of account ${this.accountId} in ` +
          `${this.region}, whose ARNs begin ${prefix}.`,
      );
    }
    const name = arn.slice(prefix.length);
    const stream = this.streams.get(name);
    if (!stream) throw this.notFound(name);
    return stream;
  }

  private tagsOf(owner: StreamState | ConsumerRef): Record<string, string> {
    return owner instanceof StreamState ? owner.record.tags : owner.consumer.tags;
  }

  /** Adds or overwrites tags, within TAGS_PER_STREAM_MAX (TAGS_PER_CONSUMER_MAX) in all. */
  private addTags(owner: StreamState | ConsumerRef, tags: Record<string, string>): void {
    checkTags(Object.keys(tags), Object.values(tags), true);
    const merged = { ...this.tagsOf(owner), ...tags };
    if (owner instanceof StreamState) {
      if (Object.keys(merged).length > TAGS_PER_STREAM_MAX) {
        throw fail.invalid(
          `Failed to add tags to stream ${owner.name} under account ${this.accountId} because a given ` +
            `stream cannot have more than ${TAGS_PER_STREAM_MAX} tags associated with it.`,
        );
      }
      owner.record.tags = merged;
    } else {
      if (Object.keys(merged).length > TAGS_PER_CONSUMER_MAX) {
        throw fail.invalid(
          `Failed to add tags to consumer ${owner.arn} because a given consumer cannot have more than ` +
            `${TAGS_PER_CONSUMER_MAX} tags associated with it.`,
        );
      }
      owner.consumer.tags = merged;
    }
    this.persist();
  }

  /** Removes tags by key; a key the resource does not have is ignored. */
  private removeTags(owner: StreamState | ConsumerRef, keys: readonly string[]): void {
    checkTags(keys, [], false);
    const tags = this.tagsOf(owner);
    for (const key of keys) delete tags[key];
    this.persist();
  }

  private sortedTags(owner: StreamState | ConsumerRef): K.Tag[] {
    const tags = this.tagsOf(owner);
    return Object.keys(tags)
      .sort()
      .map((Key) => ({ Key, Value: tags[Key]! }));
  }

  // ---- resource policies -------------------------------------------------------------------------------
  // PutResourcePolicy / GetResourcePolicy / DeleteResourcePolicy name a stream or a consumer by
  // ResourceARN, resolved as the tag operations resolve it (`resource`), with the same errors.
  // The policy is kept in the stream's or consumer's catalog record, so it goes with it when the
  // stream is deleted or the consumer deregistered. Runnel checks no credentials: the document is
  // stored and returned, never enforced.

  /** Attaches (or replaces) the resource's policy: a JSON object, stored as given. */
  async putResourcePolicy(input: K.PutResourcePolicyInput): Promise<Record<string, never>> {
    this.assertOpen();
    validateInput('PutResourcePolicy', input);
    const owner = this.resource(input.ResourceARN);
    checkResourcePolicy(input.Policy);
    this.policyHolder(owner).resourcePolicy = input.Policy;
    this.persist();
    return {};
  }

  /**
   * The resource's policy as it was put. A resource without one answers the empty policy `{}`
   * rather than an error. The reference is silent; the public evidence points there: client
   * tools that read every stream's policy treat only a missing stream as an error, and test
   * suites written for the API expect `{}` once a policy is deleted.
   */
  async getResourcePolicy(input: K.ResourceTarget): Promise<K.GetResourcePolicyOutput> {
    this.assertOpen();
    validateInput('GetResourcePolicy', input);
    return { Policy: this.policyHolder(this.resource(input.ResourceARN)).resourcePolicy ?? '{}' };
  }

  /**
   * Removes the resource's policy. A resource without one is ResourceNotFoundException, worded as
   * the public implementations of the API agree (Terraform's provider takes that error as the
   * policy being gone already).
   */
  async deleteResourcePolicy(input: K.ResourceTarget): Promise<Record<string, never>> {
    this.assertOpen();
    validateInput('DeleteResourcePolicy', input);
    const holder = this.policyHolder(this.resource(input.ResourceARN));
    if (holder.resourcePolicy === undefined) {
      throw fail.notFound(`No resource policy found for resource ARN ${input.ResourceARN}.`);
    }
    delete holder.resourcePolicy;
    this.persist();
    return {};
  }

  /** The catalog record that holds a resource's policy. */
  private policyHolder(owner: StreamState | ConsumerRef): { resourcePolicy?: string } {
    return owner instanceof StreamState ? owner.record : owner.consumer;
  }

  // ---- enhanced fan-out: consumers ------------------------------------------------------------------

  private consumerArn(stream: StreamState, consumer: ConsumerRecord): string {
    return `${stream.arn}/consumer/${consumer.name}:${consumer.arnSecond ?? Math.floor(consumer.createdMs / 1000)}`;
  }

  /**
   * Ends every SubscribeToShard subscription whose key starts with `prefix`, and forgets those
   * consumers' quotas (they are gone: a consumer ARN is never given again).
   */
  private endSubscriptions(prefix: string): void {
    for (const [key, entry] of this.subscriptions) if (key.startsWith(prefix)) entry.controller.abort();
    this.forgetSubscriptionThrottles(prefix);
  }

  /** Limits mode: forgets the quotas whose key starts with `prefix` and ends with `suffix`. */
  private forgetSubscriptionThrottles(prefix: string, suffix = ''): void {
    if (!this.subscriptionThrottles) return;
    for (const key of this.subscriptionThrottles.keys()) {
      if (key.startsWith(prefix) && key.endsWith(suffix)) this.subscriptionThrottles.delete(key);
    }
  }

  /** Limits mode: the quotas of a consumer on a shard (`<consumer ARN>\n<shard id>`). */
  private subscriptionThrottleOf(key: string): SubscriptionThrottle | undefined {
    if (!this.subscriptionThrottles) return undefined;
    let throttle = this.subscriptionThrottles.get(key);
    if (!throttle) {
      throttle = new SubscriptionThrottle(this.clock(), performance.now());
      this.subscriptionThrottles.set(key, throttle);
    }
    return throttle;
  }

  private consumerNotFound(what: string, streamName: string): KinesisError {
    return fail.notFound(`Consumer ${what} under stream ${streamName} under account ${this.accountId} not found.`);
  }

  /** The consumer a ConsumerARN names (its stream, name and creation second must all match). */
  private consumerByArn(arn: string): ConsumerRef {
    const parts = CONSUMER_ARN_PARTS.exec(arn);
    const streamPrefix = this.streamArn('');
    if (!parts || !parts[1]!.startsWith(streamPrefix)) {
      throw fail.notFound(
        `Consumer ${arn} not found: this endpoint serves the streams of account ${this.accountId} in ` +
          `${this.region}, whose consumer ARNs begin ${streamPrefix}<stream>/consumer/.`,
      );
    }
    const streamName = parts[1]!.slice(streamPrefix.length);
    const stream = this.streams.get(streamName);
    if (!stream) throw this.consumerNotFound(arn, streamName);
    const consumer = stream.record.consumers?.find(
      (candidate) =>
        candidate.name === parts[2] &&
        (candidate.arnSecond ?? Math.floor(candidate.createdMs / 1000)) === Number(parts[3]),
    );
    if (!consumer) throw this.consumerNotFound(arn, streamName);
    return { stream, consumer, arn: this.consumerArn(stream, consumer) };
  }

  /**
   * The consumer an input names: by ConsumerARN, or by StreamARN and ConsumerName. Naming it
   * both ways, the two must agree; naming it neither way is InvalidArgumentException.
   */
  private consumerOf(input: K.ConsumerTarget): ConsumerRef {
    if (input.ConsumerARN !== undefined) {
      const ref = this.consumerByArn(input.ConsumerARN);
      if (
        (input.StreamARN !== undefined && input.StreamARN !== ref.stream.arn) ||
        (input.ConsumerName !== undefined && input.ConsumerName !== ref.consumer.name)
      ) {
        throw fail.invalid(
          `ConsumerARN ${input.ConsumerARN} does not name the consumer that StreamARN and ConsumerName name.`,
        );
      }
      return ref;
    }
    if (input.StreamARN === undefined || input.ConsumerName === undefined) {
      throw fail.invalid('Either ConsumerARN, or both StreamARN and ConsumerName, must be provided.');
    }
    const stream = this.target({ StreamARN: input.StreamARN });
    const consumer = stream.record.consumers?.find((candidate) => candidate.name === input.ConsumerName);
    if (!consumer) throw this.consumerNotFound(input.ConsumerName, stream.name);
    return { stream, consumer, arn: this.consumerArn(stream, consumer) };
  }

  private consumerShape(ref: ConsumerRef): K.Consumer {
    return {
      ConsumerName: ref.consumer.name,
      ConsumerARN: ref.arn,
      ConsumerStatus: ref.consumer.status,
      ConsumerCreationTimestamp: new Date(ref.consumer.createdMs),
    };
  }

  /**
   * Registers an enhanced fan-out consumer: CREATING for the stream transition, then ACTIVE. At
   * most CONSUMERS_PER_STREAM_MAX per stream, and in limits mode at most
   * CONSUMERS_CREATING_PER_STREAM_MAX of them CREATING at once (LimitExceededException); a name
   * already registered is ResourceInUseException.
   */
  async registerStreamConsumer(input: K.RegisterStreamConsumerInput): Promise<K.RegisterStreamConsumerOutput> {
    this.assertOpen();
    validateInput('RegisterStreamConsumer', input);
    const stream = this.target({ StreamARN: input.StreamARN });
    if (stream.record.status === 'DELETING' || stream.record.status === 'CREATING') this.requireActive(stream);
    const consumers = (stream.record.consumers ??= []);
    const name = input.ConsumerName;
    if (consumers.some((consumer) => consumer.name === name)) {
      throw fail.inUse(`Consumer ${name} under stream ${stream.name} under account ${this.accountId} already exists.`);
    }
    if (consumers.length >= CONSUMERS_PER_STREAM_MAX) {
      throw fail.limit(
        `Stream ${stream.name} under account ${this.accountId} already has ${consumers.length} registered ` +
          `consumers, the most a stream may have (${CONSUMERS_PER_STREAM_MAX}).`,
      );
    }
    if (this.throttles) {
      const creating = consumers.filter((consumer) => consumer.status === 'CREATING').length;
      if (creating >= CONSUMERS_CREATING_PER_STREAM_MAX) {
        throw fail.limit(
          `Stream ${stream.name} under account ${this.accountId} already has ${creating} consumers ` +
            `in CREATING state: at most ${CONSUMERS_CREATING_PER_STREAM_MAX} consumers can be ` +
            'created at once.',
        );
      }
    }
    const tags = input.Tags ?? {};
    checkTags(Object.keys(tags), Object.values(tags), true);
    if (Object.keys(tags).length > TAGS_PER_CONSUMER_MAX) {
      throw fail.invalid(`A consumer cannot have more than ${TAGS_PER_CONSUMER_MAX} tags.`);
    }
    const createdMs = this.clock();
    // A re-registered name gets an ARN second of its own, never its predecessor's.
    const seconds = (stream.record.consumerArnSeconds ??= {});
    const arnSecond = Math.max(Math.floor(createdMs / 1000), (seconds[name] ?? -1) + 1);
    seconds[name] = arnSecond;
    const seq = stream.record.nextConsumerSeq ?? consumers.length;
    stream.record.nextConsumerSeq = seq + 1;
    const consumer: ConsumerRecord = {
      name,
      createdMs,
      arnSecond,
      seq,
      status: this.transitionMs === 0 ? 'ACTIVE' : 'CREATING',
      tags: { ...tags },
    };
    consumers.push(consumer);
    this.persist();
    if (consumer.status === 'CREATING') {
      this.later(() => {
        if (consumer.status !== 'CREATING' || !stream.record.consumers?.includes(consumer)) return;
        consumer.status = 'ACTIVE';
        this.persist();
      });
    }
    return { Consumer: this.consumerShape({ stream, consumer, arn: this.consumerArn(stream, consumer) }) };
  }

  /** Deregisters a consumer: DELETING for the stream transition, then gone. */
  async deregisterStreamConsumer(input: K.ConsumerTarget): Promise<Record<string, never>> {
    this.assertOpen();
    validateInput('DeregisterStreamConsumer', input);
    const { stream, consumer } = this.consumerOf(input);
    if (consumer.status === 'DELETING') return {};
    consumer.status = 'DELETING';
    // Its subscriptions end now, not at their next wake-up.
    this.endSubscriptions(`${this.consumerArn(stream, consumer)}\n`);
    const remove = () => {
      const consumers = stream.record.consumers;
      if (!consumers?.includes(consumer)) return;
      stream.record.consumers = consumers.filter((candidate) => candidate !== consumer);
      this.persist();
    };
    if (this.transitionMs === 0) remove();
    else {
      this.persist();
      this.later(remove);
    }
    return {};
  }

  async describeStreamConsumer(input: K.ConsumerTarget): Promise<K.DescribeStreamConsumerOutput> {
    this.assertOpen();
    validateInput('DescribeStreamConsumer', input);
    const ref = this.consumerOf(input);
    return { ConsumerDescription: { ...this.consumerShape(ref), StreamARN: ref.stream.arn } };
  }

  /**
   * A stream's consumers in registration order, at most LIST_STREAM_CONSUMERS_RETURNED_MAX per
   * call; NextToken (with the same StreamARN) continues after the last one returned.
   */
  async listStreamConsumers(input: K.ListStreamConsumersInput): Promise<K.ListStreamConsumersOutput> {
    this.assertOpen();
    validateInput('ListStreamConsumers', input);
    const stream = this.target({ StreamARN: input.StreamARN });
    if (
      input.StreamCreationTimestamp !== undefined &&
      Math.floor(input.StreamCreationTimestamp.getTime() / 1000) !== Math.floor(stream.record.createdMs / 1000)
    ) {
      throw fail.notFound(
        `Stream ${stream.name} under account ${this.accountId} with creation timestamp ` +
          `${input.StreamCreationTimestamp.toISOString()} not found: the stream was created at ` +
          `${new Date(stream.record.createdMs).toISOString()}.`,
      );
    }
    const consumers = stream.record.consumers ?? [];
    let start = 0;
    if (input.NextToken !== undefined) {
      const token = this.decodeToken<{ s?: string; c?: number; q?: number }>(input.NextToken, 'consumers');
      if (token.s !== stream.name || token.c !== stream.record.createdMs) {
        throw fail.invalid(`NextToken was issued for another stream than ${stream.name}.`);
      }
      // After the consumer the last page ended with, by registration number (consumers are kept
      // in registration order), whether or not it has been deregistered since.
      const after = token.q ?? -1;
      start = consumers.findIndex((consumer, i) => (consumer.seq ?? i) > after);
      if (start < 0) start = consumers.length;
    }
    const limit = Math.min(input.MaxResults ?? LIST_STREAM_CONSUMERS_RETURNED_MAX, LIST_STREAM_CONSUMERS_RETURNED_MAX);
    const page = consumers.slice(start, start + limit);
    const output: K.ListStreamConsumersOutput = {
      Consumers: page.map((consumer) =>
        this.consumerShape({ stream, consumer, arn: this.consumerArn(stream, consumer) }),
      ),
    };
    const last = page[page.length - 1];
    if (last && start + page.length < consumers.length) {
      output.NextToken = this.encodeToken('consumers', {
        s: stream.name,
        c: stream.record.createdMs,
        q: last.seq ?? start + page.length - 1,
      });
    }
    return output;
  }

  // ---- data plane: writes ---------------------------------------------------------------------------

  async putRecord(input: K.PutRecordInput): Promise<K.PutRecordOutput> {
    this.assertOpen();
    validateInput('PutRecord', input);
    const stream = this.writable(input);
    this.checkRecord(stream, input, 'data');
    if (input.SequenceNumberForOrdering !== undefined && !decodeSequenceNumber(input.SequenceNumberForOrdering)) {
      if (input.SequenceNumberForOrdering !== '0') {
        throw fail.invalid(
          `ExclusiveMinimumSequenceNumber ${input.SequenceNumberForOrdering} used in PutRecord on stream ` +
            `${stream.name} under account ${this.accountId} is invalid.`,
        );
      }
    }
    dryRun(input);
    const encryption = stream.recordEncryption;
    const encoded = encodeBatches([input], stream.router);
    const slot = encoded.shardOfRecord[0]!;
    const shard = stream.open[slot]!;
    const throttle = this.throttleOf(shard);
    if (throttle && !throttle.admitWrite(input.Data.length + Buffer.byteLength(input.PartitionKey), this.clock())) {
      throw new KinesisError('ProvisionedThroughputExceededException', this.rateExceeded(stream, shard));
    }
    const committed = await this.batcher.append(shard.worker, shard.descriptor, encoded.batches.get(slot)!);
    return {
      ShardId: shard.shardId,
      SequenceNumber: shard.sequenceNumber(committed.baseOrdinal, committed.arrivalMs),
      EncryptionType: encryption,
    };
  }

  async putRecords(input: K.PutRecordsInput): Promise<K.PutRecordsOutput> {
    this.assertOpen();
    validateInput('PutRecords', input);
    const stream = this.writable(input);
    let totalBytes = 0;
    for (let i = 0; i < input.Records.length; i++) {
      totalBytes += this.checkRecord(stream, input.Records[i]!, `records.${i + 1}.member.data`);
    }
    if (totalBytes > PUT_RECORDS_BYTES_MAX) {
      throw fail.invalid(`Records size exceeds ${PUT_RECORDS_BYTES_MAX / (1024 * 1024)} MB limit`);
    }
    dryRun(input);
    const encryption = stream.recordEncryption;
    let encoded = encodeBatches(input.Records, stream.router);
    if (this.throttles) encoded = this.admitEncoded(stream, input.Records, encoded);
    const result = new BatchResult(stream.open, input.Records.length, encryption);
    const pending: Array<Promise<void>> = [];
    this.appendEncoded(stream, encoded, 0, result, pending);
    await Promise.all(pending);
    const records: K.PutRecordsResultEntry[] = new Array(result.recordCount);
    for (let i = 0; i < records.length; i++) {
      const error = result.errorOf(i);
      records[i] = error
        ? putRecordsEntryError(error)
        : { SequenceNumber: result.sequenceNumberOf(i)!, ShardId: result.shardIdOf(i) };
    }
    const output = { FailedRecordCount: result.FailedRecordCount, Records: records };
    return { ...output, EncryptionType: encryption };
  }

  private rateExceeded(stream: StreamState, shard: ShardState): string {
    return `Rate exceeded for shard ${shard.shardId} in stream ${stream.name} under account ${this.accountId}.`;
  }

  private throttleOf(shard: ShardState): ShardThrottle | undefined {
    if (!this.throttles) return undefined;
    let throttle = this.throttles.get(shard);
    if (!throttle) {
      throttle = new ShardThrottle(this.clock());
      this.throttles.set(shard, throttle);
    }
    return throttle;
  }

  /**
   * The fast path for embedding: any number of records for one stream in one call, with no
   * promise and no result object per record. Records are checked like PutRecords entries
   * (partition key 1-256 characters, size within the stream's limit) but the 500-record and
   * 10 MiB request limits do not apply; large calls are cut into batches internally.
   */
  async putRecordBatch(streamName: string, records: readonly RecordInput[]): Promise<PutRecordBatchResult> {
    this.assertOpen();
    if (!Array.isArray(records)) refuseAsPutRecords(streamName, records);
    const stream = this.writable({ StreamName: streamName });
    const result = new BatchResult(stream.open, records.length);
    const pending: Array<Promise<void>> = [];
    let start = 0;
    while (start < records.length) {
      let end = start;
      let bytes = 0;
      while (end < records.length && (end === start || bytes < FAST_PATH_CHUNK_BYTES)) {
        bytes += this.checkFastRecord(stream, records, end);
        end++;
      }
      const chunk = records.slice(start, end);
      let encoded = encodeBatches(chunk, stream.router);
      if (this.throttles) encoded = this.admitEncoded(stream, chunk, encoded);
      this.appendEncoded(stream, encoded, start, result, pending);
      start = end;
    }
    await Promise.all(pending);
    return result;
  }

  /**
   * A buffer for a batch a front end copies out of a request before it puts the batch
   * (putRoutedBatch, putEncodedBatch): when the batch goes to a shard worker as it is, the worker
   * moves the buffer back after the append, for a later put (src/engine/put-buffers.ts). Its
   * bytes are undefined until the caller writes them.
   */
  putBuffer(bytes: number): Uint8Array {
    return this.batcher.buffers.take(bytes);
  }

  /** How often putBuffer reused a buffer a worker moved back, and the bytes kept for reuse. */
  putBufferStats(): { reused: number; allocated: number; pooledBytes: number } {
    const { reused, allocated, pooledBytes } = this.batcher.buffers;
    return { reused, allocated, pooledBytes };
  }

  /**
   * Appends a batch whose sender declared every record to belong to one shard (the binary
   * protocol's routed PUT). The shard is the one its first record hashes to; its owner worker
   * checks every record as putEncodedBatch would and hashes every key, and appends the batch only
   * if all of them belong to that shard, else refuses it whole (InvalidArgumentException), so
   * puts stay in order. The event loop hashes one key instead of every key. In limits mode, or on
   * a one-shard stream (no key is hashed), it is putEncodedBatch.
   */
  async putRoutedBatch(streamName: string, batch: Uint8Array): Promise<PutRecordBatchResult> {
    this.assertOpen();
    const stream = this.writable({ StreamName: streamName });
    const words = new Uint32Array(HASH_WORDS);
    const count = this.throttles || stream.router.size === 1 ? 0 : firstRecordHash(batch, words);
    if (count === 0) return this.putEncodedBatch(streamName, batch);
    const shard = stream.open[stream.router.route(words, 0)]!;
    const check: RoutedBatchCheck = {
      shardId: shard.shardId,
      start: shard.start,
      end: shard.end,
      maxRecordBytes: stream.record.maxRecordSizeKiB * KIB,
    };
    try {
      const committed = await this.batcher.append(shard.worker, shard.descriptor, batch, check);
      return new ShardBatchResult(count, shard, committed);
    } catch (error) {
      if (error instanceof KinesisError && ROUTED_CHECK_ERRORS.has(error.code)) throw error;
      return new ShardBatchResult(count, shard, undefined, this.appendFailure(stream, shard, error));
    }
  }

  /**
   * Appends a record batch already in Runnel's batch encoding (the binary protocol's put
   * frame): checked and routed at the edge, forwarded unchanged when all its records belong to
   * one shard, split per shard otherwise.
   */
  async putEncodedBatch(streamName: string, batch: Uint8Array): Promise<PutRecordBatchResult> {
    this.assertOpen();
    const stream = this.writable({ StreamName: streamName });
    const hashed = hashEncodedBatch(batch, stream.record.maxRecordSizeKiB * KIB, stream.router.size > 1);
    return this.appendHashed(stream, batch, hashed.recordStart, hashed.hashWords);
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
  async putPreparedRecords(prepared: PreparedRecords): Promise<PutRecordBatchResult> {
    this.assertOpen();
    const target: K.StreamTarget = {};
    if (prepared.StreamName !== undefined) target.StreamName = prepared.StreamName;
    if (prepared.StreamARN !== undefined) target.StreamARN = prepared.StreamARN;
    const stream = this.writable(target);
    if (prepared.maxRecordBytes > stream.record.maxRecordSizeKiB * KIB) {
      // Some record is too large for this stream: find the first, as PutRecords reports it.
      const { batch, recordStart } = prepared;
      const cursor = newRecordCursor(0);
      for (let i = 0; i < prepared.recordCount; i++) {
        cursor.offset = recordStart[i]!;
        nextRecord(batch, cursor, batch.length);
        const dataBytes = cursor.dataEnd - cursor.dataStart;
        this.checkRecordSize(stream, dataBytes, dataBytes + cursor.keyEnd - cursor.keyStart, `records.${i + 1}.member.data`);
      }
    }
    return this.appendHashed(stream, prepared.batch, prepared.recordStart, prepared.hashWords);
  }

  /** Routes a checked and hashed batch (limits applied per record), appends it, and settles. */
  private async appendHashed(
    stream: StreamState,
    batch: Uint8Array,
    recordStart: Int32Array,
    hashWords: Uint32Array,
  ): Promise<PutRecordBatchResult> {
    const admit = this.throttles ? this.encodedAdmission(stream, batch, recordStart) : undefined;
    const encryption = stream.recordEncryption;
    const encoded = routeHashedBatch(batch, recordStart, hashWords, stream.router, admit);
    const result = new BatchResult(stream.open, recordStart.length - 1, encryption);
    const pending: Array<Promise<void>> = [];
    this.appendEncoded(stream, encoded, 0, result, pending);
    await Promise.all(pending);
    return result;
  }

  /**
   * Limits mode for records given as objects (PutRecords, the batch fast path): each record is
   * admitted by its shard's throttle or refused, in order; refused records are marked
   * (refusedSlot) and the admitted ones encoded again without them.
   */
  private admitEncoded(stream: StreamState, records: readonly RecordInput[], encoded: EncodedBatches): EncodedBatches {
    const now = this.clock();
    const shardOfRecord = Int32Array.from(encoded.shardOfRecord);
    let refused = 0;
    for (let i = 0; i < records.length; i++) {
      const slot = shardOfRecord[i]!;
      const record = records[i]!;
      const bytes = record.Data.length + Buffer.byteLength(record.PartitionKey);
      if (!this.throttleOf(stream.open[slot]!)!.admitWrite(bytes, now)) {
        shardOfRecord[i] = refusedSlot(slot);
        refused++;
      }
    }
    if (refused === 0) return encoded;
    // The same router gives the admitted records the same shards; only positions change.
    const again = encodeBatches(records.filter((_, i) => shardOfRecord[i]! >= 0), stream.router);
    const positionOfRecord = new Int32Array(records.length);
    for (let i = 0, j = 0; i < records.length; i++) {
      if (shardOfRecord[i]! >= 0) positionOfRecord[i] = again.positionOfRecord[j++]!;
    }
    return { shardOfRecord, positionOfRecord, batches: again.batches };
  }

  /**
   * Limits mode for records already encoded: each record (data plus partition-key bytes, read
   * from the batch) is admitted by its shard's throttle or refused, in order.
   */
  private encodedAdmission(stream: StreamState, batch: Uint8Array, recordStart: Int32Array) {
    const now = this.clock();
    const cursor = newRecordCursor(0);
    return (record: number, slot: number): boolean => {
      cursor.offset = recordStart[record]!;
      nextRecord(batch, cursor, batch.length);
      const bytes = cursor.dataEnd - cursor.dataStart + cursor.keyEnd - cursor.keyStart;
      return this.throttleOf(stream.open[slot]!)!.admitWrite(bytes, now);
    };
  }

  /**
   * Appends each slot's batch and settles `result` once all have answered: a failed append fails
   * its slot's records.
   */
  private appendEncoded(
    stream: StreamState,
    encoded: EncodedBatches,
    offset: number,
    result: BatchResult,
    pending: Array<Promise<void>>,
  ): void {
    const routing = result.routing;
    const base = new Float64Array(routing.length);
    const arrival = new Float64Array(routing.length);
    let failures: Map<number, KinesisError> | undefined;
    const appends: Array<Promise<void>> = [];
    for (const [slot, batch] of encoded.batches) {
      const shard = routing[slot]!;
      appends.push(
        this.batcher.append(shard.worker, shard.descriptor, batch).then(
          (committed) => {
            base[slot] = committed.baseOrdinal;
            arrival[slot] = committed.arrivalMs;
          },
          (error: unknown) => {
            failures ??= new Map();
            failures.set(slot, this.appendFailure(stream, shard, error));
          },
        ),
      );
    }
    const refusal = (slot: number) =>
      new KinesisError('ProvisionedThroughputExceededException', this.rateExceeded(stream, routing[slot]!));
    pending.push(Promise.all(appends).then(() => result.settle(encoded, offset, base, arrival, failures, refusal)));
  }

  /** What the records of a failed append are told: throttled, or an internal failure. */
  private appendFailure(stream: StreamState, shard: ShardState, error: unknown): KinesisError {
    const throttled = error instanceof KinesisError && error.code === 'ProvisionedThroughputExceededException';
    return throttled
      ? new KinesisError('ProvisionedThroughputExceededException', this.rateExceeded(stream, shard))
      : fail.internal('Internal Service Failure');
  }

  /** Checks one record against the stream's limits; returns its size (data + key bytes). */
  private checkRecord(stream: StreamState, record: RecordInput, path: string): number {
    const size = record.Data.length + Buffer.byteLength(record.PartitionKey, 'utf8');
    this.checkRecordSize(stream, record.Data.length, size, path);
    if (record.ExplicitHashKey !== undefined && parseExplicitHashKey(record.ExplicitHashKey) === undefined) {
      throw fail.invalid(
        'Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. ' +
          `Specified value was ${record.ExplicitHashKey}`,
      );
    }
    return size;
  }

  /** `size` is data plus partition-key bytes; `path` names the record's data member. */
  private checkRecordSize(stream: StreamState, dataBytes: number, size: number, path: string): void {
    const maxBytes = stream.record.maxRecordSizeKiB * KIB;
    if (dataBytes > maxBytes) {
      throw new KinesisError(
        'ValidationException',
        `1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=${dataBytes} cap=${dataBytes}]' ` +
          `at '${path}' failed to satisfy constraint: Member must have length less than or equal to ${maxBytes}`,
      );
    }
    if (size > maxBytes) {
      throw fail.invalid(
        `Record size ${size} bytes (data plus partition key) exceeds the maximum record size of ` +
          `${maxBytes} bytes for stream ${stream.name}.`,
      );
    }
  }

  private checkFastRecord(stream: StreamState, records: readonly RecordInput[], i: number): number {
    const record = records[i]!;
    if (typeof record !== 'object' || record === null) refuseAsPutRecords(stream.name, records);
    const key = record.PartitionKey;
    const data = record.Data;
    // Over 256 UTF-16 units may still be 256 code points (astral characters).
    const keyFails = typeof key !== 'string' || key.length === 0 ||
      (key.length > PARTITION_KEY_CHARS_MAX && [...key].length > PARTITION_KEY_CHARS_MAX);
    if (keyFails || !(data instanceof Uint8Array)) refuseAsPutRecords(stream.name, records);
    // A UTF-8 key is at most 3 bytes per UTF-16 unit: the exact check is needed only near the limit.
    const maxBytes = stream.record.maxRecordSizeKiB * KIB;
    if (data.length + key.length * 3 > maxBytes || record.ExplicitHashKey !== undefined) {
      return this.checkRecord(stream, record, `records.${i + 1}.member.data`);
    }
    return data.length + key.length;
  }

  // ---- data plane: reads ------------------------------------------------------------------------------

  async getShardIterator(input: K.GetShardIteratorInput): Promise<K.GetShardIteratorOutput> {
    this.assertOpen();
    validateInput('GetShardIterator', input);
    const { stream, shard, ordinal, hint } = this.startingPosition(input);
    dryRun(input);
    const throttle = this.throttleOf(shard);
    if (throttle && !throttle.admitIterator(this.clock())) {
      throw new KinesisError('ProvisionedThroughputExceededException', this.rateExceeded(stream, shard));
    }
    const ShardIterator = this.iterators.encode({
      issuedMs: this.clock(),
      streamName: stream.name,
      streamCreatedMs: stream.record.createdMs,
      shardIndex: shard.record.index,
      ordinal,
      hintSegmentBase: hint.segmentBase,
      hintByteOffset: hint.byteOffset,
    });
    return { ShardIterator };
  }

  /**
   * Resolves an iterator type (and its sequence number or timestamp) to a shard ordinal. The
   * shard is named by number (canonicalShardId); as Kinesis words it, an id naming no number is
   * one it "Could not find", and a numbered shard of a stream that does not exist (or is not
   * ACTIVE or UPDATING) or that the stream does not have "does not exist".
   */
  private startingPosition(input: K.GetShardIteratorInput) {
    const shardId = canonicalShardId(input.ShardId);
    const missing = (streamName: string) =>
      shardId === undefined
        ? this.shardNotResolved(input.ShardId, streamName)
        : this.shardNotFound(shardId, streamName);
    const stream = this.writable(input, missing);
    if (shardId === undefined) throw this.shardNotResolved(input.ShardId, stream.name);
    const shard = stream.byShardId.get(shardId);
    if (!shard) throw this.shardNotFound(shardId, stream.name);
    const type = input.ShardIteratorType;
    const needsSequence = type === 'AT_SEQUENCE_NUMBER' || type === 'AFTER_SEQUENCE_NUMBER';
    if (needsSequence !== (input.StartingSequenceNumber !== undefined)) {
      throw fail.invalid(
        'Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or ' +
          `(2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified ${type} and ` +
          (needsSequence ? 'no StartingSequenceNumber.' : 'also a StartingSequenceNumber.'),
      );
    }
    const now = this.clock();
    const trim = shard.index.trimOrdinal();
    const watermark = shard.index.nextOrdinal();
    let ordinal: number;
    let hint = { segmentBase: -1, byteOffset: 0 };
    switch (type) {
      case 'TRIM_HORIZON':
        ordinal = trim;
        break;
      case 'LATEST':
        ordinal = watermark;
        break;
      case 'AT_TIMESTAMP': {
        requireTimestamp(type, input.Timestamp);
        const ms = input.Timestamp!.getTime();
        if (ms > now) {
          throw fail.invalid(
            'The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. ' +
              `timestampInMillis: ${ms}, currentTimestampInMillis: ${now}`,
          );
        }
        const location = shard.reader.locateByTime(ms);
        ordinal = location ? Math.max(trim, location.header.baseOrdinal) : watermark;
        if (location) hint = { segmentBase: location.segmentBase, byteOffset: location.byteOffset };
        break;
      }
      default: {
        ordinal = this.sequenceOrdinal(stream, shard, input.StartingSequenceNumber!);
        if (type === 'AFTER_SEQUENCE_NUMBER' && input.StartingSequenceNumber !== this.beforeFirst(shard)) ordinal++;
        ordinal = Math.min(Math.max(ordinal, trim), watermark);
      }
    }
    return { stream, shard, ordinal, hint };
  }

  /** The shard a shard id names, exactly or by number (canonicalShardId). */
  private shardOf(stream: StreamState, shardId: string): ShardState {
    const shard = stream.byShardId.get(shardId);
    if (shard) return shard;
    const canonical = canonicalShardId(shardId);
    if (canonical === undefined) throw this.shardNotResolved(shardId, stream.name);
    const named = stream.byShardId.get(canonical);
    if (!named) throw this.shardNotFound(canonical, stream.name);
    return named;
  }

  /** Kinesis's ResourceNotFoundException for a shard (reference §2.10). */
  private shardNotFound(shardId: string, streamName: string): KinesisError {
    return fail.notFound(`Shard ${shardId} in stream ${streamName} under account ${this.accountId} does not exist`);
  }

  /** For a shard id that names no shard number (kinesalite's tests, recorded against Kinesis). */
  private shardNotResolved(shardId: string, streamName: string): KinesisError {
    return fail.notFound(`Could not find shard ${shardId} in stream ${streamName} under account ${this.accountId}.`);
  }

  // ---- push reads: the primitives subscriptions are built on -------------------------------------------

  /**
   * A reading position in a shard: the ordinal an iterator of this type would start at. Takes
   * the GetShardIterator input and throws the same errors.
   */
  async shardPosition(input: K.GetShardIteratorInput): Promise<{ ordinal: number; watermark: number }> {
    this.assertOpen();
    validateInput('GetShardIterator', input);
    const { shard, ordinal } = this.startingPosition(input);
    return { ordinal, watermark: shard.index.nextOrdinal() };
  }

  /**
   * Whole committed batches of a shard from the one holding `ordinal` on, up to about
   * `maxBytes`, as stored (record-batch.ts encoding; views of buffers read for the call, or of
   * `scratch` while the reads fit in it, valid until it is reused). Reading below the trim
   * horizon starts at the trim horizon. Never messages the owner worker.
   */
  readBatches(streamName: string, shardId: string, ordinal: number, maxBytes: number, scratch?: Buffer) {
    const shard = this.shardOf(this.writable({ StreamName: streamName }), shardId);
    const from = Math.max(ordinal, shard.index.trimOrdinal());
    return {
      from,
      batches: shard.reader.readBatches(from, maxBytes, scratch),
      watermark: shard.index.nextOrdinal(),
      /** Set once the shard is closed (resharded): its last ordinal + 1; nothing more will come. */
      end: shard.endOrdinal,
    };
  }

  /**
   * Resolves when the shard has a committed record at or after `ordinal`, or after
   * `timeoutMs`. Waits on the shared index (Atomics.waitAsync), so the main thread never blocks.
   */
  async waitForRecords(streamName: string, shardId: string, ordinal: number, timeoutMs: number): Promise<boolean> {
    const shard = this.shardOf(this.target({ StreamName: streamName }), shardId);
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const seen = shard.index.commitCounter();
      if (shard.index.nextOrdinal() > ordinal) return true;
      const end = shard.endOrdinal;
      if (end !== undefined && ordinal >= end) return false;
      const remaining = deadline - performance.now();
      if (remaining <= 0 || this.closed) return false;
      await shard.index.waitForCommit(seen, remaining);
    }
  }

  /**
   * Reads a shard as an async iterator, from any iterator position, pushed as records commit
   * (no polling: it waits on the shard's shared index). Ends when `signal` aborts, the engine
   * closes, or a closed (resharded) shard's last record has been read. Records have the
   * GetRecords shape.
   */
  async *subscribe(
    input: K.GetShardIteratorInput,
    options: { signal?: AbortSignal; batchBytes?: number } = {},
  ): AsyncGenerator<K.KinesisRecord> {
    const { ordinal: start } = await this.shardPosition(input);
    const streamName = input.StreamName ?? this.target(input).name;
    const stream = this.target({ StreamName: streamName });
    const shard = this.shardOf(stream, input.ShardId);
    const batchBytes = options.batchBytes ?? SUBSCRIBE_READ_BYTES;
    let ordinal = start;
    while (!this.closed && !options.signal?.aborted) {
      const { from, batches, end } = this.readBatches(streamName, input.ShardId, ordinal, batchBytes);
      ordinal = Math.max(ordinal, from);
      if (batches.length === 0) {
        if (end !== undefined && ordinal >= end) return;
        await this.waitForRecords(streamName, input.ShardId, ordinal, SUBSCRIBE_WAIT_MS);
        continue;
      }
      for (const batch of batches) {
        for (const record of batchRecords(shard, batch, ordinal, [], stream.recordEncryption)) {
          yield record;
          if (this.closed || options.signal?.aborted) return;
        }
        ordinal = Math.max(ordinal, batch.baseOrdinal + batch.recordCount);
      }
    }
  }

  // ---- enhanced fan-out: SubscribeToShard ---------------------------------------------------------

  /**
   * The position before a shard's first record, as a sequence number: ordinal 0 with record time
   * 0, which no record has. AFTER_SEQUENCE_NUMBER from it starts at the first record; it is the
   * ContinuationSequenceNumber of a subscription that has passed no record yet.
   */
  private beforeFirst(shard: ShardState): string {
    return encodeSequenceNumber({
      shardCreationSec: Math.floor(shard.record.createdMs / 1000),
      shardIndex: shard.record.index,
      ordinal: 0n,
      recordTimeSec: 0,
    });
  }

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
  async subscribeToShard(input: K.SubscribeToShardInput): Promise<ShardSubscription> {
    this.assertOpen();
    validateInput('SubscribeToShard', input);
    const ref = this.consumerByArn(input.ConsumerARN);
    if (ref.consumer.status !== 'ACTIVE') {
      throw fail.inUse(`Consumer ${ref.arn} is not ACTIVE, instead in state ${ref.consumer.status}.`);
    }
    const position = input.StartingPosition;
    const needsSequence = position.Type === 'AT_SEQUENCE_NUMBER' || position.Type === 'AFTER_SEQUENCE_NUMBER';
    if (needsSequence !== (position.SequenceNumber !== undefined)) {
      throw fail.invalid(
        'Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingPosition.SequenceNumber ' +
          'or (2) TRIM_HORIZON, LATEST or AT_TIMESTAMP and no StartingPosition.SequenceNumber. Request specified ' +
          `${position.Type} and ${needsSequence ? 'no' : 'also a'} StartingPosition.SequenceNumber.`,
      );
    }
    const { stream, shard, ordinal } = this.startingPosition({
      StreamName: ref.stream.name,
      ShardId: input.ShardId,
      ShardIteratorType: position.Type,
      ...(position.SequenceNumber !== undefined ? { StartingSequenceNumber: position.SequenceNumber } : {}),
      ...(position.Timestamp !== undefined ? { Timestamp: position.Timestamp } : {}),
    });
    dryRun(input);
    const key = `${ref.arn}\n${shard.shardId}`;
    const throttle = this.subscriptionThrottleOf(key);
    if (throttle && !throttle.admitCall(this.clock())) {
      throw fail.limit(
        `Rate exceeded for consumer ${ref.arn} on shard ${shard.shardId} in stream ` +
          `${stream.name} under account ${this.accountId}: at most ` +
          `${SUBSCRIBE_TO_SHARD_CALLS_PER_SEC} SubscribeToShard call per second per consumer ` +
          'and shard.',
      );
    }
    const current = this.subscriptions.get(key);
    const startedMs = performance.now();
    if (current && startedMs - current.startedMs < SUBSCRIPTION_TAKEOVER_MS) {
      throw fail.inUse(
        `Consumer ${ref.arn} already has a subscription to shard ${shard.shardId} that began less than ` +
          `${SUBSCRIPTION_TAKEOVER_MS / 1000} s ago: one subscription per consumer and shard at a time.`,
      );
    }
    // An older one is taken over: it ends, and this one holds the shard.
    current?.controller.abort();
    const entry = { startedMs, controller: new AbortController() };
    this.subscriptions.set(key, entry);
    const release = () => {
      clearTimeout(lifetime);
      entry.controller.abort();
      if (this.subscriptions.get(key) === entry) this.subscriptions.delete(key);
    };
    // The lifetime ends it even while its client reads nothing (the events wait on the client).
    const lifetime = setTimeout(release, this.subscriptionLifetimeMs);
    lifetime.unref();
    entry.controller.signal.addEventListener('abort', release, { once: true });
    const signal = entry.controller.signal;
    const events = this.subscriptionEvents(ref, stream, shard, ordinal, signal, release, throttle);
    return { events, close: release, signal };
  }

  private async *subscriptionEvents(
    ref: ConsumerRef,
    stream: StreamState,
    shard: ShardState,
    start: number,
    signal: AbortSignal,
    release: () => void,
    throttle: SubscriptionThrottle | undefined,
  ): AsyncGenerator<K.SubscribeToShardEvent> {
    const deadline = performance.now() + this.subscriptionLifetimeMs;
    let ordinal = start;
    let lastSentAt = -Infinity;
    let lastArrivalMs = 0;
    try {
      if (start > 0) {
        // The record before the start names the continuation until a record is passed.
        const prior = this.readBatches(stream.name, shard.shardId, start - 1, 1).batches[0];
        if (prior && prior.baseOrdinal <= start - 1) lastArrivalMs = prior.arrivalMs;
      }
      for (;;) {
        if (this.closed) return;
        // Deregistered (or its stream deleted) meanwhile: the stream says so and ends.
        if (!stream.record.consumers?.includes(ref.consumer) || ref.consumer.status !== 'ACTIVE') {
          throw this.consumerNotFound(ref.arn, stream.name);
        }
        const now = performance.now();
        if (signal.aborted || now >= deadline) return;
        const read = this.readBatches(stream.name, shard.shardId, ordinal, SUBSCRIPTION_EVENT_BYTES_MAX);
        ordinal = Math.max(ordinal, read.from);
        const records: K.KinesisRecord[] = [];
        for (const batch of read.batches) {
          const before = records.length;
          batchRecords(shard, batch, ordinal, records, stream.recordEncryption);
          if (records.length > before) lastArrivalMs = batch.arrivalMs;
          ordinal = Math.max(ordinal, batch.baseOrdinal + batch.recordCount);
        }
        if (throttle && records.length > 0 && !(await this.paced(throttle, records, signal))) {
          // Ended while it waited: the loop's first checks say why (a deregistered consumer
          // ends the stream with its error, as it would have outside the wait).
          continue;
        }
        const atEnd = read.end !== undefined && ordinal >= read.end;
        if (records.length > 0 || atEnd || now - lastSentAt >= this.subscriptionHeartbeatMs) {
          lastSentAt = now;
          const watermark = shard.index.nextOrdinal();
          const behind = ordinal >= watermark || records.length === 0 ? 0 : Math.max(0, this.clock() - lastArrivalMs);
          if (atEnd) {
            yield { Records: records, MillisBehindLatest: 0, ChildShards: this.childShards(stream, shard) };
            return;
          }
          const continuation =
            ordinal === 0
              ? this.beforeFirst(shard)
              : shard.sequenceNumber(ordinal - 1, lastArrivalMs || this.clock());
          yield { Records: records, ContinuationSequenceNumber: continuation, MillisBehindLatest: behind };
          continue;
        }
        const wait = Math.min(this.subscriptionHeartbeatMs - (now - lastSentAt), deadline - now);
        await untilAborted(this.waitForRecords(stream.name, shard.shardId, ordinal, wait), signal);
      }
    } finally {
      release();
    }
  }

  /**
   * Limits mode: waits until the consumer's allowance on the shard covers these records, then
   * charges them. False when the subscription ended meanwhile (its records are not sent; the
   * client continues from the last continuation it was given).
   */
  private async paced(
    throttle: SubscriptionThrottle,
    records: K.KinesisRecord[],
    signal: AbortSignal,
  ): Promise<boolean> {
    let bytes = 0;
    for (const record of records) {
      bytes += record.Data.length + Buffer.byteLength(record.PartitionKey);
    }
    const wait = throttle.delayMs(bytes, performance.now());
    if (wait > 0) {
      try {
        await delay(wait, undefined, { signal });
      } catch {
        return false;
      }
    }
    if (signal.aborted || this.closed) return false;
    throttle.chargeBytes(bytes);
    return true;
  }

  /** The sequence number of a record of a shard, given its ordinal and arrival time. */
  sequenceNumberOf(streamName: string, shardId: string, ordinal: number, arrivalMs: number): string {
    return this.shardOf(this.target({ StreamName: streamName }), shardId).sequenceNumber(ordinal, arrivalMs);
  }

  private sequenceOrdinal(stream: StreamState, shard: ShardState, sequenceNumber: string): number {
    const fields = decodeSequenceNumber(sequenceNumber);
    const invalid = (why = '') =>
      fail.invalid(
        `StartingSequenceNumber ${sequenceNumber} used in GetShardIterator on shard ${shard.shardId} in stream ` +
          `${stream.name} under account ${this.accountId} is invalid${why}.`,
      );
    if (!fields) throw invalid();
    if (fields.shardIndex !== shard.record.index) {
      throw fail.invalid(
        `Invalid StartingSequenceNumber. It encodes ${shardIdOf(fields.shardIndex)}, while it was used in a ` +
          `call to a shard with ${shard.shardId}`,
      );
    }
    if (fields.shardCreationSec !== Math.floor(shard.record.createdMs / 1000)) {
      throw invalid(' because it did not come from this stream');
    }
    const ordinal = Number(fields.ordinal);
    if (ordinal > shard.index.nextOrdinal()) throw invalid();
    return ordinal;
  }

  async getRecords(input: K.GetRecordsInput): Promise<K.GetRecordsOutput> {
    this.assertOpen();
    validateInput('GetRecords', input);
    if (input.Limit !== undefined && input.Limit > GET_RECORDS_LIMIT_MAX) {
      // InvalidArgumentException as the API documents it; the wording is Runnel's own.
      throw fail.invalid(`The Limit parameter (${input.Limit}) cannot be greater than ${GET_RECORDS_LIMIT_MAX}.`);
    }
    const now = this.clock();
    const position = this.iterators.decode(input.ShardIterator);
    if (!position) throw fail.invalid('Invalid ShardIterator.');
    if (now - position.issuedMs > SHARD_ITERATOR_TTL_MS) {
      throw new KinesisError(
        'ExpiredIteratorException',
        `Iterator expired. The iterator was created at time ${javaDateString(position.issuedMs)} while right now ` +
          `it is ${javaDateString(now)} which is further in the future than the tolerated delay of ` +
          `${SHARD_ITERATOR_TTL_MS} milliseconds.`,
      );
    }
    const stream = this.streams.get(position.streamName);
    if (!stream || stream.record.createdMs !== position.streamCreatedMs) {
      throw this.shardNotFound(shardIdOf(position.shardIndex), position.streamName);
    }
    if (input.StreamARN !== undefined && input.StreamARN !== stream.arn) throw fail.invalid('Invalid ShardIterator.');
    const shard = stream.byIndex.get(position.shardIndex);
    if (!shard) throw fail.invalid('Invalid ShardIterator.');
    dryRun(input);
    const throttle = this.throttleOf(shard);
    if (throttle && !throttle.admitRead(now)) {
      throw new KinesisError('ProvisionedThroughputExceededException', this.rateExceeded(stream, shard));
    }
    const limit = input.Limit ?? GET_RECORDS_LIMIT_MAX;
    const result = this.readShard(shard, position, { maxRecords: limit, maxBytes: GET_RECORDS_BYTES_MAX });
    if (throttle) {
      let bytes = 0;
      for (const record of result.records) bytes += record.dataEnd - record.keyStart;
      throttle.chargeRead(bytes);
    }
    const encryption = stream.recordEncryption;
    const records: K.KinesisRecord[] = new Array(result.records.length);
    for (let i = 0; i < records.length; i++) {
      const record = result.records[i]!;
      records[i] = withEncryption(
        {
          SequenceNumber: shard.sequenceNumber(record.ordinal, record.arrivalMs),
          ApproximateArrivalTimestamp: new Date(record.arrivalMs),
          Data: record.bytes.subarray(record.dataStart, record.dataEnd),
          PartitionKey: record.bytes.toString('utf8', record.keyStart, record.keyEnd),
        },
        encryption,
      );
    }
    const watermark = shard.index.nextOrdinal();
    const last = result.records[result.records.length - 1];
    const behind = result.nextOrdinal >= watermark || !last ? 0 : Math.max(0, now - last.arrivalMs);
    const end = shard.endOrdinal;
    if (end !== undefined && result.nextOrdinal >= end) {
      // The end of a closed shard (KCL's contract): no next iterator, and the shards it became.
      return { Records: records, MillisBehindLatest: 0, ChildShards: this.childShards(stream, shard) };
    }
    const next = result.nextLocation ?? { segmentBase: -1, byteOffset: 0 };
    return {
      Records: records,
      NextShardIterator: this.iterators.encode({
        ...position,
        issuedMs: now,
        ordinal: result.nextOrdinal,
        hintSegmentBase: next.segmentBase,
        hintByteOffset: next.byteOffset,
      }),
      MillisBehindLatest: behind,
    };
  }

  /** GetRecords's ChildShards of a closed shard: each child with all its parents. */
  private childShards(stream: StreamState, shard: ShardState): K.ChildShard[] {
    return stream.children(shard.shardId).map((child) => ({
      ShardId: child.shardId,
      ParentShards: [child.record.parentShardId, child.record.adjacentParentShardId].filter(
        (id): id is string => id !== undefined,
      ),
      HashKeyRange: { StartingHashKey: child.record.startingHashKey, EndingHashKey: child.record.endingHashKey },
    }));
  }

  private readShard(
    shard: ShardState,
    position: IteratorPosition,
    limits: { maxRecords: number; maxBytes: number },
  ): ReadResult {
    const trim = shard.index.trimOrdinal();
    const ordinal = Math.max(position.ordinal, trim);
    const hint = position.hintSegmentBase >= 0 && ordinal === position.ordinal
      ? { segmentBase: position.hintSegmentBase, byteOffset: position.hintByteOffset }
      : undefined;
    return shard.reader.read(ordinal, limits, hint);
  }

  // ---- pagination tokens ----------------------------------------------------------------------------

  private encodeToken(kind: string, body: object): string {
    return Buffer.from(JSON.stringify({ k: kind, t: this.clock(), ...body })).toString('base64');
  }

  private decodeToken<T>(token: string, kind: string): Decoded<T> {
    let parsed: { k?: string; t?: number } & T;
    try {
      parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    } catch {
      throw fail.invalid('Invalid NextToken.');
    }
    if (!parsed || parsed.k !== kind || typeof parsed.t !== 'number') throw fail.invalid('Invalid NextToken.');
    if (this.clock() - parsed.t > NEXT_TOKEN_TTL_MS) {
      throw new KinesisError('ExpiredNextTokenException', 'The NextToken has expired. Tokens expire after 300 seconds.');
    }
    return { ...parsed, issuedMs: parsed.t };
  }

  // ---- introspection for tests and tools --------------------------------------------------------------

  /** The shard's owner worker, shared index and reader (for tests and the inspection tool). */
  shardInternals(streamName: string, shardId: string) {
    const shard = this.streams.get(streamName)?.byShardId.get(shardId);
    if (!shard) throw this.notFound(streamName);
    return { worker: shard.worker, index: shard.index, reader: shard.reader, dir: shard.descriptor.dir };
  }

  /** Tasks sent to shard workers so far. */
  get workerTasksSent(): number {
    return this.pool.tasksSent;
  }

  /** Blocks a worker thread for `ms` (tests: reads must not depend on the owner). */
  stallWorker(worker: number, ms: number): Promise<unknown> {
    return this.pool.run(worker, { kind: 'stall', ms });
  }

  /** Kills a worker thread as a failed assertion would (tests of worker-failure handling). */
  async crashWorker(worker: number): Promise<void> {
    this.assertOpen();
    await this.pool.run(worker, { kind: 'crash' }).catch(() => undefined);
  }
}
