/**
 * What a shard worker thread runs: it owns a set of shards, each a ShardLog, and serves the
 * tasks of worker-protocol.ts. A shard it has not seen yet (a fresh thread replacing one that
 * died) is opened on first use from its descriptor, which recovers it from disk.
 */
import { type HashedBatch, hashEncodedBatch } from '../engine/encoded-batch.js';
import { KinesisError } from '../errors.js';
import { HASH_WORDS, bigIntToWords, compareWords } from '../kinesis/hash-key.js';
import { ATTRIBUTE_KMS } from './batch-layout.js';
import { ShardIndex } from './shard-index.js';
import { ShardLog, deleteShardFiles } from './shard-log.js';
import type {
  AppendOutcome,
  AppendRequest,
  AppendReply,
  OpenReply,
  RetentionReply,
  RoutedBatchCheck,
  SealReply,
  ShardDescriptor,
  WorkerTask,
} from './worker-protocol.js';

export class ShardHost {
  private readonly logs = new Map<string, ShardLog>();

  handle(task: WorkerTask): unknown {
    switch (task.kind) {
      case 'open':
        return this.open(task.shards);
      case 'append':
        return this.append(task.appends, task.nowMs, task.fsync);
      case 'retention':
        return this.retention(task.shards);
      case 'close':
        return this.close(task.shards, task.removeDirs, task.discard === true);
      case 'sync':
        for (const log of this.logs.values()) log.sync();
        return {};
      case 'seal':
        return { shards: task.shards.map((shard) => this.seal(shard)) } satisfies SealReply;
      case 'stall':
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, task.ms);
        return {};
      case 'crash':
        // Test hook for worker-failure handling: the thread dies as if an invariant failed.
        process.exit(1);
    }
  }

  private log(shard: ShardDescriptor): ShardLog {
    let log = this.logs.get(shard.key);
    if (!log) {
      if (retired(shard)) throw new Error(`shard ${shard.key} is closed`);
      log = this.openLog(shard).log;
    }
    return log;
  }

  /** Opens (recovers) a shard's log; a shard closed by a reshard opens sealed. */
  private openLog(shard: ShardDescriptor): ReturnType<typeof ShardLog.open> {
    const opened = ShardLog.open({
      dir: shard.dir,
      segmentBytes: shard.segmentBytes,
      index: new ShardIndex(shard.index),
      fsync: shard.fsync,
      sealed: shard.sealed === true,
    });
    this.logs.set(shard.key, opened.log);
    return opened;
  }

  private seal(shard: ShardDescriptor): SealReply['shards'][number] {
    const log = this.log(shard);
    log.seal();
    return { endOrdinal: log.watermark, lastArrivalMs: log.lastArrival };
  }

  private open(shards: ShardDescriptor[]): OpenReply {
    const reply: OpenReply = { shards: [] };
    for (const shard of shards) {
      const existing = this.logs.get(shard.key);
      if (existing) {
        reply.shards.push({ key: shard.key, nextOrdinal: existing.watermark, cutBytes: 0 });
        continue;
      }
      if (retired(shard)) {
        // Closed for good before this task ran: its files must not come back.
        reply.shards.push({ key: shard.key, nextOrdinal: 0, cutBytes: 0 });
        continue;
      }
      const { report } = this.openLog(shard);
      reply.shards.push({
        key: shard.key,
        nextOrdinal: report.nextOrdinal,
        cutBytes: report.cutBytes,
      });
    }
    return reply;
  }

  private append(appends: AppendRequest[], nowMs: number, fsync: boolean): AppendReply {
    const outcomes: AppendOutcome[] = [];
    const touched = new Set<ShardLog>();
    // The engine's put buffers go back with the answer, each once (a transfer list may not
    // name one twice, and a caller may have put one batch twice).
    const buffers: ArrayBuffer[] = [];
    for (const { shard, batch, verify, giveBack, encrypted } of appends) {
      const buffer = batch.buffer as ArrayBuffer;
      if (giveBack && !buffers.includes(buffer)) buffers.push(buffer);
      try {
        const dataBytes = verify ? checkRoutedBatch(batch, verify) : undefined;
        // The engine routes nothing to a closed shard; its sealed log refuses it all the same,
        // which keeps its end final.
        const log = this.log(shard);
        const { baseOrdinal, arrivalMs } = log.append(batch, nowMs, encrypted ? ATTRIBUTE_KMS : 0);
        touched.add(log);
        outcomes.push(
          dataBytes === undefined
            ? { ok: true, baseOrdinal, arrivalMs }
            : { ok: true, baseOrdinal, arrivalMs, dataBytes },
        );
      } catch (error) {
        if (error instanceof KinesisError) {
          // A routed batch refused by its check: the client's error, worded for it.
          outcomes.push({ ok: false, error: { code: error.code, message: error.message } });
          continue;
        }
        // One shard's failure (a full disk, say) must not fail the other shards' appends.
        const message = `append to ${shard.key} failed: ${(error as Error).message}`;
        outcomes.push({ ok: false, error: { code: 'InternalFailureException', message } });
      }
    }
    // Group commit: one fdatasync per shard for everything this task appended.
    if (fsync) for (const log of touched) log.sync();
    return buffers.length > 0 ? { outcomes, buffers } : { outcomes };
  }

  private retention(shards: Array<{ shard: ShardDescriptor; cutoffMs: number }>): RetentionReply {
    let deletedSegments = 0;
    for (const { shard, cutoffMs } of shards) {
      if (!this.logs.has(shard.key) && retired(shard)) continue;
      deletedSegments += this.log(shard).enforceRetention(cutoffMs);
    }
    return { deletedSegments };
  }

  private close(shards: ShardDescriptor[], removeDirs: string[], discard: boolean): object {
    for (const shard of shards) {
      this.logs.get(shard.key)?.close(discard);
      this.logs.delete(shard.key);
      new ShardIndex(shard.index).markClosed();
    }
    for (const dir of removeDirs) deleteShardFiles(dir);
    return {};
  }
}

