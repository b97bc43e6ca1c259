/**
 * Resharding: SplitShard, MergeShards and UpdateShardCount (UNIFORM_SCALING) plan a change of the
 * open shards (reshard-plan.ts), which `reshard` saves as pending and `applyReshard` puts in
 * effect: new shards opened, routing and the catalog switched in one turn, the closed shards
 * sealed by their workers. A reshard accepted before a restart takes effect at the next open
 * (engine-lifecycle.ts).
 */
import { KinesisError, fail } from '../errors.js';
import {
  SHARD_COUNT_MAX,
  SHARD_INDEX_MAX,
  UPDATE_SHARD_COUNT_PER_DAY_MAX,
  RESHARD_SEAL_ATTEMPTS,
} from '../limits.js';
import type * as K from '../kinesis/shapes.js';
import { validateInput } from '../kinesis/validation.js';
import type { SealReply } from '../storage/worker-protocol.js';
import type { ShardRecord } from './catalog.js';
import { ShardState, type StreamState, canonicalShardId } from './stream-state.js';
import {
  type ReshardPlan,
  areAdjacent,
  planMerge,
  planSplit,
  planUniform,
} from './reshard-plan.js';
import { type EngineContext, MS_PER_DAY } from './engine-context.js';
import type { AccountSettings } from './account-settings.js';

export class Resharding {
  constructor(
    private readonly context: EngineContext,
    private readonly account: AccountSettings,
  ) {}

  async splitShard(input: K.SplitShardInput): Promise<Record<string, never>> {
    this.context.assertOpen();
    validateInput('SplitShard', input);
    const stream = this.reshardable(input, 'SplitShard');
    const shard = this.openShardNamed(stream, input.ShardToSplit);
    this.account.checkShardLimit(1);
    const newStart = BigInt(input.NewStartingHashKey);
    if (newStart <= shard.start + 1n || newStart >= shard.end) {
      throw fail.invalid(
        `NewStartingHashKey ${input.NewStartingHashKey} used in SplitShard() on shard ${shard.shardId} in stream ` +
          `${stream.name} under account ${this.context.accountId} is not both greater than one plus the shard's ` +
          `StartingHashKey ${shard.start} and less than the shard's EndingHashKey ${shard.end}.`,
      );
    }
    this.context.requireActive(stream);
    await this.reshard(stream, planSplit(shard, newStart, stream.record.nextShardIndex));
    return {};
  }

  async mergeShards(input: K.MergeShardsInput): Promise<Record<string, never>> {
    this.context.assertOpen();
    validateInput('MergeShards', input);
    const stream = this.reshardable(input, 'MergeShards');
    const shard = this.openShardNamed(stream, input.ShardToMerge);
    const adjacent = this.openShardNamed(stream, input.AdjacentShardToMerge);
    if (shard === adjacent || !areAdjacent(shard, adjacent)) {
      throw fail.invalid(
        `Shards ${shard.shardId} and ${adjacent.shardId} in stream ${stream.name} under account ` +
          `${this.context.accountId} are not an adjacent pair of shards eligible for merging`,
      );
    }
    this.context.requireActive(stream);
    await this.reshard(stream, planMerge(shard, adjacent, stream.record.nextShardIndex));
    return {};
  }

  async updateShardCount(input: K.UpdateShardCountInput): Promise<K.UpdateShardCountOutput> {
    this.context.assertOpen();
    validateInput('UpdateShardCount', input);
    const stream = this.reshardable(input, 'UpdateShardCount');
    this.context.requireActive(stream);
    const current = stream.open.length;
    const target = input.TargetShardCount;
    const counts = `Current open shard count: ${current} Target shard count: ${target}`;
    if (target > 2 * current) {
      throw fail.limit(
        `UpdateShardCount cannot scale up over double your current open shard count. ${counts}`,
      );
    }
    if (2 * target < current) {
      throw fail.limit(
        `UpdateShardCount cannot scale down below half your current open shard count. ${counts}`,
      );
    }
    if (target > SHARD_COUNT_MAX) {
      throw fail.limit(
        `UpdateShardCount cannot scale up to more than ${SHARD_COUNT_MAX} shards. ${counts}`,
      );
    }
    const plan = planUniform(stream.open, target, stream.record.nextShardIndex);
    // Kinesis counts the short-lived intermediate shards toward the limit too.
    const intermediates = plan.created.filter((shard) => shard.intermediate).length;
    this.account.checkShardLimit(Math.max(0, target - current) + intermediates);
    const now = this.context.clock();
    const recent = this.context.throttles
      ? (stream.record.shardCountUpdatesMs ?? []).filter((ms) => ms > now - MS_PER_DAY)
      : [];
    if (recent.length >= UPDATE_SHARD_COUNT_PER_DAY_MAX) {
      throw fail.limit(
        `UpdateShardCount of stream ${stream.name} under account ${this.context.accountId} is not allowed: a stream ` +
          `may be scaled at most ${UPDATE_SHARD_COUNT_PER_DAY_MAX} times in 24 hours.`,
      );
    }
    // Counted before the reshard saves the catalog, so the count and the accepted reshard are
    // saved together; a refused reshard is not counted.
    if (this.context.throttles) stream.record.shardCountUpdatesMs = [...recent, now];
    try {
      if (plan.created.length > 0) await this.reshard(stream, plan);
      else if (this.context.throttles) this.context.persist();
    } catch (error) {
      if (this.context.throttles) {
        stream.record.shardCountUpdatesMs = recent;
        if (!this.context.closed) this.context.persist();
      }
      throw error;
    }
    return {
      StreamName: stream.name,
      CurrentShardCount: current,
      TargetShardCount: target,
      StreamARN: stream.arn,
    };
  }

