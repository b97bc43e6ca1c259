/**
 * Goal: enhanced fan-out works with the real `@aws-sdk/client-kinesis` against a real Runnel
 * server (in-process `startServer` on 127.0.0.1, free ports, temp data dirs, real shard workers):
 *  - consumers: RegisterStreamConsumer (CREATING, then ACTIVE), DescribeStreamConsumer by ARN and
 *    by stream ARN + name, ListStreamConsumers with paging, DeregisterStreamConsumer (DELETING,
 *    then gone), tags on consumers, the per-stream limit, errors by name and full message, and
 *    consumers surviving a restart;
 *  - SubscribeToShard (when served): events pushed over the SDK's event stream.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DeregisterStreamConsumerCommand,
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListStreamConsumersCommand,
  ListTagsForResourceCommand,
  RegisterStreamConsumerCommand,
  TagResourceCommand,
  UntagResourceCommand,
  type Consumer,
} from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startServer, type RunningServer } from '../../src/server/server.js';

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const TRANSITION_MS = 200;
const CONSUMERS_PER_STREAM_MAX = 20;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const streamArn = (name: string) => `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/${name}`;

/** Catches the SDK error a command throws, so tests can check name and message. */
async function failure(promise: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as never;
  }
  throw new Error('expected the command to fail');
}

function clientOf(server: RunningServer): KinesisClient {
  return new KinesisClient({
    endpoint: server.kinesisUrl,
    region: REGION,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
}

async function createActive(client: KinesisClient, name: string, shardCount: number): Promise<void> {
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shardCount }));
  for (;;) {
    const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (summary.StreamDescriptionSummary!.StreamStatus === 'ACTIVE') return;
    await sleep(25);
  }
}

async function waitForConsumer(client: KinesisClient, arn: string, status: string): Promise<void> {
  for (;;) {
    const described = await client.send(new DescribeStreamConsumerCommand({ ConsumerARN: arn }));
    if (described.ConsumerDescription!.ConsumerStatus === status) return;
    await sleep(25);
  }
}

async function registerActive(client: KinesisClient, stream: string, name: string): Promise<Consumer> {
  const { Consumer: consumer } = await client.send(
    new RegisterStreamConsumerCommand({ StreamARN: streamArn(stream), ConsumerName: name }),
  );
  await waitForConsumer(client, consumer!.ConsumerARN!, 'ACTIVE');
  return consumer!;
}

