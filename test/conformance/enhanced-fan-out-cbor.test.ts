/**
 * Goal: SubscribeToShard works for the clients that speak CBOR 1.1 (`application/x-amz-cbor-1.1`:
 * the Java SDKs by default, hence KCL, which reads with enhanced fan-out by default). Their
 * event-stream unmarshaller parses every payload with the client protocol's parser, so a CBOR
 * request must get CBOR payloads: checked over HTTP/2 (node:http2, prior knowledge, as the Java
 * SDK on `http://`) and HTTP/1.1 (node:http, chunked), each message decoded by `@smithy/core`'s
 * event-stream codec (which checks both CRCs) and its CBOR decoder, both independent of Runnel:
 *  - an `initial-response` event with an empty CBOR map, then SubscribeToShardEvents whose
 *    records are byte for byte and in order what was put, timestamps tag 1 + integer epoch ms,
 *    and whose ContinuationSequenceNumber a next subscription continues from (its
 *    AT_TIMESTAMP given as tag 1 + ms);
 *  - a closed shard's end: ChildShards, and no ContinuationSequenceNumber member at all;
 *  - an error during the stream: an exception event with a CBOR {message};
 *  - errors before the stream: ordinary CBOR error responses {__type, message}.
 * Streams, consumers and records are set up with the real SDK (JSON).
 */

import http from 'node:http';
import http2 from 'node:http2';

import {
  DeregisterStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  PutRecordsCommand,
  RegisterStreamConsumerCommand,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import { cbor, tag } from '@smithy/core/cbor';
import { EventStreamCodec, type Message } from '@smithy/core/event-streams';
import { describe, expect, it } from 'vitest';

import { ACCOUNT, createActive, serverForBlock, sleep, streamArn } from '../helpers/sdk.js';

const CBOR_TYPE = 'application/x-amz-cbor-1.1';
const EVENT_STREAM_TYPE = 'application/vnd.amazon.eventstream';
const TARGET = 'Kinesis_20131202.SubscribeToShard';
const LIFETIME_MS = 1500;
const HEARTBEAT_MS = 300;

type Transport = 'HTTP/2' | 'HTTP/1.1';

interface DecodedMessage {
  headers: Record<string, string>;
  /** The payload's bytes as sent. */
  body: Buffer;
  /** The payload decoded as CBOR. */
  value: Record<string, unknown>;
}

interface RawAnswer {
  status: number;
  contentType: string | undefined;
  body: AsyncIterable<Buffer>;
  close(): void;
}

const codec = new EventStreamCodec(
  (bytes) => Buffer.from(bytes).toString('utf8'),
  (text) => Buffer.from(text, 'utf8'),
);

function decodeMessage(message: Message): DecodedMessage {
  const headers: Record<string, string> = {};
  for (const [name, header] of Object.entries(message.headers))
    headers[name] = String(header.value);
  const body = Buffer.from(message.body);
  return { headers, body, value: cbor.deserialize(body) as Record<string, unknown> };
}

/** The event-stream messages of a response body, split by their total length, checked by the codec. */
async function* messagesOf(body: AsyncIterable<Buffer>): AsyncGenerator<DecodedMessage> {
  let pending: Buffer = Buffer.alloc(0);
  for await (const chunk of body) {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= pending.readUInt32BE(0)) {
      const length = pending.readUInt32BE(0);
      yield decodeMessage(codec.decode(pending.subarray(0, length)));
      pending = pending.subarray(length);
    }
  }
  expect(pending.length).toBe(0);
}

/** POSTs a CBOR SubscribeToShard body over HTTP/2 (prior knowledge) or HTTP/1.1. */
function post(url: string, transport: Transport, body: Uint8Array): Promise<RawAnswer> {
  const headers = { 'content-type': CBOR_TYPE, 'x-amz-target': TARGET };
  if (transport === 'HTTP/2') {
    return new Promise((resolve, reject) => {
      const session = http2.connect(url);
      session.on('error', reject);
      const stream = session.request({ ':method': 'POST', ':path': '/', ...headers });
      stream.on('error', reject);
      stream.on('response', (answer) => {
        resolve({
          status: Number(answer[':status']),
          contentType: answer['content-type'] as string | undefined,
          body: stream,
          close: () => session.destroy(),
        });
      });
      stream.end(body);
    });
  }
  return new Promise((resolve, reject) => {
    const request = http.request(`${url}/`, { method: 'POST', headers }, (answer) => {
      resolve({
        status: answer.statusCode!,
        contentType: answer.headers['content-type'],
        body: answer,
        close: () => answer.destroy(),
      });
    });
    request.on('error', reject);
    request.end(body);
  });
}

