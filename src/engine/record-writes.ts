/**
 * The put paths: PutRecord and PutRecords as Kinesis takes them, and the engine's own batch paths
 * (putRecordBatch for embedding; putRoutedBatch and putEncodedBatch for the binary protocol's
 * batches; putPreparedRecords for PutRecords decoded on the server's codec threads). Each checks
 * its records against the stream's limits, routes them to the open shards by hash key (or, on a
 * stream whose RecordDistributionStrategy is AUTO, places them in turn: record-distribution.ts),
 * admits them through the shard throttles in limits mode, and appends one batch per shard
 * through the batcher. putRoutedBatch, putEncodedBatch and putPreparedRecords are the hot
 * paths: they allocate per batch, never per record.
 */
import { KinesisError, fail, putRecordsEntryError } from '../errors.js';
import {
  KIB,
  PUT_RECORDS_BYTES_MAX,
  WORKER_BATCH_BYTES_MAX,
  PARTITION_KEY_CHARS_MAX,
} from '../limits.js';
import { HASH_WORDS, parseExplicitHashKey } from '../kinesis/hash-key.js';
import { decodeSequenceNumber } from '../kinesis/sequence-number.js';
import type * as K from '../kinesis/shapes.js';
import { missingPartitionKeys, validateInput } from '../kinesis/validation.js';
import { newRecordCursor, nextRecord } from '../storage/record-batch.js';
import type { RoutedBatchCheck } from '../storage/worker-protocol.js';
import { encodePlacedBatches, type EncodedBatches, type RecordInput } from './batch-encoder.js';
import {
  firstRecordHash,
  hashEncodedBatch,
  recordSizeFailure,
  refusedSlot,
} from './encoded-batch.js';
import { encodeStreamRecords, routeStreamBatch } from './record-distribution.js';
import type { ShardState, StreamState } from './stream-state.js';
import { type EngineContext, dryRun } from './engine-context.js';
import {
  BatchResult,
  type PutRecordBatchResult,
  ShardBatchResult,
} from './put-record-batch-result.js';

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
  /**
   * Records without a partition key (stored with a key of length 0): valid only if the stream's
   * strategy is AUTO, which the preparation could not know.
   */
  keylessRecords: number;
}

const FAST_PATH_CHUNK_BYTES = WORKER_BATCH_BYTES_MAX / 2;

/**
 * Refuses the fast path's records once one failed its quick check, with PutRecords's model check
 * of the whole call: the error is the one putRecords gives for the same records (its cost is paid
 * only on failure). The quick checks refuse nothing the model passes.
 */
function refuseAsPutRecords(
  streamName: string,
  records: unknown,
  strategy: K.RecordDistributionStrategy,
): never {
  validateInput('PutRecords', { StreamName: streamName, Records: records }, strategy);
  throw new KinesisError(
    'InternalFailureException',
    "A record failed a check PutRecords's model passes.",
  );
}

/** The records of a prepared PutRecords that have no partition key, from 0, ascending. */
function keylessIndexes(prepared: PreparedRecords): number[] {
  const { batch, recordStart } = prepared;
  const cursor = newRecordCursor(0);
  const indexes: number[] = [];
  for (let i = 0; i < prepared.recordCount; i++) {
    cursor.offset = recordStart[i]!;
    nextRecord(batch, cursor, batch.length);
    if (cursor.keyEnd === cursor.keyStart) indexes.push(i);
  }
  return indexes;
}

/** Errors of a routed batch's check in its owner worker: the request's, not its records'. */
const ROUTED_CHECK_ERRORS = new Set(['ValidationException', 'InvalidArgumentException']);

export class RecordWrites {
  constructor(private readonly context: EngineContext) {}

  /**
   * The record distribution strategy of the stream a put names, read before the put is
   * validated, since it decides whether PartitionKey is required: USER_PARTITION_KEY when the
   * input names no stream, so such a put fails validation exactly as it always has.
   */
  private strategyNamed(input: K.StreamTarget): K.RecordDistributionStrategy {
    try {
      return this.context.target(input).strategy;
    } catch {
      return 'USER_PARTITION_KEY';
    }
  }

