/**
 * A stream's settings past its shards and retention: its capacity mode (UpdateStreamMode), its
 * record distribution strategy (UpdateStreamRecordDistributionStrategy), its record size limit
 * (UpdateMaxRecordSize), enhanced monitoring, warm throughput, and server-side encryption. Those
 * that Kinesis applies over time leave the stream UPDATING for the stream transition
 * (`updating`).
 */
import { KinesisError, fail } from '../errors.js';
import { WARM_THROUGHPUT_MIBPS_MAX } from '../limits.js';
import type * as K from '../kinesis/shapes.js';
import { SHARD_LEVEL_METRICS } from '../kinesis/shapes.js';
import { checkStreamEncryption, validateInput } from '../kinesis/validation.js';
import type { StreamState } from './stream-state.js';
import type { EngineContext } from './engine-context.js';
import type { AccountSettings } from './account-settings.js';

/**
 * AUTO asked of a PROVISIONED stream (`name`; none yet at CreateStream): InvalidArgumentException,
 * as Kinesis answers it (the wording is Runnel's own).
 */
export function autoNotOnDemand(name?: string, account?: string): KinesisError {
  const refusal = 'RecordDistributionStrategy AUTO is only available for ON_DEMAND streams.';
  if (name === undefined) return fail.invalid(refusal);
  return fail.invalid(`${refusal} Stream ${name} under account ${account} is PROVISIONED.`);
}

export class StreamSettings {
  constructor(
    private readonly context: EngineContext,
    private readonly account: AccountSettings,
  ) {}

  async updateStreamMode(input: K.UpdateStreamModeInput): Promise<Record<string, never>> {
    this.context.assertOpen();
    validateInput('UpdateStreamMode', input);
    const stream = this.context.target({ StreamARN: input.StreamARN });
    const mode = input.StreamModeDetails.StreamMode!;
    if (input.WarmThroughputMiBps !== undefined && mode !== 'ON_DEMAND') {
      throw fail.invalid(
        `WarmThroughputMiBps can only be given when the stream mode is being updated to ON_DEMAND, ` +
          `not ${mode}.`,
      );
    }
    this.context.requireActive(stream);
    const record = stream.record;
    if (record.mode === mode) return {};
    // A provisioned stream cannot be AUTO (Kinesis refuses AUTO on one); Runnel refuses the
    // switch rather than change how records are placed unasked.
    if (mode === 'PROVISIONED' && stream.strategy === 'AUTO') {
      throw fail.invalid(
        `Stream ${stream.name} under account ${this.context.accountId} has ` +
          'RecordDistributionStrategy AUTO, which only ON_DEMAND streams support: set it to ' +
          'USER_PARTITION_KEY (UpdateStreamRecordDistributionStrategy) before switching to ' +
          'PROVISIONED.',
      );
    }
    if (mode === 'ON_DEMAND') this.account.checkOnDemandLimit();
    record.mode = mode;
    // A provisioned stream has no warm throughput (switching back starts from none).
    if (mode === 'PROVISIONED') delete record.warmThroughput;
    this.updating(stream);
    return {};
  }

  async updateStreamRecordDistributionStrategy(
    input: K.UpdateStreamRecordDistributionStrategyInput,
  ): Promise<Record<string, never>> {
    this.context.assertOpen();
    validateInput('UpdateStreamRecordDistributionStrategy', input);
    const stream = this.context.target({ StreamARN: input.StreamARN });
    const strategy = input.RecordDistributionStrategy;
    if (strategy === 'AUTO' && stream.record.mode !== 'ON_DEMAND') {
      throw autoNotOnDemand(stream.name, this.context.accountId);
    }
    this.context.requireActive(stream);
    if (strategy === 'AUTO') stream.record.recordDistributionStrategy = 'AUTO';
    else delete stream.record.recordDistributionStrategy;
    this.context.persist();
    return {};
  }

  async updateMaxRecordSize(input: K.UpdateMaxRecordSizeInput): Promise<Record<string, never>> {
    this.context.assertOpen();
    validateInput('UpdateMaxRecordSize', input);
    if (input.StreamARN === undefined || input.StreamARN === null) {
      throw fail.invalid(
        'StreamARN was not provided: UpdateMaxRecordSize names its stream by StreamARN.',
      );
    }
    const stream = this.context.target({ StreamARN: input.StreamARN });
    this.context.requireActive(stream);
    stream.record.maxRecordSizeKiB = input.MaxRecordSizeInKiB;
    this.context.persist();
    return {};
  }

  async enableEnhancedMonitoring(
    input: K.EnhancedMonitoringInput,
  ): Promise<K.EnhancedMonitoringOutput> {
    this.context.assertOpen();
    validateInput('EnableEnhancedMonitoring', input);
    return this.changeMonitoring(input, true);
  }

  async disableEnhancedMonitoring(
    input: K.EnhancedMonitoringInput,
  ): Promise<K.EnhancedMonitoringOutput> {
    this.context.assertOpen();
    validateInput('DisableEnhancedMonitoring', input);
    return this.changeMonitoring(input, false);
  }

