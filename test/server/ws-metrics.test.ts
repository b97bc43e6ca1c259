/**
 * Goal: traffic on the binary WebSocket protocol shows in /metrics (and so on /dashboard, which
 * derives its rates from those counters), as Kinesis API traffic does: records a PUT stored
 * count into runnel_records_in_total and their data bytes into runnel_bytes_in_total when the
 * put is acknowledged (records the server refused do not), and records a subscription was sent
 * in RECORDS frames count into runnel_records_out_total and runnel_bytes_out_total (records
 * before the subscription's start, which the client skips, do not). Real server (startServer,
 * both front ends on 127.0.0.1), the real client, /metrics over HTTP.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { RunnelClient, type RecordInput, type RunnelSubscription } from '../../src/client/index.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { tempDir } from '../helpers/temp-dir.js';

const SHARD_0 = 'shardId-000000000000';
const TRAFFIC = [
  'runnel_records_in_total',
  'runnel_bytes_in_total',
  'runnel_records_out_total',
  'runnel_bytes_out_total',
] as const;
type Traffic = Record<(typeof TRAFFIC)[number], number>;

let cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

async function serve(engineOptions: { enforceLimits?: boolean } = {}): Promise<RunningServer> {
  const temp = tempDir('runnel-ws-metrics-');
  const server = await startServer({
    port: 0,
    wsPort: 0,
    dataDir: temp.dir,
    workers: 1,
    codecThreads: 0,
    engineOptions,
  });
  cleanups.push(temp.cleanup, () => server.close());
  return server;
}

async function connect(server: RunningServer, options: { routing?: 'client' | 'server' } = {}) {
  const client = await RunnelClient.connect(server.wsUrl!.replace('http', 'ws'), options);
  cleanups.push(() => client.close());
  return client;
}

/** The records and bytes counters as the uWS app's /metrics serves them. */
async function traffic(server: RunningServer): Promise<Traffic> {
  const text = await (await fetch(`${server.wsUrl}/metrics`)).text();
  const counters = {} as Traffic;
  for (const name of TRAFFIC) {
    const line = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
    expect(line, name).not.toBeNull();
    counters[name] = Number(line![1]);
  }
  return counters;
}

function moved(before: Traffic, after: Traffic): Traffic {
  const delta = {} as Traffic;
  for (const name of TRAFFIC) delta[name] = after[name] - before[name];
  return delta;
}

/** Records of sizes 1..n bytes (so a byte total says which records were counted). */
function records(count: number, prefix = 'k', sizeOf = (i: number) => i + 1): RecordInput[] {
  return Array.from({ length: count }, (_, i) => ({
    PartitionKey: `${prefix}${i}`,
    Data: new Uint8Array(sizeOf(i)).fill(i & 0xff),
  }));
}

function dataBytes(list: readonly RecordInput[]): number {
  return list.reduce((sum, record) => sum + record.Data.length, 0);
}

/** Reads `count` records from a subscription; their data bytes. */
async function read(subscription: RunnelSubscription, count: number): Promise<number> {
  let bytes = 0;
  let n = 0;
  for await (const record of subscription) {
    bytes += record.Data.length;
    if (++n === count) break;
  }
  return bytes;
}