  async putRecord(input: K.PutRecordInput): Promise<K.PutRecordOutput> {
    this.context.assertOpen();
    validateInput('PutRecord', input, this.strategyNamed(input));
    const stream = this.context.writable(input);
    this.checkRecord(stream, input, 'data');
    if (
      input.SequenceNumberForOrdering !== undefined &&
      !decodeSequenceNumber(input.SequenceNumberForOrdering)
    ) {
      if (input.SequenceNumberForOrdering !== '0') {
        throw fail.invalid(
          `ExclusiveMinimumSequenceNumber ${input.SequenceNumberForOrdering} used in PutRecord on stream ` +
            `${stream.name} under account ${this.context.accountId} is invalid.`,
        );
      }
    }
    dryRun(input);
    const encryption = stream.recordEncryption;
    const encoded = encodeStreamRecords(stream, [input]);
    const slot = encoded.shardOfRecord[0]!;
    const shard = stream.open[slot]!;
    const throttle = this.context.throttleOf(shard);
    const bytes = input.Data.length + Buffer.byteLength(input.PartitionKey ?? '');
    if (throttle && !throttle.admitWrite(bytes, this.context.clock())) {
      throw new KinesisError(
        'ProvisionedThroughputExceededException',
        this.context.rateExceeded(stream, shard),
      );
    }
    const committed = await this.context.batcher.append(
      shard.worker,
      shard.descriptor,
      encoded.batches.get(slot)!,
      encryption === 'KMS',
    );
    return {
      ShardId: shard.shardId,
      SequenceNumber: shard.sequenceNumber(committed.baseOrdinal, committed.arrivalMs),
      EncryptionType: encryption,
    };
  }

  async putRecords(input: K.PutRecordsInput): Promise<K.PutRecordsOutput> {
    this.context.assertOpen();
    validateInput('PutRecords', input, this.strategyNamed(input));
    const stream = this.context.writable(input);
    let totalBytes = 0;
    for (let i = 0; i < input.Records.length; i++) {
      totalBytes += this.checkRecord(stream, input.Records[i]!, `records.${i + 1}.member.data`);
    }
    if (totalBytes > PUT_RECORDS_BYTES_MAX) {
      throw fail.invalid(`Records size exceeds ${PUT_RECORDS_BYTES_MAX / (1024 * 1024)} MB limit`);
    }
    dryRun(input);
    const encryption = stream.recordEncryption;
    let encoded = encodeStreamRecords(stream, input.Records);
    if (this.context.throttles) encoded = this.admitEncoded(stream, input.Records, encoded);
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

  async putRecordBatch(
    streamName: string,
    records: readonly RecordInput[],
  ): Promise<PutRecordBatchResult> {
    this.context.assertOpen();
    if (!Array.isArray(records)) refuseAsPutRecords(streamName, records, 'USER_PARTITION_KEY');
    const stream = this.context.writable({ StreamName: streamName });
    const result = new BatchResult(stream.open, records.length, stream.recordEncryption);
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
      let encoded = encodeStreamRecords(stream, chunk);
      if (this.context.throttles) encoded = this.admitEncoded(stream, chunk, encoded);
      this.appendEncoded(stream, encoded, start, result, pending);
      start = end;
    }
    await Promise.all(pending);
    return result;
  }

  putBuffer(bytes: number): Uint8Array {
    return this.context.batcher.buffers.take(bytes);
  }

  /** How often putBuffer reused a buffer a worker moved back, and the bytes kept for reuse. */
  putBufferStats(): { reused: number; allocated: number; pooledBytes: number } {
    const { reused, allocated, pooledBytes } = this.context.batcher.buffers;
    return { reused, allocated, pooledBytes };
  }

