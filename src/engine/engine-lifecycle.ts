/**
 * The engine's life after Engine.open has built it: `restore` brings the catalog's streams back
 * (completing what a restart cut short: transitions, deletions, reshards) and starts the retention
 * timer; `close` syncs and closes every shard, stops the workers and frees the data directory.
 * Also the hooks tests use to stall or crash a worker thread.
 */
import { RETENTION_CHECK_INTERVAL_MS } from '../limits.js';
import type { StreamRecord } from './catalog.js';
import { streamDir } from './stream-state.js';
import type { DataDirLock } from './data-dir-lock.js';
import type { EngineContext } from './engine-context.js';
import type { Resharding } from './resharding.js';
import type { StreamRetention } from './retention.js';

export class EngineLifecycle {
  private retentionTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly context: EngineContext,
    private readonly lock: DataDirLock,
    private readonly resharding: Resharding,
    private readonly retention: StreamRetention,
  ) {}

  async restore(): Promise<void> {
    const deleting: StreamRecord[] = [];
    for (const record of this.context.catalog.streams) {
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
      this.context.streams.set(record.name, this.context.buildStream(record));
    }
    for (const record of deleting) {
      const removeDirs = [streamDir(this.context.dataDir, record.name)];
      await this.context.pool.run(0, { kind: 'close', shards: [], removeDirs });
    }
    this.context.catalog.streams = this.context.catalog.streams.filter(
      (record) => record.status !== 'DELETING',
    );
    this.context.persist();
    const ends = await this.context.openShards(
      [...this.context.streams.values()].flatMap((stream) => stream.shards),
    );
    // A reshard cut short after it took effect: nothing was routed to its closed shards since,
    // so each ends where its files end.
    let completed = false;
    for (const stream of this.context.streams.values()) {
      for (const shard of stream.shards) {
        const closed = shard.record.closed;
        if (closed && closed.endOrdinal === undefined) {
          closed.endOrdinal = ends.get(shard.descriptor.key)!;
          completed = true;
        }
      }
    }
    if (completed) this.context.persist();
    // A reshard accepted before the restart and not yet in effect takes effect now.
    for (const stream of this.context.streams.values()) {
      if (!stream.record.pendingReshard) continue;
      stream.record.status = 'UPDATING';
      await this.resharding.applyReshard(stream);
    }
    // Opening rebuilds each shard's trim from its files (the oldest segment's first record):
    // expire what is older than the retention period before anyone reads.
    await this.retention.enforceRetention();
    this.retentionTimer = setInterval(() => {
      // A failed pass (a worker restarting, say) is retried at the next interval; it must never
      // become an unhandled rejection that takes the process down.
      this.retention.enforceRetention().catch((error: unknown) => {
        console.error(`runnel: retention pass failed: ${(error as Error).message}`);
      });
    }, RETENTION_CHECK_INTERVAL_MS);
    this.retentionTimer.unref();
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.context.closed = true;
    for (const { controller } of this.context.subscriptions.values()) controller.abort();
    clearInterval(this.retentionTimer);
    for (const timer of this.context.timers) clearTimeout(timer);
    for (let worker = 0; worker < this.context.pool.size; worker++) {
      await this.context.pool.run(worker, { kind: 'sync' }).catch(() => undefined);
    }
    await this.context.pool.close();
    for (const stream of this.context.streams.values())
      for (const shard of stream.shards) shard.reader.close();
    this.lock.release();
  }

  stallWorker(worker: number, ms: number): Promise<unknown> {
    return this.context.pool.run(worker, { kind: 'stall', ms });
  }

  async crashWorker(worker: number): Promise<void> {
    this.context.assertOpen();
    await this.context.pool.run(worker, { kind: 'crash' }).catch(() => undefined);
  }
}