describe('/metrics counts the binary protocol', () => {
  it('counts records and data bytes put over it, and read by subscriptions, exactly', async () => {
    const server = await serve();
    await server.engine.createStream({ StreamName: 'm', ShardCount: 2 });
    const shards = (await server.engine.listShards({ StreamName: 'm' })).Shards!.map(
      (s) => s.ShardId,
    );
    const before = await traffic(server);

    // Client routing (one routed batch per shard) and server routing (one batch the server splits).
    const routed = records(60, 'c');
    const unrouted = records(40, 's', (i) => 200 + i);
    const clientRouted = await connect(server);
    const serverRouted = await connect(server, { routing: 'server' });
    const puts = [
      await clientRouted.putRecords('m', routed),
      await serverRouted.putRecords('m', unrouted),
    ];
    expect(puts.map((put) => put.FailedRecordCount)).toEqual([0, 0]);
    const putBytes = dataBytes(routed) + dataBytes(unrouted);
    expect(moved(before, await traffic(server))).toEqual({
      runnel_records_in_total: 100,
      runnel_bytes_in_total: putBytes,
      runnel_records_out_total: 0,
      runnel_bytes_out_total: 0,
    });

    // A put the server refuses whole (no such stream) counts nothing.
    await expect(serverRouted.putRecords('missing', records(3))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });

    const landed = puts.flatMap((put) =>
      put.Records.map((entry) => (entry as { ShardId: string }).ShardId),
    );
    let readBytes = 0;
    let readRecords = 0;
    for (const shardId of shards) {
      const count = landed.filter((id) => id === shardId).length;
      expect(count).toBeGreaterThan(0);
      const subscription = await clientRouted.subscribe('m', shardId, { type: 'TRIM_HORIZON' });
      readBytes += await read(subscription, count);
      readRecords += count;
    }
    expect(readRecords).toBe(100);
    expect(readBytes).toBe(putBytes);
    expect(moved(before, await traffic(server))).toEqual({
      runnel_records_in_total: 100,
      runnel_bytes_in_total: putBytes,
      runnel_records_out_total: 100,
      runnel_bytes_out_total: putBytes,
    });
  });

  it('counts a batch cut across RECORDS frames once, and not the records before the start', async () => {
    const server = await serve();
    await server.engine.createStream({ StreamName: 'cut', ShardCount: 1 });
    const client = await connect(server);
    const batch = records(10, 'k', (i) => 100 * (i + 1));
    const put = await client.putRecords('cut', batch);
    expect(put.FailedRecordCount).toBe(0);
    const before = await traffic(server);

    // A 64-byte window: the 5.5 KB batch arrives cut across many frames.
    const small = await client.subscribe(
      'cut',
      SHARD_0,
      { type: 'TRIM_HORIZON' },
      { windowBytes: 64 },
    );
    expect(await read(small, 10)).toBe(dataBytes(batch));
    expect(moved(before, await traffic(server))).toMatchObject({
      runnel_records_out_total: 10,
      runnel_bytes_out_total: dataBytes(batch),
    });

    // From the 5th record: the server sends the whole batch, the client skips the first four.
    const fifth = put.Records[4]!;
    expect('SequenceNumber' in fifth).toBe(true);
    const middle = await client.subscribe('cut', SHARD_0, {
      type: 'AT_SEQUENCE_NUMBER',
      sequenceNumber: (fifth as { SequenceNumber: string }).SequenceNumber,
    });
    const tail = batch.slice(4);
    expect(await read(middle, 6)).toBe(dataBytes(tail));
    expect(moved(before, await traffic(server))).toEqual({
      runnel_records_in_total: 0,
      runnel_bytes_in_total: 0,
      runnel_records_out_total: 16,
      runnel_bytes_out_total: dataBytes(batch) + dataBytes(tail),
    });
  });

  it('counts the records it stored, and the data of a put that stored any (limits mode), as PutRecords does', async () => {
    const server = await serve({ enforceLimits: true });
    await server.engine.createStream({ StreamName: 'limited', ShardCount: 1 });
    const client = await connect(server);
    const before = await traffic(server);
    // More records than a shard takes in a second (SHARD_WRITE_RECORDS_PER_SEC): the rest are
    // refused per record, as PutRecords refuses them.
    const batch = records(1500, 'k', (i) => 1 + (i % 97));
    const put = await client.putRecords('limited', batch);
    expect(put.FailedRecordCount).toBeGreaterThan(0);
    expect(put.FailedRecordCount).toBeLessThan(batch.length);
    const stored = batch.filter((_, i) => 'SequenceNumber' in put.Records[i]!);
    expect(moved(before, await traffic(server))).toEqual({
      runnel_records_in_total: stored.length,
      // As PutRecords counts: the data of every record of a put that stored any.
      runnel_bytes_in_total: dataBytes(batch),
      runnel_records_out_total: 0,
      runnel_bytes_out_total: 0,
    });
  });
});