describe('stream consumers', () => {
  let server: RunningServer;
  let client: KinesisClient;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'runnel-efo-consumers-'));
    server = await startServer({
      port: 0,
      wsPort: null,
      dataDir,
      workers: 2,
      engineOptions: { streamTransitionMs: TRANSITION_MS },
    });
    client = clientOf(server);
  });

  afterAll(async () => {
    client?.destroy();
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('registers a consumer CREATING, then ACTIVE, and describes it by ARN and by name', async () => {
    await createActive(client, 'reg', 1);
    const before = Math.floor(Date.now() / 1000);
    const registered = await client.send(
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

    await waitForConsumer(client, consumer.ConsumerARN!, 'ACTIVE');
    const byArn = await client.send(new DescribeStreamConsumerCommand({ ConsumerARN: consumer.ConsumerARN }));
    expect(byArn.ConsumerDescription).toEqual({
      ConsumerName: 'reader-1',
      ConsumerARN: consumer.ConsumerARN,
      ConsumerStatus: 'ACTIVE',
      ConsumerCreationTimestamp: consumer.ConsumerCreationTimestamp,
      StreamARN: streamArn('reg'),
    });
    const byName = await client.send(
      new DescribeStreamConsumerCommand({ StreamARN: streamArn('reg'), ConsumerName: 'reader-1' }),
    );
    expect(byName.ConsumerDescription).toEqual(byArn.ConsumerDescription);

    const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'reg' }));
    expect(summary.StreamDescriptionSummary!.ConsumerCount).toBe(1);
  });

  it('refuses a name already registered, an unknown stream and a 21st consumer', async () => {
    await createActive(client, 'limits', 1);
    await client.send(new RegisterStreamConsumerCommand({ StreamARN: streamArn('limits'), ConsumerName: 'c00' }));
    const again = await failure(
      client.send(new RegisterStreamConsumerCommand({ StreamARN: streamArn('limits'), ConsumerName: 'c00' })),
    );
    expect(again.name).toBe('ResourceInUseException');
    expect(again.message).toBe(`Consumer c00 under stream limits under account ${ACCOUNT} already exists.`);

    const missing = await failure(
      client.send(new RegisterStreamConsumerCommand({ StreamARN: streamArn('nosuch'), ConsumerName: 'c' })),
    );
    expect(missing.name).toBe('ResourceNotFoundException');
    expect(missing.message).toBe(`Stream nosuch under account ${ACCOUNT} not found.`);

    const badName = await failure(
      client.send(new RegisterStreamConsumerCommand({ StreamARN: streamArn('limits'), ConsumerName: 'a b' })),
    );
    expect(badName.name).toBe('ValidationException');
    expect(badName.message).toContain("Value 'a b' at 'consumerName' failed to satisfy constraint");

    for (let i = 1; i < CONSUMERS_PER_STREAM_MAX; i++) {
      const name = `c${String(i).padStart(2, '0')}`;
      await client.send(new RegisterStreamConsumerCommand({ StreamARN: streamArn('limits'), ConsumerName: name }));
    }
    const over = await failure(
      client.send(new RegisterStreamConsumerCommand({ StreamARN: streamArn('limits'), ConsumerName: 'c20' })),
    );
    expect(over.name).toBe('LimitExceededException');
    expect(over.message).toBe(
      `Stream limits under account ${ACCOUNT} already has 20 registered consumers, the most a stream may have (20).`,
    );
    const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'limits' }));
    expect(summary.StreamDescriptionSummary!.ConsumerCount).toBe(CONSUMERS_PER_STREAM_MAX);
  });

  it('lists consumers in registration order, in pages that NextToken continues', async () => {
    await createActive(client, 'listing', 1);
    const names = Array.from({ length: 7 }, (_, i) => `list-${i}`);
    for (const name of names) {
      await client.send(new RegisterStreamConsumerCommand({ StreamARN: streamArn('listing'), ConsumerName: name }));
    }
    const seen: Consumer[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await client.send(
        new ListStreamConsumersCommand({ StreamARN: streamArn('listing'), MaxResults: 3, NextToken: token }),
      );
      pages++;
      expect(page.Consumers!.length).toBeLessThanOrEqual(3);
      seen.push(...page.Consumers!);
      token = page.NextToken;
    } while (token !== undefined);
    expect(pages).toBe(3);
    expect(seen.map((consumer) => consumer.ConsumerName)).toEqual(names);
    for (const consumer of seen) {
      expect(consumer.ConsumerARN).toMatch(new RegExp(`^${streamArn('listing')}/consumer/${consumer.ConsumerName}:\\d+$`));
      expect(consumer.ConsumerCreationTimestamp).toBeInstanceOf(Date);
    }

    const all = await client.send(new ListStreamConsumersCommand({ StreamARN: streamArn('listing') }));
    expect(all.Consumers).toHaveLength(7);
    expect(all.NextToken).toBeUndefined();

    const exact = await client.send(new ListStreamConsumersCommand({ StreamARN: streamArn('listing'), MaxResults: 7 }));
    expect(exact.Consumers).toHaveLength(7);
    expect(exact.NextToken).toBeUndefined();

    const tooMany = await failure(
      client.send(new ListStreamConsumersCommand({ StreamARN: streamArn('listing'), MaxResults: 10001 })),
    );
    expect(tooMany.name).toBe('ValidationException');
    expect(tooMany.message).toBe(
      "1 validation error detected: Value '10001' at 'maxResults' failed to satisfy constraint: " +
        'Member must have value less than or equal to 10000',
    );
    const missing = await failure(client.send(new ListStreamConsumersCommand({ StreamARN: streamArn('nosuch') })));
    expect(missing.name).toBe('ResourceNotFoundException');
    expect(missing.message).toBe(`Stream nosuch under account ${ACCOUNT} not found.`);
  });

  it('deregisters a consumer: DELETING, then gone', async () => {
    await createActive(client, 'dereg', 1);
    const first = await registerActive(client, 'dereg', 'first');
    const second = await registerActive(client, 'dereg', 'second');
    await client.send(new DeregisterStreamConsumerCommand({ ConsumerARN: first.ConsumerARN }));
    const deleting = await client.send(new DescribeStreamConsumerCommand({ ConsumerARN: first.ConsumerARN }));
    expect(deleting.ConsumerDescription!.ConsumerStatus).toBe('DELETING');
    await client.send(new DeregisterStreamConsumerCommand({ StreamARN: streamArn('dereg'), ConsumerName: 'second' }));

    for (const consumer of [first, second]) {
      for (;;) {
        const gone = await failure(
          client.send(new DescribeStreamConsumerCommand({ ConsumerARN: consumer.ConsumerARN })),
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
    const listed = await client.send(new ListStreamConsumersCommand({ StreamARN: streamArn('dereg') }));
    expect(listed.Consumers).toEqual([]);

    const byName = await failure(
      client.send(new DescribeStreamConsumerCommand({ StreamARN: streamArn('dereg'), ConsumerName: 'first' })),
    );
    expect(byName.name).toBe('ResourceNotFoundException');
    expect(byName.message).toBe(`Consumer first under stream dereg under account ${ACCOUNT} not found.`);

    const neither = await failure(client.send(new DeregisterStreamConsumerCommand({ StreamARN: streamArn('dereg') })));
    expect(neither.name).toBe('InvalidArgumentException');
    expect(neither.message).toBe('Either ConsumerARN, or both StreamARN and ConsumerName, must be provided.');

    // The same name registers again, under a new ARN once a second has passed.
    await sleep(1100);
    const again = await registerActive(client, 'dereg', 'first');
    expect(again.ConsumerARN).not.toBe(first.ConsumerARN);
    const stale = await failure(client.send(new DescribeStreamConsumerCommand({ ConsumerARN: first.ConsumerARN })));
    expect(stale.name).toBe('ResourceNotFoundException');
  });

  it('tags consumers through TagResource, UntagResource and ListTagsForResource', async () => {
    await createActive(client, 'tagged', 1);
    const { Consumer: consumer } = await client.send(
      new RegisterStreamConsumerCommand({ StreamARN: streamArn('tagged'), ConsumerName: 't', Tags: { team: 'a' } }),
    );
    const arn = consumer!.ConsumerARN!;
    await client.send(new TagResourceCommand({ ResourceARN: arn, Tags: { env: 'test' } }));
    expect((await client.send(new ListTagsForResourceCommand({ ResourceARN: arn }))).Tags).toEqual([
      { Key: 'env', Value: 'test' },
      { Key: 'team', Value: 'a' },
    ]);
    await client.send(new UntagResourceCommand({ ResourceARN: arn, TagKeys: ['team'] }));
    expect((await client.send(new ListTagsForResourceCommand({ ResourceARN: arn }))).Tags).toEqual([
      { Key: 'env', Value: 'test' },
    ]);
    // The stream's own tags are separate.
    expect(
      (await client.send(new ListTagsForResourceCommand({ ResourceARN: streamArn('tagged') }))).Tags,
    ).toEqual([]);
    const unknown = `${streamArn('tagged')}/consumer/nobody:1700000000`;
    const refused = await failure(client.send(new ListTagsForResourceCommand({ ResourceARN: unknown })));
    expect(refused.name).toBe('ResourceNotFoundException');
    expect(refused.message).toBe(`Consumer ${unknown} under stream tagged under account ${ACCOUNT} not found.`);
  });

  it('deletes a stream with consumers only with EnforceConsumerDeletion, and its consumers with it', async () => {
    await createActive(client, 'doomed', 1);
    const consumer = await registerActive(client, 'doomed', 'watcher');
    const refused = await failure(client.send(new DeleteStreamCommand({ StreamName: 'doomed' })));
    expect(refused.name).toBe('ResourceInUseException');
    expect(refused.message).toBe(
      `Stream doomed under account ${ACCOUNT} has 1 registered consumer(s): deregister them first, ` +
        'or set EnforceConsumerDeletion to delete them with the stream.',
    );
    await client.send(new DeleteStreamCommand({ StreamName: 'doomed', EnforceConsumerDeletion: true }));
    for (;;) {
      const gone = await failure(client.send(new DescribeStreamSummaryCommand({ StreamName: 'doomed' }))).catch(
        () => undefined,
      );
      if (gone) break;
      await sleep(25);
    }
    await createActive(client, 'doomed', 1);
    const listed = await client.send(new ListStreamConsumersCommand({ StreamARN: streamArn('doomed') }));
    expect(listed.Consumers).toEqual([]);
    const stale = await failure(client.send(new DescribeStreamConsumerCommand({ ConsumerARN: consumer.ConsumerARN })));
    expect(stale.name).toBe('ResourceNotFoundException');
  });
});

describe('stream consumers across a restart', () => {
  let dataDir: string;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'runnel-efo-restart-'));
  });

  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps registered consumers and their tags; a cut-short CREATING completes, DELETING finishes', async () => {
    let server = await startServer({ port: 0, wsPort: null, dataDir, workers: 1 });
    let client = clientOf(server);
    await createActive(client, 'kept', 1);
    const kept = (
      await client.send(
        new RegisterStreamConsumerCommand({ StreamARN: streamArn('kept'), ConsumerName: 'kept', Tags: { a: 'b' } }),
      )
    ).Consumer!;
    const dropped = (
      await client.send(new RegisterStreamConsumerCommand({ StreamARN: streamArn('kept'), ConsumerName: 'dropped' }))
    ).Consumer!;
    client.destroy();
    await server.close();

    // A transition far longer than the test: the restart cuts it short.
    server = await startServer({
      port: 0,
      wsPort: null,
      dataDir,
      workers: 1,
      engineOptions: { streamTransitionMs: 600_000 },
    });
    client = clientOf(server);
    const pending = (
      await client.send(new RegisterStreamConsumerCommand({ StreamARN: streamArn('kept'), ConsumerName: 'pending' }))
    ).Consumer!;
    expect(pending.ConsumerStatus).toBe('CREATING');
    await client.send(new DeregisterStreamConsumerCommand({ ConsumerARN: dropped.ConsumerARN }));
    client.destroy();
    await server.close();

    server = await startServer({ port: 0, wsPort: null, dataDir, workers: 1 });
    client = clientOf(server);
    try {
      const listed = await client.send(new ListStreamConsumersCommand({ StreamARN: streamArn('kept') }));
      expect(listed.Consumers!.map((consumer) => [consumer.ConsumerName, consumer.ConsumerStatus])).toEqual([
        ['kept', 'ACTIVE'],
        ['pending', 'ACTIVE'],
      ]);
      const described = await client.send(new DescribeStreamConsumerCommand({ ConsumerARN: kept.ConsumerARN }));
      expect(described.ConsumerDescription!.ConsumerCreationTimestamp).toEqual(kept.ConsumerCreationTimestamp);
      expect((await client.send(new ListTagsForResourceCommand({ ResourceARN: kept.ConsumerARN }))).Tags).toEqual([
        { Key: 'a', Value: 'b' },
      ]);
      const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'kept' }));
      expect(summary.StreamDescriptionSummary!.ConsumerCount).toBe(2);
    } finally {
      client.destroy();
      await server.close();
    }
  });
});