/**
 * Whether a shard was closed for good (its stream deleted, or it expired): a late append must
 * not reopen its files. The mark lives in the shard's shared index, which the engine keeps for
 * as long as it can still post a task for the shard, so the worker holds no list of its own that
 * would grow with every shard ever deleted; and a thread that replaces one that died sees it.
 */
function retired(shard: ShardDescriptor): boolean {
  return new ShardIndex(shard.index).isClosed();
}

const rangeWords = new Uint32Array(2 * HASH_WORDS);
/** The last check's arrays, lent to the next one: checking a routed batch allocates no arrays. */
let lastChecked: HashedBatch | undefined;

/**
 * Checks a batch declared routed to one shard: every record as the engine checks it (key,
 * size, explicit hash key; hashEncodedBatch throws the same errors) and every hash key inside
 * the shard's range. Throws a KinesisError, and nothing of the batch is appended, otherwise.
 * Returns the data bytes of its records, counted in the same walk.
 */
function checkRoutedBatch(batch: Uint8Array, check: RoutedBatchCheck): number {
  const hashed = hashEncodedBatch(batch, check.maxRecordBytes, {
    reuse: lastChecked,
    streamName: check.streamName,
  });
  lastChecked = hashed;
  bigIntToWords(check.start, rangeWords, 0);
  bigIntToWords(check.end, rangeWords, HASH_WORDS);
  for (let i = 0; i < hashed.recordCount; i++) {
    const at = i * HASH_WORDS;
    if (
      compareWords(hashed.hashWords, at, rangeWords, 0) < 0 ||
      compareWords(hashed.hashWords, at, rangeWords, HASH_WORDS) > 0
    ) {
      throw new KinesisError(
        'InvalidArgumentException',
        `Record ${i} of a put routed to ${check.shardId} belongs to another shard: its hash key is ` +
          `outside [${check.start}, ${check.end}]. The shard map the client routed by is stale.`,
      );
    }
  }
  return hashed.dataBytes;
}