const runnel = serverForBlock({
  dataDirPrefix: 'runnel-efo-cbor-',
  workers: 2,
  engineOptions: { subscriptionLifetimeMs: LIFETIME_MS, subscriptionHeartbeatMs: HEARTBEAT_MS },
});

/** Records with distinct binary payloads of varied sizes (every byte value, up to ~5 KB). */
function payloads(prefix: string, count: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => {
    const bytes = Buffer.alloc((i * 211) % 5000);
    for (let j = 0; j < bytes.length; j++) bytes[j] = (j * 7 + i) & 0xff;
    return Buffer.concat([Buffer.from(`${prefix}${i}:`), bytes]);
  });
}

async function put(stream: string, data: Buffer[]): Promise<string[]> {
  const result = await runnel.client.send(
    new PutRecordsCommand({
      StreamName: stream,
      Records: data.map((Data, i) => ({ Data, PartitionKey: `pk${i % 3}` })),
    }),
  );
  expect(result.FailedRecordCount).toBe(0);
  return result.Records!.map((record) => record.SequenceNumber!);
}

async function registerConsumer(stream: string, name: string): Promise<string> {
  const { Consumer } = await runnel.client.send(
    new RegisterStreamConsumerCommand({ StreamARN: streamArn(stream), ConsumerName: name }),
  );
  // streamTransitionMs is 0: the consumer is ACTIVE at once.
  expect(Consumer!.ConsumerStatus).toBe('ACTIVE');
  return Consumer!.ConsumerARN!;
}

/**
 * Subscribes over `transport` with a CBOR body and reads every message until the stream ends;
 * `onMessage` runs after each one (the first, the initial response, comes at once).
 */
async function subscribe(
  transport: Transport,
  input: Record<string, unknown>,
  onMessage?: (message: DecodedMessage, index: number) => Promise<void>,
): Promise<DecodedMessage[]> {
  const answer = await post(runnel.server.kinesisUrl, transport, cbor.serialize(input));
  try {
    expect(answer.status).toBe(200);
    expect(answer.contentType).toBe(EVENT_STREAM_TYPE);
    const messages: DecodedMessage[] = [];
    for await (const message of messagesOf(answer.body)) {
      messages.push(message);
      await onMessage?.(message, messages.length - 1);
    }
    return messages;
  } finally {
    answer.close();
  }
}

/** The SubscribeToShardEvents of a stream, after checking its initial response. */
function eventsOf(messages: DecodedMessage[]): Record<string, unknown>[] {
  expect(messages[0]!.headers).toEqual({
    ':message-type': 'event',
    ':event-type': 'initial-response',
    ':content-type': CBOR_TYPE,
  });
  expect(messages[0]!.value).toEqual({});
  return messages.slice(1).map((message) => {
    expect(message.headers).toEqual({
      ':message-type': 'event',
      ':event-type': 'SubscribeToShardEvent',
      ':content-type': CBOR_TYPE,
    });
    return message.value;
  });
}

interface CborRecord {
  SequenceNumber: string;
  ApproximateArrivalTimestamp: { tag: number; value: number };
  Data: Uint8Array;
  PartitionKey: string;
}

const recordsOf = (events: Record<string, unknown>[]) =>
  events.flatMap((event) => event.Records as CborRecord[]);

/** Tag 1 followed by the integer `ms` as an unsigned 64-bit argument (0x1b): Java's encoding. */
function taggedMillis(ms: number): Buffer {
  const bytes = Buffer.alloc(10);
  bytes[0] = 0xc1;
  bytes[1] = 0x1b;
  bytes.writeBigUInt64BE(BigInt(ms), 2);
  return bytes;
}

