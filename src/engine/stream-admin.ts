/**
 * Streams as a whole: CreateStream (CREATING, then ACTIVE), DeleteStream (DELETING, then gone with
 * its files), DescribeStream, DescribeStreamSummary, ListStreams and ListShards (with its shard
 * filters and tokens).
 */
import { fail } from '../errors.js';
import {
  LIST_SHARDS_RETURNED_MAX,
  LIST_STREAMS_RETURNED_MAX,
  DESCRIBE_STREAM_RETURNED_MAX,
  ON_DEMAND_INITIAL_SHARD_COUNT,
  RECORD_SIZE_DEFAULT_KIB,
  RETENTION_HOURS_DEFAULT,
  STREAM_REMOVAL_RETRY_MS_MAX,
  STREAM_REMOVAL_RETRY_MS_MIN,
  TAGS_PER_STREAM_MAX,
  STREAMS_CREATING_MAX,
} from '../limits.js';
import { evenHashRanges } from '../kinesis/hash-key.js';
import type * as K from '../kinesis/shapes.js';
import { checkTags, validateInput } from '../kinesis/validation.js';
import type { ShardDescriptor } from '../storage/worker-protocol.js';
import type { ShardRecord, StreamRecord } from './catalog.js';
import {
  type ShardState,
  type StreamState,
  canonicalShardId,
  shardIdOf,
  streamDir,
} from './stream-state.js';
import { type EngineContext, MS_PER_HOUR } from './engine-context.js';
import type { AccountSettings } from './account-settings.js';
import { type StreamSettings, autoNotOnDemand } from './stream-settings.js';

/**
 * Where a listing starts after (ExclusiveStartShardId, ShardFilter.ShardId): the canonical id of
 * the shard the id names by number, or the id as given when it names none.
 */
function exclusiveStart(shardId: string | undefined): string | undefined {
  return shardId === undefined ? undefined : (canonicalShardId(shardId) ?? shardId);
}

export class StreamAdmin {
  constructor(
    private readonly context: EngineContext,
    private readonly account: AccountSettings,
    private readonly settings: StreamSettings,
  ) {}

  async createStream(input: K.CreateStreamInput): Promise<Record<string, never>> {
    this.context.assertOpen();
    validateInput('CreateStream', input);
    const name = input.StreamName;
    if (this.context.streams.has(name)) {
      throw fail.inUse(`Stream ${name} under account ${this.context.accountId} already exists.`);
    }
    const mode: K.StreamMode =
      input.StreamModeDetails?.StreamMode ??
      (input.ShardCount === undefined ? 'ON_DEMAND' : 'PROVISIONED');
    if (mode === 'PROVISIONED' && input.ShardCount === undefined) {
      throw fail.invalid('ShardCount is required for PROVISIONED streams.');
    }
    if (mode === 'ON_DEMAND' && input.ShardCount !== undefined) {
      throw fail.invalid('ShardCount cannot be specified for ON_DEMAND streams.');
    }
    // Kinesis refuses AUTO for a provisioned stream with InvalidArgumentException.
    const auto = input.RecordDistributionStrategy === 'AUTO';
    if (auto && mode === 'PROVISIONED') throw autoNotOnDemand();
    if (mode === 'ON_DEMAND') this.account.checkOnDemandLimit();
    // Streams CREATING for the transition: with none (0), a stream is CREATING only while its
    // shards open, which no Kinesis client can see, and is not counted.
    if (this.context.throttles && this.context.transitionMs > 0) {
      let creating = 0;
      for (const stream of this.context.streams.values()) {
        if (stream.record.status === 'CREATING') creating++;
      }
      if (creating >= STREAMS_CREATING_MAX) {
        throw fail.limit(
          `Account ${this.context.accountId} already has ${creating} streams in CREATING state: ` +
            `at most ${STREAMS_CREATING_MAX} streams can be created at once.`,
        );
      }
    }
    const shardCount = input.ShardCount ?? ON_DEMAND_INITIAL_SHARD_COUNT;
    this.account.checkShardLimit(shardCount);
    if (input.Tags) checkTags(Object.keys(input.Tags), Object.values(input.Tags), true);
    if (input.Tags && Object.keys(input.Tags).length > TAGS_PER_STREAM_MAX) {
      throw fail.invalid(`A stream cannot have more than ${TAGS_PER_STREAM_MAX} tags.`);
    }
    const createdMs = this.context.clock();
    const shards: ShardRecord[] = evenHashRanges(shardCount).map((range, index) => ({
      shardId: shardIdOf(index),
      index,
      startingHashKey: range.start.toString(),
      endingHashKey: range.end.toString(),
      createdMs,
    }));
    const record: StreamRecord = {
      name,
      createdMs,
      status: 'CREATING',
      mode,
      retentionHours: RETENTION_HOURS_DEFAULT,
      maxRecordSizeKiB: input.MaxRecordSizeInKiB ?? RECORD_SIZE_DEFAULT_KIB,
      tags: { ...(input.Tags ?? {}) },
      nextShardIndex: shardCount,
      shards,
    };
    if (auto) record.recordDistributionStrategy = 'AUTO';
    const stream = this.context.buildStream(record);
    this.context.streams.set(name, stream);
    this.context.catalog.streams.push(record);
    this.context.persist();
    try {
      await this.context.openShardsOf(stream, stream.shards);
    } catch (error) {
      // Unless the stream was deleted meanwhile (a new one may have its name now), or the engine
      // is closing (its catalog is no longer this call's to write).
      if (this.context.streams.get(name) === stream && !this.context.closed) {
        this.context.streams.delete(name);
        this.context.catalog.streams = this.context.catalog.streams.filter(
          (candidate) => candidate !== record,
        );
        this.context.persist();
      }
      throw error;
    }
    const activate = () => {
      if (this.context.streams.get(name) !== stream || record.status !== 'CREATING') return;
      record.status = 'ACTIVE';
      this.context.persist();
    };
    if (this.context.transitionMs === 0) activate();
    else this.context.later(activate);
    return {};
  }

