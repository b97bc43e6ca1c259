/**
 * The catalog: every stream, its shards, tags and consumers, persisted as `<data>/catalog.json`. It is
 * replaced atomically (write a temporary file, fsync, rename), so after a crash the file is
 * either the old catalog or the new one, never a mix. Records themselves live in the segments;
 * the catalog holds only what describes them.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type {
  RecordDistributionStrategy,
  ShardLevelMetric,
  StreamMode,
  StreamStatus,
} from '../kinesis/shapes.js';

export const CATALOG_FORMAT_VERSION = 1;
const CATALOG_FILE = 'catalog.json';

export interface ShardRecord {
  shardId: string;
  /** The number in the shard id; also the shard's place in sequence numbers. */
  index: number;
  startingHashKey: string;
  endingHashKey: string;
  parentShardId?: string;
  adjacentParentShardId?: string;
  createdMs: number;
  /**
   * Set when the shard is closed (resharding): when it closed, and its last ordinal + 1. The end
   * is missing only when the process stopped between the reshard taking effect and the shard's
   * worker confirming its last append; the next open takes it from the shard's files (nothing
   * was routed to the shard after the catalog recorded it closed).
   */
  closed?: { endOrdinal?: number; closedMs: number };
}

export type ConsumerStatus = 'CREATING' | 'DELETING' | 'ACTIVE';

/** An enhanced fan-out consumer registered on a stream. */
export interface ConsumerRecord {
  name: string;
  createdMs: number;
  /**
   * The second its ARN names (`…/consumer/<name>:<arnSecond>`): its creation second, or later when
   * a consumer of the same name had that second, so a re-registered consumer never gets the ARN
   * of the one it replaces. Absent in catalogs written before it: the creation second.
   */
  arnSecond?: number;
  /** Registration order within the stream (ListStreamConsumers pages by it). */
  seq?: number;
  status: ConsumerStatus;
  tags: Record<string, string>;
  /** PutResourcePolicy's document, as given; absent (also in older catalogs) means none. */
  resourcePolicy?: string;
}

/** A shard a reshard will create (ShardRecord without the times it gets when created). */
export interface PlannedShardRecord {
  shardId: string;
  index: number;
  startingHashKey: string;
  endingHashKey: string;
  parentShardId: string;
  adjacentParentShardId?: string;
  /** Created closed: a step of an UpdateShardCount that never takes a record. */
  intermediate: boolean;
}

/**
 * A reshard accepted and not yet in effect (the stream is UPDATING): saved with the call, so a
 * restart before it takes effect applies it instead of losing it. Cleared in the same save that
 * puts it in effect (the new shards in `shards`, the closed ones marked).
 */
export interface PendingReshard {
  closes: string[];
  created: PlannedShardRecord[];
}

export interface StreamRecord {
  name: string;
  createdMs: number;
  status: StreamStatus;
  mode: StreamMode;
  retentionHours: number;
  maxRecordSizeKiB: number;
  /**
   * The record distribution strategy, written only when it is AUTO: absent (also in catalogs
   * written before it existed) means USER_PARTITION_KEY, so a catalog of streams that never
   * used AUTO is the same as before.
   */
  recordDistributionStrategy?: RecordDistributionStrategy;
  tags: Record<string, string>;
  /** The shard-level metrics enhanced monitoring is enabled for; absent means none. */
  shardLevelMetrics?: ShardLevelMetric[];
  /**
   * Server-side encryption as StartStreamEncryption set it: EncryptionType KMS with this key.
   * Absent (also in catalogs written before it) means NONE. Runnel records and reports the
   * setting; it encrypts nothing.
   */
  encryption?: { keyId: string };
  /** PutResourcePolicy's document, as given; absent (also in older catalogs) means none. */
  resourcePolicy?: string;
  /**
   * UpdateStreamWarmThroughput's setting: the throughput asked for, and the one the stream is
   * scaled to (it reaches the target when the stream is ACTIVE again). Absent: never set.
   */
  warmThroughput?: { targetMiBps: number; currentMiBps: number };
  nextShardIndex: number;
  shards: ShardRecord[];
  pendingReshard?: PendingReshard;
  /**
   * Limits mode: when UpdateShardCount last succeeded on the stream (ms, the last 24 hours'
   * only), so the per-day bound holds across a restart.
   */
  shardCountUpdatesMs?: number[];
  /** The next consumer registration number (ConsumerRecord.seq). */
  nextConsumerSeq?: number;
  /** Per consumer name, the last second a consumer ARN of this stream named. */
  consumerArnSeconds?: Record<string, number>;
  /** Registered consumers, in registration order; absent (catalogs written before) means none. */
  consumers?: ConsumerRecord[];
}

/**
 * The account's minimum throughput billing commitment (UpdateAccountSettings). Runnel bills
 * nothing: only its state is kept, for DescribeAccountSettings and UpdateStreamWarmThroughput.
 */
export interface ThroughputCommitmentRecord {
  startedMs: number;
  /** The earliest the commitment may end: THROUGHPUT_COMMITMENT_MS_MIN after it started. */
  earliestAllowedEndMs: number;
  /** Asked to end before its earliest allowed end: it ends then. */
  endRequested?: boolean;
  /** When it ended, once asked to end at or after its earliest allowed end. */
  endedMs?: number;
}

/** Account-wide settings; absent (also in older catalogs) means every one is at its default. */
export interface AccountRecord {
  minimumThroughputBillingCommitment?: ThroughputCommitmentRecord;
}

export interface CatalogFile {
  version: number;
  /** Key of the shard-iterator MAC: iterators survive a restart but cannot be forged. */
  iteratorSecret: string;
  streams: StreamRecord[];
  account?: AccountRecord;
}

export function loadCatalog(dataDir: string): CatalogFile {
  const path = join(dataDir, CATALOG_FILE);
  if (!existsSync(path)) {
    return {
      version: CATALOG_FORMAT_VERSION,
      iteratorSecret: randomBytes(32).toString('hex'),
      streams: [],
    };
  }
  let catalog: CatalogFile;
  try {
    catalog = JSON.parse(readFileSync(path, 'utf8')) as CatalogFile;
  } catch (error) {
    // It is written whole and renamed into place, so only a hand edit or a failing disk breaks it.
    throw new Error(`${path}: the catalog is not valid JSON (${(error as Error).message})`);
  }
  if (catalog.version !== CATALOG_FORMAT_VERSION) {
    throw new Error(`${path}: catalog format ${catalog.version} is not supported`);
  }
  return catalog;
}

export function saveCatalog(dataDir: string, catalog: CatalogFile): void {
  const path = join(dataDir, CATALOG_FILE);
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, 'w');
  try {
    writeSync(fd, JSON.stringify(catalog, null, 1));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}