describe.each(['HTTP/2', 'HTTP/1.1'] as const)('CBOR SubscribeToShard over %s', (transport) => {
  const stream = `cbor-${transport === 'HTTP/2' ? 'h2' : 'h1'}`;

  it('sends CBOR events: records byte for byte and in order, tag-1 ms timestamps, the continuation', async () => {
    await createActive(runnel.client, stream, 1);
    const consumer = await registerConsumer(stream, 'reader');
    const before = payloads('before-', 30);
    const during = payloads('during-', 20);
    const putFrom = Date.now();
    const sequences = await put(stream, before);
    let putUntil = Date.now();
    const messages = await subscribe(
      transport,
      {
        ConsumerARN: consumer,
        ShardId: 'shardId-000000000000',
        StartingPosition: { Type: 'TRIM_HORIZON' },
      },
      async (_message, index) => {
        if (index !== 1) return;
        sequences.push(...(await put(stream, during)));
        putUntil = Date.now();
      },
    );
    const events = eventsOf(messages);
    const records = recordsOf(events);
    const expected = [...before, ...during];
    expect(records.map((record) => record.SequenceNumber)).toEqual(sequences);
    records.forEach((record, i) => {
      expect(Buffer.from(record.Data).equals(expected[i]!)).toBe(true);
      expect(record.PartitionKey).toBe(`pk${(i < before.length ? i : i - before.length) % 3}`);
      const stamp = record.ApproximateArrivalTimestamp;
      expect(stamp.tag).toBe(1);
      expect(Number.isInteger(stamp.value)).toBe(true);
      expect(stamp.value).toBeGreaterThanOrEqual(putFrom - 1);
      expect(stamp.value).toBeLessThanOrEqual(putUntil + 1);
    });
    // Each timestamp is written as Java writes one: tag 1, then an integer (never a float).
    const withRecords = messages
      .slice(1)
      .filter((message) => (message.value.Records as unknown[]).length > 0);
    for (const message of withRecords) {
      const first = (message.value.Records as CborRecord[])[0]!;
      expect(message.body.includes(taggedMillis(first.ApproximateArrivalTimestamp.value))).toBe(
        true,
      );
    }
    // Each event's continuation is the last record it passed (or, without records, the last
    // one passed before it).
    let passed: string | undefined;
    for (const event of events) {
      const eventRecords = event.Records as CborRecord[];
      if (eventRecords.length > 0) passed = eventRecords[eventRecords.length - 1]!.SequenceNumber;
      expect(event.ContinuationSequenceNumber).toMatch(/^\d+$/);
      if (passed !== undefined) expect(event.ContinuationSequenceNumber).toBe(passed);
      expect(event.MillisBehindLatest).toBeTypeOf('number');
      expect(event.ChildShards).toBeUndefined();
    }
    const last = events[events.length - 1]!;
    expect(last.ContinuationSequenceNumber).toBe(sequences[sequences.length - 1]);
    expect(last.MillisBehindLatest).toBe(0);

    // The continuation is where a next subscription picks up, and AT_TIMESTAMP reads a tag-1 ms.
    const after = await put(stream, payloads('after-', 5));
    const resumed = recordsOf(
      eventsOf(
        await subscribe(transport, {
          ConsumerARN: consumer,
          ShardId: 'shardId-000000000000',
          StartingPosition: {
            Type: 'AFTER_SEQUENCE_NUMBER',
            SequenceNumber: last.ContinuationSequenceNumber,
          },
        }),
      ),
    );
    expect(resumed.map((record) => record.SequenceNumber)).toEqual(after);
    const atTimestamp = recordsOf(
      eventsOf(
        await subscribe(transport, {
          ConsumerARN: consumer,
          ShardId: 'shardId-000000000000',
          StartingPosition: {
            Type: 'AT_TIMESTAMP',
            Timestamp: tag({ tag: 1, value: putUntil + 1 }),
          },
        }),
      ),
    );
    expect(atTimestamp.map((record) => record.SequenceNumber)).toEqual(after);
  });

  it('ends a closed shard with ChildShards and no ContinuationSequenceNumber member', async () => {
    const split = `${stream}-split`;
    await createActive(runnel.client, split, 1);
    const consumer = await registerConsumer(split, 'reader');
    const sequences = await put(split, payloads('p', 6));
    await runnel.client.send(
      new SplitShardCommand({
        StreamName: split,
        ShardToSplit: 'shardId-000000000000',
        NewStartingHashKey: (1n << 127n).toString(),
      }),
    );
    for (;;) {
      const summary = await runnel.client.send(
        new DescribeStreamSummaryCommand({ StreamName: split }),
      );
      if (summary.StreamDescriptionSummary!.StreamStatus === 'ACTIVE') break;
      await sleep(25);
    }
    const started = performance.now();
    const events = eventsOf(
      await subscribe(transport, {
        ConsumerARN: consumer,
        ShardId: 'shardId-000000000000',
        StartingPosition: { Type: 'TRIM_HORIZON' },
      }),
    );
    // Ended at the shard's end, not by the lifetime.
    expect(performance.now() - started).toBeLessThan(LIFETIME_MS);
    expect(recordsOf(events).map((record) => record.SequenceNumber)).toEqual(sequences);
    const last = events[events.length - 1]!;
    expect(Object.keys(last)).not.toContain('ContinuationSequenceNumber');
    expect(last.ChildShards).toEqual([
      {
        ShardId: 'shardId-000000000001',
        ParentShards: ['shardId-000000000000'],
        HashKeyRange: { StartingHashKey: '0', EndingHashKey: ((1n << 127n) - 1n).toString() },
      },
      {
        ShardId: 'shardId-000000000002',
        ParentShards: ['shardId-000000000000'],
        HashKeyRange: {
          StartingHashKey: (1n << 127n).toString(),
          EndingHashKey: ((1n << 128n) - 1n).toString(),
        },
      },
    ]);
    for (const event of events.slice(0, -1))
      expect(event.ContinuationSequenceNumber).toMatch(/^\d+$/);
  });

  it('ends with an exception event carrying a CBOR {message} when the consumer is deregistered', async () => {
    const gone = `${stream}-gone`;
    await createActive(runnel.client, gone, 1);
    const consumer = await registerConsumer(gone, 'reader');
    const messages = await subscribe(
      transport,
      {
        ConsumerARN: consumer,
        ShardId: 'shardId-000000000000',
        StartingPosition: { Type: 'LATEST' },
      },
      async (_message, index) => {
        if (index === 1)
          await runnel.client.send(new DeregisterStreamConsumerCommand({ ConsumerARN: consumer }));
      },
    );
    const last = messages[messages.length - 1]!;
    expect(last.headers).toEqual({
      ':message-type': 'exception',
      ':exception-type': 'ResourceNotFoundException',
      ':content-type': CBOR_TYPE,
    });
    expect(last.value).toEqual({
      message: `Consumer ${consumer} under stream ${gone} under account ${ACCOUNT} not found.`,
    });
    expect(eventsOf(messages.slice(0, -1)).length).toBeGreaterThanOrEqual(1);
  });

  it('answers errors found before the stream as CBOR error responses', async () => {
    const unknown = `${streamArn(stream)}/consumer/nobody:1700000000`;
    const refusals: [Uint8Array, number, Record<string, unknown>][] = [
      [
        cbor.serialize({
          ConsumerARN: unknown,
          ShardId: 'shardId-000000000000',
          StartingPosition: { Type: 'LATEST' },
        }),
        400,
        {
          __type: 'ResourceNotFoundException',
          message: `Consumer ${unknown} under stream ${stream} under account ${ACCOUNT} not found.`,
        },
      ],
      [
        cbor.serialize({
          ConsumerARN: unknown,
          ShardId: 'shardId-000000000000',
          StartingPosition: { Type: 'NEWEST' },
        }),
        400,
        { __type: 'ValidationException' },
      ],
      [Buffer.from([0xbf, 0x61]), 400, { __type: 'SerializationException' }],
    ];
    for (const [body, status, expected] of refusals) {
      const answer = await post(runnel.server.kinesisUrl, transport, body);
      try {
        expect(answer.status).toBe(status);
        expect(answer.contentType).toBe(CBOR_TYPE);
        const chunks: Buffer[] = [];
        for await (const chunk of answer.body) chunks.push(chunk);
        expect(cbor.deserialize(Buffer.concat(chunks))).toMatchObject(expected);
      } finally {
        answer.close();
      }
    }
  });
});
