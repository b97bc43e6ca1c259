/**
 * Goal: the client refuses arguments its frames cannot carry with the errors the server (and
 * Kinesis's GetShardIterator and PutRecords) give for them, before sending anything, and the
 * connection goes on — the real client against the real server on 127.0.0.1:
 *  - a stream name, shard id or sequence number too long for a str8 is a ValidationException in
 *    the words the server uses for one it can receive, and leaves no request behind (nothing
 *    rejects unhandled when the connection closes);
 *  - a starting position of an unknown type, AT_TIMESTAMP without a timestamp or with an invalid
 *    one, and a sequence-number position without its number are refused as GetShardIterator
 *    refuses them, never started at TRIM_HORIZON;
 *  - an AT_TIMESTAMP before 1970 starts at the first record (as GetShardIterator's does) instead
 *    of breaking the connection with a fatal error;
 *  - a subscription window outside 1 byte – 1 GiB (the server's credit cap) is refused at
 *    connect() and subscribe(); the bounds themselves work.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  type KinesisError,
  RunnelClient,
  type RunnelSubscription,
  type SubscribePosition,
} from '../../src/client/index.js';
import type { Engine } from '../../src/engine/engine.js';
import { WS_CREDIT_BYTES_MAX } from '../../src/limits.js';
import { encodeRecordBatch } from '../../src/protocol/batch-writer.js';
import { type ServedEngine, type TestServer, serveEngine } from '../helpers/ws-server.js';

const SHARD = 'shardId-000000000000';
/** Longer than any str8 (255 bytes). */
const TOO_LONG = 300;

let served: ServedEngine;
let engine: Engine;
let server: TestServer;
const clients: RunnelClient[] = [];

async function connect(
  options: Parameters<typeof RunnelClient.connect>[1] = {},
): Promise<RunnelClient> {
  const client = await RunnelClient.connect(server.url, options);
  clients.push(client);
  return client;
}

beforeAll(async () => {
  served = await serveEngine({ workers: 1 }, 'runnel-ws-client-arguments-');
  ({ engine, server } = served);
  await engine.createStream({ StreamName: 'args', ShardCount: 1 });
  await engine.putRecords({
    StreamName: 'args',
    Records: [{ PartitionKey: 'k', Data: new TextEncoder().encode('first') }],
  });
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
  await served?.close();
});

/** The name and message a call was refused with (fails the test if it was not refused). */
async function refusal(call: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await call;
  } catch (error) {
    return { name: (error as KinesisError).name, message: (error as KinesisError).message };
  }
  throw new Error('the call was not refused');
}

/** GetShardIterator's input for what a subscription is given. */
function iteratorInput(streamName: string, shardId: string, position: SubscribePosition) {
  const { timestamp } = position;
  return {
    StreamName: streamName,
    ShardId: shardId,
    ShardIteratorType: position.type,
    ...(position.sequenceNumber !== undefined
      ? { StartingSequenceNumber: position.sequenceNumber }
      : {}),
    ...(timestamp !== undefined
      ? { Timestamp: timestamp instanceof Date ? timestamp : new Date(timestamp) }
      : {}),
  };
}