  /** The stream a reshard names, which must be PROVISIONED (Kinesis: ValidationException). */
  private reshardable(input: K.StreamTarget, operation: string): StreamState {
    const stream = this.context.target(input);
    if (stream.record.mode === 'ON_DEMAND') {
      throw new KinesisError(
        'ValidationException',
        `Stream ${stream.name} under account ${this.context.accountId} is in ON_DEMAND mode: ${operation} applies to ` +
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
        `Could not find shard ${canonical ?? shardId} in stream ${stream.name} under account ` +
          `${this.context.accountId}.`,
      );
    }
    if (!shard.isOpen) {
      throw fail.invalid(
        `Shard ${shard.shardId} in stream ${stream.name} under account ${this.context.accountId} has already ` +
          'been merged or split, and thus is not eligible for merging or splitting.',
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
        ...(planned.adjacentParentShardId !== undefined
          ? { adjacentParentShardId: planned.adjacentParentShardId }
          : {}),
        intermediate: planned.intermediate,
      })),
    };
    this.context.persist();
    if (this.context.transitionMs === 0) {
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
        if (!this.context.closed) {
          console.error(
            `runnel: reshard of stream ${stream.name} failed, retrying: ${(error as Error).message}`,
          );
        }
        if (this.context.streams.get(stream.name) === stream && record.pendingReshard)
          this.context.later(apply);
      }
    };
    this.context.later(apply);
  }

  /** The stream is ACTIVE again and has no reshard pending. */
  private endReshard(stream: StreamState): void {
    const record = stream.record;
    if (this.context.streams.get(stream.name) !== stream || record.status !== 'UPDATING') return;
    record.status = 'ACTIVE';
    delete record.pendingReshard;
    if (!this.context.closed) this.context.persist();
  }

  /**
   * Puts the stream's pending reshard in effect (the steps of `reshard`'s comment), then makes
   * the stream ACTIVE. A no-op when the stream was deleted meanwhile or has none pending.
   */
  async applyReshard(stream: StreamState): Promise<void> {
    const record = stream.record;
    const pending = record.pendingReshard;
    if (this.context.streams.get(stream.name) !== stream || !pending) return;
    const createdMs = this.context.clock();
    const records: ShardRecord[] = pending.created.map(({ intermediate, ...planned }) => ({
      ...planned,
      createdMs,
      ...(intermediate ? { closed: { endOrdinal: 0, closedMs: createdMs } } : {}),
    }));
    const { dataDir, segmentBytes, fsync } = this.context;
    const created = records.map(
      (shard) =>
        new ShardState(
          shard,
          this.context.assignWorker(),
          record.name,
          record.createdMs,
          dataDir,
          segmentBytes,
          fsync,
        ),
    );
    await this.context.openShardsOf(stream, created);
    if (this.context.closed) return;
    if (this.context.streams.get(stream.name) !== stream || record.status !== 'UPDATING') {
      // Deleted meanwhile: the new shards never took a record. Their files go too, unless a new
      // stream of the same name has been made since (its own shards may use those directories).
      const removeDirs = (shard: ShardState) =>
        this.context.streams.has(stream.name) ? [] : [shard.descriptor.dir];
      await Promise.all(
        created.map((shard) =>
          this.context.pool.run(shard.worker, {
            kind: 'close',
            shards: [shard.descriptor],
            removeDirs: removeDirs(shard),
            discard: true,
          }),
        ),
      );
      return;
    }
    // Step 2, in one turn: routing and the catalog change together.
    const switchedMs = this.context.clock();
    const closing = pending.closes.map((shardId) => stream.byShardId.get(shardId)!);
    for (const shard of closing) {
      shard.closing = true;
      shard.record.closed = { closedMs: switchedMs };
    }
    record.shards.push(...records);
    record.nextShardIndex = Math.max(
      record.nextShardIndex,
      ...records.map((shard) => shard.index + 1),
    );
    delete record.pendingReshard;
    stream.add(created);
    this.context.persist();
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
    for (const shard of closing)
      byWorker.set(shard.worker, [...(byWorker.get(shard.worker) ?? []), shard]);
    await Promise.all(
      [...byWorker].map(async ([worker, shards]) => {
        for (let attempt = 1; attempt <= RESHARD_SEAL_ATTEMPTS; attempt++) {
          try {
            const task = { kind: 'seal' as const, shards: shards.map((shard) => shard.descriptor) };
            const reply = await this.context.batcher.runAfterAppends<SealReply>(worker, task);
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
            if (this.context.closed) return;
            console.error(
              `runnel: sealing closed shards on worker ${worker} failed: ${(error as Error).message}`,
            );
          }
        }
      }),
    );
    if (!this.context.closed) this.context.persist();
  }
}
