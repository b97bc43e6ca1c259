/**
 * Goal: with limits enforced, a binary-protocol put that exceeds a shard's allowance is answered
 * exactly: the records the shard took get sequence numbers that GetRecords finds holding them,
 * and only the records it refused carry ProvisionedThroughputExceededException — also when one
 * shard stores part of a put and refuses the rest (two ack entries for one shard).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RunnelClient } from '../../src/client/index.js';
import type { Engine } from '../../src/engine/engine.js';
import { type ServedEngine, type TestServer, serveEngine } from '../helpers/ws-server.js';

let now = Date.parse('2026-11-26T00:00:00Z');
let served: ServedEngine;
let engine: Engine;
let server: TestServer;

beforeAll(async () => {
  const options = { workers: 2, enforceLimits: true, clock: () => now, streamTransitionMs: 0 };
  served = await serveEngine(options, 'runnel-ws-limits-');
  ({ engine, server } = served);
  await engine.createStream({ StreamName: 'limited', ShardCount: 2 });
});

afterAll(() => served?.close());

async function stored(shardId: string): Promise<Map<string, string>> {
  const bySequence = new Map<string, string>();
  let { ShardIterator: iterator }: { ShardIterator?: string } = await engine.getShardIterator({
    StreamName: 'limited',
    ShardId: shardId,
    ShardIteratorType: 'TRIM_HORIZON',
  });
  for (;;) {
    now += 1000; // GetRecords has its own limit of 5 calls per second
    const page = await engine.getRecords({ ShardIterator: iterator!, Limit: 10_000 });
    for (const record of page.Records) bySequence.set(record.SequenceNumber, record.PartitionKey!);
    if (page.Records.length === 0) return bySequence;
    iterator = page.NextShardIterator;
  }
}

describe('limits mode over the binary protocol', () => {
  it('acknowledges the records each shard took and refuses the rest, record by record', async () => {
    const client = await RunnelClient.connect(server.url);
    const records = Array.from({ length: 2600 }, (_, i) => ({
      PartitionKey: `key-${i}`,
      Data: Buffer.alloc(10, i),
    }));
    const output = await client.putRecords('limited', records);
    // Either shape of PutRecords entry, read field by field.
    const entries = output.Records as {
      SequenceNumber?: string;
      ErrorCode?: string;
      ErrorMessage?: string;
    }[];
    // 1,000 records per shard per second: about 2,000 stored, the rest refused.
    const failed = entries.filter((record) => record.ErrorCode !== undefined);
    expect(output.FailedRecordCount).toBe(failed.length);
    expect(failed.length).toBe(600);
    for (const record of failed) {
      expect(record.ErrorCode).toBe('ProvisionedThroughputExceededException');
      expect(record.ErrorMessage).toMatch(
        /^Rate exceeded for shard shardId-00000000000[01] in stream limited /,
      );
    }
    const all = new Map([
      ...(await stored('shardId-000000000000')),
      ...(await stored('shardId-000000000001')),
    ]);
    expect(all.size).toBe(2000);
    entries.forEach((record, i) => {
      if (record.ErrorCode === undefined) expect(all.get(record.SequenceNumber!)).toBe(`key-${i}`);
    });
    // Both shards stored part of the put and refused the rest.
    const shardsRefusing = new Set(failed.map((record) => record.ErrorMessage));
    expect(shardsRefusing.size).toBe(2);
    await client.close();
  });
});
