/**
 * The account: its settings (DescribeAccountSettings, UpdateAccountSettings: the minimum
 * throughput billing commitment, which warm throughput needs) and its limits (DescribeLimits, and
 * the shard and on-demand stream limits that creating a stream, switching its mode and
 * resharding check first).
 */
import { fail } from '../errors.js';
import {
  ACCOUNT_SHARD_LIMIT,
  ON_DEMAND_STREAM_COUNT_LIMIT,
  THROUGHPUT_COMMITMENT_MS_MIN,
} from '../limits.js';
import type * as K from '../kinesis/shapes.js';
import { validateInput } from '../kinesis/validation.js';
import type { EngineContext } from './engine-context.js';

export class AccountSettings {
  constructor(private readonly context: EngineContext) {}

  async describeAccountSettings(
    _input: Record<string, never> = {},
  ): Promise<K.AccountSettingsOutput> {
    this.context.assertOpen();
    return { MinimumThroughputBillingCommitment: this.throughputCommitment(this.context.clock()) };
  }

  async updateAccountSettings(
    input: K.UpdateAccountSettingsInput,
  ): Promise<K.AccountSettingsOutput> {
    this.context.assertOpen();
    validateInput('UpdateAccountSettings', input);
    const now = this.context.clock();
    const status = this.throughputCommitment(now).Status;
    const account = (this.context.catalog.account ??= {});
    const commitment = account.minimumThroughputBillingCommitment;
    if (input.MinimumThroughputBillingCommitment.Status === 'ENABLED') {
      if (status === 'ENABLED_UNTIL_EARLIEST_ALLOWED_END') delete commitment!.endRequested;
      else if (status === 'DISABLED') {
        account.minimumThroughputBillingCommitment = {
          startedMs: now,
          earliestAllowedEndMs: now + THROUGHPUT_COMMITMENT_MS_MIN,
        };
      }
    } else if (status === 'ENABLED') {
      if (now >= commitment!.earliestAllowedEndMs) commitment!.endedMs = now;
      else commitment!.endRequested = true;
    }
    this.context.persist();
    return { MinimumThroughputBillingCommitment: this.throughputCommitment(now) };
  }

  /** The commitment as it stands at `now` (a pending end takes effect when its time comes). */
  private throughputCommitment(now: number): K.MinimumThroughputBillingCommitmentOutput {
    const commitment = this.context.catalog.account?.minimumThroughputBillingCommitment;
    if (!commitment) return { Status: 'DISABLED' };
    const StartedAt = new Date(commitment.startedMs);
    if (commitment.endedMs !== undefined) {
      return { Status: 'DISABLED', StartedAt, EndedAt: new Date(commitment.endedMs) };
    }
    const EarliestAllowedEndAt = new Date(commitment.earliestAllowedEndMs);
    if (!commitment.endRequested) return { Status: 'ENABLED', StartedAt, EarliestAllowedEndAt };
    if (now >= commitment.earliestAllowedEndMs) {
      return { Status: 'DISABLED', StartedAt, EndedAt: EarliestAllowedEndAt };
    }
    return { Status: 'ENABLED_UNTIL_EARLIEST_ALLOWED_END', StartedAt, EarliestAllowedEndAt };
  }

  /** Whether the commitment is on now (ENABLED, or ENABLED until its earliest allowed end). */
  throughputCommitted(): boolean {
    return this.throughputCommitment(this.context.clock()).Status !== 'DISABLED';
  }

  async describeLimits(_input: Record<string, never> = {}): Promise<K.DescribeLimitsOutput> {
    this.context.assertOpen();
    return {
      ShardLimit: ACCOUNT_SHARD_LIMIT,
      OpenShardCount: this.openShardCount(),
      OnDemandStreamCount: this.onDemandStreamCount(),
      OnDemandStreamCountLimit: ON_DEMAND_STREAM_COUNT_LIMIT,
    };
  }

  private openShardCount(): number {
    let count = 0;
    for (const stream of this.context.streams.values()) count += stream.open.length;
    return count;
  }

  /** LimitExceededException when `additional` more open shards would pass the account's limit. */
  checkShardLimit(additional: number): void {
    const current = this.openShardCount();
    if (current + additional <= ACCOUNT_SHARD_LIMIT) return;
    throw fail.limit(
      `This request would exceed the shard limit for the account ${this.context.accountId} in ` +
        `${this.context.region}. ` +
        `Current shard count for the account: ${current}. Limit: ${ACCOUNT_SHARD_LIMIT}. ` +
        `Number of additional shards that would have resulted from this request: ${additional}. ` +
        'Refer to the AWS Service Limits page (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) ' +
        'for current limits and how to request higher limits.',
    );
  }

  /** LimitExceededException when one more ON_DEMAND stream would pass the account's limit. */
  checkOnDemandLimit(): void {
    if (this.onDemandStreamCount() < ON_DEMAND_STREAM_COUNT_LIMIT) return;
    throw fail.limit(
      `This request would exceed the on-demand stream limit of ${ON_DEMAND_STREAM_COUNT_LIMIT}.`,
    );
  }

  private onDemandStreamCount(): number {
    let count = 0;
    for (const stream of this.context.streams.values())
      if (stream.record.mode === 'ON_DEMAND') count++;
    return count;
  }
}
