/**
 * Goal: the stream-settings operations work through the real `@aws-sdk/client-kinesis` as the
 * reference (kinesis-api.md §2.1, §2.5, §2.8, §3.4) describes them, with every refusal a typed
 * Kinesis error with its full message:
 *  - UpdateStreamMode: PROVISIONED ⇄ ON_DEMAND, UPDATING for the transition, shards kept,
 *    resharding refused on ON_DEMAND and allowed again after switching back, the on-demand
 *    stream limit, WarmThroughputMiBps only towards ON_DEMAND;
 *  - UpdateMaxRecordSize: a record above the old limit refused before and stored after;
 *  - Enable/DisableEnhancedMonitoring: current and desired metrics, ALL, Describe* reporting;
 *  - TagResource / UntagResource / ListTagsForResource: the stream's tags, shared with
 *    AddTagsToStream / ListTagsForStream, and ResourceNotFoundException for any other ARN;
 *  - every setting survives a restart on the same data directory.
 * Servers are in-process `startServer` on 127.0.0.1 with free ports, temp data dirs and real
 * worker threads. The main one has a TRANSITION_MS stream transition, so UPDATING can be seen.
 */

import {
  AddTagsToStreamCommand,
  CreateStreamCommand,
  DescribeLimitsCommand,
  DescribeStreamCommand,
  DescribeStreamSummaryCommand,
  DisableEnhancedMonitoringCommand,
  EnableEnhancedMonitoringCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListStreamsCommand,
  ListTagsForResourceCommand,
  ListTagsForStreamCommand,
  MergeShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  RemoveTagsFromStreamCommand,
  SplitShardCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateMaxRecordSizeCommand,
  UpdateShardCountCommand,
  UpdateStreamModeCommand,
  type MetricsName,
  type Shard,
} from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';

import { ON_DEMAND_STREAM_COUNT_LIMIT } from '../../src/limits.js';
import {
  ACCOUNT,
  REGION,
  createActive,
  dataDirForBlock,
  failure,
  listShards,
  serverForBlock,
  streamArn as arnOf,
  waitActive,
  withServerOn,
} from '../helpers/sdk.js';

/** LimitExceededException is retried by the SDK as throttling: one attempt shows each answer. */
const ONE_ATTEMPT = { maxAttempts: 1 };

/** How long UPDATING (and CREATING, DELETING) last on the main server. */
const TRANSITION_MS = 300;

async function summary(client: KinesisClient, name: string) {
  return (await client.send(new DescribeStreamSummaryCommand({ StreamName: name })))
    .StreamDescriptionSummary!;
}

const notActive = (name: string, state: string) =>
  `Stream ${name} under account ${ACCOUNT} not ACTIVE, instead in state ${state}`;
const notFound = (name: string) => `Stream ${name} under account ${ACCOUNT} not found.`;