  async deleteStream(input: K.DeleteStreamInput): Promise<Record<string, never>> {
    this.context.assertOpen();
    validateInput('DeleteStream', input);
    const stream = this.context.target(input);
    if (stream.record.status === 'DELETING') return {};
    const consumers = stream.record.consumers?.length ?? 0;
    if (consumers > 0 && input.EnforceConsumerDeletion !== true) {
      throw fail.inUse(
        `Stream ${stream.name} under account ${this.context.accountId} has ${consumers} registered consumer(s): ` +
          'deregister them first, or set EnforceConsumerDeletion to delete them with the stream.',
      );
    }
    stream.record.status = 'DELETING';
    for (const consumer of stream.record.consumers ?? []) consumer.status = 'DELETING';
    this.context.endSubscriptions(`${stream.arn}/consumer/`);
    this.context.persist();
    const remove = async () => {
      await stream.opened;
      const byWorker = new Map<number, ShardDescriptor[]>();
      for (const shard of stream.shards) {
        byWorker.set(shard.worker, [...(byWorker.get(shard.worker) ?? []), shard.descriptor]);
      }
      await Promise.all(
        [...byWorker].map(([worker, shards]) =>
          this.context.pool.run(worker, { kind: 'close', shards, removeDirs: [], discard: true }),
        ),
      );
      const removeDirs = [streamDir(this.context.dataDir, stream.name)];
      await this.context.pool.run(0, { kind: 'close', shards: [], removeDirs });
      for (const shard of stream.shards) shard.reader.close();
      this.context.streams.delete(stream.name);
      this.context.catalog.streams = this.context.catalog.streams.filter(
        (record) => record !== stream.record,
      );
      this.context.persist();
    };
    // DeleteStream has answered once the stream is DELETING; a removal that fails is tried again
    // until it is done (or the engine closes: opening the directory again completes it).
    const removeUntilDone = async (retryMs: number): Promise<void> => {
      try {
        await remove();
      } catch (error) {
        if (this.context.closed) return;
        console.error(
          `runnel: removing stream ${stream.name} failed (${(error as Error).message}); ` +
            `trying again in ${retryMs} ms`,
        );
        const next = Math.min(2 * retryMs, STREAM_REMOVAL_RETRY_MS_MAX);
        this.context.later(() => removeUntilDone(next), retryMs);
      }
    };
    if (this.context.transitionMs === 0) await removeUntilDone(STREAM_REMOVAL_RETRY_MS_MIN);
    else this.context.later(() => removeUntilDone(STREAM_REMOVAL_RETRY_MS_MIN));
    return {};
  }

  async describeStream(input: K.DescribeStreamInput): Promise<K.DescribeStreamOutput> {
    this.context.assertOpen();
    validateInput('DescribeStream', input);
    const stream = this.context.target(input);
    const limit = Math.min(
      input.Limit ?? DESCRIBE_STREAM_RETURNED_MAX,
      DESCRIBE_STREAM_RETURNED_MAX,
    );
    const all = this.listedShards(stream);
    const after = exclusiveStart(input.ExclusiveStartShardId);
    const candidates = after === undefined ? all : all.filter((shard) => shard.shardId > after);
    const page = candidates.slice(0, limit);
    return {
      StreamDescription: {
        ...this.streamFields(stream),
        Shards: page.map((shard) => shard.describe()),
        HasMoreShards: candidates.length > page.length,
      },
    };
  }

