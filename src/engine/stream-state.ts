/**
 * The engine's live view of a stream and its shards on the main thread: the persisted records
 * plus what is built from them at open (hash ranges as integers, the router, each shard's
 * owner worker, shared index and reader).
 */
import { join } from 'node:path';
import { HASH_KEY_MAX } from '../kinesis/hash-key.js';
import { SHARD_INDEX_MAX } from '../limits.js';
import { SequenceFormatter, sequenceBigInt } from '../kinesis/sequence-number.js';
import type { EncryptionType, RecordDistributionStrategy, Shard } from '../kinesis/shapes.js';
import { ShardReader } from '../storage/segment-reader.js';
import { ShardIndex, createShardIndexBuffer } from '../storage/shard-index.js';
import type { ShardDescriptor } from '../storage/worker-protocol.js';
import type { ShardRecord, StreamRecord } from './catalog.js';
import { RecordRotation } from './record-distribution.js';
import { ShardRouter } from './shard-router.js';

export function shardIdOf(index: number): string {
  return `shardId-${String(index).padStart(12, '0')}`;
}

const SHARD_NUMBER = /^\d+$/;

/**
 * The canonical id (`shardId-000000000005`) of a ShardId as a request gives it, or undefined when
 * it names no shard number. Kinesis reads a shard id by the number after its first `-`, or the
 * whole id when it has none: `shardId-5`, `shard-5`, `foo-0005` and `5` all name shard 5, up to
 * SHARD_INDEX_MAX (kinesalite's tests, recorded against the service).
 */
export function canonicalShardId(shardId: string): string | undefined {
  const dash = shardId.indexOf('-');
  const number = dash === -1 ? shardId : shardId.slice(dash + 1);
  if (!SHARD_NUMBER.test(number)) return undefined;
  const index = Number(number);
  return index <= SHARD_INDEX_MAX ? shardIdOf(index) : undefined;
}

export function streamDir(dataDir: string, streamName: string): string {
  return join(dataDir, 'streams', streamName);
}

export class ShardState {
  readonly start: bigint;
  readonly end: bigint;
  readonly index: ShardIndex;
  readonly reader: ShardReader;
  readonly descriptor: ShardDescriptor;
  private readonly sequences: SequenceFormatter;
  /**
   * Set when a reshard has taken the shard out of routing and its worker has not yet confirmed
   * its last append: no longer open, its end not yet known.
   */
  closing = false;

  constructor(
    readonly record: ShardRecord,
    readonly worker: number,
    streamName: string,
    streamCreatedMs: number,
    dataDir: string,
    segmentBytes: number,
    fsync: boolean,
  ) {
    this.start = BigInt(record.startingHashKey);
    this.end = BigInt(record.endingHashKey);
    const dir = join(streamDir(dataDir, streamName), record.shardId);
    const buffer = createShardIndexBuffer();
    this.index = new ShardIndex(buffer);
    this.reader = new ShardReader(dir, this.index);
    // The key names this incarnation of the stream: a stream deleted and created again under
    // the same name gets new keys, so a late append for the old one cannot touch the new files.
    const key = `${streamName}@${streamCreatedMs}/${record.shardId}`;
    this.descriptor = {
      key,
      dir,
      segmentBytes,
      index: buffer,
      fsync,
      sealed: record.closed !== undefined,
    };
    this.sequences = new SequenceFormatter(Math.floor(record.createdMs / 1000), record.index);
  }

  get shardId(): string {
    return this.record.shardId;
  }

  get isOpen(): boolean {
    return this.record.closed === undefined && !this.closing;
  }

  /** A closed shard's last ordinal + 1, once known; undefined while the shard can still grow. */
  get endOrdinal(): number | undefined {
    return this.closing ? undefined : this.record.closed?.endOrdinal;
  }

  /** The sequence number of the record with `ordinal` that arrived at `arrivalMs`. */
  sequenceNumber(ordinal: number, arrivalMs: number): string {
    return this.sequences.format(ordinal, Math.floor(arrivalMs / 1000));
  }

  /** Writes that sequence number as ASCII digits at `target[offset..]`; returns the end. */
  writeSequenceNumber(
    ordinal: number,
    arrivalMs: number,
    target: Uint8Array,
    offset: number,
  ): number {
    return this.sequences.write(ordinal, Math.floor(arrivalMs / 1000), target, offset);
  }

