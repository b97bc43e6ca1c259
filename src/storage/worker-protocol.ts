/**
 * Every message between the engine (main thread) and a shard worker, in one place. Errors cross
 * as `{ code, message }` (see errors.ts); classes do not survive postMessage.
 */
import type { SerializedError } from '../errors.js';

/** Everything a worker needs to open (or, after a worker restart, reopen) a shard. */
export interface ShardDescriptor {
  /** Unique within the engine: `<stream>@<stream creation ms>/<shardId>`. */
  key: string;
  dir: string;
  segmentBytes: number;
  index: SharedArrayBuffer;
  /** fdatasync before acknowledging (fsync mode). */
  fsync: boolean;
  /**
   * Closed by a reshard and sealed: a worker that opens it (at the engine's open, or a fresh
   * thread replacing one that died) seals it at once, so it holds no writer.
   */
  sealed?: boolean;
}

export interface AppendRequest {
  shard: ShardDescriptor;
  /** One encoded record batch (record-batch.ts); its ArrayBuffer is transferred. */
  batch: Uint8Array;
  /**
   * A batch a client declared routed to this shard, not yet checked: the worker checks every
   * record as the engine would and hashes its key; the batch is appended only if every hash
   * key lies in [start, end], else refused whole.
   */
  verify?: RoutedBatchCheck;
  /**
   * The batch's ArrayBuffer is one of the engine's put buffers (src/engine/put-buffers.ts),
   * moved here whole: the worker moves it back with its answer, in `AppendReply.buffers`.
   */
  giveBack?: true;
  /** The stream's server-side encryption was in effect when the put was made (ATTRIBUTE_KMS). */
  encrypted?: true;
}

export interface RoutedBatchCheck {
  /** Named in a record size error, as PutRecords names it. */
  streamName: string;
  shardId: string;
  start: bigint;
  end: bigint;
  /** The stream's record size limit (data + partition key bytes). */
  maxRecordBytes: number;
}

export type WorkerTask =
  | { kind: 'open'; shards: ShardDescriptor[] }
  | { kind: 'append'; appends: AppendRequest[]; nowMs: number; fsync: boolean }
  | { kind: 'retention'; shards: Array<{ shard: ShardDescriptor; cutoffMs: number }> }
  /**
   * Closes shards for good (synced first, unless `discard`: their files are about to be
   * deleted), marks each one's shared index closed, and removes directories.
   */
  | { kind: 'close'; shards: ShardDescriptor[]; removeDirs: string[]; discard?: boolean }
  | { kind: 'sync' }
  /**
   * Closes shards to appends for good (resharding): runs after every append posted before it,
   * syncs each shard and answers its end (SealReply, in order). Their files stay for reads.
   */
  | { kind: 'seal'; shards: ShardDescriptor[] }
  | { kind: 'crash' }
  /** Test hook: blocks the worker thread, to show readers never wait for the owner. */
  | { kind: 'stall'; ms: number };

export interface OpenReply {
  shards: Array<{ key: string; nextOrdinal: number; cutBytes: number }>;
}

export type AppendOutcome =
  | {
      ok: true;
      baseOrdinal: number;
      arrivalMs: number;
      /**
       * The data bytes of the batch's records, when the worker walked them to check a routed
       * batch (`verify`): the binary protocol's bytes-in metric then costs the event loop no walk.
       */
      dataBytes?: number;
    }
  | { ok: false; error: SerializedError };

export interface AppendReply {
  outcomes: AppendOutcome[];
  /** The put buffers of the appends marked `giveBack`, moved back (see AppendRequest). */
  buffers?: ArrayBuffer[];
}

export interface SealReply {
  shards: Array<{
    /** The shard's last ordinal + 1: no record will ever take this ordinal. */
    endOrdinal: number;
    /** When its last record arrived (ms), 0 if it has none. */
    lastArrivalMs: number;
  }>;
}

export interface RetentionReply {
  deletedSegments: number;
}