  /**
   * The stream must be ACTIVE; the change takes effect at once, without UPDATING. Metrics are
   * listed in the model's order, each once.
   */
  private changeMonitoring(
    input: K.EnhancedMonitoringInput,
    enable: boolean,
  ): K.EnhancedMonitoringOutput {
    const stream = this.context.target(input);
    this.context.requireActive(stream);
    const record = stream.record;
    const current = record.shardLevelMetrics ?? [];
    const named = new Set<string>(
      input.ShardLevelMetrics.includes('ALL') ? SHARD_LEVEL_METRICS : input.ShardLevelMetrics,
    );
    const desired = SHARD_LEVEL_METRICS.filter((metric) =>
      enable
        ? current.includes(metric) || named.has(metric)
        : current.includes(metric) && !named.has(metric),
    );
    record.shardLevelMetrics = desired;
    this.context.persist();
    return {
      StreamName: stream.name,
      StreamARN: stream.arn,
      CurrentShardLevelMetrics: [...current],
      DesiredShardLevelMetrics: [...desired],
    };
  }

  async updateStreamWarmThroughput(
    input: K.UpdateStreamWarmThroughputInput,
  ): Promise<K.UpdateStreamWarmThroughputOutput> {
    this.context.assertOpen();
    validateInput('UpdateStreamWarmThroughput', input);
    const stream = this.context.target(input);
    const record = stream.record;
    if (record.mode !== 'ON_DEMAND') {
      throw new KinesisError(
        'ValidationException',
        `Stream ${stream.name} under account ${this.context.accountId} is in PROVISIONED mode: ` +
          'UpdateStreamWarmThroughput applies to ON_DEMAND streams only.',
      );
    }
    if (!this.account.throughputCommitted()) {
      throw fail.invalid(
        `Account ${this.context.accountId} has no minimum throughput billing commitment: warm ` +
          'throughput needs MinimumThroughputBillingCommitment ENABLED (UpdateAccountSettings).',
      );
    }
    if (input.WarmThroughputMiBps > WARM_THROUGHPUT_MIBPS_MAX) {
      throw fail.limit(
        `Requested warm throughput (${input.WarmThroughputMiBps} MiBps) for stream ` +
          `${stream.name} under account ${this.context.accountId} exceeds the maximum of ` +
          `${WARM_THROUGHPUT_MIBPS_MAX} MiBps.`,
      );
    }
    this.context.requireActive(stream);
    const warm = (record.warmThroughput ??= { targetMiBps: 0, currentMiBps: 0 });
    warm.targetMiBps = input.WarmThroughputMiBps;
    this.updating(stream, () => {
      const current = record.warmThroughput;
      if (current) current.currentMiBps = current.targetMiBps;
    });
    return {
      StreamARN: stream.arn,
      StreamName: stream.name,
      WarmThroughput: { TargetMiBps: warm.targetMiBps, CurrentMiBps: warm.currentMiBps },
    };
  }

  /**
   * DescribeStreamSummary's WarmThroughput: present for an ON_DEMAND stream whose warm throughput
   * was set, while the account's commitment is on (the API documents it only then).
   */
  warmThroughputOf(stream: StreamState): { WarmThroughput?: K.WarmThroughputObject } {
    const warm = stream.record.warmThroughput;
    if (!warm || stream.record.mode !== 'ON_DEMAND' || !this.account.throughputCommitted())
      return {};
    return { WarmThroughput: { TargetMiBps: warm.targetMiBps, CurrentMiBps: warm.currentMiBps } };
  }

  async startStreamEncryption(input: K.StreamEncryptionInput): Promise<Record<string, never>> {
    this.context.assertOpen();
    validateInput('StartStreamEncryption', input);
    return this.changeEncryption(input, input.KeyId);
  }

  async stopStreamEncryption(input: K.StreamEncryptionInput): Promise<Record<string, never>> {
    this.context.assertOpen();
    validateInput('StopStreamEncryption', input);
    return this.changeEncryption(input, undefined);
  }

  /** Sets the stream's encryption to KMS with `keyId`, or (undefined) to NONE. */
  private changeEncryption(
    input: K.StreamEncryptionInput,
    keyId: string | undefined,
  ): Record<string, never> {
    const stream = this.context.target(input);
    checkStreamEncryption(input.EncryptionType, input.KeyId);
    this.context.requireActive(stream);
    const record = stream.record;
    if (record.encryption?.keyId === keyId) return {};
    if (keyId === undefined) delete record.encryption;
    else record.encryption = { keyId };
    const encryption: K.EncryptionType = keyId === undefined ? 'NONE' : 'KMS';
    this.updating(stream, () => {
      stream.recordEncryption = encryption;
    });
    return {};
  }

  /**
   * A change that leaves the stream UPDATING for the stream transition, already applied to its
   * record: saved now, with the stream ACTIVE again at once when streamTransitionMs is 0. A
   * restart during the transition completes it (restore makes every stream ACTIVE).
   * `completed` runs when the stream is ACTIVE again (what takes effect only then), before the
   * save that records it.
   */
  private updating(stream: StreamState, completed?: () => void): void {
    const record = stream.record;
    if (this.context.transitionMs === 0) {
      completed?.();
      this.context.persist();
      return;
    }
    record.status = 'UPDATING';
    this.context.persist();
    this.context.later(() => {
      if (this.context.streams.get(stream.name) !== stream || record.status !== 'UPDATING') return;
      record.status = 'ACTIVE';
      completed?.();
      this.context.persist();
    });
  }
}
