/**
 * Goal: in limits mode (`enforceLimits`, `runnel serve --enforce-limits`) enhanced fan-out keeps
 * Kinesis's quotas, seen through the real `@aws-sdk/client-kinesis` (one attempt per call: the
 * SDK would retry LimitExceededException as throttling):
 *  - one SubscribeToShard call per second per consumer and shard; another shard, or another
 *    consumer, has an allowance of its own;
 *  - at most 5 consumers of a stream CREATING at once (and, beside enhanced fan-out, at most 5
 *    streams of the account);
 *  - 2 MiB/s delivered per consumer and shard: a subscription over a shard holding ~6.8 MiB
 *    takes at least ~2 s (an unpaced one takes a fraction of that), every record still arriving
 *    once, in order, byte for byte.
 * The engine's clock stands still unless a test moves it, so call allowances refill only when a
 * test says so; the pacing waits in real time. Without limits mode none of this applies.
 */

import {
  CreateStreamCommand,
  DeregisterStreamConsumerCommand,
  PutRecordsCommand,
  RegisterStreamConsumerCommand,
  SubscribeToShardCommand,
  type KinesisClient,
  type SubscribeToShardEvent,
} from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';

import {
  CONSUMERS_CREATING_PER_STREAM_MAX,
  STREAMS_CREATING_MAX,
  SUBSCRIBE_TO_SHARD_CALLS_PER_SEC,
  SUBSCRIPTION_BYTES_PER_SEC,
} from '../../src/limits.js';
import {
  ACCOUNT,
  createActive,
  failure,
  registerActive,
  serverForBlock,
  sleep,
  streamArn,
  waitActive,
  waitConsumerActive,
} from '../helpers/sdk.js';

const TRANSITION_MS = 1500;

/** Subscribes, takes the first event, and closes the subscription from the client's side. */
async function firstEvent(
  client: KinesisClient,
  ConsumerARN: string,
  ShardId: string,
): Promise<SubscribeToShardEvent> {
  const abort = new AbortController();
  const response = await client.send(
    new SubscribeToShardCommand({ ConsumerARN, ShardId, StartingPosition: { Type: 'LATEST' } }),
    { abortSignal: abort.signal },
  );
  const iterator = response.EventStream![Symbol.asyncIterator]();
  try {
    const first = await iterator.next();
    expect(first.done).toBe(false);
    return first.value.SubscribeToShardEvent!;
  } finally {
    abort.abort();
    await iterator.return?.().catch(() => undefined);
  }
}

/**
 * firstEvent once the server has seen the previous subscription's close: until then a call is
 * ResourceInUseException, and is tried again (at most 20 times). `beforeTry` runs before each.
 */
async function firstEventWhenFree(
  client: KinesisClient,
  ConsumerARN: string,
  ShardId: string,
  beforeTry: () => void = () => undefined,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    beforeTry();
    try {
      await firstEvent(client, ConsumerARN, ShardId);
      return;
    } catch (error) {
      expect((error as Error).name).toBe('ResourceInUseException');
      expect(attempt).toBeLessThan(20);
      await sleep(20);
    }
  }
}

