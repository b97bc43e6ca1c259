/**
 * Goal: enhanced fan-out works with the real `@aws-sdk/client-kinesis` against a real Runnel
 * server (in-process `startServer` on 127.0.0.1, free ports, temp data dirs, real shard workers):
 *  - consumers: RegisterStreamConsumer (CREATING, then ACTIVE), DescribeStreamConsumer by ARN and
 *    by stream ARN + name, ListStreamConsumers with paging, DeregisterStreamConsumer (DELETING,
 *    then gone), tags on consumers, the per-stream limit, errors by name and full message, and
 *    consumers surviving a restart;
 *  - SubscribeToShard over the SDK's event stream (HTTP/2, and HTTP/1.1 with NodeHttpHandler):
 *    every record exactly once, in order and byte for byte, from each starting position; a
 *    ContinuationSequenceNumber another subscription continues from; a split shard's end with
 *    ChildShards; one subscription per consumer and shard; the (shortened) lifetime; errors
 *    before the stream (JSON errors) and during it (exception events).
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  DeleteStreamCommand,
  DeregisterStreamConsumerCommand,
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListStreamConsumersCommand,
  ListTagsForResourceCommand,
  PutRecordsCommand,
  RegisterStreamConsumerCommand,
  SplitShardCommand,
  SubscribeToShardCommand,
  TagResourceCommand,
  UntagResourceCommand,
  type Consumer,
  type StartingPosition,
  type SubscribeToShardEvent,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Engine } from '../../src/engine/engine.js';
import { SUBSCRIPTION_END_FLUSH_MS, SUBSCRIPTION_TAKEOVER_MS } from '../../src/limits.js';
import { startServer } from '../../src/server/server.js';
import {
  ACCOUNT,
  createActive,
  dataDirForBlock,
  failure,
  registerActive,
  sdkClient,
  serverForBlock,
  sleep,
  streamArn,
  waitConsumerActive,
  withServerOn,
} from '../helpers/sdk.js';

const TRANSITION_MS = 200;
const CONSUMERS_PER_STREAM_MAX = 20;

describe('stream consumers', () => {
  const runnel = serverForBlock({
    dataDirPrefix: 'runnel-efo-consumers-',
    workers: 2,
    engineOptions: { streamTransitionMs: TRANSITION_MS },
  });

  it('registers a consumer CREATING, then ACTIVE, and describes it by ARN and by name', async () => {
    await createActive(runnel.client, 'reg', 1);
    const before = Math.floor(Date.now() / 1000);
    const registered = await runnel.client.send(
      new RegisterStreamConsumerCommand({ StreamARN: streamArn('reg'), ConsumerName: 'reader-1' }),
    );
    const after = Math.floor(Date.now() / 1000);
    const consumer = registered.Consumer!;
    expect(consumer.ConsumerName).toBe('reader-1');
    expect(consumer.ConsumerStatus).toBe('CREATING');
    expect(consumer.ConsumerARN).toMatch(
      new RegExp(`^${streamArn('reg')}/consumer/reader-1:(\\d+)$`),
    );
    const seconds = Number(/:(\d+)$/.exec(consumer.ConsumerARN!)![1]);
    expect(seconds).toBeGreaterThanOrEqual(before);
    expect(seconds).toBeLessThanOrEqual(after);
    expect(consumer.ConsumerCreationTimestamp).toBeInstanceOf(Date);
    expect(Math.floor(consumer.ConsumerCreationTimestamp!.getTime() / 1000)).toBe(seconds);

    await waitConsumerActive(runnel.client, consumer.ConsumerARN!);
    const byArn = await runnel.client.send(
      new DescribeStreamConsumerCommand({ ConsumerARN: consumer.ConsumerARN }),
    );
    expect(byArn.ConsumerDescription).toEqual({
      ConsumerName: 'reader-1',
      ConsumerARN: consumer.ConsumerARN,
      ConsumerStatus: 'ACTIVE',
      ConsumerCreationTimestamp: consumer.ConsumerCreationTimestamp,
      StreamARN: streamArn('reg'),
    });
    const byName = await runnel.client.send(
      new DescribeStreamConsumerCommand({ StreamARN: streamArn('reg'), ConsumerName: 'reader-1' }),
    );
    expect(byName.ConsumerDescription).toEqual(byArn.ConsumerDescription);

    const summary = await runnel.client.send(
      new DescribeStreamSummaryCommand({ StreamName: 'reg' }),
    );
    expect(summary.StreamDescriptionSummary!.ConsumerCount).toBe(1);
  });

  it('refuses a name already registered, an unknown stream and a 21st consumer', async () => {
    await createActive(runnel.client, 'limits', 1);
    await runnel.client.send(
      new RegisterStreamConsumerCommand({ StreamARN: streamArn('limits'), ConsumerName: 'c00' }),
    );
    const again = await failure(
      runnel.client.send(
        new RegisterStreamConsumerCommand({ StreamARN: streamArn('limits'), ConsumerName: 'c00' }),
      ),
    );
    expect(again.name).toBe('ResourceInUseException');
    expect(again.message).toBe(
      `Consumer c00 under stream limits under account ${ACCOUNT} already exists.`,
    );

    const missing = await failure(
      runnel.client.send(
        new RegisterStreamConsumerCommand({ StreamARN: streamArn('nosuch'), ConsumerName: 'c' }),
      ),
    );
    expect(missing.name).toBe('ResourceNotFoundException');
    expect(missing.message).toBe(`Stream nosuch under account ${ACCOUNT} not found.`);

    const badName = await failure(
      runnel.client.send(
        new RegisterStreamConsumerCommand({ StreamARN: streamArn('limits'), ConsumerName: 'a b' }),
      ),
    );
    expect(badName.name).toBe('ValidationException');
    expect(badName.message).toContain("Value 'a b' at 'consumerName' failed to satisfy constraint");

    for (let i = 1; i < CONSUMERS_PER_STREAM_MAX; i++) {
      const name = `c${String(i).padStart(2, '0')}`;
      await runnel.client.send(
        new RegisterStreamConsumerCommand({ StreamARN: streamArn('limits'), ConsumerName: name }),
      );
    }
    const over = await failure(
      runnel.client.send(
        new RegisterStreamConsumerCommand({ StreamARN: streamArn('limits'), ConsumerName: 'c20' }),
      ),
    );
    expect(over.name).toBe('LimitExceededException');
    expect(over.message).toBe(
      `Stream limits under account ${ACCOUNT} already has 20 registered consumers, the most a stream may have (20).`,
    );
    const summary = await runnel.client.send(
      new DescribeStreamSummaryCommand({ StreamName: 'limits' }),
    );
    expect(summary.StreamDescriptionSummary!.ConsumerCount).toBe(CONSUMERS_PER_STREAM_MAX);
  });

  it('lists consumers in registration order, in pages that NextToken continues', async () => {
    await createActive(runnel.client, 'listing', 1);
    const names = Array.from({ length: 7 }, (_, i) => `list-${i}`);
    for (const name of names) {
      await runnel.client.send(
        new RegisterStreamConsumerCommand({ StreamARN: streamArn('listing'), ConsumerName: name }),
      );
    }
    const seen: Consumer[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await runnel.client.send(
        new ListStreamConsumersCommand({
          StreamARN: streamArn('listing'),
          MaxResults: 3,
          NextToken: token,
        }),
      );
      pages++;
      expect(page.Consumers!.length).toBeLessThanOrEqual(3);
      seen.push(...page.Consumers!);
      token = page.NextToken;
    } while (token !== undefined);
    expect(pages).toBe(3);
    expect(seen.map((consumer) => consumer.ConsumerName)).toEqual(names);
    for (const consumer of seen) {
      expect(consumer.ConsumerARN).toMatch(
        new RegExp(`^${streamArn('listing')}/consumer/${consumer.ConsumerName}:\\d+$`),
      );
      expect(consumer.ConsumerCreationTimestamp).toBeInstanceOf(Date);
    }

    const all = await runnel.client.send(
      new ListStreamConsumersCommand({ StreamARN: streamArn('listing') }),
    );
    expect(all.Consumers).toHaveLength(7);
    expect(all.NextToken).toBeUndefined();

    const exact = await runnel.client.send(
      new ListStreamConsumersCommand({ StreamARN: streamArn('listing'), MaxResults: 7 }),
    );
    expect(exact.Consumers).toHaveLength(7);
    expect(exact.NextToken).toBeUndefined();

    const tooMany = await failure(
      runnel.client.send(
        new ListStreamConsumersCommand({ StreamARN: streamArn('listing'), MaxResults: 10001 }),
      ),
    );
    expect(tooMany.name).toBe('ValidationException');
    expect(tooMany.message).toBe(
      "1 validation error detected: Value '10001' at 'maxResults' failed to satisfy constraint: " +
        'Member must have value less than or equal to 10000',
    );
    const missing = await failure(
      runnel.client.send(new ListStreamConsumersCommand({ StreamARN: streamArn('nosuch') })),
    );
    expect(missing.name).toBe('ResourceNotFoundException');
    expect(missing.message).toBe(`Stream nosuch under account ${ACCOUNT} not found.`);
  });

  it('deregisters a consumer: DELETING, then gone', async () => {
    await createActive(runnel.client, 'dereg', 1);
    const first = await registerActive(runnel.client, 'dereg', 'first');
    const second = await registerActive(runnel.client, 'dereg', 'second');
    await runnel.client.send(
      new DeregisterStreamConsumerCommand({ ConsumerARN: first.ConsumerARN }),
    );
    const deleting = await runnel.client.send(
      new DescribeStreamConsumerCommand({ ConsumerARN: first.ConsumerARN }),
    );
    expect(deleting.ConsumerDescription!.ConsumerStatus).toBe('DELETING');
    await runnel.client.send(
      new DeregisterStreamConsumerCommand({
        StreamARN: streamArn('dereg'),
        ConsumerName: 'second',
      }),
    );

    for (const consumer of [first, second]) {
      for (;;) {
        const gone = await failure(
          runnel.client.send(
            new DescribeStreamConsumerCommand({ ConsumerARN: consumer.ConsumerARN }),
          ),
        ).catch(() => undefined);
        if (gone) {
          expect(gone.name).toBe('ResourceNotFoundException');
          expect(gone.message).toBe(
            `Consumer ${consumer.ConsumerARN} under stream dereg under account ${ACCOUNT} not found.`,
          );
          break;
        }
        await sleep(25);
      }
    }
    const listed = await runnel.client.send(
      new ListStreamConsumersCommand({ StreamARN: streamArn('dereg') }),
    );
    expect(listed.Consumers).toEqual([]);

    const byName = await failure(
      runnel.client.send(
        new DescribeStreamConsumerCommand({ StreamARN: streamArn('dereg'), ConsumerName: 'first' }),
      ),
    );
    expect(byName.name).toBe('ResourceNotFoundException');
    expect(byName.message).toBe(
      `Consumer first under stream dereg under account ${ACCOUNT} not found.`,
    );

    const neither = await failure(
      runnel.client.send(new DeregisterStreamConsumerCommand({ StreamARN: streamArn('dereg') })),
    );
    expect(neither.name).toBe('InvalidArgumentException');
    expect(neither.message).toBe(
      'Either ConsumerARN, or both StreamARN and ConsumerName, must be provided.',
    );

    // The same name registers again, under a new ARN once a second has passed.
    await sleep(1100);
    const again = await registerActive(runnel.client, 'dereg', 'first');
    expect(again.ConsumerARN).not.toBe(first.ConsumerARN);
    const stale = await failure(
      runnel.client.send(new DescribeStreamConsumerCommand({ ConsumerARN: first.ConsumerARN })),
    );
    expect(stale.name).toBe('ResourceNotFoundException');
  });

  it('tags consumers through TagResource, UntagResource and ListTagsForResource', async () => {
    await createActive(runnel.client, 'tagged', 1);
    const { Consumer: consumer } = await runnel.client.send(
      new RegisterStreamConsumerCommand({
        StreamARN: streamArn('tagged'),
        ConsumerName: 't',
        Tags: { team: 'a' },
      }),
    );
    const arn = consumer!.ConsumerARN!;
    await runnel.client.send(new TagResourceCommand({ ResourceARN: arn, Tags: { env: 'test' } }));
    expect(
      (await runnel.client.send(new ListTagsForResourceCommand({ ResourceARN: arn }))).Tags,
    ).toEqual([
      { Key: 'env', Value: 'test' },
      { Key: 'team', Value: 'a' },
    ]);
    await runnel.client.send(new UntagResourceCommand({ ResourceARN: arn, TagKeys: ['team'] }));
    expect(
      (await runnel.client.send(new ListTagsForResourceCommand({ ResourceARN: arn }))).Tags,
    ).toEqual([{ Key: 'env', Value: 'test' }]);
    // The stream's own tags are separate.
    expect(
      (
        await runnel.client.send(
          new ListTagsForResourceCommand({ ResourceARN: streamArn('tagged') }),
        )
      ).Tags,
    ).toEqual([]);
    const unknown = `${streamArn('tagged')}/consumer/nobody:1700000000`;
    const refused = await failure(
      runnel.client.send(new ListTagsForResourceCommand({ ResourceARN: unknown })),
    );
    expect(refused.name).toBe('ResourceNotFoundException');
    expect(refused.message).toBe(
      `Consumer ${unknown} under stream tagged under account ${ACCOUNT} not found.`,
    );
  });

  it('deletes a stream with consumers only with EnforceConsumerDeletion, and its consumers with it', async () => {
    await createActive(runnel.client, 'doomed', 1);
    const consumer = await registerActive(runnel.client, 'doomed', 'watcher');
    const refused = await failure(
      runnel.client.send(new DeleteStreamCommand({ StreamName: 'doomed' })),
    );
    expect(refused.name).toBe('ResourceInUseException');
    expect(refused.message).toBe(
      `Stream doomed under account ${ACCOUNT} has 1 registered consumer(s): deregister them first, ` +
        'or set EnforceConsumerDeletion to delete them with the stream.',
    );
    await runnel.client.send(
      new DeleteStreamCommand({ StreamName: 'doomed', EnforceConsumerDeletion: true }),
    );
    for (;;) {
      const gone = await failure(
        runnel.client.send(new DescribeStreamSummaryCommand({ StreamName: 'doomed' })),
      ).catch(() => undefined);
      if (gone) break;
      await sleep(25);
    }
    await createActive(runnel.client, 'doomed', 1);
    const listed = await runnel.client.send(
      new ListStreamConsumersCommand({ StreamARN: streamArn('doomed') }),
    );
    expect(listed.Consumers).toEqual([]);
    const stale = await failure(
      runnel.client.send(new DescribeStreamConsumerCommand({ ConsumerARN: consumer.ConsumerARN })),
    );
    expect(stale.name).toBe('ResourceNotFoundException');
  });
});

describe('shutdown with a subscriber that stopped reading', () => {
  const dataDir = dataDirForBlock('runnel-efo-shutdown-');

  /**
   * Starts a server, fills a shard with 30 MB, subscribes and takes one event, then reads no
   * more; after `pauseMs`, closes the server. Returns how long the close took.
   */
  async function closeWhileStalled(
    engineOptions: { subscriptionLifetimeMs?: number },
    pauseMs: number,
  ): Promise<number> {
    const server = await startServer({
      port: 0,
      wsPort: null,
      dataDir: dataDir.path,
      workers: 1,
      engineOptions,
    });
    const client = sdkClient(server.kinesisUrl);
    try {
      const stream = `stalled-${pauseMs}`;
      await createActive(client, stream, 1);
      const consumer = await registerActive(client, stream, 'reader');
      const Data = new Uint8Array(10_000).fill(1);
      for (let call = 0; call < 6; call++) {
        const Records = Array.from({ length: 500 }, () => ({ Data, PartitionKey: 'pk' }));
        expect(
          (await client.send(new PutRecordsCommand({ StreamName: stream, Records })))
            .FailedRecordCount,
        ).toBe(0);
      }
      const response = await client.send(
        new SubscribeToShardCommand({
          ConsumerARN: consumer.ConsumerARN,
          ShardId: 'shardId-000000000000',
          StartingPosition: { Type: 'TRIM_HORIZON' },
        }),
      );
      const iterator = response.EventStream![Symbol.asyncIterator]();
      expect((await iterator.next()).done).toBe(false);
      await sleep(pauseMs);
      const started = performance.now();
      await server.close();
      const closeMs = performance.now() - started;
      void iterator.return?.(undefined).catch(() => undefined);
      return closeMs;
    } finally {
      client.destroy();
      await server.close();
    }
  }

  it('closes without waiting for it, while its subscription runs', async () => {
    expect(await closeWhileStalled({}, 300)).toBeLessThan(SUBSCRIPTION_END_FLUSH_MS - 1000);
  });

  it('closes without waiting for it, after its subscription ended', async () => {
    expect(await closeWhileStalled({ subscriptionLifetimeMs: 500 }, 1200)).toBeLessThan(
      SUBSCRIPTION_END_FLUSH_MS - 1000,
    );
  });
});

