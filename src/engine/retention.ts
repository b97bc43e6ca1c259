/**
 * A stream's retention period: IncreaseStreamRetentionPeriod and DecreaseStreamRetentionPeriod,
 * and its enforcement (at open, then every RETENTION_CHECK_INTERVAL_MS, see engine-lifecycle.ts):
 * each shard's trim moves past what has expired, segments that hold nothing newer are deleted, and
 * closed shards whose records have all expired are forgotten.
 */
import { fail } from '../errors.js';
import { RETENTION_HOURS_MAX, RETENTION_HOURS_MIN } from '../limits.js';
import type * as K from '../kinesis/shapes.js';
import { validateInput } from '../kinesis/validation.js';
import type { RetentionReply } from '../storage/worker-protocol.js';
import type { ShardState } from './stream-state.js';
import { type EngineContext, MS_PER_HOUR } from './engine-context.js';

export class StreamRetention {
  constructor(private readonly context: EngineContext) {}

  async enforceRetention(): Promise<number> {
    this.context.assertOpen();
    const now = this.context.clock();
    const byWorker = new Map<
      number,
      Array<{ shard: ShardState['descriptor']; cutoffMs: number }>
    >();
    for (const stream of this.context.streams.values()) {
      // A stream being deleted has its shards closed (or closing) in their workers; one being
      // created has nothing to expire, and its shards are still being opened, a task at a time.
      if (stream.record.status === 'DELETING' || stream.record.status === 'CREATING') continue;
      const cutoffMs = now - stream.record.retentionHours * MS_PER_HOUR;
      for (const shard of stream.shards) {
        const list = byWorker.get(shard.worker) ?? [];
        list.push({ shard: shard.descriptor, cutoffMs });
        byWorker.set(shard.worker, list);
      }
    }
    const replies = await Promise.all(
      [...byWorker].map(([worker, shards]) =>
        this.context.pool.run<RetentionReply>(worker, { kind: 'retention', shards }),
      ),
    );
    for (const stream of this.context.streams.values())
      for (const shard of stream.shards) shard.reader.release();
    await this.removeExpiredShards(now);
    return replies.reduce((sum, reply) => sum + reply.deletedSegments, 0);
  }

  /**
   * Forgets closed shards whose records have all expired (closed before the retention cutoff), as
   * Kinesis stops listing them: the catalog drops them and their files are deleted. Their
   * children still name them as parents, as in Kinesis.
   */
  private async removeExpiredShards(now: number): Promise<void> {
    for (const stream of this.context.streams.values()) {
      if (stream.record.status === 'DELETING') continue;
      const cutoffMs = now - stream.record.retentionHours * MS_PER_HOUR;
      const expired = stream.shards.filter(
        (shard) => shard.endOrdinal !== undefined && shard.record.closed!.closedMs < cutoffMs,
      );
      if (expired.length === 0) continue;
      stream.remove(expired);
      this.context.persist();
      for (const shard of expired) {
        this.context.throttles?.delete(shard);
        this.context.forgetSubscriptionThrottles(`${stream.arn}/consumer/`, `\n${shard.shardId}`);
        shard.reader.close();
        // Its files, whatever happens to the others' (the catalog no longer names them).
        await this.context.pool
          .run(shard.worker, {
            kind: 'close',
            shards: [shard.descriptor],
            removeDirs: [shard.descriptor.dir],
            discard: true,
          })
          .catch((error: unknown) => {
            console.error(
              `runnel: deleting expired shard ${shard.descriptor.dir} failed: ${(error as Error).message}`,
            );
          });
      }
    }
  }

  async increaseStreamRetentionPeriod(
    input: K.RetentionPeriodInput,
  ): Promise<Record<string, never>> {
    this.context.assertOpen();
    validateInput('IncreaseStreamRetentionPeriod', input);
    return this.changeRetention(input, 'increase');
  }

  async decreaseStreamRetentionPeriod(
    input: K.RetentionPeriodInput,
  ): Promise<Record<string, never>> {
    this.context.assertOpen();
    validateInput('DecreaseStreamRetentionPeriod', input);
    return this.changeRetention(input, 'decrease');
  }

  /** Retention only moves in the named direction (an equal value is accepted as a no-op). */
  private changeRetention(input: K.RetentionPeriodInput, direction: 'increase' | 'decrease') {
    const stream = this.context.target(input);
    const hours = input.RetentionPeriodHours;
    const current = stream.record.retentionHours;
    this.checkRetentionRange(hours);
    const wrongWay = direction === 'increase' ? hours < current : hours > current;
    if (wrongWay) {
      const [relation, other] =
        direction === 'increase' ? ['shorter', 'Decrease'] : ['longer', 'Increase'];
      throw fail.invalid(
        `Requested retention period (${hours} hours) for stream ${stream.name} can not be ${relation} than ` +
          `existing retention period (${current} hours). Use ${other}RetentionPeriod API.`,
      );
    }
    this.context.requireActive(stream);
    stream.record.retentionHours = hours;
    this.context.persist();
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
}
