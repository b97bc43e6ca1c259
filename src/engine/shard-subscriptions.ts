/**
 * SubscribeToShard: a consumer's subscription to a shard, pushed as records commit. One
 * subscription per consumer and shard at a time (a newer call takes an older one over after
 * SUBSCRIPTION_TAKEOVER_MS); each ends after the subscription lifetime, at a closed shard's end,
 * when its consumer is deregistered, or when the engine closes. Its events are read with the push
 * reads of record-reads.ts, and paced by the consumer's quotas in limits mode. The live
 * subscriptions and the quotas are kept in the context (engine-context.ts), where deleting a
 * stream or deregistering a consumer ends them.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { fail } from '../errors.js';
import {
  SUBSCRIPTION_EVENT_BYTES_MAX,
  SUBSCRIPTION_HEARTBEAT_MS,
  SUBSCRIPTION_LIFETIME_MS,
  SUBSCRIPTION_TAKEOVER_MS,
  SUBSCRIBE_TO_SHARD_CALLS_PER_SEC,
} from '../limits.js';
import type * as K from '../kinesis/shapes.js';
import { validateInput } from '../kinesis/validation.js';
import type { ShardState, StreamState } from './stream-state.js';
import { SubscriptionThrottle } from './subscription-throttle.js';
import { type EngineContext, dryRun } from './engine-context.js';
import type { ConsumerRef, StreamConsumers } from './consumers.js';
import { batchRecords, type RecordReads } from './record-reads.js';
import type { EngineOptions } from './engine-options.js';

/** A SubscribeToShard subscription: its events, pushed as records commit, and how to end it. */
export interface ShardSubscription {
  readonly events: AsyncGenerator<K.SubscribeToShardEvent>;
  /** Ends the subscription (the client went away): frees the consumer's shard at once. */
  close(): void;
  /**
   * Aborted when the subscription ends from the engine's side whatever its events are doing: its
   * lifetime is over, a newer call took it over, its consumer was deregistered, or close().
   * Whoever writes the events stops waiting on a client that reads nothing then.
   */
  readonly signal: AbortSignal;
}

/**
 * Settles with `wait`, or as soon as `signal` aborts, leaving no listener behind: a subscription
 * waits once per commit for minutes, and a listener kept per wait grew its memory by each one.
 */
function untilAborted(wait: Promise<unknown>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    void wait.then(done, done);
  });
}

export class ShardSubscriptions {
  private readonly subscriptionLifetimeMs: number;
  private readonly subscriptionHeartbeatMs: number;

  constructor(
    private readonly context: EngineContext,
    private readonly consumers: StreamConsumers,
    private readonly reads: RecordReads,
    options: EngineOptions,
  ) {
    this.subscriptionLifetimeMs = options.subscriptionLifetimeMs ?? SUBSCRIPTION_LIFETIME_MS;
    this.subscriptionHeartbeatMs = options.subscriptionHeartbeatMs ?? SUBSCRIPTION_HEARTBEAT_MS;
  }

  async subscribeToShard(input: K.SubscribeToShardInput): Promise<ShardSubscription> {
    this.context.assertOpen();
    validateInput('SubscribeToShard', input);
    const ref = this.consumers.consumerByArn(input.ConsumerARN);
    if (ref.consumer.status !== 'ACTIVE') {
      throw fail.inUse(
        `Consumer ${ref.arn} is not ACTIVE, instead in state ${ref.consumer.status}.`,
      );
    }
    const position = input.StartingPosition;
    const needsSequence =
      position.Type === 'AT_SEQUENCE_NUMBER' || position.Type === 'AFTER_SEQUENCE_NUMBER';
    if (needsSequence !== (position.SequenceNumber !== undefined)) {
      throw fail.invalid(
        'Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingPosition.SequenceNumber ' +
          'or (2) TRIM_HORIZON, LATEST or AT_TIMESTAMP and no StartingPosition.SequenceNumber. Request specified ' +
          `${position.Type} and ${needsSequence ? 'no' : 'also a'} StartingPosition.SequenceNumber.`,
      );
    }
    const { stream, shard, ordinal } = this.reads.startingPosition({
      StreamName: ref.stream.name,
      ShardId: input.ShardId,
      ShardIteratorType: position.Type,
      ...(position.SequenceNumber !== undefined
        ? { StartingSequenceNumber: position.SequenceNumber }
        : {}),
      ...(position.Timestamp !== undefined ? { Timestamp: position.Timestamp } : {}),
    });
    dryRun(input);
    const key = `${ref.arn}\n${shard.shardId}`;
    const throttle = this.subscriptionThrottleOf(key);
    if (throttle && !throttle.admitCall(this.context.clock())) {
      throw fail.limit(
        `Rate exceeded for consumer ${ref.arn} on shard ${shard.shardId} in stream ` +
          `${stream.name} under account ${this.context.accountId}: at most ` +
          `${SUBSCRIBE_TO_SHARD_CALLS_PER_SEC} SubscribeToShard call per second per consumer ` +
          'and shard.',
      );
    }
    const current = this.context.subscriptions.get(key);
    const startedMs = performance.now();
    if (current && startedMs - current.startedMs < SUBSCRIPTION_TAKEOVER_MS) {
      throw fail.inUse(
        `Consumer ${ref.arn} already has a subscription to shard ${shard.shardId} that began less than ` +
          `${SUBSCRIPTION_TAKEOVER_MS / 1000} s ago: one subscription per consumer and shard at a time.`,
      );
    }
    // An older one is taken over: it ends, and this one holds the shard.
    current?.controller.abort();
    const entry = { startedMs, controller: new AbortController() };
    this.context.subscriptions.set(key, entry);
    const release = () => {
      clearTimeout(lifetime);
      entry.controller.abort();
      if (this.context.subscriptions.get(key) === entry) this.context.subscriptions.delete(key);
    };
    // The lifetime ends it even while its client reads nothing (the events wait on the client).
    const lifetime = setTimeout(release, this.subscriptionLifetimeMs);
    lifetime.unref();
    entry.controller.signal.addEventListener('abort', release, { once: true });
    const signal = entry.controller.signal;
    const events = this.subscriptionEvents(ref, stream, shard, ordinal, signal, release, throttle);
    return { events, close: release, signal };
  }