describe('stream consumers across a restart', () => {
  const dataDir = dataDirForBlock('runnel-efo-restart-');

  it('keeps registered consumers and their tags; a cut-short CREATING completes, DELETING finishes', async () => {
    const { kept, dropped } = await withServerOn(dataDir.path, { workers: 1 }, async (client) => {
      await createActive(client, 'kept', 1);
      const kept = (
        await client.send(
          new RegisterStreamConsumerCommand({
            StreamARN: streamArn('kept'),
            ConsumerName: 'kept',
            Tags: { a: 'b' },
          }),
        )
      ).Consumer!;
      const dropped = (
        await client.send(
          new RegisterStreamConsumerCommand({
            StreamARN: streamArn('kept'),
            ConsumerName: 'dropped',
          }),
        )
      ).Consumer!;
      return { kept, dropped };
    });

    // A transition far longer than the test: the restart cuts it short.
    await withServerOn(
      dataDir.path,
      { workers: 1, engineOptions: { streamTransitionMs: 600_000 } },
      async (client) => {
        const pending = (
          await client.send(
            new RegisterStreamConsumerCommand({
              StreamARN: streamArn('kept'),
              ConsumerName: 'pending',
            }),
          )
        ).Consumer!;
        expect(pending.ConsumerStatus).toBe('CREATING');
        await client.send(
          new DeregisterStreamConsumerCommand({ ConsumerARN: dropped.ConsumerARN }),
        );
      },
    );

    await withServerOn(dataDir.path, { workers: 1 }, async (client) => {
      const listed = await client.send(
        new ListStreamConsumersCommand({ StreamARN: streamArn('kept') }),
      );
      expect(
        listed.Consumers!.map((consumer) => [consumer.ConsumerName, consumer.ConsumerStatus]),
      ).toEqual([
        ['kept', 'ACTIVE'],
        ['pending', 'ACTIVE'],
      ]);
      const described = await client.send(
        new DescribeStreamConsumerCommand({ ConsumerARN: kept.ConsumerARN }),
      );
      expect(described.ConsumerDescription!.ConsumerCreationTimestamp).toEqual(
        kept.ConsumerCreationTimestamp,
      );
      expect(
        (await client.send(new ListTagsForResourceCommand({ ResourceARN: kept.ConsumerARN }))).Tags,
      ).toEqual([{ Key: 'a', Value: 'b' }]);
      const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'kept' }));
      expect(summary.StreamDescriptionSummary!.ConsumerCount).toBe(2);
    });
  });
});

