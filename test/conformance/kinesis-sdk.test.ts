/**
 * Goal: the real `@aws-sdk/client-kinesis` works against Runnel exactly as against Kinesis, for
 * every operation the engine serves, over every way a Node client reaches it:
 *  - the Kinesis port with the SDK's default handler (HTTP/2 cleartext, prior knowledge, one new
 *    connection per request),
 *  - the Kinesis port with `NodeHttpHandler` (HTTP/1.1 keep-alive),
 *  - the uWebSockets.js port with `NodeHttpHandler`.
 * Each transport gets its own server (in-process `startServer`, free ports, temp data dir, the
 * real Engine with a 200 ms CREATING/DELETING transition and a clock the tests can move).
 * One more server, in limits mode with a clock that stands still, checks throttling.
 * Errors are checked by Kinesis error name and full message.
 */

import {
  AddTagsToStreamCommand,
  CreateStreamCommand,
  DecreaseStreamRetentionPeriodCommand,
  DeleteChannelCommand,
  DeleteStreamCommand,
  DescribeLimitsCommand,
  DescribeStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  IncreaseStreamRetentionPeriodCommand,
  ListShardsCommand,
  ListStreamsCommand,
  ListTagsForStreamCommand,
  PutRecordCommand,
  PutRecordsCommand,
  RemoveTagsFromStreamCommand,
  waitUntilStreamExists,
  waitUntilStreamNotExists,
  type Shard,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { beforeAll, describe, expect, it } from 'vitest';

import { ACCOUNT, failure, md5HashKey, sdkClient, serverForBlock, sleep } from '../helpers/sdk.js';

const TRANSITION_MS = 200;
const ITERATOR_TTL_MS = 300_000;
const TWO_POW_128 = 1n << 128n;
/** How java.util.Date prints in UTC: `Thu Jan 22 01:22:02 UTC 2015`. */
const JAVA_DATE = '\\w{3} \\w{3} \\d{2} \\d{2}:\\d{2}:\\d{2} UTC \\d{4}';

type Transport = 'http2' | 'http1' | 'uws-http1';
const TRANSPORTS: Transport[] = ['http2', 'http1', 'uws-http1'];

function shardFor(shards: Shard[], hashKey: bigint): string {
  const shard = shards.find(
    (candidate) =>
      BigInt(candidate.HashKeyRange!.StartingHashKey!) <= hashKey &&
      hashKey <= BigInt(candidate.HashKeyRange!.EndingHashKey!),
  );
  return shard!.ShardId!;
}

describe.each(TRANSPORTS)('Kinesis API over %s', (transport) => {
  /** Added to Date.now() by the engine's clock: moved forward to expire iterators. */
  let clockOffsetMs = 0;
  const runnel = serverForBlock({
    dataDirPrefix: `runnel-conformance-${transport}-`,
    wsPort: 0,
    workers: 2,
    engineOptions: { streamTransitionMs: TRANSITION_MS, clock: () => Date.now() + clockOffsetMs },
    client: (server) =>
      sdkClient(
        transport === 'uws-http1' ? server.wsUrl! : server.kinesisUrl,
        transport === 'http2' ? {} : { requestHandler: new NodeHttpHandler() },
      ),
  });

  /** Creates a stream and polls (every 25 ms, not the waiter's 1 s) until it is ACTIVE. */
  async function createActive(name: string, shardCount: number): Promise<void> {
    await runnel.client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shardCount }));
    for (;;) {
      const summary = await runnel.client.send(
        new DescribeStreamSummaryCommand({ StreamName: name }),
      );
      if (summary.StreamDescriptionSummary!.StreamStatus === 'ACTIVE') return;
      await sleep(25);
    }
  }

  async function listAllShards(name: string): Promise<Shard[]> {
    return (await runnel.client.send(new ListShardsCommand({ StreamName: name }))).Shards!;
  }

  it('uses the intended HTTP handler', () => {
    const handler = runnel.client.config.requestHandler as { constructor: { name: string } };
    expect(handler.constructor.name).toBe(
      transport === 'http2' ? 'NodeHttp2Handler' : 'NodeHttpHandler',
    );
  });

  describe('stream lifecycle', () => {
    it('creates a stream that is CREATING, then ACTIVE for waitUntilStreamExists', async () => {
      const created = await runnel.client.send(
        new CreateStreamCommand({ StreamName: 'lifecycle', ShardCount: 3 }),
      );
      expect(created.$metadata.httpStatusCode).toBe(200);
      expect(created.$metadata.requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-/);
      const early = await runnel.client.send(
        new DescribeStreamSummaryCommand({ StreamName: 'lifecycle' }),
      );
      expect(early.StreamDescriptionSummary!.StreamStatus).toBe('CREATING');

      const result = await waitUntilStreamExists(
        { client: runnel.client, maxWaitTime: 30, minDelay: 1 },
        { StreamName: 'lifecycle' },
      );
      expect(result.state).toBe('SUCCESS');

      const described = await runnel.client.send(
        new DescribeStreamCommand({ StreamName: 'lifecycle' }),
      );
      const description = described.StreamDescription!;
      expect(description.StreamName).toBe('lifecycle');
      expect(description.StreamARN).toBe(`arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/lifecycle`);
      expect(description.StreamStatus).toBe('ACTIVE');
      expect(description.RetentionPeriodHours).toBe(24);
      expect(description.HasMoreShards).toBe(false);
      expect(description.StreamCreationTimestamp).toBeInstanceOf(Date);
      expect(Math.abs(description.StreamCreationTimestamp!.getTime() - Date.now())).toBeLessThan(
        60_000,
      );
      expect(description.EnhancedMonitoring).toEqual([{ ShardLevelMetrics: [] }]);
      // The kinesalite split (reference §3.3), which matches AWS for N = 3.
      expect(description.Shards!.map((shard) => shard.HashKeyRange)).toEqual([
        { StartingHashKey: '0', EndingHashKey: '113427455640312821154458202477256070484' },
        {
          StartingHashKey: '113427455640312821154458202477256070485',
          EndingHashKey: '226854911280625642308916404954512140969',
        },
        {
          StartingHashKey: '226854911280625642308916404954512140970',
          EndingHashKey: '340282366920938463463374607431768211455',
        },
      ]);
      for (const shard of description.Shards!) {
        expect(shard.SequenceNumberRange!.StartingSequenceNumber).toMatch(/^\d{56}$/);
      }

      const summary = await runnel.client.send(
        new DescribeStreamSummaryCommand({ StreamName: 'lifecycle' }),
      );
      const brief = summary.StreamDescriptionSummary!;
      expect(brief.OpenShardCount).toBe(3);
      expect(brief.StreamModeDetails).toEqual({ StreamMode: 'PROVISIONED' });
      // Never returned: a well-formed StreamId makes the SDK ignore a custom endpoint.
      expect(brief.StreamId).toBeUndefined();
    });

    it('names streams by StreamARN wherever StreamName is accepted', async () => {
      await createActive('by-arn', 1);
      const arn = `arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/by-arn`;
      const summary = await runnel.client.send(
        new DescribeStreamSummaryCommand({ StreamARN: arn }),
      );
      expect(summary.StreamDescriptionSummary!.StreamName).toBe('by-arn');
      const put = await runnel.client.send(
        new PutRecordCommand({ StreamARN: arn, PartitionKey: 'k', Data: Buffer.from('x') }),
      );
      expect(put.ShardId).toBe('shardId-000000000000');
      const shards = await runnel.client.send(new ListShardsCommand({ StreamARN: arn }));
      expect(shards.Shards).toHaveLength(1);
    });

    it('deletes a stream: DELETING, then gone for waitUntilStreamNotExists', async () => {
      await createActive('doomed', 1);
      await runnel.client.send(new DeleteStreamCommand({ StreamName: 'doomed' }));
      const during = await runnel.client.send(
        new DescribeStreamSummaryCommand({ StreamName: 'doomed' }),
      );
      expect(during.StreamDescriptionSummary!.StreamStatus).toBe('DELETING');
      const result = await waitUntilStreamNotExists(
        { client: runnel.client, maxWaitTime: 30, minDelay: 1 },
        { StreamName: 'doomed' },
      );
      expect(result.state).toBe('SUCCESS');
      const error = await failure(
        runnel.client.send(new DescribeStreamSummaryCommand({ StreamName: 'doomed' })),
      );
      expect(error.name).toBe('ResourceNotFoundException');
    });

    it('rejects a second stream of the same name', async () => {
      await createActive('twice', 1);
      const error = await failure(
        runnel.client.send(new CreateStreamCommand({ StreamName: 'twice', ShardCount: 1 })),
      );
      expect(error.name).toBe('ResourceInUseException');
      expect(error.message).toBe(`Stream twice under account ${ACCOUNT} already exists.`);
      expect(error.$metadata.httpStatusCode).toBe(400);
      expect(error.$fault).toBe('client');
      expect(error.$metadata.attempts).toBe(1);
    });

    it('answers ResourceNotFoundException for an unknown stream', async () => {
      for (const command of [
        new DescribeStreamCommand({ StreamName: 'nope' }),
        new DescribeStreamSummaryCommand({ StreamName: 'nope' }),
        new ListShardsCommand({ StreamName: 'nope' }),
        new DeleteStreamCommand({ StreamName: 'nope' }),
        new PutRecordCommand({ StreamName: 'nope', PartitionKey: 'k', Data: Buffer.from('x') }),
      ]) {
        const error = await failure(runnel.client.send(command as never));
        expect(error.name).toBe('ResourceNotFoundException');
        expect(error.message).toBe(`Stream nope under account ${ACCOUNT} not found.`);
        expect(error.$metadata.httpStatusCode).toBe(400);
      }
    });

    it('refuses RecordDistributionStrategy AUTO on a PROVISIONED stream, and accepts USER_PARTITION_KEY', async () => {
      const provisioned = await failure(
        runnel.client.send(
          new CreateStreamCommand({
            StreamName: 'auto-p',
            ShardCount: 1,
            RecordDistributionStrategy: 'AUTO',
          }),
        ),
      );
      expect(provisioned.name).toBe('InvalidArgumentException');
      expect(provisioned.message).toBe(
        'RecordDistributionStrategy AUTO is only available for ON_DEMAND streams.',
      );
      const none = await failure(
        runnel.client.send(new DescribeStreamSummaryCommand({ StreamName: 'auto-p' })),
      );
      expect(none.name).toBe('ResourceNotFoundException');
      // AUTO on an ON_DEMAND stream is served: test/conformance/record-distribution.test.ts.
      await runnel.client.send(
        new CreateStreamCommand({
          StreamName: 'by-key',
          ShardCount: 1,
          RecordDistributionStrategy: 'USER_PARTITION_KEY',
        }),
      );
      const summary = await runnel.client.send(
        new DescribeStreamSummaryCommand({ StreamName: 'by-key' }),
      );
      expect(summary.StreamDescriptionSummary!.StreamName).toBe('by-key');
    });

    it('validates stream names and shard counts in Coral format', async () => {
      const spaced = await failure(
        runnel.client.send(new CreateStreamCommand({ StreamName: 'a b', ShardCount: 1 })),
      );
      expect(spaced.name).toBe('ValidationException');
      expect(spaced.message).toBe(
        "1 validation error detected: Value 'a b' at 'streamName' failed to satisfy constraint: " +
          'Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+',
      );
      const long = 'x'.repeat(129);
      const tooLong = await failure(
        runnel.client.send(new CreateStreamCommand({ StreamName: long, ShardCount: 1 })),
      );
      expect(tooLong.name).toBe('ValidationException');
      expect(tooLong.message).toBe(
        `1 validation error detected: Value '${long}' at 'streamName' failed to satisfy ` +
          'constraint: Member must have length less than or equal to 128',
      );
      const both = await failure(
        runnel.client.send(new CreateStreamCommand({ StreamName: 'a b', ShardCount: 0 })),
      );
      expect(both.message).toBe(
        "2 validation errors detected: Value 'a b' at 'streamName' failed to satisfy constraint: " +
          'Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; ' +
          "Value '0' at 'shardCount' failed to satisfy constraint: " +
          'Member must have value greater than or equal to 1',
      );
    });
  });

  describe('listing', () => {
    it('pages ListStreams with Limit + NextToken and ExclusiveStartStreamName', async () => {
      const names = ['page-a', 'page-b', 'page-c', 'page-d', 'page-e'];
      await Promise.all(names.map((name) => createActive(name, 1)));
      const all = await runnel.client.send(new ListStreamsCommand({}));
      expect(all.HasMoreStreams).toBe(false);
      expect(all.StreamNames).toEqual([...all.StreamNames!].sort());
      for (const name of names) expect(all.StreamNames).toContain(name);
      const summary = all.StreamSummaries!.find((entry) => entry.StreamName === 'page-a')!;
      expect(summary.StreamARN).toBe(`arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/page-a`);
      expect(summary.StreamCreationTimestamp).toBeInstanceOf(Date);

      const paged: string[] = [];
      let page = await runnel.client.send(new ListStreamsCommand({ Limit: 2 }));
      for (;;) {
        expect(page.StreamNames!.length).toBeLessThanOrEqual(2);
        paged.push(...page.StreamNames!);
        if (!page.HasMoreStreams) break;
        expect(page.NextToken).toBeTruthy();
        page = await runnel.client.send(
          new ListStreamsCommand({ Limit: 2, NextToken: page.NextToken }),
        );
      }
      expect(paged).toEqual(all.StreamNames);

      const after = await runnel.client.send(
        new ListStreamsCommand({ ExclusiveStartStreamName: 'page-b', Limit: 2 }),
      );
      expect(after.StreamNames).toEqual(['page-c', 'page-d']);
      expect(after.HasMoreStreams).toBe(true);
    });

    it('pages ListShards with MaxResults + NextToken and applies every ShardFilter', async () => {
      await createActive('shards5', 5);
      const ids = [0, 1, 2, 3, 4].map((i) => `shardId-00000000000${i}`);
      const first = await runnel.client.send(
        new ListShardsCommand({ StreamName: 'shards5', MaxResults: 2 }),
      );
      expect(first.Shards!.map((shard) => shard.ShardId)).toEqual(ids.slice(0, 2));
      expect(first.NextToken).toBeTruthy();
      const seen = [...first.Shards!];
      let token = first.NextToken;
      while (token) {
        const next = await runnel.client.send(
          new ListShardsCommand({ NextToken: token, MaxResults: 2 }),
        );
        seen.push(...next.Shards!);
        token = next.NextToken;
      }
      expect(seen.map((shard) => shard.ShardId)).toEqual(ids);

      const mixed = await failure(
        runnel.client.send(
          new ListShardsCommand({ StreamName: 'shards5', NextToken: first.NextToken }),
        ),
      );
      expect(mixed.name).toBe('InvalidArgumentException');
      expect(mixed.message).toBe('NextToken and StreamName cannot be provided together.');
      // The token names its stream: nothing else that names one may come with it.
      const withStart = await failure(
        runnel.client.send(
          new ListShardsCommand({ NextToken: first.NextToken, ExclusiveStartShardId: ids[0] }),
        ),
      );
      expect(withStart.name).toBe('InvalidArgumentException');
      expect(withStart.message).toBe(
        'NextToken and ExclusiveStartShardId cannot be provided together.',
      );
      const withTimestamp = await failure(
        runnel.client.send(
          new ListShardsCommand({
            NextToken: first.NextToken,
            StreamCreationTimestamp: new Date(),
          }),
        ),
      );
      expect(withTimestamp.name).toBe('InvalidArgumentException');
      expect(withTimestamp.message).toBe(
        'NextToken and StreamCreationTimestamp cannot be provided together.',
      );

      const neither = await failure(runnel.client.send(new ListShardsCommand({})));
      expect(neither.name).toBe('InvalidArgumentException');
      expect(neither.message).toBe('Either NextToken or StreamName should be provided.');

      const start = await runnel.client.send(
        new ListShardsCommand({ StreamName: 'shards5', ExclusiveStartShardId: ids[2] }),
      );
      expect(start.Shards!.map((shard) => shard.ShardId)).toEqual(ids.slice(3));

      const filters = [
        { filter: { Type: 'AFTER_SHARD_ID' as const, ShardId: ids[1] }, expected: ids.slice(2) },
        { filter: { Type: 'AT_TRIM_HORIZON' as const }, expected: ids },
        { filter: { Type: 'FROM_TRIM_HORIZON' as const }, expected: ids },
        { filter: { Type: 'AT_LATEST' as const }, expected: ids },
        { filter: { Type: 'AT_TIMESTAMP' as const, Timestamp: new Date() }, expected: ids },
        { filter: { Type: 'FROM_TIMESTAMP' as const, Timestamp: new Date() }, expected: ids },
      ];
      for (const { filter, expected } of filters) {
        const listed = await runnel.client.send(
          new ListShardsCommand({ StreamName: 'shards5', ShardFilter: filter }),
        );
        expect(
          listed.Shards!.map((shard) => shard.ShardId),
          filter.Type,
        ).toEqual(expected);
      }
    });

    it('resolves a ShardId by its number wherever one is given, answering canonical ids', async () => {
      await createActive('forms', 4);
      const ids = [0, 1, 2, 3].map((i) => `shardId-00000000000${i}`);
      const listed = async (
        input: Omit<ConstructorParameters<typeof ListShardsCommand>[0], 'StreamName'>,
      ) =>
        (
          await runnel.client.send(new ListShardsCommand({ StreamName: 'forms', ...input }))
        ).Shards!.map((shard) => shard.ShardId);
      // As Kinesis reads them (kinesalite's tests, recorded against the service): the number
      // after the first '-', or the whole id; leading zeros are allowed.
      expect(await listed({ ExclusiveStartShardId: 'shardId-1' })).toEqual(ids.slice(2));
      expect(await listed({ ExclusiveStartShardId: '0' })).toEqual(ids.slice(1));
      expect(await listed({ ShardFilter: { Type: 'AFTER_SHARD_ID', ShardId: 'shard-2' } })).toEqual(
        ids.slice(3),
      );
      const described = await runnel.client.send(
        new DescribeStreamCommand({ StreamName: 'forms', ExclusiveStartShardId: 'foo-0001' }),
      );
      expect(described.StreamDescription!.Shards!.map((shard) => shard.ShardId)).toEqual(
        ids.slice(2),
      );

      const put = await runnel.client.send(
        new PutRecordCommand({
          StreamName: 'forms',
          PartitionKey: 'k',
          ExplicitHashKey: '0',
          Data: Buffer.from('first'),
        }),
      );
      expect(put.ShardId).toBe(ids[0]);
      for (const shardId of ['shardId-0', 'shard-0', 'foo-0', '0', '-000000000000000']) {
        const { ShardIterator } = await runnel.client.send(
          new GetShardIteratorCommand({
            StreamName: 'forms',
            ShardId: shardId,
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        );
        const page = await runnel.client.send(new GetRecordsCommand({ ShardIterator }));
        expect(
          page.Records!.map((record) => record.SequenceNumber),
          shardId,
        ).toEqual([put.SequenceNumber]);
      }

      const absent = await failure(
        runnel.client.send(
          new GetShardIteratorCommand({
            StreamName: 'forms',
            ShardId: 'shardId-5',
            ShardIteratorType: 'LATEST',
          }),
        ),
      );
      expect(absent.name).toBe('ResourceNotFoundException');
      expect(absent.message).toBe(
        `Shard shardId-000000000005 in stream forms under account ${ACCOUNT} does not exist`,
      );
      // An id that names no number (or one past the Java int range) is not found as given.
      for (const shardId of ['ABKLFD8', '2.14E4', '2147483648', 'shardId-002147483648']) {
        const unnamed = await failure(
          runnel.client.send(
            new GetShardIteratorCommand({
              StreamName: 'forms',
              ShardId: shardId,
              ShardIteratorType: 'LATEST',
            }),
          ),
        );
        expect(unnamed.name).toBe('ResourceNotFoundException');
        expect(unnamed.message).toBe(
          `Could not find shard ${shardId} in stream forms under account ${ACCOUNT}.`,
        );
      }
    });

    it('describes account limits', async () => {
      const limits = await runnel.client.send(new DescribeLimitsCommand({}));
      expect(limits.ShardLimit).toBe(20_000);
      expect(limits.OpenShardCount).toBeGreaterThan(0);
      expect(limits.OnDemandStreamCount).toBe(0);
      expect(limits.OnDemandStreamCountLimit).toBe(50);
    });
  });

  describe('records', () => {
    beforeAll(async () => {
      await Promise.all([createActive('records', 2), createActive('ordered', 1)]);
    });

    it('keeps order within a shard and round-trips data, keys and arrival times', async () => {
      const sequenceNumbers: bigint[] = [];
      const before = Date.now();
      let previous: string | undefined;
      for (let i = 0; i < 20; i++) {
        const put = await runnel.client.send(
          new PutRecordCommand({
            StreamName: 'ordered',
            PartitionKey: 'same-key',
            Data: Buffer.from(`record ${i}`),
            ...(previous ? { SequenceNumberForOrdering: previous } : {}),
          }),
        );
        expect(put.ShardId).toBe('shardId-000000000000');
        expect(put.SequenceNumber).toMatch(/^\d{56}$/);
        expect(put.EncryptionType).toBe('NONE');
        previous = put.SequenceNumber;
        sequenceNumbers.push(BigInt(put.SequenceNumber!));
      }
      for (let i = 1; i < sequenceNumbers.length; i++) {
        expect(sequenceNumbers[i]! > sequenceNumbers[i - 1]!).toBe(true);
      }
      const { ShardIterator } = await runnel.client.send(
        new GetShardIteratorCommand({
          StreamName: 'ordered',
          ShardId: 'shardId-000000000000',
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      const got = await runnel.client.send(new GetRecordsCommand({ ShardIterator }));
      expect(got.Records!.map((record) => Buffer.from(record.Data!).toString())).toEqual(
        Array.from({ length: 20 }, (_, i) => `record ${i}`),
      );
      expect(got.Records!.map((record) => BigInt(record.SequenceNumber!))).toEqual(sequenceNumbers);
      for (const record of got.Records!) {
        expect(record.PartitionKey).toBe('same-key');
        expect(record.ApproximateArrivalTimestamp).toBeInstanceOf(Date);
        const arrival = record.ApproximateArrivalTimestamp!.getTime();
        expect(arrival).toBeGreaterThanOrEqual(before - 1000);
        expect(arrival).toBeLessThanOrEqual(Date.now() + 1000);
      }
      expect(got.MillisBehindLatest).toBe(0);
      expect(got.NextShardIterator).toBeTruthy();
    });

    it('routes 500 PutRecords entries by MD5 of distinct partition keys', async () => {
      const shards = await listAllShards('records');
      const entries = Array.from({ length: 500 }, (_, i) => ({
        PartitionKey: `partition-key-${i}`,
        Data: Buffer.from(`payload-${i}-${'x'.repeat(i % 50)}`),
      }));
      const put = await runnel.client.send(
        new PutRecordsCommand({ StreamName: 'records', Records: entries }),
      );
      expect(put.FailedRecordCount).toBe(0);
      expect(put.Records).toHaveLength(500);
      put.Records!.forEach((result, i) => {
        expect(result.ShardId).toBe(shardFor(shards, md5HashKey(entries[i]!.PartitionKey)));
        expect(result.SequenceNumber).toMatch(/^\d{56}$/);
        expect(result.ErrorCode).toBeUndefined();
      });
      const explicit = await runnel.client.send(
        new PutRecordCommand({
          StreamName: 'records',
          PartitionKey: 'ignored-for-routing',
          ExplicitHashKey: (TWO_POW_128 - 1n).toString(),
          Data: Buffer.from('top'),
        }),
      );
      expect(explicit.ShardId).toBe('shardId-000000000001');

      // Read both shards back: every record exactly once, in put order within each shard.
      const received = new Map<string, string>();
      for (const shard of shards) {
        let { ShardIterator } = await runnel.client.send(
          new GetShardIteratorCommand({
            StreamName: 'records',
            ShardId: shard.ShardId,
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        );
        let last = -1n;
        for (;;) {
          const page = await runnel.client.send(
            new GetRecordsCommand({ ShardIterator, Limit: 100 }),
          );
          for (const record of page.Records!) {
            const sequence = BigInt(record.SequenceNumber!);
            expect(sequence > last).toBe(true);
            last = sequence;
            received.set(record.PartitionKey!, Buffer.from(record.Data!).toString());
          }
          if (page.Records!.length === 0) break;
          ShardIterator = page.NextShardIterator;
        }
      }
      for (const entry of entries) {
        expect(received.get(entry.PartitionKey)).toBe(entry.Data.toString());
      }
    });

    it('positions every iterator type', async () => {
      await createActive('iterators', 1);
      const shardId = 'shardId-000000000000';
      const first = await runnel.client.send(
        new PutRecordsCommand({
          StreamName: 'iterators',
          Records: [0, 1, 2].map((i) => ({ PartitionKey: `k${i}`, Data: Buffer.from(`a${i}`) })),
        }),
      );
      const sequence = first.Records!.map((record) => record.SequenceNumber!);
      await sleep(30);
      const between = new Date();
      await sleep(30);
      await runnel.client.send(
        new PutRecordsCommand({
          StreamName: 'iterators',
          Records: [0, 1].map((i) => ({ PartitionKey: `k${i}`, Data: Buffer.from(`b${i}`) })),
        }),
      );
      const read = async (
        input: Omit<ConstructorParameters<typeof GetShardIteratorCommand>[0], 'ShardId'>,
      ) => {
        const { ShardIterator } = await runnel.client.send(
          new GetShardIteratorCommand({ ...input, ShardId: shardId }),
        );
        expect(ShardIterator!.length).toBeLessThanOrEqual(512);
        const page = await runnel.client.send(new GetRecordsCommand({ ShardIterator }));
        return page.Records!.map((record) => Buffer.from(record.Data!).toString());
      };
      const base = { StreamName: 'iterators' };
      expect(await read({ ...base, ShardIteratorType: 'TRIM_HORIZON' })).toEqual([
        'a0',
        'a1',
        'a2',
        'b0',
        'b1',
      ]);
      expect(
        await read({
          ...base,
          ShardIteratorType: 'AT_SEQUENCE_NUMBER',
          StartingSequenceNumber: sequence[1],
        }),
      ).toEqual(['a1', 'a2', 'b0', 'b1']);
      expect(
        await read({
          ...base,
          ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
          StartingSequenceNumber: sequence[1],
        }),
      ).toEqual(['a2', 'b0', 'b1']);
      const atTimestamp = { ...base, ShardIteratorType: 'AT_TIMESTAMP' as const };
      expect(await read({ ...atTimestamp, Timestamp: between })).toEqual(['b0', 'b1']);
      expect(
        await read({ ...base, ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Date(0) }),
      ).toEqual(['a0', 'a1', 'a2', 'b0', 'b1']);

      const { ShardIterator: latest } = await runnel.client.send(
        new GetShardIteratorCommand({ ...base, ShardId: shardId, ShardIteratorType: 'LATEST' }),
      );
      const empty = await runnel.client.send(new GetRecordsCommand({ ShardIterator: latest }));
      expect(empty.Records).toEqual([]);
      expect(empty.MillisBehindLatest).toBe(0);
      expect(empty.NextShardIterator).toBeTruthy();
      await runnel.client.send(
        new PutRecordCommand({ ...base, PartitionKey: 'k', Data: Buffer.from('after-latest') }),
      );
      const fresh = await runnel.client.send(
        new GetRecordsCommand({ ShardIterator: empty.NextShardIterator }),
      );
      expect(fresh.Records!.map((record) => Buffer.from(record.Data!).toString())).toEqual([
        'after-latest',
      ]);

      const missing = await failure(
        runnel.client.send(
          new GetShardIteratorCommand({
            ...base,
            ShardId: shardId,
            ShardIteratorType: 'AT_SEQUENCE_NUMBER',
          }),
        ),
      );
      expect(missing.name).toBe('InvalidArgumentException');
      expect(missing.message).toBe(
        'Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and ' +
          'StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. ' +
          'Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber.',
      );
      const noTimestamp = await failure(
        runnel.client.send(new GetShardIteratorCommand({ ...atTimestamp, ShardId: shardId })),
      );
      expect(noTimestamp.name).toBe('InvalidArgumentException');
      expect(noTimestamp.message).toBe(
        'Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. ' +
          'Current request has no timestamp parameter.',
      );
      const unknownShard = await failure(
        runnel.client.send(
          new GetShardIteratorCommand({
            ...base,
            ShardId: 'shardId-000000000009',
            ShardIteratorType: 'LATEST',
          }),
        ),
      );
      expect(unknownShard.name).toBe('ResourceNotFoundException');
      expect(unknownShard.message).toBe(
        `Shard shardId-000000000009 in stream iterators under account ${ACCOUNT} does not exist`,
      );
    });

    it('reports MillisBehindLatest until the reader catches up', async () => {
      await createActive('behind', 1);
      await runnel.client.send(
        new PutRecordCommand({ StreamName: 'behind', PartitionKey: 'k', Data: Buffer.from('old') }),
      );
      await sleep(150);
      await runnel.client.send(
        new PutRecordCommand({ StreamName: 'behind', PartitionKey: 'k', Data: Buffer.from('new') }),
      );
      const { ShardIterator } = await runnel.client.send(
        new GetShardIteratorCommand({
          StreamName: 'behind',
          ShardId: 'shardId-000000000000',
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      const lagging = await runnel.client.send(new GetRecordsCommand({ ShardIterator, Limit: 1 }));
      expect(lagging.Records).toHaveLength(1);
      expect(lagging.MillisBehindLatest).toBeGreaterThanOrEqual(100);
      const caughtUp = await runnel.client.send(
        new GetRecordsCommand({ ShardIterator: lagging.NextShardIterator }),
      );
      expect(caughtUp.Records!.map((record) => Buffer.from(record.Data!).toString())).toEqual([
        'new',
      ]);
      expect(caughtUp.MillisBehindLatest).toBe(0);
    });

    it('rejects 501 records, an oversized record and an oversized request', async () => {
      const tooMany = await failure(
        runnel.client.send(
          new PutRecordsCommand({
            StreamName: 'records',
            Records: Array.from({ length: 501 }, (_, i) => ({
              PartitionKey: `k${i}`,
              Data: Buffer.from('x'),
            })),
          }),
        ),
      );
      expect(tooMany.name).toBe('ValidationException');
      expect(tooMany.message).toMatch(
        new RegExp(
          "^1 validation error detected: Value '.*' at 'records' failed to satisfy constraint: " +
            'Member must have length less than or equal to 500$',
        ),
      );

      const oneMiB = 1024 * 1024;
      const bigRecord = await failure(
        runnel.client.send(
          new PutRecordCommand({
            StreamName: 'records',
            PartitionKey: 'k',
            Data: Buffer.alloc(oneMiB + 1),
          }),
        ),
      );
      expect(bigRecord.name).toBe('ValidationException');
      expect(bigRecord.message).toBe(
        `1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=${oneMiB + 1} ` +
          `cap=${oneMiB + 1}]' at 'data' failed to satisfy constraint: Member must have length ` +
          `less than or equal to ${oneMiB}`,
      );

      // Eleven records just under 1 MiB each: every record is legal, the request is not.
      const bigRequest = await failure(
        runnel.client.send(
          new PutRecordsCommand({
            StreamName: 'records',
            Records: Array.from({ length: 11 }, (_, i) => ({
              PartitionKey: `k${i}`,
              Data: Buffer.alloc(oneMiB - 16, i),
            })),
          }),
        ),
      );
      expect(bigRequest.name).toBe('InvalidArgumentException');
      expect(bigRequest.message).toBe('Records size exceeds 10 MB limit');
      expect(bigRequest.$metadata.attempts).toBe(1);
    });

    it('accepts a full 10 MiB PutRecords (about 14 MB of base64 JSON)', async () => {
      const oneMiB = 1024 * 1024;
      const records = Array.from({ length: 10 }, (_, i) => ({
        PartitionKey: `big-${i}`,
        Data: Buffer.alloc(oneMiB - 16, i + 1),
      }));
      const put = await runnel.client.send(
        new PutRecordsCommand({ StreamName: 'records', Records: records }),
      );
      expect(put.FailedRecordCount).toBe(0);
      expect(put.Records).toHaveLength(10);
    });

    it('returns 10 MiB of records per GetRecords, counting data and partition keys', async () => {
      await createActive('full-reads', 1);
      const oneMiB = 1024 * 1024;
      // Eleven records of exactly 1 MiB each (data plus a one-character key): ten fill a call.
      for (let i = 0; i < 11; i++) {
        await runnel.client.send(
          new PutRecordCommand({
            StreamName: 'full-reads',
            PartitionKey: String.fromCharCode(97 + i),
            Data: Buffer.alloc(oneMiB - 1, i + 1),
          }),
        );
      }
      const { ShardIterator } = await runnel.client.send(
        new GetShardIteratorCommand({
          StreamName: 'full-reads',
          ShardId: 'shardId-000000000000',
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      const first = await runnel.client.send(new GetRecordsCommand({ ShardIterator }));
      expect(first.Records!.map((record) => record.PartitionKey)).toEqual(
        Array.from({ length: 10 }, (_, i) => String.fromCharCode(97 + i)),
      );
      const second = await runnel.client.send(
        new GetRecordsCommand({ ShardIterator: first.NextShardIterator! }),
      );
      expect(second.Records!.map((record) => record.PartitionKey)).toEqual(['k']);
      expect(second.Records![0]!.Data!.length).toBe(oneMiB - 1);
    });

    it('rejects bad partition and hash keys', async () => {
      const longKey = 'k'.repeat(257);
      const keyError = await failure(
        runnel.client.send(
          new PutRecordCommand({
            StreamName: 'records',
            PartitionKey: longKey,
            Data: Buffer.from('x'),
          }),
        ),
      );
      expect(keyError.name).toBe('ValidationException');
      expect(keyError.message).toBe(
        `1 validation error detected: Value '${longKey}' at 'partitionKey' failed to satisfy ` +
          'constraint: Member must have length less than or equal to 256',
      );
      const outOfRange = TWO_POW_128.toString();
      const hashError = await failure(
        runnel.client.send(
          new PutRecordCommand({
            StreamName: 'records',
            PartitionKey: 'k',
            ExplicitHashKey: outOfRange,
            Data: Buffer.from('x'),
          }),
        ),
      );
      expect(hashError.name).toBe('InvalidArgumentException');
      expect(hashError.message).toBe(
        'Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. ' +
          `Specified value was ${outOfRange}`,
      );
      const notNumber = await failure(
        runnel.client.send(
          new PutRecordCommand({
            StreamName: 'records',
            PartitionKey: 'k',
            ExplicitHashKey: 'abc',
            Data: Buffer.from('x'),
          }),
        ),
      );
      expect(notNumber.name).toBe('ValidationException');
      expect(notNumber.message).toBe(
        "1 validation error detected: Value 'abc' at 'explicitHashKey' failed to satisfy " +
          'constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})',
      );
    });

    it('answers DryRunOperationException for a valid DryRun and writes nothing', async () => {
      await createActive(`dry-run-${transport}`, 1);
      const dry = await failure(
        runnel.client.send(
          new PutRecordCommand({
            StreamName: `dry-run-${transport}`,
            PartitionKey: 'k',
            Data: Buffer.from('must not be stored'),
            DryRun: true,
          }),
        ),
      );
      expect(dry.name).toBe('DryRunOperationException');
      // An invalid DryRun request gets the real error, not the dry-run answer.
      const missing = await failure(
        runnel.client.send(
          new PutRecordCommand({
            StreamName: 'no-such-stream',
            PartitionKey: 'k',
            Data: Buffer.from('x'),
            DryRun: true,
          }),
        ),
      );
      expect(missing.name).toBe('ResourceNotFoundException');
      const { ShardIterator } = await runnel.client.send(
        new GetShardIteratorCommand({
          StreamName: `dry-run-${transport}`,
          ShardId: 'shardId-000000000000',
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      const page = await runnel.client.send(new GetRecordsCommand({ ShardIterator }));
      expect(page.Records).toEqual([]);
    });

    it('refuses a GetRecords Limit above 10000 with InvalidArgumentException, below 1 in Coral format', async () => {
      const { ShardIterator } = await runnel.client.send(
        new GetShardIteratorCommand({
          StreamName: 'records',
          ShardId: 'shardId-000000000000',
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      const above = await failure(
        runnel.client.send(new GetRecordsCommand({ ShardIterator, Limit: 10_001 })),
      );
      expect(above.name).toBe('InvalidArgumentException');
      expect(above.message).toBe('The Limit parameter (10001) cannot be greater than 10000.');
      expect(above.$metadata.httpStatusCode).toBe(400);
      const below = await failure(
        runnel.client.send(new GetRecordsCommand({ ShardIterator, Limit: 0 })),
      );
      expect(below.name).toBe('ValidationException');
      expect(below.message).toBe(
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: " +
          'Member must have value greater than or equal to 1',
      );
      const page = await runnel.client.send(
        new GetRecordsCommand({ ShardIterator, Limit: 10_000 }),
      );
      expect(page.NextShardIterator).toBeTruthy();
    });

    it('names the shard in ResourceNotFoundException for a missing or deleted stream', async () => {
      const missing = await failure(
        runnel.client.send(
          new GetShardIteratorCommand({
            StreamName: 'never',
            ShardId: 'shardId-000000000001',
            ShardIteratorType: 'TRIM_HORIZON',
          }),
        ),
      );
      expect(missing.name).toBe('ResourceNotFoundException');
      expect(missing.message).toBe(
        `Shard shardId-000000000001 in stream never under account ${ACCOUNT} does not exist`,
      );

      await createActive('vanishing', 2);
      const { ShardIterator } = await runnel.client.send(
        new GetShardIteratorCommand({
          StreamName: 'vanishing',
          ShardId: 'shardId-000000000001',
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      await runnel.client.send(new DeleteStreamCommand({ StreamName: 'vanishing' }));
      await waitUntilStreamNotExists(
        { client: runnel.client, maxWaitTime: 30, minDelay: 1 },
        { StreamName: 'vanishing' },
      );
      const gone = await failure(runnel.client.send(new GetRecordsCommand({ ShardIterator })));
      expect(gone.name).toBe('ResourceNotFoundException');
      expect(gone.message).toBe(
        `Shard shardId-000000000001 in stream vanishing under account ${ACCOUNT} does not exist`,
      );
      const again = await failure(
        runnel.client.send(
          new GetShardIteratorCommand({
            StreamName: 'vanishing',
            ShardId: 'shardId-000000000001',
            ShardIteratorType: 'LATEST',
          }),
        ),
      );
      expect(again.message).toBe(gone.message);
    });

    it('rejects a bad iterator and an expired one', async () => {
      const bad = await failure(
        runnel.client.send(new GetRecordsCommand({ ShardIterator: 'garbage' })),
      );
      expect(bad.name).toBe('InvalidArgumentException');
      expect(bad.message).toBe('Invalid ShardIterator.');

      const { ShardIterator } = await runnel.client.send(
        new GetShardIteratorCommand({
          StreamName: 'records',
          ShardId: 'shardId-000000000000',
          ShardIteratorType: 'LATEST',
        }),
      );
      // Tampering with an issued iterator must not yield a usable position.
      const tampered = `${ShardIterator!.slice(0, -4)}AAAA`;
      const forged = await failure(
        runnel.client.send(new GetRecordsCommand({ ShardIterator: tampered })),
      );
      expect(forged.name).toBe('InvalidArgumentException');

      clockOffsetMs = ITERATOR_TTL_MS + 1000;
      try {
        const expired = await failure(runnel.client.send(new GetRecordsCommand({ ShardIterator })));
        expect(expired.name).toBe('ExpiredIteratorException');
        expect(expired.message).toMatch(
          new RegExp(
            `^Iterator expired\\. The iterator was created at time ${JAVA_DATE} while right now ` +
              `it is ${JAVA_DATE} which is further in the future than the tolerated delay of ` +
              '300000 milliseconds\\.$',
          ),
        );
        expect(expired.$metadata.httpStatusCode).toBe(400);
      } finally {
        clockOffsetMs = 0;
      }
    });
  });

  describe('retention and tags', () => {
    beforeAll(async () => {
      await createActive('settings', 1);
    });

    it('increases and decreases the retention period within 24-8760 hours', async () => {
      const increase = (hours: number) =>
        runnel.client.send(
          new IncreaseStreamRetentionPeriodCommand({
            StreamName: 'settings',
            RetentionPeriodHours: hours,
          }),
        );
      const decrease = (hours: number) =>
        runnel.client.send(
          new DecreaseStreamRetentionPeriodCommand({
            StreamName: 'settings',
            RetentionPeriodHours: hours,
          }),
        );
      await increase(48);
      const summary = () =>
        runnel.client.send(new DescribeStreamSummaryCommand({ StreamName: 'settings' }));
      let described = await summary();
      expect(described.StreamDescriptionSummary!.RetentionPeriodHours).toBe(48);
      const shorter = await failure(increase(30));
      expect(shorter.name).toBe('InvalidArgumentException');
      expect(shorter.message).toBe(
        'Requested retention period (30 hours) for stream settings can not be shorter than ' +
          'existing retention period (48 hours). Use DecreaseRetentionPeriod API.',
      );
      await decrease(24);
      described = await summary();
      expect(described.StreamDescriptionSummary!.RetentionPeriodHours).toBe(24);
      const longer = await failure(decrease(48));
      expect(longer.name).toBe('InvalidArgumentException');
      expect(longer.message).toBe(
        'Requested retention period (48 hours) for stream settings can not be longer than ' +
          'existing retention period (24 hours). Use IncreaseRetentionPeriod API.',
      );
      const tooShort = await failure(decrease(12));
      expect(tooShort.name).toBe('InvalidArgumentException');
      expect(tooShort.message).toBe(
        'Minimum allowed retention period is 24 hours. Requested retention period (12 hours) is ' +
          'too short.',
      );
    });

    it('adds, pages, lists and removes tags', async () => {
      await runnel.client.send(
        new AddTagsToStreamCommand({
          StreamName: 'settings',
          Tags: { team: 'data', env: 'test', owner: 'runnel' },
        }),
      );
      const first = await runnel.client.send(
        new ListTagsForStreamCommand({ StreamName: 'settings', Limit: 2 }),
      );
      expect(first.Tags).toEqual([
        { Key: 'env', Value: 'test' },
        { Key: 'owner', Value: 'runnel' },
      ]);
      expect(first.HasMoreTags).toBe(true);
      const rest = await runnel.client.send(
        new ListTagsForStreamCommand({ StreamName: 'settings', ExclusiveStartTagKey: 'owner' }),
      );
      expect(rest.Tags).toEqual([{ Key: 'team', Value: 'data' }]);
      expect(rest.HasMoreTags).toBe(false);
      await runnel.client.send(
        new RemoveTagsFromStreamCommand({ StreamName: 'settings', TagKeys: ['env', 'owner'] }),
      );
      const after = await runnel.client.send(
        new ListTagsForStreamCommand({ StreamName: 'settings' }),
      );
      expect(after.Tags).toEqual([{ Key: 'team', Value: 'data' }]);
    });
  });

  describe('tag characters', () => {
    beforeAll(async () => {
      await createActive('tagged', 1);
    });

    it('refuses tags Kinesis refuses: characters outside its set, and the aws: prefix', async () => {
      const invalid =
        'Some tags contain invalid characters. Valid characters: ' +
        'Unicode letters, digits, white space, _ . / = + - % @ :.';
      const reserved = (keys: string) => `Cannot start tags with 'aws:'. Invalid keys: ${keys}`;
      const add = (Tags: Record<string, string>) => () =>
        runnel.client.send(new AddTagsToStreamCommand({ StreamName: 'tagged', Tags }));
      const create = (Tags: Record<string, string>) => () =>
        runnel.client.send(
          new CreateStreamCommand({ StreamName: 'tag-refused', ShardCount: 1, Tags }),
        );
      const remove = (TagKeys: string[]) => () =>
        runnel.client.send(new RemoveTagsFromStreamCommand({ StreamName: 'tagged', TagKeys }));
      const refusals: Array<[string, () => Promise<unknown>, string]> = [
        ['; in a key', add({ 'a;b': '1' }), invalid],
        ['tab in a key', add({ 'a\tb': '1' }), invalid],
        ['newline in a value', add({ a: 'x\ny' }), invalid],
        [', in a value', add({ a: 'x,y' }), invalid],
        ['aws: key', add({ 'aws:owner': 'me', ok: 'v' }), reserved('aws:owner')],
        ['CreateStream', create({ 'k<>': 'v' }), invalid],
        ['CreateStream aws: key', create({ 'aws:x': 'v' }), reserved('aws:x')],
        ['; in a key to remove', remove(['a;b']), invalid],
      ];
      for (const [label, sent, message] of refusals) {
        const error = await failure(sent());
        expect(error.name, label).toBe('InvalidArgumentException');
        expect(error.message, label).toBe(message);
      }
      const refusedStream = await failure(
        runnel.client.send(new DescribeStreamSummaryCommand({ StreamName: 'tag-refused' })),
      );
      expect(refusedStream.name).toBe('ResourceNotFoundException');
      expect(
        (await runnel.client.send(new ListTagsForStreamCommand({ StreamName: 'tagged' }))).Tags,
      ).toEqual([]);

      // Letters and digits of any script, spaces and _ . / = + - % @ : are kept as given.
      const tags = {
        'ü0 _.': 'a',
        '/=+-@%': 'ü0 _./=+-@%',
        'ключ 日本': '',
        c: '',
        'team:owner': 'a:b',
      };
      await runnel.client.send(new AddTagsToStreamCommand({ StreamName: 'tagged', Tags: tags }));
      const listed = await runnel.client.send(
        new ListTagsForStreamCommand({ StreamName: 'tagged' }),
      );
      expect(Object.fromEntries(listed.Tags!.map((tag) => [tag.Key, tag.Value ?? '']))).toEqual(
        tags,
      );
      await runnel.client.send(
        new RemoveTagsFromStreamCommand({ StreamName: 'tagged', TagKeys: Object.keys(tags) }),
      );
      expect(
        (await runnel.client.send(new ListTagsForStreamCommand({ StreamName: 'tagged' }))).Tags,
      ).toEqual([]);
    });
  });

  describe('operations Runnel does not serve yet', () => {
    it('answers each with UnknownOperationException naming it, without retries', async () => {
      const commands = [
        [
          'DeleteChannel',
          new DeleteChannelCommand({
            ChannelARN: `arn:aws:kinesis:us-east-1:${ACCOUNT}:channel/archive`,
          }),
        ],
      ] as const;
      for (const [operation, command] of commands) {
        const error = await failure(runnel.client.send(command as never));
        expect(error.name).toBe('UnknownOperationException');
        expect(error.message).toBe(`Operation ${operation} is not supported by Runnel yet.`);
        expect(error.$metadata.httpStatusCode).toBe(400);
        expect(error.$fault).toBe('client');
        expect(error.$metadata.attempts).toBe(1);
      }
    });
  });
});

describe('Kinesis API in limits mode', () => {
  /** The engine's clock: it stands still unless a test moves it, so no allowance refills. */
  let nowMs = Date.now();
  const runnel = serverForBlock({
    dataDirPrefix: 'runnel-conformance-limits-',
    workers: 1,
    engineOptions: { enforceLimits: true, clock: () => nowMs },
    // The SDK retries throttling; one attempt shows each refusal as it is.
    client: { maxAttempts: 1 },
  });

  beforeAll(async () => {
    await runnel.client.send(new CreateStreamCommand({ StreamName: 'limited', ShardCount: 2 }));
  });

  it('allows 5 GetShardIterator calls per second per shard, then throttles', async () => {
    const iterator = (ShardId: string) =>
      runnel.client.send(
        new GetShardIteratorCommand({
          StreamName: 'limited',
          ShardId,
          ShardIteratorType: 'LATEST',
        }),
      );
    for (let call = 0; call < 5; call++) {
      // Any form of the shard's id counts against the same shard.
      expect(
        (await iterator(call % 2 === 0 ? 'shardId-000000000000' : 'shardId-0')).ShardIterator,
      ).toBeTruthy();
    }
    const throttled = await failure(iterator('shardId-000000000000'));
    expect(throttled.name).toBe('ProvisionedThroughputExceededException');
    expect(throttled.message).toBe(
      `Rate exceeded for shard shardId-000000000000 in stream limited under account ${ACCOUNT}.`,
    );
    expect(throttled.$metadata.httpStatusCode).toBe(400);
    // The other shard has an allowance of its own.
    for (let call = 0; call < 5; call++) await iterator('shardId-000000000001');
    // A fifth of a second refills one call; a whole second all five.
    nowMs += 200;
    await iterator('shardId-000000000000');
    expect((await failure(iterator('shardId-000000000000'))).name).toBe(
      'ProvisionedThroughputExceededException',
    );
    nowMs += 1000;
    for (let call = 0; call < 5; call++) await iterator('shardId-000000000000');
    expect((await failure(iterator('shardId-000000000000'))).name).toBe(
      'ProvisionedThroughputExceededException',
    );
  });
});
