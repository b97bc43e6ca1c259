/**
 * Goal: a subscription's overlapping pulls are queued, as an async generator queues them — the
 * real client against the real server on 127.0.0.1:
 *  - next() calls made before records exist (Promise.all, workers sharing one iterator) each get
 *    one record, every record goes to exactly one call, in put order across the calls, and every
 *    call still pending settles as done when the connection closes;
 *  - overlapping nextBatch() calls each get a batch or, once the subscription is unsubscribed,
 *    undefined: none is left pending.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RunnelClient, type RunnelSubscription } from '../../src/client/index.js';
import type { Engine } from '../../src/engine/engine.js';
import { type ServedEngine, type TestServer, serveEngine } from '../helpers/ws-server.js';

const SHARD = 'shardId-000000000000';
/** How long a call that should settle is given before the test calls it stuck. */
const SETTLE_MS = 5_000;

let served: ServedEngine;
let engine: Engine;
let server: TestServer;

beforeAll(async () => {
  served = await serveEngine({ workers: 1 }, 'runnel-ws-client-iteration-');
  ({ engine, server } = served);
});

afterAll(() => served?.close());

/** What a call settled with within SETTLE_MS, or 'stuck'. */
async function settled<T>(call: Promise<T>): Promise<T | 'stuck'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stuck = new Promise<'stuck'>((resolve) => {
    timer = setTimeout(() => resolve('stuck'), SETTLE_MS);
  });
  try {
    return await Promise.race([call, stuck]);
  } finally {
    clearTimeout(timer);
  }
}

const text = (data: Uint8Array) => new TextDecoder().decode(data);
const encode = (value: string) => new TextEncoder().encode(value);

async function dataOfNext(subscription: RunnelSubscription): Promise<string> {
  const result = await subscription.next();
  return result.done ? 'done' : text(result.value.Data);
}

describe('WebSocket client: overlapping pulls of one subscription', () => {
  it('gives each record to one next() call, in order, and settles every pending call on close', async () => {
    await engine.createStream({ StreamName: 'overlap', ShardCount: 1 });
    const client = await RunnelClient.connect(server.url);
    const subscription = await client.subscribe('overlap', SHARD, { type: 'LATEST' });
    // Three calls waiting before any record exists, then a record per put.
    const first = [dataOfNext(subscription), dataOfNext(subscription), dataOfNext(subscription)];
    for (const data of ['r0', 'r1', 'r2']) {
      await client.putRecords('overlap', [{ PartitionKey: 'k', Data: encode(data) }]);
    }
    expect(await settled(Promise.all(first))).toEqual(['r0', 'r1', 'r2']);

    // Two workers share the iterator while puts of one and of several records arrive.
    const received: string[] = [];
    const worker = async () => {
      for (;;) {
        const result = await subscription.next();
        if (result.done) return 'ended';
        received.push(text(result.value.Data));
      }
    };
    const workers = [worker(), worker()];
    const expected: string[] = [];
    for (let put = 0; put < 8; put++) {
      const records = Array.from({ length: 1 + (put % 3) }, (_, i) => `p${put}-${i}`);
      expected.push(...records);
      await client.putRecords(
        'overlap',
        records.map((data) => ({ PartitionKey: 'k', Data: encode(data) })),
      );
    }
    for (let waited = 0; received.length < expected.length && waited < SETTLE_MS; waited += 10) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(received).toEqual(expected);
    // More calls waiting, then the connection closes: every one of them settles, done.
    const late = [subscription.next(), subscription.next()];
    await client.close();
    expect(await settled(Promise.all(workers))).toEqual(['ended', 'ended']);
    expect(await settled(Promise.all(late))).toEqual([
      { done: true, value: undefined },
      { done: true, value: undefined },
    ]);
  });

  it('settles every overlapping nextBatch() call: a batch each, or undefined once unsubscribed', async () => {
    await engine.createStream({ StreamName: 'overlap-batches', ShardCount: 1 });
    const client = await RunnelClient.connect(server.url);
    try {
      const subscription = await client.subscribe('overlap-batches', SHARD, { type: 'LATEST' });
      const calls = [subscription.nextBatch(), subscription.nextBatch()];
      await client.putRecords('overlap-batches', [{ PartitionKey: 'k', Data: encode('only') }]);
      const firstSettled = await settled(Promise.race(calls));
      expect(firstSettled).not.toBe('stuck');
      expect(
        firstSettled &&
          firstSettled !== 'stuck' &&
          firstSettled.records().map((record) => text(record.Data)),
      ).toEqual(['only']);
      subscription.unsubscribe();
      const outcomes = await settled(Promise.all(calls));
      expect(outcomes).not.toBe('stuck');
      expect((outcomes as unknown[]).filter((outcome) => outcome === undefined)).toHaveLength(1);
    } finally {
      await client.close();
    }
  });
});