const LIFETIME_MS = 2500;
const HEARTBEAT_MS = 400;

describe('SubscribeToShard', () => {
  const runnel = serverForBlock({
    dataDirPrefix: 'runnel-efo-subscribe-',
    wsPort: 0,
    workers: 2,
    engineOptions: {
      streamTransitionMs: TRANSITION_MS,
      subscriptionLifetimeMs: LIFETIME_MS,
      subscriptionHeartbeatMs: HEARTBEAT_MS,
    },
  });
  let http1Client: KinesisClient;

  beforeAll(() => {
    http1Client = sdkClient(runnel.server.kinesisUrl, { requestHandler: new NodeHttpHandler() });
  });

  afterAll(() => {
    http1Client?.destroy();
  });

  /** Records with distinct binary payloads of varied sizes (0 to ~3 KB, every byte value). */
  function payloads(prefix: string, count: number): Uint8Array[] {
    return Array.from({ length: count }, (_, i) => {
      const bytes = new Uint8Array((i * 97) % 3000);
      for (let j = 0; j < bytes.length; j++) bytes[j] = (j * 31 + i) & 0xff;
      return new Uint8Array([...new TextEncoder().encode(`${prefix}${i}:`), ...bytes]);
    });
  }

  async function put(stream: string, data: Uint8Array[]): Promise<string[]> {
    const result = await runnel.client.send(
      new PutRecordsCommand({
        StreamName: stream,
        Records: data.map((Data) => ({ Data, PartitionKey: 'pk' })),
      }),
    );
    expect(result.FailedRecordCount).toBe(0);
    return result.Records!.map((record) => record.SequenceNumber!);
  }

  /**
   * Subscribes and reads every event until the stream ends; `onEvent` runs after each event (the
   * first one comes at once, so it can put records "during" the subscription).
   */
  async function subscribe(
    consumerArn: string,
    position: StartingPosition,
    onEvent?: (event: SubscribeToShardEvent, index: number) => Promise<void>,
    via = runnel.client,
    shardId = 'shardId-000000000000',
  ): Promise<{ events: SubscribeToShardEvent[]; ms: number }> {
    const started = performance.now();
    const response = await via.send(
      new SubscribeToShardCommand({
        ConsumerARN: consumerArn,
        ShardId: shardId,
        StartingPosition: position,
      }),
    );
    const events: SubscribeToShardEvent[] = [];
    for await (const message of response.EventStream!) {
      const event = message.SubscribeToShardEvent!;
      expect(event).toBeDefined();
      events.push(event);
      await onEvent?.(event, events.length - 1);
    }
    return { events, ms: performance.now() - started };
  }

  const recordsOf = (events: SubscribeToShardEvent[]) => events.flatMap((event) => event.Records!);

  it('TRIM_HORIZON: every record put before and during the subscription, once, in order, byte for byte', async () => {
    await createActive(runnel.client, 'sub-trim', 1);
    const consumer = await registerActive(runnel.client, 'sub-trim', 'reader');
    const before = payloads('before-', 40);
    const during = payloads('during-', 40);
    const sequences = await put('sub-trim', before);
    const { events, ms } = await subscribe(
      consumer.ConsumerARN!,
      { Type: 'TRIM_HORIZON' },
      async (_event, index) => {
        if (index === 0) sequences.push(...(await put('sub-trim', during.slice(0, 20))));
        if (index === 1) sequences.push(...(await put('sub-trim', during.slice(20))));
      },
    );
    const records = recordsOf(events);
    expect(records.map((record) => record.SequenceNumber)).toEqual(sequences);
    const expected = [...before, ...during];
    expect(records).toHaveLength(expected.length);
    records.forEach((record, i) => {
      expect(Buffer.from(record.Data!).equals(Buffer.from(expected[i]!))).toBe(true);
      expect(record.PartitionKey).toBe('pk');
      expect(record.ApproximateArrivalTimestamp).toBeInstanceOf(Date);
    });
    const last = events[events.length - 1]!;
    expect(last.ContinuationSequenceNumber).toBe(sequences[sequences.length - 1]);
    expect(last.MillisBehindLatest).toBe(0);
    expect(last.ChildShards).toBeUndefined();
    // Ended by the lifetime, not earlier.
    expect(ms).toBeGreaterThanOrEqual(LIFETIME_MS - 50);
  });

  it('sends an event every heartbeat without records, and ends after the lifetime', async () => {
    await createActive(runnel.client, 'sub-idle', 1);
    const consumer = await registerActive(runnel.client, 'sub-idle', 'reader');
    const sequences = await put('sub-idle', payloads('only-', 2));
    const arrivals: number[] = [];
    const started = performance.now();
    const { events, ms } = await subscribe(consumer.ConsumerARN!, { Type: 'LATEST' }, async () => {
      arrivals.push(performance.now() - started);
    });
    expect(recordsOf(events)).toEqual([]);
    for (const event of events) {
      expect(event.ContinuationSequenceNumber).toBe(sequences[1]);
      expect(event.MillisBehindLatest).toBe(0);
    }
    // One at once, then one per heartbeat until the lifetime ends the stream.
    expect(events.length).toBeGreaterThanOrEqual(Math.floor(LIFETIME_MS / HEARTBEAT_MS) - 1);
    expect(events.length).toBeLessThanOrEqual(Math.ceil(LIFETIME_MS / HEARTBEAT_MS) + 1);
    for (let i = 1; i < arrivals.length; i++) {
      expect(arrivals[i]! - arrivals[i - 1]!).toBeLessThan(HEARTBEAT_MS * 2);
    }
    expect(ms).toBeGreaterThanOrEqual(LIFETIME_MS - 50);
    expect(ms).toBeLessThan(LIFETIME_MS + 1500);
  });

  it('LATEST: only records put after the subscription started', async () => {
    await createActive(runnel.client, 'sub-latest', 1);
    const consumer = await registerActive(runnel.client, 'sub-latest', 'reader');
    await put('sub-latest', payloads('old-', 5));
    const fresh = payloads('new-', 3);
    let sequences: string[] = [];
    const { events } = await subscribe(
      consumer.ConsumerARN!,
      { Type: 'LATEST' },
      async (_event, index) => {
        if (index === 0) sequences = await put('sub-latest', fresh);
      },
    );
    expect(events[0]!.Records).toEqual([]);
    const records = recordsOf(events);
    expect(records.map((record) => record.SequenceNumber)).toEqual(sequences);
    expect(records.map((record) => Buffer.from(record.Data!).toString('latin1'))).toEqual(
      fresh.map((data) => Buffer.from(data).toString('latin1')),
    );
  });

  it('AT_SEQUENCE_NUMBER starts at that record; over HTTP/1.1 (NodeHttpHandler) too', async () => {
    await createActive(runnel.client, 'sub-at', 1);
    const consumer = await registerActive(runnel.client, 'sub-at', 'reader');
    const sequences = await put('sub-at', payloads('r', 10));
    for (const via of [runnel.client, http1Client]) {
      const { events } = await subscribe(
        consumer.ConsumerARN!,
        { Type: 'AT_SEQUENCE_NUMBER', SequenceNumber: sequences[4] },
        undefined,
        via,
      );
      expect(recordsOf(events).map((record) => record.SequenceNumber)).toEqual(sequences.slice(4));
    }
  });

  it('ContinuationSequenceNumber: a second subscription continues without loss or duplicates', async () => {
    await createActive(runnel.client, 'sub-cont', 1);
    const consumer = await registerActive(runnel.client, 'sub-cont', 'reader');
    // Nothing yet: the continuation is the position before the first record.
    const first = await subscribe(consumer.ConsumerARN!, { Type: 'TRIM_HORIZON' });
    expect(recordsOf(first.events)).toEqual([]);
    const empty = first.events[first.events.length - 1]!.ContinuationSequenceNumber!;
    expect(empty).toMatch(/^\d+$/);

    const sequences = await put('sub-cont', payloads('a', 6));
    const second = await subscribe(
      consumer.ConsumerARN!,
      { Type: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: empty },
      async (_event, index) => {
        if (index === 0) sequences.push(...(await put('sub-cont', payloads('b', 4))));
      },
    );
    const continuation = second.events[second.events.length - 1]!.ContinuationSequenceNumber!;
    sequences.push(...(await put('sub-cont', payloads('c', 5))));
    const third = await subscribe(consumer.ConsumerARN!, {
      Type: 'AFTER_SEQUENCE_NUMBER',
      SequenceNumber: continuation,
    });
    const seen = [...recordsOf(second.events), ...recordsOf(third.events)].map(
      (record) => record.SequenceNumber,
    );
    expect(seen).toEqual(sequences);
    expect(recordsOf(third.events)).toHaveLength(5);
  });

  it("at a split shard's end: a last event with ChildShards and no continuation, then the end", async () => {
    await createActive(runnel.client, 'sub-split', 1);
    const consumer = await registerActive(runnel.client, 'sub-split', 'reader');
    const sequences = await put('sub-split', payloads('p', 8));
    await runnel.client.send(
      new SplitShardCommand({
        StreamName: 'sub-split',
        ShardToSplit: 'shardId-000000000000',
        NewStartingHashKey: (1n << 127n).toString(),
      }),
    );
    for (;;) {
      const summary = await runnel.client.send(
        new DescribeStreamSummaryCommand({ StreamName: 'sub-split' }),
      );
      if (summary.StreamDescriptionSummary!.StreamStatus === 'ACTIVE') break;
      await sleep(25);
    }
    await put('sub-split', payloads('child', 3));
    const { events, ms } = await subscribe(consumer.ConsumerARN!, { Type: 'TRIM_HORIZON' });
    expect(recordsOf(events).map((record) => record.SequenceNumber)).toEqual(sequences);
    const last = events[events.length - 1]!;
    expect(last.ContinuationSequenceNumber ?? null).toBeNull();
    expect(last.ChildShards!.map((child) => [child.ShardId, child.ParentShards])).toEqual([
      ['shardId-000000000001', ['shardId-000000000000']],
      ['shardId-000000000002', ['shardId-000000000000']],
    ]);
    for (const event of events.slice(0, -1)) expect(event.ContinuationSequenceNumber).toBeDefined();
    // Ended at the shard's end, long before the lifetime.
    expect(ms).toBeLessThan(LIFETIME_MS / 2);

    // The children are subscribed to like any shard.
    const child = await subscribe(
      consumer.ConsumerARN!,
      { Type: 'TRIM_HORIZON' },
      undefined,
      runnel.client,
      'shardId-000000000002',
    );
    const fromChildren = recordsOf(child.events).length;
    const other = await subscribe(
      consumer.ConsumerARN!,
      { Type: 'TRIM_HORIZON' },
      undefined,
      runnel.client,
      'shardId-000000000001',
    );
    expect(fromChildren + recordsOf(other.events).length).toBe(3);
  });

  it('reads no further ahead than the client takes (HTTP/2 flow control), then delivers everything', async () => {
    await createActive(runnel.client, 'sub-slow', 1);
    const consumer = await registerActive(runnel.client, 'sub-slow', 'reader');
    const record = new Uint8Array(10_000).fill(7);
    const sequences: string[] = [];
    for (let call = 0; call < 6; call++) {
      sequences.push(
        ...(await put(
          'sub-slow',
          Array.from({ length: 500 }, () => record),
        )),
      );
    }
    const total = sequences.length;
    const metrics = runnel.server.api.metrics;
    const outBefore = metrics.recordsOut;
    const samples: number[] = [];
    const received: string[] = [];
    let position: StartingPosition = { Type: 'TRIM_HORIZON' };
    // The client stops reading for a while at first: the server stops reading the shard too,
    // once the connection's windows and buffers are full. Then it reads on, subscribing again
    // from each ContinuationSequenceNumber until it has every record.
    while (received.length < total) {
      const { events } = await subscribe(consumer.ConsumerARN!, position, async (_event, index) => {
        if (index !== 0 || samples.length > 0) return;
        // Until the server has stopped reading (no change for 300 ms; a loaded machine fills
        // the windows later), within the subscription's lifetime; then 600 ms more.
        const out = () => metrics.recordsOut - outBefore;
        let last = out();
        let stableSince = performance.now();
        const giveUp = performance.now() + LIFETIME_MS - 1000;
        while (performance.now() - stableSince < 300 && performance.now() < giveUp) {
          await sleep(25);
          if (out() !== last) {
            last = out();
            stableSince = performance.now();
          }
        }
        samples.push(out());
        await sleep(600);
        samples.push(out());
      });
      for (const event of events) {
        // Each event holds about SUBSCRIPTION_EVENT_BYTES_MAX (1 MiB) of records at most.
        expect(event.Records!.length).toBeLessThanOrEqual(500);
        received.push(...event.Records!.map((entry) => entry.SequenceNumber!));
      }
      position = {
        Type: 'AFTER_SEQUENCE_NUMBER',
        SequenceNumber: events[events.length - 1]!.ContinuationSequenceNumber,
      };
    }
    expect(received).toEqual(sequences);
    // 30 MB of records (40 MB as base64 JSON) were waiting; far less left the shard meanwhile,
    // and nothing more while the client went on not reading.
    expect(samples[0]).toBeGreaterThan(0);
    expect(samples[1]).toBe(samples[0]);
    expect(samples[1]).toBeLessThan(total / 2);
  });

  it('frees the shard at the lifetime even while its client reads nothing', async () => {
    await createActive(runnel.client, 'sub-stalled', 1);
    const consumer = await registerActive(runnel.client, 'sub-stalled', 'reader');
    const record = new Uint8Array(10_000).fill(9);
    for (let call = 0; call < 6; call++)
      await put(
        'sub-stalled',
        Array.from({ length: 500 }, () => record),
      );
    // A second client and connection, so the stalled one's flow control is its own.
    const second = sdkClient(runnel.server.kinesisUrl);
    let next: { name?: string; events?: number } | undefined;
    try {
      await subscribe(consumer.ConsumerARN!, { Type: 'TRIM_HORIZON' }, async (_event, index) => {
        if (index !== 0) return;
        // The client stops reading, with 30 MB waiting: the server is held at the connection's
        // window. Past the lifetime (and well short of the take-over delay), the shard is free.
        await sleep(LIFETIME_MS + 700);
        try {
          const { events } = await subscribe(
            consumer.ConsumerARN!,
            { Type: 'LATEST' },
            undefined,
            second,
          );
          next = { events: events.length };
        } catch (error) {
          next = { name: (error as Error).name };
        }
      }).catch(() => undefined); // The stalled stream was cut: how it ends for its client varies.
    } finally {
      second.destroy();
    }
    expect(next).toEqual({ events: expect.any(Number) });
    expect(next!.events).toBeGreaterThan(0);
  });

  it('ends with the error that ended it, after what was already sent, when its client paused meanwhile', async () => {
    await createActive(runnel.client, 'sub-paused', 1);
    const consumer = await registerActive(runnel.client, 'sub-paused', 'reader');
    const record = new Uint8Array(10_000).fill(5);
    const sequences: string[] = [];
    for (let call = 0; call < 3; call++)
      sequences.push(
        ...(await put(
          'sub-paused',
          Array.from({ length: 500 }, () => record),
        )),
      );
    const second = sdkClient(runnel.server.kinesisUrl);
    const received: string[] = [];
    let ended: string | undefined;
    try {
      await subscribe(consumer.ConsumerARN!, { Type: 'TRIM_HORIZON' }, async (event, index) => {
        received.push(...event.Records!.map((stored) => stored.SequenceNumber!));
        if (index !== 0) return;
        // The client pauses with megabytes on the way; its consumer is deregistered meanwhile.
        // The subscription ends then, but what was sent, and the error, still arrive.
        await second.send(
          new DeregisterStreamConsumerCommand({ ConsumerARN: consumer.ConsumerARN }),
        );
        await sleep(500);
      });
      ended = 'ended without an error';
    } catch (error) {
      ended = `${(error as Error).name}: ${(error as Error).message}`;
    } finally {
      second.destroy();
    }
    expect(ended).toBe(
      `ResourceNotFoundException: Consumer ${consumer.ConsumerARN} under stream sub-paused under account ${ACCOUNT} not found.`,
    );
    // In order and without a gap: the first records of the shard, more than the first event.
    expect(received.length).toBeGreaterThan(1);
    expect(received).toEqual(sequences.slice(0, received.length));
  });

  it('cuts off a client that stopped reading, SUBSCRIPTION_END_FLUSH_MS after its subscription ended', async () => {
    await createActive(runnel.client, 'sub-cut', 1);
    const consumer = await registerActive(runnel.client, 'sub-cut', 'reader');
    const record = new Uint8Array(10_000).fill(3);
    for (let call = 0; call < 6; call++)
      await put(
        'sub-cut',
        Array.from({ length: 500 }, () => record),
      );
    let outcome: string | undefined;
    const started = performance.now();
    let resumedAt = 0;
    try {
      await subscribe(consumer.ConsumerARN!, { Type: 'TRIM_HORIZON' }, async (_event, index) => {
        if (index !== 0) return;
        // 30 MB wait behind the connection's window while this client reads nothing, past the
        // lifetime and then past the flush allowance: the server drops the stream.
        await sleep(LIFETIME_MS + SUBSCRIPTION_END_FLUSH_MS + 1500);
        resumedAt = performance.now() - started;
      });
      outcome = 'ended normally';
    } catch (error) {
      outcome = (error as Error).name;
    }
    expect(resumedAt).toBeGreaterThan(LIFETIME_MS + SUBSCRIPTION_END_FLUSH_MS);
    // Whatever the client still had buffered, its stream did not end cleanly: it was cut.
    expect(outcome).not.toBe('ended normally');
  }, 30_000);

  it('refuses a second subscription for the same consumer and shard while one is active', async () => {
    await createActive(runnel.client, 'sub-busy', 2);
    const consumer = await registerActive(runnel.client, 'sub-busy', 'reader');
    const other = await registerActive(runnel.client, 'sub-busy', 'other');
    let refusal: { name: string; message: string } | undefined;
    const { ms } = await subscribe(
      consumer.ConsumerARN!,
      { Type: 'LATEST' },
      async (_event, index) => {
        if (index !== 0) return;
        refusal = await failure(
          runnel.client.send(
            new SubscribeToShardCommand({
              ConsumerARN: consumer.ConsumerARN,
              ShardId: 'shardId-000000000000',
              StartingPosition: { Type: 'LATEST' },
            }),
          ),
        );
        // Another shard, or another consumer of the same shard, is allowed meanwhile.
        const sideways = await subscribe(other.ConsumerARN!, { Type: 'LATEST' });
        expect(sideways.events.length).toBeGreaterThan(0);
      },
    );
    expect(refusal!.name).toBe('ResourceInUseException');
    expect(refusal!.message).toBe(
      `Consumer ${consumer.ConsumerARN} already has a subscription to shard shardId-000000000000 that began ` +
        'less than 5 s ago: one subscription per consumer and shard at a time.',
    );
    expect(ms).toBeGreaterThanOrEqual(LIFETIME_MS - 50);
    // Once it has ended, the shard can be subscribed to again.
    const again = await subscribe(consumer.ConsumerARN!, { Type: 'LATEST' });
    expect(again.events.length).toBeGreaterThan(0);
  });

  it("a client that stops reading frees the consumer's shard at once", async () => {
    await createActive(runnel.client, 'sub-cancel', 1);
    const consumer = await registerActive(runnel.client, 'sub-cancel', 'reader');
    const abort = new AbortController();
    const response = await runnel.client.send(
      new SubscribeToShardCommand({
        ConsumerARN: consumer.ConsumerARN,
        ShardId: 'shardId-000000000000',
        StartingPosition: { Type: 'LATEST' },
      }),
      { abortSignal: abort.signal },
    );
    const iterator = response.EventStream![Symbol.asyncIterator]();
    expect((await iterator.next()).done).toBe(false);
    abort.abort();
    await iterator.return?.();
    const started = performance.now();
    for (;;) {
      try {
        const again = await subscribe(consumer.ConsumerARN!, { Type: 'LATEST' });
        expect(again.events.length).toBeGreaterThan(0);
        break;
      } catch (error) {
        expect((error as Error).name).toBe('ResourceInUseException');
        expect(performance.now() - started).toBeLessThan(1000);
        await sleep(20);
      }
    }
  });

  it('answers errors before the stream as JSON errors', async () => {
    await createActive(runnel.client, 'sub-errors', 1);
    const consumer = await registerActive(runnel.client, 'sub-errors', 'reader');
    const send = (
      ConsumerARN: string,
      ShardId: string,
      StartingPosition: StartingPosition = { Type: 'LATEST' },
    ) =>
      failure(
        runnel.client.send(new SubscribeToShardCommand({ ConsumerARN, ShardId, StartingPosition })),
      );

    const unknown = `${streamArn('sub-errors')}/consumer/nobody:1700000000`;
    const noConsumer = await send(unknown, 'shardId-000000000000');
    expect(noConsumer.name).toBe('ResourceNotFoundException');
    expect(noConsumer.message).toBe(
      `Consumer ${unknown} under stream sub-errors under account ${ACCOUNT} not found.`,
    );

    const noShard = await send(consumer.ConsumerARN!, 'shardId-000000000007');
    expect(noShard.name).toBe('ResourceNotFoundException');
    expect(noShard.message).toBe(
      `Shard shardId-000000000007 in stream sub-errors under account ${ACCOUNT} does not exist`,
    );

    const noSequence = await send(consumer.ConsumerARN!, 'shardId-000000000000', {
      Type: 'AT_SEQUENCE_NUMBER',
    });
    expect(noSequence.name).toBe('InvalidArgumentException');
    expect(noSequence.message).toBe(
      'Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingPosition.SequenceNumber ' +
        'or (2) TRIM_HORIZON, LATEST or AT_TIMESTAMP and no StartingPosition.SequenceNumber. Request specified ' +
        'AT_SEQUENCE_NUMBER and no StartingPosition.SequenceNumber.',
    );

    const { Consumer: creating } = await runnel.client.send(
      new RegisterStreamConsumerCommand({
        StreamARN: streamArn('sub-errors'),
        ConsumerName: 'late',
      }),
    );
    const notActive = await send(creating!.ConsumerARN!, 'shardId-000000000000');
    expect(notActive.name).toBe('ResourceInUseException');
    expect(notActive.message).toBe(
      `Consumer ${creating!.ConsumerARN} is not ACTIVE, instead in state CREATING.`,
    );

    // The uWS port answers buffered requests only, and says where SubscribeToShard is served.
    const uws = sdkClient(runnel.server.wsUrl!, { requestHandler: new NodeHttpHandler() });
    try {
      const refused = await failure(
        uws.send(
          new SubscribeToShardCommand({
            ConsumerARN: consumer.ConsumerARN,
            ShardId: 'shardId-000000000000',
            StartingPosition: { Type: 'LATEST' },
          }),
        ),
      );
      expect(refused.name).toBe('UnknownOperationException');
      expect(refused.message).toBe(
        'SubscribeToShard is served on the Kinesis endpoint (HTTP/2 or HTTP/1.1), which streams its ' +
          'events; this port answers buffered requests only.',
      );
    } finally {
      uws.destroy();
    }
  });

  it('reports a consumer deregistered during the subscription as an exception event', async () => {
    await createActive(runnel.client, 'sub-gone', 1);
    const consumer = await registerActive(runnel.client, 'sub-gone', 'reader');
    let error: { name: string; message: string } | undefined;
    const events: SubscribeToShardEvent[] = [];
    try {
      await subscribe(consumer.ConsumerARN!, { Type: 'LATEST' }, async (event, index) => {
        events.push(event);
        if (index === 0) {
          await runnel.client.send(
            new DeregisterStreamConsumerCommand({ ConsumerARN: consumer.ConsumerARN }),
          );
          await put('sub-gone', payloads('x', 1));
        }
      });
    } catch (thrown) {
      error = thrown as never;
    }
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(error?.name).toBe('ResourceNotFoundException');
    expect(error?.message).toBe(
      `Consumer ${consumer.ConsumerARN} under stream sub-gone under account ${ACCOUNT} not found.`,
    );
  });
});