  /**
   * Ordinal 0 with record second 0: below the number of every record of the shard, the first
   * included (ordinal 0 and its arrival second), so AFTER_SEQUENCE_NUMBER from it starts at the
   * first record. Kinesis's carry the shard's creation second there; a first record put within
   * that second would then have the very same number.
   */
  startingSequenceNumber(): string {
    return sequenceBigInt({
      shardCreationSec: Math.floor(this.record.createdMs / 1000),
      shardIndex: this.record.index,
      ordinal: 0n,
      recordTimeSec: 0,
    }).toString();
  }

  describe(): Shard {
    const shard: Shard = {
      ShardId: this.record.shardId,
      HashKeyRange: {
        StartingHashKey: this.record.startingHashKey,
        EndingHashKey: this.record.endingHashKey,
      },
      SequenceNumberRange: { StartingSequenceNumber: this.startingSequenceNumber() },
    };
    if (this.record.parentShardId) shard.ParentShardId = this.record.parentShardId;
    if (this.record.adjacentParentShardId)
      shard.AdjacentParentShardId = this.record.adjacentParentShardId;
    if (this.record.closed) {
      shard.SequenceNumberRange.EndingSequenceNumber = sequenceBigInt({
        shardCreationSec: Math.floor(this.record.createdMs / 1000),
        shardIndex: this.record.index,
        ordinal: 0x7fffffffffffffffn,
        recordTimeSec: Math.floor(this.record.closed.closedMs / 1000),
      }).toString();
    }
    return shard;
  }
}

export class StreamState {
  readonly shards: ShardState[];
  readonly byShardId = new Map<string, ShardState>();
  readonly byIndex = new Map<number, ShardState>();
  open: ShardState[] = [];
  router!: ShardRouter;
  /**
   * The EncryptionType puts report, and mark their records with (reads report each record's
   * mark): the stream's setting once it is in effect. Kinesis encrypts records with a new
   * setting once the stream is ACTIVE again, so while a change leaves the stream UPDATING,
   * records keep the type they had. Not persisted: a restart completes the change (the stream
   * opens ACTIVE).
   */
  recordEncryption: EncryptionType;
  /** Where the AUTO strategy places the next put's records (record-distribution.ts). */
  readonly rotation = new RecordRotation();
  /**
   * Settles once the workers have answered every opening of this stream's shards started so far
   * (its creation's, a reshard's children's). Deleting the stream waits for it: the workers open
   * shards in tasks of SHARDS_OPENED_PER_TASK_MAX, and a close or a directory removal posted
   * between two of them would meet shards still being created.
   */
  opened: Promise<unknown> = Promise.resolve();

  constructor(
    readonly record: StreamRecord,
    readonly arn: string,
    shards: ShardState[],
  ) {
    this.shards = [];
    this.recordEncryption = record.encryption ? 'KMS' : 'NONE';
    this.add(shards);
  }

  /** Adds shards (already in the record) and routes by the open ones. */
  add(shards: ShardState[]): void {
    for (const shard of shards) {
      this.shards.push(shard);
      this.byShardId.set(shard.shardId, shard);
      this.byIndex.set(shard.record.index, shard);
    }
    this.refreshRouting();
  }

  /** Forgets closed shards (expired under retention); their records must already be gone. */
  remove(shards: ShardState[]): void {
    const removed = new Set(shards);
    const kept = this.shards.filter((shard) => !removed.has(shard));
    this.shards.length = 0;
    this.shards.push(...kept);
    for (const shard of shards) {
      this.byShardId.delete(shard.shardId);
      this.byIndex.delete(shard.record.index);
    }
    this.record.shards = this.record.shards.filter(
      (record) => !shards.some((shard) => shard.record === record),
    );
  }

  /** The shards a closed shard was split or merged into (GetRecords's ChildShards). */
  children(shardId: string): ShardState[] {
    return this.shards.filter(
      (shard) =>
        shard.record.parentShardId === shardId || shard.record.adjacentParentShardId === shardId,
    );
  }

  get name(): string {
    return this.record.name;
  }

  /** How puts place records: by partition key (the default), or AUTO. */
  get strategy(): RecordDistributionStrategy {
    return this.record.recordDistributionStrategy ?? 'USER_PARTITION_KEY';
  }

  refreshRouting(): void {
    this.open = this.shards
      .filter((shard) => shard.isOpen)
      .sort((a, b) => (a.start < b.start ? -1 : 1));
    if (this.open.length > 0) {
      let next = 0n;
      for (const shard of this.open) {
        if (shard.start !== next)
          throw new Error(`stream ${this.name}: open shards do not tile the hash-key space`);
        next = shard.end + 1n;
      }
      if (next !== HASH_KEY_MAX + 1n)
        throw new Error(`stream ${this.name}: open shards do not cover the hash-key space`);
    }
    this.router = new ShardRouter(this.open.map((shard) => shard.start));
  }
}