/** Resolves with the next record's data as text, or 'none' if none comes within `ms`. */
async function nextData(subscription: RunnelSubscription, ms: number): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('none'), ms);
  });
  const next = subscription
    .next()
    .then((result) => (result.done ? 'done' : new TextDecoder().decode(result.value.Data)));
  try {
    return await Promise.race([next, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('WebSocket client: names the frames cannot hold', () => {
  it('refuses them in the words the server uses, and leaves no request behind', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const client = await RunnelClient.connect(server.url);
      const serverRouted = await RunnelClient.connect(server.url, { routing: 'server' });
      const record = [{ PartitionKey: 'k', Data: new Uint8Array([1]) }];
      // A name the frame carries, refused by the server; then one it cannot carry.
      const carried = 'n'.repeat(200);
      const fromServer = await refusal(client.listShards(carried));
      expect(fromServer).toEqual({
        name: 'ValidationException',
        message:
          `1 validation error detected: Value '${carried}' at 'streamName' failed to satisfy constraint: ` +
          'Member must have length less than or equal to 128',
      });
      const long = 'n'.repeat(TOO_LONG);
      const expected = {
        name: 'ValidationException',
        message: fromServer.message.replace(carried, long),
      };
      expect(await refusal(client.listShards(long))).toEqual(expected);
      expect(await refusal(client.subscribe(long, SHARD, { type: 'TRIM_HORIZON' }))).toEqual(
        expected,
      );
      expect(await refusal(client.putRecords(long, record))).toEqual(expected);
      expect(await refusal(serverRouted.putRecords(long, record))).toEqual(expected);
      expect(await refusal(client.putEncodedBatch(long, encodeRecordBatch(record), 1))).toEqual(
        expected,
      );
      // A put is refused as PutRecords refuses its stream name.
      const name129 = 'n'.repeat(129);
      expect(await refusal(client.putRecords(name129, record))).toEqual(
        await refusal(engine.putRecords({ StreamName: name129, Records: record })),
      );
      // Shard ids and sequence numbers as GetShardIterator refuses them; every failing member listed.
      const longShard = `shardId-${'0'.repeat(TOO_LONG)}`;
      const longSequence: SubscribePosition = {
        type: 'AT_SEQUENCE_NUMBER',
        sequenceNumber: '1'.repeat(TOO_LONG),
      };
      const cases: Array<[string, string, SubscribePosition]> = [
        ['args', longShard, { type: 'TRIM_HORIZON' }],
        ['args', SHARD, longSequence],
        [long, longShard, longSequence],
      ];
      for (const [streamName, shardId, position] of cases) {
        const refused = await refusal(client.subscribe(streamName, shardId, position));
        expect(refused.name).toBe('ValidationException');
        expect(refused).toEqual(
          await refusal(engine.getShardIterator(iteratorInput(streamName, shardId, position))),
        );
      }
      // The connection goes on, and closes with nothing left to reject.
      expect(await client.listStreams()).toEqual(['args']);
      await client.close();
      await serverRouted.close();
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('WebSocket client: starting positions', () => {
  it('refuses bad positions as GetShardIterator refuses them, never starting at TRIM_HORIZON', async () => {
    const client = await connect();
    const positions = [
      { type: 'latest' },
      { type: 'AT_SEQUENCE' },
      { type: undefined },
      { type: 'AT_TIMESTAMP' },
      { type: 'AT_TIMESTAMP', timestamp: new Date('not a date') },
      { type: 'AT_TIMESTAMP', timestamp: Number.NaN },
      { type: 'AT_TIMESTAMP', timestamp: Number.POSITIVE_INFINITY },
      { type: 'AT_SEQUENCE_NUMBER' },
      { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: '' },
    ] as unknown as SubscribePosition[];
    for (const position of positions) {
      const expected = await refusal(
        engine.getShardIterator(iteratorInput('args', SHARD, position)),
      );
      expect(await refusal(client.subscribe('args', SHARD, position))).toEqual(expected);
    }
    expect(await refusal(client.subscribe('args', SHARD, { type: 'AT_TIMESTAMP' }))).toEqual({
      name: 'InvalidArgumentException',
      message:
        'Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. ' +
        'Current request has no timestamp parameter.',
    });
    expect(
      await refusal(client.subscribe('args', SHARD, { type: 'latest' as 'LATEST' })),
    ).toMatchObject({
      name: 'ValidationException',
      message: expect.stringContaining(
        "Value 'latest' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: " +
          '[AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]',
      ),
    });
    expect(await client.listStreams()).toEqual(['args']);
  });

  it('starts an AT_TIMESTAMP before 1970 at the first record and keeps the connection', async () => {
    const client = await connect();
    const live = await client.subscribe('args', SHARD, { type: 'LATEST' });
    const liveNext = nextData(live, 5_000);
    for (const timestamp of [new Date('1969-12-31T23:59:59Z'), -1, -8.64e15]) {
      const subscription = await client.subscribe('args', SHARD, {
        type: 'AT_TIMESTAMP',
        timestamp,
      });
      expect(await nextData(subscription, 5_000)).toBe('first');
      subscription.unsubscribe();
    }
    // Beyond what a Date holds: refused as GetShardIterator refuses it, not sent as a bad u64.
    const huge: SubscribePosition = { type: 'AT_TIMESTAMP', timestamp: 2 ** 60 };
    expect(await refusal(client.subscribe('args', SHARD, huge))).toEqual(
      await refusal(engine.getShardIterator(iteratorInput('args', SHARD, huge))),
    );
    // The latest a Date holds is in the future: the server refuses it, as GetShardIterator does.
    expect(
      await refusal(client.subscribe('args', SHARD, { type: 'AT_TIMESTAMP', timestamp: 8.64e15 })),
    ).toMatchObject({
      name: 'InvalidArgumentException',
      message: expect.stringMatching(
        /^The timestampInMillis parameter cannot be greater than the currentTimestampInMillis/,
      ),
    });
    // The other subscription on the connection still receives.
    await client.putRecords('args', [
      { PartitionKey: 'k', Data: new TextEncoder().encode('later') },
    ]);
    expect(await liveNext).toBe('later');
  });
});

describe('WebSocket client: subscription windows', () => {
  it('refuses windows outside 1 byte – 1 GiB at connect() and subscribe(); the bounds work', async () => {
    for (const windowBytes of [
      0,
      -1,
      1.5,
      Number.NaN,
      WS_CREDIT_BYTES_MAX + 1,
      2 ** 32,
      2 ** 32 + 10,
    ]) {
      const refused = await refusal(
        RunnelClient.connect(server.url, { subscribeWindowBytes: windowBytes }),
      );
      expect(refused).toMatchObject({
        name: 'ValidationException',
        message: expect.stringContaining(
          `Value '${windowBytes}' at 'subscribeWindowBytes' failed to satisfy constraint`,
        ),
      });
    }
    const client = await connect();
    expect(
      await refusal(client.subscribe('args', SHARD, { type: 'TRIM_HORIZON' }, { windowBytes: 0 })),
    ).toEqual({
      name: 'ValidationException',
      message:
        "1 validation error detected: Value '0' at 'windowBytes' failed to satisfy constraint: " +
        'Member must have value greater than or equal to 1',
    });
    expect(
      await refusal(
        client.subscribe('args', SHARD, { type: 'TRIM_HORIZON' }, { windowBytes: 2 ** 32 }),
      ),
    ).toEqual({
      name: 'ValidationException',
      message:
        `1 validation error detected: Value '${2 ** 32}' at 'windowBytes' failed to satisfy constraint: ` +
        `Member must have value less than or equal to ${WS_CREDIT_BYTES_MAX}`,
    });
    for (const windowBytes of [1, WS_CREDIT_BYTES_MAX]) {
      const subscription = await client.subscribe(
        'args',
        SHARD,
        { type: 'TRIM_HORIZON' },
        { windowBytes },
      );
      expect(await nextData(subscription, 5_000)).toBe('first');
      subscription.unsubscribe();
    }
    const widest = await connect({ subscribeWindowBytes: WS_CREDIT_BYTES_MAX });
    const subscription = await widest.subscribe('args', SHARD, { type: 'TRIM_HORIZON' });
    expect(await nextData(subscription, 5_000)).toBe('first');
    expect(await client.listStreams()).toEqual(['args']);
  });
});