describe('SubscribeToShard take-over', () => {
  it('lets a call made 5 s after the subscription began take it over, ending the old one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runnel-efo-takeover-'));
    const engine = await Engine.open({ dataDir: dir, workers: 1, subscriptionLifetimeMs: 60_000 });
    try {
      await engine.createStream({ StreamName: 'held', ShardCount: 1 });
      const { StreamARN } = (await engine.describeStreamSummary({ StreamName: 'held' }))
        .StreamDescriptionSummary;
      const { Consumer } = await engine.registerStreamConsumer({
        StreamARN,
        ConsumerName: 'reader',
      });
      const input = {
        ConsumerARN: Consumer.ConsumerARN,
        ShardId: 'shardId-000000000000',
        StartingPosition: { Type: 'LATEST' as const },
      };
      const first = await engine.subscribeToShard(input);
      // Its client went quiet without closing (a dead host): nobody reads its events.
      await expect(engine.subscribeToShard(input)).rejects.toMatchObject({
        name: 'ResourceInUseException',
      });
      await new Promise((resolve) => setTimeout(resolve, SUBSCRIPTION_TAKEOVER_MS + 100));
      const second = await engine.subscribeToShard(input);
      expect(first.signal.aborted).toBe(true);
      expect(second.signal.aborted).toBe(false);
      // The old one's events end; the new one's flow.
      expect((await first.events.next()).done).toBe(true);
      await engine.putRecord({ StreamName: 'held', PartitionKey: 'k', Data: Buffer.from('x') });
      const event = await second.events.next();
      expect(event.done).toBe(false);
      second.close();
    } finally {
      await engine.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('stream consumers: identity and paging', () => {
  it('gives a consumer registered again under the same name, in the same second, an ARN of its own', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runnel-efo-arn-'));
    const now = Date.parse('2026-01-01T00:00:00.100Z');
    const engine = await Engine.open({ dataDir: dir, workers: 1, clock: () => now });
    try {
      await engine.createStream({ StreamName: 'named', ShardCount: 1 });
      const { StreamARN } = (await engine.describeStreamSummary({ StreamName: 'named' }))
        .StreamDescriptionSummary;
      const first = (await engine.registerStreamConsumer({ StreamARN, ConsumerName: 'reader' }))
        .Consumer;
      const input = {
        ConsumerARN: first.ConsumerARN,
        ShardId: 'shardId-000000000000',
        StartingPosition: { Type: 'LATEST' as const },
      };
      const subscription = await engine.subscribeToShard(input);
      await engine.deregisterStreamConsumer({ ConsumerARN: first.ConsumerARN });
      // Deregistering ends its subscriptions at once.
      expect(subscription.signal.aborted).toBe(true);
      const again = (await engine.registerStreamConsumer({ StreamARN, ConsumerName: 'reader' }))
        .Consumer;
      expect(again.ConsumerARN).not.toBe(first.ConsumerARN);
      await expect(
        engine.describeStreamConsumer({ ConsumerARN: first.ConsumerARN }),
      ).rejects.toMatchObject({
        name: 'ResourceNotFoundException',
      });
      const fresh = await engine.subscribeToShard({ ...input, ConsumerARN: again.ConsumerARN });
      fresh.close();
    } finally {
      await engine.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('pages past a consumer deregistered between pages, with every consumer registered in one millisecond', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runnel-efo-pages-'));
    const engine = await Engine.open({
      dataDir: dir,
      workers: 1,
      clock: () => Date.parse('2026-01-01T00:00:00Z'),
    });
    try {
      await engine.createStream({ StreamName: 'paged', ShardCount: 1 });
      const { StreamARN } = (await engine.describeStreamSummary({ StreamName: 'paged' }))
        .StreamDescriptionSummary;
      const arns: string[] = [];
      for (const name of ['a', 'b', 'c', 'd']) {
        arns.push(
          (await engine.registerStreamConsumer({ StreamARN, ConsumerName: name })).Consumer
            .ConsumerARN,
        );
      }
      const first = await engine.listStreamConsumers({ StreamARN, MaxResults: 2 });
      expect(first.Consumers!.map((consumer) => consumer.ConsumerName)).toEqual(['a', 'b']);
      await engine.deregisterStreamConsumer({ ConsumerARN: arns[1]! });
      const second = await engine.listStreamConsumers({ StreamARN, NextToken: first.NextToken! });
      expect(second.Consumers!.map((consumer) => consumer.ConsumerName)).toEqual(['c', 'd']);
    } finally {
      await engine.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