  async describeStreamSummary(input: K.StreamTarget): Promise<K.DescribeStreamSummaryOutput> {
    this.context.assertOpen();
    validateInput('DescribeStreamSummary', input);
    const stream = this.context.target(input);
    return {
      StreamDescriptionSummary: {
        ...this.streamFields(stream),
        OpenShardCount: stream.open.length,
        ConsumerCount: stream.record.consumers?.length ?? 0,
        ...this.settings.warmThroughputOf(stream),
        MaxRecordSizeInKiB: stream.record.maxRecordSizeKiB,
        ...this.strategyReported(stream),
      },
    };
  }

  /**
   * DescribeStreamSummary's RecordDistributionStrategy: the model documents the member for
   * on-demand streams only, the ones the setting applies to.
   */
  private strategyReported(
    stream: StreamState,
  ): Pick<K.StreamDescriptionSummary, 'RecordDistributionStrategy'> {
    if (stream.record.mode !== 'ON_DEMAND') return {};
    return { RecordDistributionStrategy: stream.strategy };
  }

  /** The members DescribeStream and DescribeStreamSummary share. */
  private streamFields(stream: StreamState) {
    const { record } = stream;
    return {
      StreamName: record.name,
      StreamARN: stream.arn,
      StreamStatus: record.status,
      StreamModeDetails: { StreamMode: record.mode },
      RetentionPeriodHours: record.retentionHours,
      StreamCreationTimestamp: new Date(record.createdMs),
      EnhancedMonitoring: [{ ShardLevelMetrics: [...(record.shardLevelMetrics ?? [])] }],
      EncryptionType: record.encryption ? ('KMS' as const) : ('NONE' as const),
      ...(record.encryption ? { KeyId: record.encryption.keyId } : {}),
    };
  }

  async listStreams(input: K.ListStreamsInput = {}): Promise<K.ListStreamsOutput> {
    this.context.assertOpen();
    validateInput('ListStreams', input);
    let after = input.ExclusiveStartStreamName;
    if (input.NextToken !== undefined) {
      const token = this.context.decodeToken<{ after: string }>(input.NextToken, 'list-streams');
      after = token.after;
    }
    const limit = Math.min(input.Limit ?? LIST_STREAMS_RETURNED_MAX, LIST_STREAMS_RETURNED_MAX);
    const names = [...this.context.streams.keys()].sort();
    const candidates = after === undefined ? names : names.filter((name) => name > after!);
    const page = candidates.slice(0, limit);
    const hasMore = candidates.length > page.length;
    const output: K.ListStreamsOutput = {
      StreamNames: page,
      HasMoreStreams: hasMore,
      StreamSummaries: page.map((name) => {
        const stream = this.context.streams.get(name)!;
        return {
          StreamName: name,
          StreamARN: stream.arn,
          StreamStatus: stream.record.status,
          StreamModeDetails: { StreamMode: stream.record.mode },
          StreamCreationTimestamp: new Date(stream.record.createdMs),
        };
      }),
    };
    if (hasMore)
      output.NextToken = this.context.encodeToken('list-streams', {
        after: page[page.length - 1]!,
      });
    return output;
  }

