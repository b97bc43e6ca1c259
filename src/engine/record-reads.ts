/**
 * The read paths: GetShardIterator and GetRecords as Kinesis serves them, and the engine's own
 * push reads that subscriptions are built on (shardPosition, readBatches, waitForRecords,
 * subscribe). Reads come straight from each shard's shared index and segment files on the main
 * thread, never messaging the owner worker. Iterators and sequence numbers are resolved to shard
 * ordinals here.
 */
import { KinesisError, fail } from '../errors.js';
import {
  GET_RECORDS_BYTES_MAX,
  GET_RECORDS_LIMIT_MAX,
  KIB,
  SHARD_ITERATOR_TTL_MS,
} from '../limits.js';
import { decodeSequenceNumber } from '../kinesis/sequence-number.js';
import { javaDateString } from '../kinesis/java-date.js';
import { ShardIteratorCodec, type IteratorPosition } from '../kinesis/shard-iterator.js';
import type * as K from '../kinesis/shapes.js';
import { requireTimestamp, validateInput } from '../kinesis/validation.js';
import type { RawBatch, ReadResult } from '../storage/segment-reader.js';
import {
  BATCH_HEADER_BYTES,
  isEncryptedBatch,
  newRecordCursor,
  nextRecord,
} from '../storage/record-batch.js';
import { type ShardState, type StreamState, canonicalShardId, shardIdOf } from './stream-state.js';
import { type EngineContext, dryRun } from './engine-context.js';

/** A subscription reads up to this much per step, and re-checks for closing this often. */
const SUBSCRIBE_READ_BYTES = 1024 * KIB;
const SUBSCRIBE_WAIT_MS = 1000;

/**
 * The records of a stored batch from ordinal `from` on, in the GetRecords shape, added to `into`.
 * Their data are views of the batch's bytes, which belong to the read that returned it. Each
 * says KMS if the batch was appended while its stream's encryption was in effect.
 */
export function batchRecords(
  shard: ShardState,
  batch: RawBatch,
  from: number,
  into: K.KinesisRecord[] = [],
): K.KinesisRecord[] {
  const bytes = Buffer.from(batch.bytes.buffer, batch.bytes.byteOffset, batch.bytes.byteLength);
  const encrypted = isEncryptedBatch(bytes);
  const cursor = newRecordCursor(BATCH_HEADER_BYTES);
  for (let i = 0; i < batch.recordCount; i++) {
    nextRecord(bytes, cursor, bytes.length);
    const ordinal = batch.baseOrdinal + i;
    if (ordinal < from) continue;
    const record: K.KinesisRecord = {
      SequenceNumber: shard.sequenceNumber(ordinal, batch.arrivalMs),
      ApproximateArrivalTimestamp: new Date(batch.arrivalMs),
      Data: bytes.subarray(cursor.dataStart, cursor.dataEnd),
    };
    withPartitionKey(record, bytes, cursor.keyStart, cursor.keyEnd);
    into.push(withEncryption(record, encrypted));
  }
  return into;
}

/**
 * Sets a stored record's PartitionKey from its key bytes, unless it has none: a record put
 * without a key (to a stream whose strategy is AUTO) is stored with a key of length 0, which no
 * given key has, and Kinesis leaves the member out of such a record.
 */
function withPartitionKey(record: K.KinesisRecord, bytes: Buffer, start: number, end: number) {
  if (end > start) record.PartitionKey = bytes.toString('utf8', start, end);
  return record;
}

/**
 * A record as GetRecords and SubscribeToShard return it: `EncryptionType: KMS` if it was put
 * while its stream's encryption was in effect (as PutRecord reported it then), whatever the
 * stream's setting is when it is read; otherwise the optional member is left out.
 */
function withEncryption(record: K.KinesisRecord, encrypted: boolean): K.KinesisRecord {
  if (encrypted) record.EncryptionType = 'KMS';
  return record;
}

/** Where a sequence number points in its shard: a record's ordinal and the record second. */
interface SequencePosition {
  ordinal: number;
  recordTimeSec: number;
}

export class RecordReads {
  private readonly iterators: ShardIteratorCodec;

  constructor(private readonly context: EngineContext) {
    this.iterators = new ShardIteratorCodec(Buffer.from(context.catalog.iteratorSecret, 'hex'));
  }