describe('stream settings through the SDK', () => {
  const runnel = serverForBlock({
    dataDirPrefix: 'runnel-settings-',
    workers: 2,
    engineOptions: { streamTransitionMs: TRANSITION_MS },
    client: ONE_ATTEMPT,
  });

  describe('UpdateStreamMode', () => {
    const setMode = (
      name: string,
      StreamMode: 'PROVISIONED' | 'ON_DEMAND',
      WarmThroughputMiBps?: number,
    ) =>
      runnel.client.send(
        new UpdateStreamModeCommand({
          StreamARN: arnOf(name),
          StreamModeDetails: { StreamMode },
          ...(WarmThroughputMiBps === undefined ? {} : { WarmThroughputMiBps }),
        }),
      );
    const reshards = (name: string, shards: Shard[]) => {
      const [first, second] = shards as [Shard, Shard];
      const start = BigInt(first.HashKeyRange!.StartingHashKey!);
      const end = BigInt(first.HashKeyRange!.EndingHashKey!);
      return [
        () =>
          runnel.client.send(
            new SplitShardCommand({
              StreamName: name,
              ShardToSplit: first.ShardId,
              NewStartingHashKey: String((start + end) / 2n),
            }),
          ),
        () =>
          runnel.client.send(
            new MergeShardsCommand({
              StreamName: name,
              ShardToMerge: first.ShardId,
              AdjacentShardToMerge: second.ShardId,
            }),
          ),
        () =>
          runnel.client.send(
            new UpdateShardCountCommand({
              StreamName: name,
              TargetShardCount: 3,
              ScalingType: 'UNIFORM_SCALING',
            }),
          ),
      ] as const;
    };

    it('switches PROVISIONED to ON_DEMAND and back: UPDATING, then ACTIVE, with the same shards', async () => {
      await createActive(runnel.client, 'modal', 2);
      const shards = await listShards(runnel.client, 'modal');
      const onDemandBefore = (await runnel.client.send(new DescribeLimitsCommand({})))
        .OnDemandStreamCount!;

      await setMode('modal', 'ON_DEMAND');
      const updating = await summary(runnel.client, 'modal');
      expect(updating.StreamStatus).toBe('UPDATING');
      expect(updating.StreamModeDetails).toEqual({ StreamMode: 'ON_DEMAND' });
      // Only an ACTIVE stream changes mode; puts go on while it is UPDATING.
      const busy = await failure(setMode('modal', 'PROVISIONED'));
      expect(busy.name).toBe('ResourceInUseException');
      expect(busy.message).toBe(notActive('modal', 'UPDATING'));
      const put = await runnel.client.send(
        new PutRecordCommand({ StreamName: 'modal', PartitionKey: 'k', Data: new Uint8Array([1]) }),
      );
      expect(put.SequenceNumber).toMatch(/^\d+$/);

      await waitActive(runnel.client, 'modal');
      const described = (
        await runnel.client.send(new DescribeStreamCommand({ StreamName: 'modal' }))
      ).StreamDescription!;
      expect(described.StreamModeDetails).toEqual({ StreamMode: 'ON_DEMAND' });
      expect(described.Shards).toEqual(shards);
      const listed = (await runnel.client.send(new ListStreamsCommand({}))).StreamSummaries!;
      expect(listed.find((entry) => entry.StreamName === 'modal')!.StreamModeDetails).toEqual({
        StreamMode: 'ON_DEMAND',
      });
      expect((await runnel.client.send(new DescribeLimitsCommand({}))).OnDemandStreamCount).toBe(
        onDemandBefore + 1,
      );

      // Resharding applies to PROVISIONED streams only.
      for (const reshard of reshards('modal', shards)) {
        const refused = await failure(reshard());
        expect(refused.name).toBe('ValidationException');
        expect(refused.message).toContain('is in ON_DEMAND mode');
      }
      expect(await listShards(runnel.client, 'modal')).toEqual(shards);

      await setMode('modal', 'PROVISIONED');
      expect((await summary(runnel.client, 'modal')).StreamStatus).toBe('UPDATING');
      await waitActive(runnel.client, 'modal');
      expect((await summary(runnel.client, 'modal')).StreamModeDetails).toEqual({
        StreamMode: 'PROVISIONED',
      });
      expect((await runnel.client.send(new DescribeLimitsCommand({}))).OnDemandStreamCount).toBe(
        onDemandBefore,
      );
      expect(await listShards(runnel.client, 'modal')).toEqual(shards);
      const [split, , scale] = reshards('modal', shards);
      await split();
      await waitActive(runnel.client, 'modal');
      const afterSplit = (await listShards(runnel.client, 'modal')).filter(
        (shard) => !shard.SequenceNumberRange!.EndingSequenceNumber,
      );
      expect(afterSplit).toHaveLength(3);
      // The two children of shard 0 merge back; then the stream scales to 3 open shards again.
      await runnel.client.send(
        new MergeShardsCommand({
          StreamName: 'modal',
          ShardToMerge: afterSplit[1]!.ShardId,
          AdjacentShardToMerge: afterSplit[2]!.ShardId,
        }),
      );
      await waitActive(runnel.client, 'modal');
      await scale();
      await waitActive(runnel.client, 'modal');
      expect((await summary(runnel.client, 'modal')).OpenShardCount).toBe(3);
    });

    it('accepts the mode a stream already has as a no-op: it stays ACTIVE', async () => {
      await createActive(runnel.client, 'steady', 1);
      await setMode('steady', 'PROVISIONED');
      const provisioned = await summary(runnel.client, 'steady');
      expect(provisioned.StreamStatus).toBe('ACTIVE');
      expect(provisioned.StreamModeDetails).toEqual({ StreamMode: 'PROVISIONED' });
      await createActive(runnel.client, 'steady-od');
      await setMode('steady-od', 'ON_DEMAND', 10);
      const onDemand = await summary(runnel.client, 'steady-od');
      expect(onDemand.StreamStatus).toBe('ACTIVE');
      expect(onDemand.StreamModeDetails).toEqual({ StreamMode: 'ON_DEMAND' });
    });

    it('takes WarmThroughputMiBps only towards ON_DEMAND', async () => {
      await createActive(runnel.client, 'warm', 1);
      const refused = await failure(setMode('warm', 'PROVISIONED', 10));
      expect(refused.name).toBe('InvalidArgumentException');
      expect(refused.message).toBe(
        'WarmThroughputMiBps can only be given when the stream mode is being updated to ON_DEMAND, not PROVISIONED.',
      );
      await setMode('warm', 'ON_DEMAND', 10);
      await waitActive(runnel.client, 'warm');
      expect((await summary(runnel.client, 'warm')).StreamModeDetails).toEqual({
        StreamMode: 'ON_DEMAND',
      });
      const negative = await failure(setMode('warm', 'ON_DEMAND', -1));
      expect(negative.name).toBe('ValidationException');
      expect(negative.message).toBe(
        "1 validation error detected: Value '-1' at 'warmThroughputMiBps' failed to satisfy constraint: " +
          'Member must have value greater than or equal to 0',
      );
    });

    it('refuses a stream that is not ACTIVE, an unknown one, and a mode outside the model', async () => {
      await runnel.client.send(new CreateStreamCommand({ StreamName: 'young', ShardCount: 1 }));
      const creating = await failure(setMode('young', 'ON_DEMAND'));
      expect(creating.name).toBe('ResourceInUseException');
      expect(creating.message).toBe(notActive('young', 'CREATING'));
      await waitActive(runnel.client, 'young');
      expect((await summary(runnel.client, 'young')).StreamModeDetails).toEqual({
        StreamMode: 'PROVISIONED',
      });

      const unknown = await failure(setMode('nosuch', 'ON_DEMAND'));
      expect(unknown.name).toBe('ResourceNotFoundException');
      expect(unknown.message).toBe(notFound('nosuch'));
      const elsewhere = `arn:aws:kinesis:eu-west-1:${ACCOUNT}:stream/young`;
      const foreign = await failure(
        runnel.client.send(
          new UpdateStreamModeCommand({
            StreamARN: elsewhere,
            StreamModeDetails: { StreamMode: 'ON_DEMAND' },
          }),
        ),
      );
      expect(foreign.name).toBe('ResourceNotFoundException');
      expect(foreign.message).toBe(notFound(elsewhere));

      const badMode = await failure(
        runnel.client.send(
          new UpdateStreamModeCommand({
            StreamARN: arnOf('young'),
            StreamModeDetails: { StreamMode: 'BURST' as never },
          }),
        ),
      );
      expect(badMode.name).toBe('ValidationException');
      expect(badMode.message).toBe(
        "1 validation error detected: Value 'BURST' at 'streamModeDetails.streamMode' failed to satisfy constraint: " +
          'Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]',
      );
      expect((await summary(runnel.client, 'young')).StreamModeDetails).toEqual({
        StreamMode: 'PROVISIONED',
      });
    });
  });

  describe('UpdateMaxRecordSize', () => {
    const KIB = 1024;
    const setMax = (name: string, MaxRecordSizeInKiB: number) =>
      runnel.client.send(
        new UpdateMaxRecordSizeCommand({ StreamARN: arnOf(name), MaxRecordSizeInKiB }),
      );
    /** The data-size refusal for `bytes` of data against a limit of `maxKiB`. */
    const tooLarge = (path: string, bytes: number, maxKiB: number) =>
      `1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=${bytes} cap=${bytes}]' at ` +
      `'${path}' failed to satisfy constraint: Member must have length less than or equal to ${maxKiB * KIB}`;

    it('refuses a record above the old limit before the change and stores it after', async () => {
      await createActive(runnel.client, 'large', 1);
      expect((await summary(runnel.client, 'large')).MaxRecordSizeInKiB).toBe(1024);
      const data = new Uint8Array(1024 * KIB + 1).fill(7);
      const putOne = () =>
        runnel.client.send(
          new PutRecordCommand({ StreamName: 'large', PartitionKey: 'k', Data: data }),
        );
      const putMany = () =>
        runnel.client.send(
          new PutRecordsCommand({
            StreamName: 'large',
            Records: [{ PartitionKey: 'k', Data: data }],
          }),
        );

      const refused = await failure(putOne());
      expect(refused.name).toBe('ValidationException');
      expect(refused.message).toBe(tooLarge('data', data.length, 1024));
      const refusedMany = await failure(putMany());
      expect(refusedMany.name).toBe('ValidationException');
      expect(refusedMany.message).toBe(tooLarge('records.1.member.data', data.length, 1024));

      await setMax('large', 2048);
      const raised = await summary(runnel.client, 'large');
      expect(raised.MaxRecordSizeInKiB).toBe(2048);
      expect(raised.StreamStatus).toBe('ACTIVE');
      const one = await putOne();
      const many = await putMany();
      expect(many.FailedRecordCount).toBe(0);

      // Lowered again, the limit refuses the same record; the stored ones stay readable.
      await setMax('large', 1024);
      expect((await failure(putOne())).message).toBe(tooLarge('data', data.length, 1024));
      const { ShardIterator } = await runnel.client.send(
        new GetShardIteratorCommand({
          StreamName: 'large',
          ShardId: one.ShardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      const read = await runnel.client.send(new GetRecordsCommand({ ShardIterator }));
      expect(read.Records!.map((record) => record.SequenceNumber)).toEqual([
        one.SequenceNumber,
        many.Records![0]!.SequenceNumber,
      ]);
      for (const record of read.Records!)
        expect(Buffer.from(record.Data!).equals(Buffer.from(data))).toBe(true);
    });

    it('refuses sizes outside 1024-10240 KiB, a missing or unknown stream, and a stream not ACTIVE', async () => {
      await createActive(runnel.client, 'sized', 1);
      for (const [size, bound] of [
        [1023, 'greater than or equal to 1024'],
        [10241, 'less than or equal to 10240'],
      ] as const) {
        const refused = await failure(setMax('sized', size));
        expect(refused.name).toBe('ValidationException');
        expect(refused.message).toBe(
          `1 validation error detected: Value '${size}' at 'maxRecordSizeInKiB' failed to satisfy constraint: ` +
            `Member must have value ${bound}`,
        );
      }
      await setMax('sized', 10240);
      expect((await summary(runnel.client, 'sized')).MaxRecordSizeInKiB).toBe(10240);

      const missing = await failure(
        runnel.client.send(new UpdateMaxRecordSizeCommand({ MaxRecordSizeInKiB: 2048 })),
      );
      expect(missing.name).toBe('InvalidArgumentException');
      expect(missing.message).toBe(
        'StreamARN was not provided: UpdateMaxRecordSize names its stream by StreamARN.',
      );
      const unknown = await failure(setMax('nosuch', 2048));
      expect(unknown.name).toBe('ResourceNotFoundException');
      expect(unknown.message).toBe(notFound('nosuch'));

      await runnel.client.send(
        new CreateStreamCommand({ StreamName: 'sized-young', ShardCount: 1 }),
      );
      const creating = await failure(setMax('sized-young', 2048));
      expect(creating.name).toBe('ResourceInUseException');
      expect(creating.message).toBe(notActive('sized-young', 'CREATING'));
      await waitActive(runnel.client, 'sized-young');
      expect((await summary(runnel.client, 'sized-young')).MaxRecordSizeInKiB).toBe(1024);
    });
  });

  describe('Enable/DisableEnhancedMonitoring', () => {
    const ALL_SEVEN = [
      'IncomingBytes',
      'IncomingRecords',
      'OutgoingBytes',
      'OutgoingRecords',
      'WriteProvisionedThroughputExceeded',
      'ReadProvisionedThroughputExceeded',
      'IteratorAgeMilliseconds',
    ];
    const enable = (name: string, ShardLevelMetrics: string[]) =>
      runnel.client.send(
        new EnableEnhancedMonitoringCommand({
          StreamName: name,
          ShardLevelMetrics: ShardLevelMetrics as MetricsName[],
        }),
      );
    const disable = (name: string, ShardLevelMetrics: string[]) =>
      runnel.client.send(
        new DisableEnhancedMonitoringCommand({
          StreamARN: arnOf(name),
          ShardLevelMetrics: ShardLevelMetrics as MetricsName[],
        }),
      );
    /** What DescribeStream and DescribeStreamSummary both report. */
    async function reported(name: string) {
      const described = (await runnel.client.send(new DescribeStreamCommand({ StreamName: name })))
        .StreamDescription!;
      const summarized = await summary(runnel.client, name);
      expect(summarized.EnhancedMonitoring).toEqual(described.EnhancedMonitoring);
      return described.EnhancedMonitoring;
    }

    it('answers the metrics before and after each call, and Describe* report them', async () => {
      await createActive(runnel.client, 'monitored', 1);
      expect(await reported('monitored')).toEqual([{ ShardLevelMetrics: [] }]);
      const first = await enable('monitored', ['IteratorAgeMilliseconds', 'IncomingBytes']);
      expect(first.StreamName).toBe('monitored');
      expect(first.StreamARN).toBe(arnOf('monitored'));
      expect(first.CurrentShardLevelMetrics).toEqual([]);
      expect(first.DesiredShardLevelMetrics).toEqual(['IncomingBytes', 'IteratorAgeMilliseconds']);
      expect((await summary(runnel.client, 'monitored')).StreamStatus).toBe('ACTIVE');
      expect(await reported('monitored')).toEqual([
        { ShardLevelMetrics: ['IncomingBytes', 'IteratorAgeMilliseconds'] },
      ]);

      const second = await enable('monitored', [
        'OutgoingRecords',
        'IncomingBytes',
        'OutgoingRecords',
      ]);
      expect(second.CurrentShardLevelMetrics).toEqual(['IncomingBytes', 'IteratorAgeMilliseconds']);
      expect(second.DesiredShardLevelMetrics).toEqual([
        'IncomingBytes',
        'OutgoingRecords',
        'IteratorAgeMilliseconds',
      ]);

      const third = await disable('monitored', ['IncomingBytes', 'IncomingRecords']);
      expect(third.StreamName).toBe('monitored');
      expect(third.StreamARN).toBe(arnOf('monitored'));
      expect(third.CurrentShardLevelMetrics).toEqual([
        'IncomingBytes',
        'OutgoingRecords',
        'IteratorAgeMilliseconds',
      ]);
      expect(third.DesiredShardLevelMetrics).toEqual([
        'OutgoingRecords',
        'IteratorAgeMilliseconds',
      ]);
      expect(await reported('monitored')).toEqual([
        { ShardLevelMetrics: ['OutgoingRecords', 'IteratorAgeMilliseconds'] },
      ]);

      const all = await enable('monitored', ['ALL']);
      expect(all.DesiredShardLevelMetrics).toEqual(ALL_SEVEN);
      expect(await reported('monitored')).toEqual([{ ShardLevelMetrics: ALL_SEVEN }]);
      const none = await disable('monitored', ['ALL']);
      expect(none.CurrentShardLevelMetrics).toEqual(ALL_SEVEN);
      expect(none.DesiredShardLevelMetrics).toEqual([]);
      expect(await reported('monitored')).toEqual([{ ShardLevelMetrics: [] }]);
    });

    it('refuses metric lists outside the model, an unknown stream and a stream not ACTIVE', async () => {
      await createActive(runnel.client, 'watched', 1);
      const enumeration =
        '[IncomingBytes, IncomingRecords, OutgoingBytes, OutgoingRecords, WriteProvisionedThroughputExceeded, ' +
        'ReadProvisionedThroughputExceeded, IteratorAgeMilliseconds, ALL]';
      const refusals: [string[], string][] = [
        [
          [],
          "Value '[]' at 'shardLevelMetrics' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ],
        [
          ['IncomingBytes', 'Bogus'],
          "Value '[IncomingBytes, Bogus]' at 'shardLevelMetrics' failed to satisfy constraint: Member must satisfy " +
            `constraint: [Member must satisfy enum value set: ${enumeration}]`,
        ],
        [
          [...ALL_SEVEN, 'ALL'],
          `Value '[${[...ALL_SEVEN, 'ALL'].join(', ')}]' at 'shardLevelMetrics' failed to satisfy constraint: ` +
            'Member must have length less than or equal to 7',
        ],
      ];
      for (const [metrics, message] of refusals) {
        for (const call of [enable, disable]) {
          const refused = await failure(call('watched', metrics));
          expect(refused.name).toBe('ValidationException');
          expect(refused.message).toBe(`1 validation error detected: ${message}`);
        }
      }
      expect(await reported('watched')).toEqual([{ ShardLevelMetrics: [] }]);

      const unknown = await failure(enable('nosuch', ['ALL']));
      expect(unknown.name).toBe('ResourceNotFoundException');
      expect(unknown.message).toBe(notFound('nosuch'));
      const neither = await failure(
        runnel.client.send(new EnableEnhancedMonitoringCommand({ ShardLevelMetrics: ['ALL'] })),
      );
      expect(neither.name).toBe('InvalidArgumentException');
      expect(neither.message).toBe('Neither StreamName nor StreamARN was provided.');

      await runnel.client.send(
        new CreateStreamCommand({ StreamName: 'watched-young', ShardCount: 1 }),
      );
      for (const call of [enable, disable]) {
        const creating = await failure(call('watched-young', ['ALL']));
        expect(creating.name).toBe('ResourceInUseException');
        expect(creating.message).toBe(notActive('watched-young', 'CREATING'));
      }
      await waitActive(runnel.client, 'watched-young');
      expect(await reported('watched-young')).toEqual([{ ShardLevelMetrics: [] }]);
    });
  });

  describe('TagResource / UntagResource / ListTagsForResource', () => {
    const tag = (ResourceARN: string, Tags: Record<string, string>) =>
      runnel.client.send(new TagResourceCommand({ ResourceARN, Tags }));
    const untag = (ResourceARN: string, TagKeys: string[]) =>
      runnel.client.send(new UntagResourceCommand({ ResourceARN, TagKeys }));
    const listByArn = async (ResourceARN: string) =>
      (await runnel.client.send(new ListTagsForResourceCommand({ ResourceARN }))).Tags;
    const listByName = async (StreamName: string) =>
      (await runnel.client.send(new ListTagsForStreamCommand({ StreamName }))).Tags;

    it('tags a stream by its ARN: the same tags AddTagsToStream and ListTagsForStream see', async () => {
      await createActive(runnel.client, 'labelled', 1);
      const arn = arnOf('labelled');
      expect(await listByArn(arn)).toEqual([]);
      await tag(arn, { team: 'data', empty: '', 'ü /=+-@%.': 'ключ 日本', 'cost:centre': 'a:1' });
      const tagged = [
        { Key: 'cost:centre', Value: 'a:1' },
        { Key: 'empty', Value: '' },
        { Key: 'team', Value: 'data' },
        { Key: 'ü /=+-@%.', Value: 'ключ 日本' },
      ];
      expect(await listByArn(arn)).toEqual(tagged);
      expect(await listByName('labelled')).toEqual(tagged);

      await runnel.client.send(
        new AddTagsToStreamCommand({
          StreamName: 'labelled',
          Tags: { team: 'infra', owner: 'me' },
        }),
      );
      expect(await listByArn(arn)).toEqual([
        { Key: 'cost:centre', Value: 'a:1' },
        { Key: 'empty', Value: '' },
        { Key: 'owner', Value: 'me' },
        { Key: 'team', Value: 'infra' },
        { Key: 'ü /=+-@%.', Value: 'ключ 日本' },
      ]);
      // A key the stream does not have is ignored.
      await untag(arn, ['empty', 'ü /=+-@%.', 'absent', 'cost:centre']);
      expect(await listByName('labelled')).toEqual([
        { Key: 'owner', Value: 'me' },
        { Key: 'team', Value: 'infra' },
      ]);
      await runnel.client.send(
        new RemoveTagsFromStreamCommand({ StreamName: 'labelled', TagKeys: ['owner'] }),
      );
      expect(await listByArn(arn)).toEqual([{ Key: 'team', Value: 'infra' }]);
    });

    it('refuses tags as AddTagsToStream does: reserved keys, characters, more than 50 per stream', async () => {
      await createActive(runnel.client, 'strict', 1);
      const arn = arnOf('strict');
      const invalid =
        'Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @ :.';
      const refusals: [() => Promise<unknown>, string, string][] = [
        [
          () => tag(arn, { 'aws:owner': 'me', ok: 'v' }),
          'InvalidArgumentException',
          "Cannot start tags with 'aws:'. Invalid keys: aws:owner",
        ],
        [() => tag(arn, { 'k<>': 'v' }), 'InvalidArgumentException', invalid],
        [() => tag(arn, { k: 'x,y' }), 'InvalidArgumentException', invalid],
        [() => untag(arn, ['a;b']), 'InvalidArgumentException', invalid],
        [
          () => tag(arn, {}),
          'ValidationException',
          "1 validation error detected: Value '{}' at 'tags' failed to satisfy constraint: " +
            'Member must have length greater than or equal to 1',
        ],
      ];
      for (const [call, name, message] of refusals) {
        const refused = await failure(call());
        expect(refused.name).toBe(name);
        expect(refused.message).toBe(message);
      }
      expect(await listByArn(arn)).toEqual([]);

      const fifty = Object.fromEntries(
        Array.from({ length: 50 }, (_, i) => [`k${String(i).padStart(2, '0')}`, `${i}`]),
      );
      await tag(arn, fifty);
      expect(await listByArn(arn)).toHaveLength(50);
      // Overwriting a key keeps the count; a 51st key is refused, by either API, in the same words.
      await tag(arn, { k00: 'again' });
      const tooMany =
        `Failed to add tags to stream strict under account ${ACCOUNT} because a given stream cannot have more ` +
        'than 50 tags associated with it.';
      for (const call of [
        () => tag(arn, { k50: 'x' }),
        () =>
          runnel.client.send(
            new AddTagsToStreamCommand({ StreamName: 'strict', Tags: { k50: 'x' } }),
          ),
      ]) {
        const refused = await failure(call());
        expect(refused.name).toBe('InvalidArgumentException');
        expect(refused.message).toBe(tooMany);
      }
      const listed = await listByArn(arn);
      expect(listed).toHaveLength(50);
      expect(listed![0]).toEqual({ Key: 'k00', Value: 'again' });
    });

    it('answers ResourceNotFoundException for any ARN that is not a stream of this endpoint', async () => {
      await createActive(runnel.client, 'present', 1);
      const serves =
        `this endpoint serves the streams of account ${ACCOUNT} in ${REGION}, whose ARNs begin ` +
        `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/.`;
      const consumer = `${arnOf('present')}/consumer/reader:1700000000`;
      const otherRegion = `arn:aws:kinesis:eu-west-1:${ACCOUNT}:stream/present`;
      const otherAccount = `arn:aws:kinesis:${REGION}:123456789012:stream/present`;
      const otherPartition = `arn:aws-cn:kinesis:${REGION}:${ACCOUNT}:stream/present`;
      const cases: [string, string][] = [
        [arnOf('nosuch'), notFound('nosuch')],
        [otherRegion, `Resource ${otherRegion} not found: ${serves}`],
        [otherAccount, `Resource ${otherAccount} not found: ${serves}`],
        [otherPartition, `Resource ${otherPartition} not found: ${serves}`],
        [consumer, `Consumer ${consumer} under stream present under account ${ACCOUNT} not found.`],
      ];
      for (const [arn, message] of cases) {
        for (const call of [
          () => tag(arn, { a: 'b' }),
          () => untag(arn, ['a']),
          () => listByArn(arn),
        ]) {
          const refused = await failure(call());
          expect(refused.name, arn).toBe('ResourceNotFoundException');
          expect(refused.message).toBe(message);
        }
      }
      expect(await listByArn(arnOf('present'))).toEqual([]);

      const malformed = await failure(listByArn('present'));
      expect(malformed.name).toBe('ValidationException');
      expect(malformed.message).toBe(
        "1 validation error detected: Value 'present' at 'resourceARN' failed to satisfy constraint: " +
          'Member must satisfy regular expression pattern: arn:aws.*:kinesis:.*:\\d{12}:.*stream/\\S+',
      );
    });
  });
});

describe('UpdateStreamMode at the on-demand stream limit', () => {
  // Small segments: the limit takes ON_DEMAND_STREAM_COUNT_LIMIT four-shard streams.
  const runnel = serverForBlock({
    dataDirPrefix: 'runnel-settings-limit-',
    workers: 2,
    engineOptions: { segmentBytes: 64 * 1024 },
    client: ONE_ATTEMPT,
  });

  it('refuses switching to ON_DEMAND once the account has the most on-demand streams', async () => {
    await createActive(runnel.client, 'provisioned', 1);
    for (let i = 0; i < ON_DEMAND_STREAM_COUNT_LIMIT; i++) {
      await runnel.client.send(
        new CreateStreamCommand({
          StreamName: `od-${i}`,
          StreamModeDetails: { StreamMode: 'ON_DEMAND' },
        }),
      );
    }
    const toOnDemand = () =>
      runnel.client.send(
        new UpdateStreamModeCommand({
          StreamARN: arnOf('provisioned'),
          StreamModeDetails: { StreamMode: 'ON_DEMAND' },
        }),
      );
    const refused = await failure(toOnDemand());
    expect(refused.name).toBe('LimitExceededException');
    expect(refused.message).toBe(
      `This request would exceed the on-demand stream limit of ${ON_DEMAND_STREAM_COUNT_LIMIT}.`,
    );
    expect((await summary(runnel.client, 'provisioned')).StreamModeDetails).toEqual({
      StreamMode: 'PROVISIONED',
    });
    // Switching an on-demand stream to PROVISIONED makes room.
    await runnel.client.send(
      new UpdateStreamModeCommand({
        StreamARN: arnOf('od-0'),
        StreamModeDetails: { StreamMode: 'PROVISIONED' },
      }),
    );
    await toOnDemand();
    expect((await summary(runnel.client, 'provisioned')).StreamModeDetails).toEqual({
      StreamMode: 'ON_DEMAND',
    });
    expect((await runnel.client.send(new DescribeLimitsCommand({}))).OnDemandStreamCount).toBe(
      ON_DEMAND_STREAM_COUNT_LIMIT,
    );
  });
});

describe('stream settings across a restart', () => {
  const dataDir = dataDirForBlock('runnel-settings-restart-');

  /** Runs `body` against a server on dataDir, then closes it. */
  const withServer = (streamTransitionMs: number, body: (client: KinesisClient) => Promise<void>) =>
    withServerOn(
      dataDir.path,
      { workers: 1, engineOptions: { streamTransitionMs }, client: ONE_ATTEMPT },
      body,
    );

  it('keeps the mode, record size limit, enhanced metrics and tags; a mode change cut short completes', async () => {
    await withServer(0, async (client) => {
      await createActive(client, 'kept', 2);
      await createActive(client, 'cut-short', 1);
    });
    // One change per run, the last thing each server does: each must have saved the catalog.
    const changes = [
      new UpdateStreamModeCommand({
        StreamARN: arnOf('kept'),
        StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      }),
      new UpdateMaxRecordSizeCommand({ StreamARN: arnOf('kept'), MaxRecordSizeInKiB: 4096 }),
      new EnableEnhancedMonitoringCommand({
        StreamName: 'kept',
        ShardLevelMetrics: ['IncomingBytes', 'OutgoingBytes'],
      }),
      new TagResourceCommand({ ResourceARN: arnOf('kept'), Tags: { team: 'data' } }),
    ];
    for (const change of changes) {
      await withServer(0, async (client) => {
        await client.send(change as never);
      });
    }
    // A transition far longer than the test: the restart cuts it short.
    await withServer(600_000, async (client) => {
      await client.send(
        new UpdateStreamModeCommand({
          StreamARN: arnOf('cut-short'),
          StreamModeDetails: { StreamMode: 'ON_DEMAND' },
        }),
      );
      expect((await summary(client, 'cut-short')).StreamStatus).toBe('UPDATING');
    });
    await withServer(0, async (client) => {
      const kept = await summary(client, 'kept');
      expect(kept.StreamStatus).toBe('ACTIVE');
      expect(kept.StreamModeDetails).toEqual({ StreamMode: 'ON_DEMAND' });
      expect(kept.MaxRecordSizeInKiB).toBe(4096);
      expect(kept.EnhancedMonitoring).toEqual([
        { ShardLevelMetrics: ['IncomingBytes', 'OutgoingBytes'] },
      ]);
      expect(kept.OpenShardCount).toBe(2);
      expect(
        (await client.send(new ListTagsForResourceCommand({ ResourceARN: arnOf('kept') }))).Tags,
      ).toEqual([{ Key: 'team', Value: 'data' }]);
      const cutShort = await summary(client, 'cut-short');
      expect(cutShort.StreamStatus).toBe('ACTIVE');
      expect(cutShort.StreamModeDetails).toEqual({ StreamMode: 'ON_DEMAND' });
    });
  });
});