  async putRoutedBatch(streamName: string, batch: Uint8Array): Promise<PutRecordBatchResult> {
    this.context.assertOpen();
    const stream = this.context.writable({ StreamName: streamName });
    // AUTO places records itself: a batch routed by key belongs to no shard in particular.
    if (stream.strategy === 'AUTO') return this.putEncodedBatch(streamName, batch);
    const words = new Uint32Array(HASH_WORDS);
    const count =
      this.context.throttles || stream.router.size === 1 ? 0 : firstRecordHash(batch, words);
    if (count === 0) return this.putEncodedBatch(streamName, batch);
    const shard = stream.open[stream.router.route(words, 0)]!;
    const check: RoutedBatchCheck = {
      streamName: stream.name,
      shardId: shard.shardId,
      start: shard.start,
      end: shard.end,
      maxRecordBytes: stream.record.maxRecordSizeKiB * KIB,
    };
    try {
      const committed = await this.context.batcher.append(
        shard.worker,
        shard.descriptor,
        batch,
        stream.recordEncryption === 'KMS',
        check,
      );
      return new ShardBatchResult(count, shard, committed);
    } catch (error) {
      if (error instanceof KinesisError && ROUTED_CHECK_ERRORS.has(error.code)) throw error;
      return new ShardBatchResult(
        count,
        shard,
        undefined,
        this.appendFailure(stream, shard, error),
      );
    }
  }

  async putEncodedBatch(streamName: string, batch: Uint8Array): Promise<PutRecordBatchResult> {
    this.context.assertOpen();
    const stream = this.context.writable({ StreamName: streamName });
    // AUTO hashes no key (placement ignores them) and takes records without one.
    const auto = stream.strategy === 'AUTO';
    const maxRecordBytes = stream.record.maxRecordSizeKiB * KIB;
    const hash = stream.router.size > 1 && !auto;
    const hashed = hashEncodedBatch(batch, maxRecordBytes, {
      hash,
      keyOptional: auto,
      streamName: stream.name,
    });
    const { recordStart, hashWords, dataBytes } = hashed;
    return this.appendHashed(stream, batch, recordStart, hashWords, dataBytes);
  }

  async putPreparedRecords(prepared: PreparedRecords): Promise<PutRecordBatchResult> {
    this.context.assertOpen();
    const target: K.StreamTarget = {};
    if (prepared.StreamName !== undefined) target.StreamName = prepared.StreamName;
    if (prepared.StreamARN !== undefined) target.StreamARN = prepared.StreamARN;
    if (prepared.keylessRecords > 0 && this.strategyNamed(target) !== 'AUTO') {
      throw missingPartitionKeys(keylessIndexes(prepared));
    }
    const stream = this.context.writable(target);
    if (prepared.maxRecordBytes > stream.record.maxRecordSizeKiB * KIB) {
      // Some record is too large for this stream: find the first, as PutRecords reports it.
      const { batch, recordStart } = prepared;
      const cursor = newRecordCursor(0);
      for (let i = 0; i < prepared.recordCount; i++) {
        cursor.offset = recordStart[i]!;
        nextRecord(batch, cursor, batch.length);
        const dataBytes = cursor.dataEnd - cursor.dataStart;
        this.checkRecordSize(
          stream,
          dataBytes,
          dataBytes + cursor.keyEnd - cursor.keyStart,
          `records.${i + 1}.member.data`,
        );
      }
    }
    return this.appendHashed(stream, prepared.batch, prepared.recordStart, prepared.hashWords);
  }

