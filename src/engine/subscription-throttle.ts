/**
 * Limits mode: enhanced fan-out's quotas for one consumer on one shard, kept across that
 * consumer's successive subscriptions to the shard (a new subscription does not start with a
 * fresh allowance):
 *
 * - calls: SUBSCRIBE_TO_SHARD_CALLS_PER_SEC SubscribeToShard calls; one more is refused;
 * - bytes: SUBSCRIPTION_BYTES_PER_SEC of records (data plus partition key). Nothing is refused:
 *   the subscription waits before each event until the bucket holds the event's bytes (or a
 *   whole second's worth, for an event larger than that, which then overdraws it), so over any
 *   span of t seconds it delivers at most one second's allowance plus t seconds' worth.
 *
 * The call bucket runs on the engine's clock, like the shard throttles, so tests can hold it
 * still; the byte bucket runs on the monotonic clock, because its waits are real waits.
 */
import { SUBSCRIBE_TO_SHARD_CALLS_PER_SEC, SUBSCRIPTION_BYTES_PER_SEC } from '../limits.js';
import { TokenBucket } from './token-bucket.js';

export class SubscriptionThrottle {
  private readonly calls: TokenBucket;
  private readonly bytes: TokenBucket;

  constructor(nowMs: number, monotonicMs: number) {
    this.calls = new TokenBucket(SUBSCRIBE_TO_SHARD_CALLS_PER_SEC, nowMs);
    this.bytes = new TokenBucket(SUBSCRIPTION_BYTES_PER_SEC, monotonicMs);
  }

  /** Admits one SubscribeToShard call, unless this consumer had its share on the shard. */
  admitCall(nowMs: number): boolean {
    if (this.calls.refill(nowMs) < 1) return false;
    this.calls.take(1);
    return true;
  }

  /** How long an event of `bytes` must wait before it is sent, in ms (0: it goes now). */
  delayMs(bytes: number, monotonicMs: number): number {
    if (bytes === 0) return 0;
    return this.bytes.msUntil(Math.min(bytes, this.bytes.perSec), monotonicMs);
  }

  /** Charges an event's bytes as it is sent; may overdraw. */
  chargeBytes(bytes: number): void {
    this.bytes.take(bytes);
  }
}