describe('enhanced fan-out in limits mode', () => {
  /** The engine's clock: it stands still unless a test moves it. */
  let nowMs = Date.now();
  const runnel = serverForBlock({
    dataDirPrefix: 'runnel-efo-limits-',
    workers: 2,
    engineOptions: { enforceLimits: true, clock: () => nowMs, streamTransitionMs: TRANSITION_MS },
    client: { maxAttempts: 1 },
  });

  it('allows one SubscribeToShard call per second per consumer and shard', async () => {
    expect(SUBSCRIBE_TO_SHARD_CALLS_PER_SEC).toBe(1);
    await createActive(runnel.client, 'calls', 2);
    const [reader, other] = (
      await Promise.all([
        registerActive(runnel.client, 'calls', 'reader'),
        registerActive(runnel.client, 'calls', 'other'),
      ])
    ).map((consumer) => consumer.ConsumerARN!);
    const subscribeAgain = () =>
      runnel.client.send(
        new SubscribeToShardCommand({
          ConsumerARN: reader,
          ShardId: 'shardId-000000000000',
          StartingPosition: { Type: 'LATEST' },
        }),
      );
    await firstEvent(runnel.client, reader, 'shardId-000000000000');
    // The subscription is closed, but the second's allowance is spent: refused, whether or not
    // the server has seen the close yet.
    const refused = await failure(subscribeAgain());
    expect(refused.name).toBe('LimitExceededException');
    expect(refused.message).toBe(
      `Rate exceeded for consumer ${reader} on shard shardId-000000000000 in stream calls under account ` +
        `${ACCOUNT}: at most 1 SubscribeToShard call per second per consumer and shard.`,
    );
    expect(refused.$metadata.httpStatusCode).toBe(400);
    expect(refused.$fault).toBe('client');
    // Another shard of the same consumer, and another consumer of the same shard, are allowed.
    await firstEvent(runnel.client, reader, 'shardId-000000000001');
    await firstEvent(runnel.client, other, 'shardId-000000000000');
    // A second later the consumer may call on the shard again (once the server has seen the
    // close: until then the call is ResourceInUseException, and spends that second's call).
    await firstEventWhenFree(runnel.client, reader, 'shardId-000000000000', () => {
      nowMs += 1000;
    });
    const again = await failure(subscribeAgain());
    expect(again.name).toBe('LimitExceededException');
  });

  it('allows at most 5 consumers of a stream CREATING at once', async () => {
    expect(CONSUMERS_CREATING_PER_STREAM_MAX).toBe(5);
    await createActive(runnel.client, 'creating', 1);
    await createActive(runnel.client, 'elsewhere', 1);
    const register = (stream: string, ConsumerName: string) =>
      runnel.client.send(
        new RegisterStreamConsumerCommand({ StreamARN: streamArn(stream), ConsumerName }),
      );
    const started = performance.now();
    const first = [];
    for (let i = 0; i < 5; i++) first.push((await register('creating', `c${i}`)).Consumer!);
    const sixth = await failure(register('creating', 'c5'));
    // All five were still CREATING when the sixth was refused.
    expect(performance.now() - started).toBeLessThan(TRANSITION_MS);
    expect(first.map((consumer) => consumer.ConsumerStatus)).toEqual(Array(5).fill('CREATING'));
    expect(sixth.name).toBe('LimitExceededException');
    expect(sixth.message).toBe(
      `Stream creating under account ${ACCOUNT} already has 5 consumers in CREATING state: at most 5 consumers ` +
        'can be created at once.',
    );
    expect(sixth.$metadata.httpStatusCode).toBe(400);
    // The limit is per stream.
    expect((await register('elsewhere', 'c5')).Consumer!.ConsumerStatus).toBe('CREATING');
    // Once they are ACTIVE, the sixth registers.
    for (const consumer of first) await waitConsumerActive(runnel.client, consumer.ConsumerARN!);
    expect((await register('creating', 'c5')).Consumer!.ConsumerStatus).toBe('CREATING');
  });

  it('allows at most 5 streams of the account CREATING at once', async () => {
    expect(STREAMS_CREATING_MAX).toBe(5);
    const create = (StreamName: string) =>
      runnel.client.send(new CreateStreamCommand({ StreamName, ShardCount: 1 }));
    const started = performance.now();
    const names = ['s0', 's1', 's2', 's3', 's4'];
    for (const name of names) await create(name);
    const sixth = await failure(create('s5'));
    // All five were still CREATING when the sixth was refused.
    expect(performance.now() - started).toBeLessThan(TRANSITION_MS);
    expect(sixth.name).toBe('LimitExceededException');
    expect(sixth.message).toBe(
      `Account ${ACCOUNT} already has 5 streams in CREATING state: at most 5 streams can be ` +
        'created at once.',
    );
    expect(sixth.$metadata.httpStatusCode).toBe(400);
    // Nothing of it was made: once the five are ACTIVE, the sixth is created.
    for (const name of names) await waitActive(runnel.client, name);
    await create('s5');
    await waitActive(runnel.client, 's5');
  });

  it('delivers at most 2 MiB/s per consumer and shard: ~6.8 MiB take at least ~2 s, all of it in order', async () => {
    expect(SUBSCRIPTION_BYTES_PER_SEC).toBe(2 * 1024 * 1024);
    await createActive(runnel.client, 'paced', 1);
    const reader = (await registerActive(runnel.client, 'paced', 'reader')).ConsumerARN!;
    // Seven puts of ten 100 KiB records: each fits the shard's 1 MiB write allowance, which a
    // second of the engine's clock refills.
    const sequences: string[] = [];
    const data: Buffer[] = [];
    let total = 0;
    for (let call = 0; call < 7; call++) {
      nowMs += 1000;
      const batch = Array.from({ length: 10 }, (_, i) =>
        Buffer.alloc(100 * 1024, (call * 10 + i) & 0xff),
      );
      const result = await runnel.client.send(
        new PutRecordsCommand({
          StreamName: 'paced',
          Records: batch.map((Data) => ({ Data, PartitionKey: 'k' })),
        }),
      );
      expect(result.FailedRecordCount).toBe(0);
      sequences.push(...result.Records!.map((record) => record.SequenceNumber!));
      data.push(...batch);
      for (const record of batch) total += record.length + 1;
    }
    // One second's allowance goes at once; the rest at 2 MiB/s.
    const floorMs = ((total - SUBSCRIPTION_BYTES_PER_SEC) / SUBSCRIPTION_BYTES_PER_SEC) * 1000;
    expect(floorMs).toBeGreaterThan(2300);

    const abort = new AbortController();
    const started = performance.now();
    const response = await runnel.client.send(
      new SubscribeToShardCommand({
        ConsumerARN: reader,
        ShardId: 'shardId-000000000000',
        StartingPosition: { Type: 'TRIM_HORIZON' },
      }),
      { abortSignal: abort.signal },
    );
    const received: { SequenceNumber?: string; Data?: Uint8Array }[] = [];
    let elapsedMs = 0;
    try {
      for await (const message of response.EventStream!) {
        received.push(...message.SubscribeToShardEvent!.Records!);
        if (received.length >= sequences.length) {
          elapsedMs = performance.now() - started;
          break;
        }
      }
    } finally {
      abort.abort();
    }
    expect(received.map((record) => record.SequenceNumber)).toEqual(sequences);
    received.forEach((record, i) => expect(Buffer.from(record.Data!).equals(data[i]!)).toBe(true));
    // Loose on purpose: a slow machine only makes it take longer. Unpaced, the same read takes
    // a few hundred ms here.
    expect(elapsedMs).toBeGreaterThanOrEqual(2000);
  });
  it('ends a subscription waiting for its allowance with ResourceNotFoundException when its consumer is deregistered', async () => {
    await createActive(runnel.client, 'paced-gone', 1);
    const reader = (await registerActive(runnel.client, 'paced-gone', 'reader')).ConsumerARN!;
    for (let call = 0; call < 4; call++) {
      nowMs += 1000;
      const Records = Array.from({ length: 10 }, () => ({
        Data: Buffer.alloc(100 * 1024, call),
        PartitionKey: 'k',
      }));
      expect(
        (await runnel.client.send(new PutRecordsCommand({ StreamName: 'paced-gone', Records })))
          .FailedRecordCount,
      ).toBe(0);
    }
    const abort = new AbortController();
    const response = await runnel.client.send(
      new SubscribeToShardCommand({
        ConsumerARN: reader,
        ShardId: 'shardId-000000000000',
        StartingPosition: { Type: 'TRIM_HORIZON' },
      }),
      { abortSignal: abort.signal },
    );
    const iterator = response.EventStream![Symbol.asyncIterator]();
    try {
      // Each event holds one put's ten records (~1,000 KiB). The first second's allowance (2 MiB)
      // takes two at once; once the client has both, the third waits ~0.5 s for more, and the
      // consumer is deregistered during that wait.
      let received = 0;
      while (received < 20)
        received += (await iterator.next()).value.SubscribeToShardEvent!.Records!.length;
      expect(received).toBe(20);
      await runnel.client.send(new DeregisterStreamConsumerCommand({ ConsumerARN: reader }));
      const ended = await (async () => {
        for (;;) {
          const next = await iterator.next();
          if (next.done) return 'ended without an error';
        }
      })().catch((error: Error) => `${error.name}: ${error.message}`);
      expect(ended).toBe(
        `ResourceNotFoundException: Consumer ${reader} under stream paced-gone under account ${ACCOUNT} not found.`,
      );
    } finally {
      abort.abort();
    }
  });
});

describe('enhanced fan-out without limits mode', () => {
  const runnel = serverForBlock({
    dataDirPrefix: 'runnel-efo-nolimits-',
    workers: 1,
    engineOptions: { streamTransitionMs: TRANSITION_MS },
    client: { maxAttempts: 1 },
  });

  it('lets a consumer call again at once, and more than 5 consumers be CREATING', async () => {
    await createActive(runnel.client, 'free', 1);
    const names = Array.from({ length: 7 }, (_, i) => `c${i}`);
    const registered = [];
    for (const ConsumerName of names) {
      registered.push(
        (
          await runnel.client.send(
            new RegisterStreamConsumerCommand({ StreamARN: streamArn('free'), ConsumerName }),
          )
        ).Consumer!,
      );
    }
    expect(registered.map((consumer) => consumer.ConsumerStatus)).toEqual(
      Array(7).fill('CREATING'),
    );
    const reader = registered[0]!.ConsumerARN!;
    await waitConsumerActive(runnel.client, reader);
    await firstEvent(runnel.client, reader, 'shardId-000000000000');
    // Once the server has seen the close (well within a second), the shard is free again.
    await firstEventWhenFree(runnel.client, reader, 'shardId-000000000000');
  });
});