  /**
   * Routes a checked and hashed batch (limits applied per record), appends it, and settles;
   * `dataBytes`, when the caller counted them, goes into the result.
   */
  private async appendHashed(
    stream: StreamState,
    batch: Uint8Array,
    recordStart: Int32Array,
    hashWords: Uint32Array,
    dataBytes?: number,
  ): Promise<PutRecordBatchResult> {
    const admit = this.context.throttles
      ? this.encodedAdmission(stream, batch, recordStart)
      : undefined;
    const encryption = stream.recordEncryption;
    const encoded = routeStreamBatch(stream, batch, recordStart, hashWords, admit);
    const result = new BatchResult(stream.open, recordStart.length - 1, encryption);
    if (dataBytes !== undefined) result.dataBytes = dataBytes;
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
  private admitEncoded(
    stream: StreamState,
    records: readonly RecordInput[],
    encoded: EncodedBatches,
  ): EncodedBatches {
    const now = this.context.clock();
    const shardOfRecord = Int32Array.from(encoded.shardOfRecord);
    let refused = 0;
    for (let i = 0; i < records.length; i++) {
      const slot = shardOfRecord[i]!;
      const record = records[i]!;
      const bytes = record.Data.length + Buffer.byteLength(record.PartitionKey ?? '');
      if (!this.context.throttleOf(stream.open[slot]!)!.admitWrite(bytes, now)) {
        shardOfRecord[i] = refusedSlot(slot);
        refused++;
      }
    }
    if (refused === 0) return encoded;
    // The admitted records keep their shards; only positions change.
    const kept = shardOfRecord.filter((slot) => slot >= 0);
    const admitted = records.filter((_, i) => shardOfRecord[i]! >= 0);
    const again = encodePlacedBatches(admitted, stream.open.length, kept);
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
    const now = this.context.clock();
    const cursor = newRecordCursor(0);
    return (record: number, slot: number): boolean => {
      cursor.offset = recordStart[record]!;
      nextRecord(batch, cursor, batch.length);
      const bytes = cursor.dataEnd - cursor.dataStart + cursor.keyEnd - cursor.keyStart;
      return this.context.throttleOf(stream.open[slot]!)!.admitWrite(bytes, now);
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
    const encrypted = result.EncryptionType === 'KMS';
    for (const [slot, batch] of encoded.batches) {
      const shard = routing[slot]!;
      appends.push(
        this.context.batcher.append(shard.worker, shard.descriptor, batch, encrypted).then(
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
      new KinesisError(
        'ProvisionedThroughputExceededException',
        this.context.rateExceeded(stream, routing[slot]!),
      );
    pending.push(
      Promise.all(appends).then(() =>
        result.settle(encoded, offset, base, arrival, failures, refusal),
      ),
    );
  }

  /** What the records of a failed append are told: throttled, or an internal failure. */
  private appendFailure(stream: StreamState, shard: ShardState, error: unknown): KinesisError {
    const throttled =
      error instanceof KinesisError && error.code === 'ProvisionedThroughputExceededException';
    return throttled
      ? new KinesisError(
          'ProvisionedThroughputExceededException',
          this.context.rateExceeded(stream, shard),
        )
      : fail.internal('Internal Service Failure');
  }

  /** Checks one record against the stream's limits; returns its size (data + key bytes). */
  private checkRecord(stream: StreamState, record: RecordInput, path: string): number {
    const size = record.Data.length + Buffer.byteLength(record.PartitionKey ?? '', 'utf8');
    this.checkRecordSize(stream, record.Data.length, size, path);
    if (
      record.ExplicitHashKey !== undefined &&
      parseExplicitHashKey(record.ExplicitHashKey) === undefined
    ) {
      throw fail.invalid(
        'Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. ' +
          `Specified value was ${record.ExplicitHashKey}`,
      );
    }
    return size;
  }

  /** `size` is data plus partition-key bytes; `path` names the record's data member. */
  private checkRecordSize(
    stream: StreamState,
    dataBytes: number,
    size: number,
    path: string,
  ): void {
    const maxBytes = stream.record.maxRecordSizeKiB * KIB;
    const failure = recordSizeFailure(dataBytes, size - dataBytes, maxBytes, path, stream.name);
    if (failure !== undefined) throw failure;
  }

  private checkFastRecord(stream: StreamState, records: readonly RecordInput[], i: number): number {
    const record = records[i]!;
    const strategy = stream.strategy;
    if (typeof record !== 'object' || record === null) {
      refuseAsPutRecords(stream.name, records, strategy);
    }
    const key = record.PartitionKey;
    const data = record.Data;
    // No key is valid on an AUTO stream only; a key given is 1-256 characters on any stream.
    // Over 256 UTF-16 units may still be 256 code points (astral characters).
    const keyFails =
      key === undefined || key === null
        ? strategy !== 'AUTO'
        : typeof key !== 'string' ||
          key.length === 0 ||
          (key.length > PARTITION_KEY_CHARS_MAX && [...key].length > PARTITION_KEY_CHARS_MAX);
    if (keyFails || !(data instanceof Uint8Array)) {
      refuseAsPutRecords(stream.name, records, strategy);
    }
    const keyLength = key?.length ?? 0;
    // A UTF-8 key is at most 3 bytes per UTF-16 unit: the exact check is needed only near the limit.
    const maxBytes = stream.record.maxRecordSizeKiB * KIB;
    if (data.length + keyLength * 3 > maxBytes || record.ExplicitHashKey !== undefined) {
      return this.checkRecord(stream, record, `records.${i + 1}.member.data`);
    }
    return data.length + keyLength;
  }
}
