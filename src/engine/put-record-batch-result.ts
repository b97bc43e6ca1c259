/**
 * What a put of many records answers (Engine.putRecordBatch, putRoutedBatch, putEncodedBatch,
 * putPreparedRecords, and PutRecords inside the engine): where each record landed, its sequence
 * number (formatted only when asked for) or why it was not stored. A batch routed whole to one
 * shard keeps nothing per record (ShardBatchResult).
 */
import type { KinesisError } from '../errors.js';
import type * as K from '../kinesis/shapes.js';
import type { Committed } from './batcher.js';
import type { EncodedBatches } from './batch-encoder.js';
import { refusedSlot } from './encoded-batch.js';
import type { ShardState } from './stream-state.js';

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
  /**
   * The data bytes of all the batch's records, where the engine walked them anyway to check
   * and route them: set by putEncodedBatch, and by putRoutedBatch once a shard stored the
   * batch (its worker counts them in its check). The binary protocol's bytes-in metric reads
   * it, so counting costs the event loop no walk of its own.
   */
  readonly dataBytes?: number;
}

/** Where each record of a batch call landed; sequence numbers are formatted only on demand. */
export class BatchResult implements PutRecordBatchResult {
  FailedRecordCount = 0;
  dataBytes?: number;
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
    return this.routing[this.shardOf[i]!]!.writeSequenceNumber(
      this.ordinalOf[i]!,
      this.arrivalOf[i]!,
      target,
      offset,
    );
  }

  errorOf(i: number): KinesisError | undefined {
    return this.errors?.get(i);
  }
}

/**
 * The outcome of a batch appended whole to one shard (a routed put): consecutive ordinals from
 * one base and one arrival time, or one error for every record. Nothing per record is kept.
 */
export class ShardBatchResult implements PutRecordBatchResult {
  readonly FailedRecordCount: number;
  readonly onlyShardId: string;
  readonly dataBytes?: number;

  constructor(
    readonly recordCount: number,
    private readonly shard: ShardState,
    private readonly committed: Committed | undefined,
    private readonly error?: KinesisError,
  ) {
    this.FailedRecordCount = committed ? 0 : recordCount;
    this.onlyShardId = shard.shardId;
    if (committed?.dataBytes !== undefined) this.dataBytes = committed.dataBytes;
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