  async getShardIterator(input: K.GetShardIteratorInput): Promise<K.GetShardIteratorOutput> {
    this.context.assertOpen();
    validateInput('GetShardIterator', input);
    const { stream, shard, ordinal, hint } = this.startingPosition(input);
    dryRun(input);
    const throttle = this.context.throttleOf(shard);
    if (throttle && !throttle.admitIterator(this.context.clock())) {
      throw new KinesisError(
        'ProvisionedThroughputExceededException',
        this.context.rateExceeded(stream, shard),
      );
    }
    const ShardIterator = this.iterators.encode({
      issuedMs: this.context.clock(),
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
  startingPosition(input: K.GetShardIteratorInput) {
    const shardId = canonicalShardId(input.ShardId);
    const missing = (streamName: string) =>
      shardId === undefined
        ? this.shardNotResolved(input.ShardId, streamName)
        : this.shardNotFound(shardId, streamName);
    const stream = this.context.writable(input, missing);
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
    const now = this.context.clock();
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
        const position = this.sequencePosition(stream, shard, input.StartingSequenceNumber!);
        ordinal = position.ordinal;
        if (type === 'AFTER_SEQUENCE_NUMBER' && !this.precedesRecord(shard, position)) ordinal++;
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
    return fail.notFound(
      `Shard ${shardId} in stream ${streamName} under account ${this.context.accountId} does not exist`,
    );
  }

  /** For a shard id that names no shard number (kinesalite's tests, recorded against Kinesis). */
  private shardNotResolved(shardId: string, streamName: string): KinesisError {
    return fail.notFound(
      `Could not find shard ${shardId} in stream ${streamName} under account ${this.context.accountId}.`,
    );
  }

  /**
   * Whether a sequence number lies below the number of the record at its ordinal, so that
   * AFTER_SEQUENCE_NUMBER from it starts at that record, not past it. A record's own number
   * (ordinal, arrival second) does not; a shard's StartingSequenceNumber (ordinal 0, second 0)
   * does, and so does one that earlier versions issued (ordinal 0 and the shard's creation
   * second) once the first record arrived in a later second. AFTER a sequence number is the
   * first record whose number is greater, as the numbers compare.
   */
  private precedesRecord(shard: ShardState, position: SequencePosition): boolean {
    const { ordinal, recordTimeSec } = position;
    if (ordinal < shard.index.trimOrdinal() || ordinal >= shard.index.nextOrdinal()) return false;
    const location = shard.reader.locate(ordinal);
    return location !== undefined && recordTimeSec < Math.floor(location.header.arrivalMs / 1000);
  }

  sequenceNumberOf(
    streamName: string,
    shardId: string,
    ordinal: number,
    arrivalMs: number,
  ): string {
    return this.shardOf(this.context.target({ StreamName: streamName }), shardId).sequenceNumber(
      ordinal,
      arrivalMs,
    );
  }

  private sequencePosition(
    stream: StreamState,
    shard: ShardState,
    sequenceNumber: string,
  ): SequencePosition {
    const fields = decodeSequenceNumber(sequenceNumber);
    const invalid = (why = '') =>
      fail.invalid(
        `StartingSequenceNumber ${sequenceNumber} used in GetShardIterator on shard ${shard.shardId} in stream ` +
          `${stream.name} under account ${this.context.accountId} is invalid${why}.`,
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
    return { ordinal, recordTimeSec: fields.recordTimeSec };
  }

  async getRecords(input: K.GetRecordsInput): Promise<K.GetRecordsOutput> {
    this.context.assertOpen();
    validateInput('GetRecords', input);
    if (input.Limit !== undefined && input.Limit > GET_RECORDS_LIMIT_MAX) {
      // InvalidArgumentException as the API documents it; the wording is Runnel's own.
      throw fail.invalid(
        `The Limit parameter (${input.Limit}) cannot be greater than ${GET_RECORDS_LIMIT_MAX}.`,
      );
    }
    const now = this.context.clock();
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
    const stream = this.context.streams.get(position.streamName);
    if (!stream || stream.record.createdMs !== position.streamCreatedMs) {
      throw this.shardNotFound(shardIdOf(position.shardIndex), position.streamName);
    }
    if (input.StreamARN !== undefined && input.StreamARN !== stream.arn)
      throw fail.invalid('Invalid ShardIterator.');
    const shard = stream.byIndex.get(position.shardIndex);
    if (!shard) throw fail.invalid('Invalid ShardIterator.');
    dryRun(input);
    const throttle = this.context.throttleOf(shard);
    if (throttle && !throttle.admitRead(now)) {
      throw new KinesisError(
        'ProvisionedThroughputExceededException',
        this.context.rateExceeded(stream, shard),
      );
    }
    const limit = input.Limit ?? GET_RECORDS_LIMIT_MAX;
    const result = this.readShard(shard, position, {
      maxRecords: limit,
      maxBytes: GET_RECORDS_BYTES_MAX,
    });
    if (throttle) {
      let bytes = 0;
      for (const record of result.records) bytes += record.dataEnd - record.keyStart;
      throttle.chargeRead(bytes);
    }
    const records: K.KinesisRecord[] = new Array(result.records.length);
    for (let i = 0; i < records.length; i++) {
      const record = result.records[i]!;
      const stored: K.KinesisRecord = {
        SequenceNumber: shard.sequenceNumber(record.ordinal, record.arrivalMs),
        ApproximateArrivalTimestamp: new Date(record.arrivalMs),
        Data: record.bytes.subarray(record.dataStart, record.dataEnd),
      };
      withPartitionKey(stored, record.bytes, record.keyStart, record.keyEnd);
      records[i] = withEncryption(stored, record.encrypted);
    }
    const watermark = shard.index.nextOrdinal();
    const last = result.records[result.records.length - 1];
    const behind = result.nextOrdinal >= watermark || !last ? 0 : Math.max(0, now - last.arrivalMs);
    const end = shard.endOrdinal;
    if (end !== undefined && result.nextOrdinal >= end) {
      // The end of a closed shard (KCL's contract): no next iterator, and the shards it became.
      return {
        Records: records,
        MillisBehindLatest: 0,
        ChildShards: this.childShards(stream, shard),
      };
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
  childShards(stream: StreamState, shard: ShardState): K.ChildShard[] {
    return stream.children(shard.shardId).map((child) => ({
      ShardId: child.shardId,
      ParentShards: [child.record.parentShardId, child.record.adjacentParentShardId].filter(
        (id): id is string => id !== undefined,
      ),
      HashKeyRange: {
        StartingHashKey: child.record.startingHashKey,
        EndingHashKey: child.record.endingHashKey,
      },
    }));
  }

  private readShard(
    shard: ShardState,
    position: IteratorPosition,
    limits: { maxRecords: number; maxBytes: number },
  ): ReadResult {
    const trim = shard.index.trimOrdinal();
    const ordinal = Math.max(position.ordinal, trim);
    const hint =
      position.hintSegmentBase >= 0 && ordinal === position.ordinal
        ? { segmentBase: position.hintSegmentBase, byteOffset: position.hintByteOffset }
        : undefined;
    return shard.reader.read(ordinal, limits, hint);
  }

  // ---- push reads: the primitives subscriptions are built on -------------------------------------------

  /**
   * A reading position in a shard: the ordinal an iterator of this type would start at. Takes
   * the GetShardIterator input and throws the same errors.
   */
  async shardPosition(
    input: K.GetShardIteratorInput,
  ): Promise<{ ordinal: number; watermark: number }> {
    this.context.assertOpen();
    validateInput('GetShardIterator', input);
    const { shard, ordinal } = this.startingPosition(input);
    return { ordinal, watermark: shard.index.nextOrdinal() };
  }

  readBatches(
    streamName: string,
    shardId: string,
    ordinal: number,
    maxBytes: number,
    scratch?: Buffer,
  ) {
    const shard = this.shardOf(this.context.writable({ StreamName: streamName }), shardId);
    const from = Math.max(ordinal, shard.index.trimOrdinal());
    return {
      from,
      batches: shard.reader.readBatches(from, maxBytes, scratch),
      watermark: shard.index.nextOrdinal(),
      /** Set once the shard is closed (resharded): its last ordinal + 1; nothing more will come. */
      end: shard.endOrdinal,
    };
  }

  async waitForRecords(
    streamName: string,
    shardId: string,
    ordinal: number,
    timeoutMs: number,
  ): Promise<boolean> {
    const shard = this.shardOf(this.context.target({ StreamName: streamName }), shardId);
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const seen = shard.index.commitCounter();
      if (shard.index.nextOrdinal() > ordinal) return true;
      const end = shard.endOrdinal;
      if (end !== undefined && ordinal >= end) return false;
      const remaining = deadline - performance.now();
      if (remaining <= 0 || this.context.closed) return false;
      await shard.index.waitForCommit(seen, remaining);
    }
  }

  async *subscribe(
    input: K.GetShardIteratorInput,
    options: { signal?: AbortSignal; batchBytes?: number } = {},
  ): AsyncGenerator<K.KinesisRecord> {
    const { ordinal: start } = await this.shardPosition(input);
    const streamName = input.StreamName ?? this.context.target(input).name;
    const stream = this.context.target({ StreamName: streamName });
    const shard = this.shardOf(stream, input.ShardId);
    const batchBytes = options.batchBytes ?? SUBSCRIBE_READ_BYTES;
    let ordinal = start;
    while (!this.context.closed && !options.signal?.aborted) {
      const { from, batches, end } = this.readBatches(
        streamName,
        input.ShardId,
        ordinal,
        batchBytes,
      );
      ordinal = Math.max(ordinal, from);
      if (batches.length === 0) {
        if (end !== undefined && ordinal >= end) return;
        await this.waitForRecords(streamName, input.ShardId, ordinal, SUBSCRIBE_WAIT_MS);
        continue;
      }
      for (const batch of batches) {
        for (const record of batchRecords(shard, batch, ordinal, [])) {
          yield record;
          if (this.context.closed || options.signal?.aborted) return;
        }
        ordinal = Math.max(ordinal, batch.baseOrdinal + batch.recordCount);
      }
    }
  }

  // ---- introspection for tests and tools --------------------------------------------------------------

  shardInternals(streamName: string, shardId: string) {
    const shard = this.context.streams.get(streamName)?.byShardId.get(shardId);
    if (!shard) throw this.context.notFound(streamName);
    return {
      worker: shard.worker,
      index: shard.index,
      reader: shard.reader,
      dir: shard.descriptor.dir,
    };
  }
}