  private async *subscriptionEvents(
    ref: ConsumerRef,
    stream: StreamState,
    shard: ShardState,
    start: number,
    signal: AbortSignal,
    release: () => void,
    throttle: SubscriptionThrottle | undefined,
  ): AsyncGenerator<K.SubscribeToShardEvent> {
    const deadline = performance.now() + this.subscriptionLifetimeMs;
    let ordinal = start;
    let lastSentAt = -Infinity;
    let lastArrivalMs = 0;
    try {
      if (start > 0) {
        // The record before the start names the continuation until a record is passed.
        const prior = this.reads.readBatches(stream.name, shard.shardId, start - 1, 1).batches[0];
        if (prior && prior.baseOrdinal <= start - 1) lastArrivalMs = prior.arrivalMs;
      }
      for (;;) {
        if (this.context.closed) return;
        // Deregistered (or its stream deleted) meanwhile: the stream says so and ends.
        if (!stream.record.consumers?.includes(ref.consumer) || ref.consumer.status !== 'ACTIVE') {
          throw this.consumers.consumerNotFound(ref.arn, stream.name);
        }
        const now = performance.now();
        if (signal.aborted || now >= deadline) return;
        const read = this.reads.readBatches(
          stream.name,
          shard.shardId,
          ordinal,
          SUBSCRIPTION_EVENT_BYTES_MAX,
        );
        ordinal = Math.max(ordinal, read.from);
        const records: K.KinesisRecord[] = [];
        for (const batch of read.batches) {
          const before = records.length;
          batchRecords(shard, batch, ordinal, records);
          if (records.length > before) lastArrivalMs = batch.arrivalMs;
          ordinal = Math.max(ordinal, batch.baseOrdinal + batch.recordCount);
        }
        if (throttle && records.length > 0 && !(await this.paced(throttle, records, signal))) {
          // Ended while it waited: the loop's first checks say why (a deregistered consumer
          // ends the stream with its error, as it would have outside the wait).
          continue;
        }
        const atEnd = read.end !== undefined && ordinal >= read.end;
        if (records.length > 0 || atEnd || now - lastSentAt >= this.subscriptionHeartbeatMs) {
          lastSentAt = now;
          const watermark = shard.index.nextOrdinal();
          const behind =
            ordinal >= watermark || records.length === 0
              ? 0
              : Math.max(0, this.context.clock() - lastArrivalMs);
          if (atEnd) {
            yield {
              Records: records,
              MillisBehindLatest: 0,
              ChildShards: this.reads.childShards(stream, shard),
            };
            return;
          }
          // Before any record, the shard's StartingSequenceNumber: below every record's number.
          const continuation =
            ordinal === 0
              ? shard.startingSequenceNumber()
              : shard.sequenceNumber(ordinal - 1, lastArrivalMs || this.context.clock());
          yield {
            Records: records,
            ContinuationSequenceNumber: continuation,
            MillisBehindLatest: behind,
          };
          continue;
        }
        const wait = Math.min(this.subscriptionHeartbeatMs - (now - lastSentAt), deadline - now);
        await untilAborted(
          this.reads.waitForRecords(stream.name, shard.shardId, ordinal, wait),
          signal,
        );
      }
    } finally {
      release();
    }
  }

  /**
   * Limits mode: waits until the consumer's allowance on the shard covers these records, then
   * charges them. False when the subscription ended meanwhile (its records are not sent; the
   * client continues from the last continuation it was given).
   */
  private async paced(
    throttle: SubscriptionThrottle,
    records: K.KinesisRecord[],
    signal: AbortSignal,
  ): Promise<boolean> {
    let bytes = 0;
    for (const record of records) {
      bytes += record.Data.length + Buffer.byteLength(record.PartitionKey ?? '');
    }
    const wait = throttle.delayMs(bytes, performance.now());
    if (wait > 0) {
      try {
        await delay(wait, undefined, { signal });
      } catch {
        return false;
      }
    }
    if (signal.aborted || this.context.closed) return false;
    throttle.chargeBytes(bytes);
    return true;
  }

  /** Limits mode: the quotas of a consumer on a shard (`<consumer ARN>\n<shard id>`). */
  private subscriptionThrottleOf(key: string): SubscriptionThrottle | undefined {
    if (!this.context.subscriptionThrottles) return undefined;
    let throttle = this.context.subscriptionThrottles.get(key);
    if (!throttle) {
      throttle = new SubscriptionThrottle(this.context.clock(), performance.now());
      this.context.subscriptionThrottles.set(key, throttle);
    }
    return throttle;
  }
}