  async listShards(input: K.ListShardsInput): Promise<K.ListShardsOutput> {
    this.context.assertOpen();
    validateInput('ListShards', input);
    let streamName = input.StreamName;
    let after = exclusiveStart(input.ExclusiveStartShardId);
    let filter = input.ShardFilter;
    if (input.NextToken !== undefined) {
      if (input.StreamName !== undefined || input.StreamARN !== undefined) {
        throw fail.invalid('NextToken and StreamName cannot be provided together.');
      }
      if (input.ExclusiveStartShardId !== undefined) {
        throw fail.invalid('NextToken and ExclusiveStartShardId cannot be provided together.');
      }
      if (input.StreamCreationTimestamp !== undefined) {
        throw fail.invalid('NextToken and StreamCreationTimestamp cannot be provided together.');
      }
      type Token = { stream: string; after: string; filter?: K.ShardFilter & { ms?: number } };
      const token = this.context.decodeToken<Token>(input.NextToken, 'list-shards');
      streamName = token.stream;
      after = token.after;
      filter = token.filter && {
        Type: token.filter.Type,
        ...(token.filter.ShardId !== undefined ? { ShardId: token.filter.ShardId } : {}),
        ...(token.filter.ms !== undefined ? { Timestamp: new Date(token.filter.ms) } : {}),
      };
    } else if (input.StreamName === undefined && input.StreamARN === undefined) {
      throw fail.invalid('Either NextToken or StreamName should be provided.');
    }
    const stream = this.context.target({
      StreamName: streamName,
      StreamARN: input.NextToken ? undefined : input.StreamARN,
    });
    this.context.requireCreatedAt(stream, input.StreamCreationTimestamp);
    const limit = Math.min(input.MaxResults ?? LIST_SHARDS_RETURNED_MAX, LIST_SHARDS_RETURNED_MAX);
    let shards = this.filterShards(stream, filter);
    if (after !== undefined) shards = shards.filter((shard) => shard.shardId > after!);
    const page = shards.slice(0, limit);
    const output: K.ListShardsOutput = { Shards: page.map((shard) => shard.describe()) };
    if (shards.length > page.length) {
      const tokenFilter = filter && {
        Type: filter.Type,
        ShardId: filter.ShardId,
        ms: filter.Timestamp?.getTime(),
      };
      output.NextToken = this.context.encodeToken('list-shards', {
        stream: stream.name,
        after: page[page.length - 1]!.shardId,
        filter: tokenFilter,
      });
    }
    return output;
  }

  /** The oldest moment retention keeps records from. */
  private retentionCutoff(stream: StreamState): number {
    return this.context.clock() - stream.record.retentionHours * MS_PER_HOUR;
  }

  /** Shards still within retention, in shard-id order (what FROM_TRIM_HORIZON lists). */
  private listedShards(stream: StreamState): ShardState[] {
    const cutoff = this.retentionCutoff(stream);
    return stream.shards
      .filter((shard) => notClosedAt(shard, cutoff))
      .sort((a, b) => a.record.index - b.record.index);
  }

  private filterShards(stream: StreamState, filter: K.ShardFilter | undefined): ShardState[] {
    const listed = this.listedShards(stream);
    switch (filter?.Type) {
      case undefined:
      case 'FROM_TRIM_HORIZON':
        return listed;
      case 'AT_TRIM_HORIZON': {
        // AT_TIMESTAMP of the trim horizon: its descendants, made since, are not listed (a
        // consumer starting there reaches them through their parents, as KCL does). A listed
        // shard none of whose parents is listed is the oldest of its line that is left, so it
        // is listed too: after retention was raised, the horizon can lie before shards whose
        // parents expired under the old one.
        const horizon = this.retentionCutoff(stream);
        const ids = new Set(listed.map((shard) => shard.shardId));
        const isListed = (id: string | undefined) => id !== undefined && ids.has(id);
        return listed.filter(
          (shard) =>
            openAt(stream, shard, horizon) ||
            (!isListed(shard.record.parentShardId) &&
              !isListed(shard.record.adjacentParentShardId)),
        );
      }
      case 'AT_LATEST':
        return listed.filter((shard) => shard.isOpen);
      case 'AFTER_SHARD_ID': {
        const after = exclusiveStart(filter.ShardId);
        if (after === undefined)
          throw fail.invalid('ShardId is required for the AFTER_SHARD_ID filter.');
        return listed.filter((shard) => shard.shardId > after);
      }
      case 'AT_TIMESTAMP':
      case 'FROM_TIMESTAMP': {
        if (filter.Timestamp === undefined) {
          throw fail.invalid(`Timestamp is required for the ${filter.Type} filter.`);
        }
        const ms = filter.Timestamp.getTime();
        return listed.filter((shard) =>
          filter.Type === 'FROM_TIMESTAMP' ? notClosedAt(shard, ms) : openAt(stream, shard, ms),
        );
      }
    }
  }
}

/** Whether a shard was not yet closed at `ms` (one closed at `ms` may hold records of `ms`). */
function notClosedAt(shard: ShardState, ms: number): boolean {
  const closedMs = shard.record.closed?.closedMs;
  return closedMs === undefined || closedMs >= ms;
}

/**
 * Whether a shard was open at `ms` (AT_TIMESTAMP): made by then and not yet closed. Before the
 * stream existed, its first shards count as open.
 */
function openAt(stream: StreamState, shard: ShardState, ms: number): boolean {
  return notClosedAt(shard, ms) && shard.record.createdMs <= Math.max(ms, stream.record.createdMs);
}
