/**
 * Goal: the binary protocol and RunnelClient serve streams whose RecordDistributionStrategy is
 * AUTO (docs/protocol.md §6.1, §8.2):
 *  - SHARD_MAP sets flag bit 1 on every shard of an AUTO stream and on none of another;
 *  - the client puts records with and without partition keys to an AUTO stream, with client or
 *    server routing, and the server spreads them evenly in turn over the open shards; the client
 *    sends those puts unrouted (it never routes by key into an AUTO stream);
 *  - a routed PUT to an AUTO stream (an old client, or a stale map) is placed like any other,
 *    never refused; a client whose map went stale by a switch to AUTO fetches it again and
 *    stops routing;
 *  - subscriptions deliver a record put without a key without PartitionKey (a key of length 0);
 *  - on a USER_PARTITION_KEY stream a record without a key is the ValidationException it always
 *    was, and nothing of the put is stored.
 * Real uWS server, real engine and worker threads, the real client; raw frames where the client
 * would not send them.
 */
import { describe, expect, it, vi } from 'vitest';

import { encodeRecordBatch } from '../../src/protocol/batch-writer.js';
import { Opcode, encodePut, type ServerFrame } from '../../src/protocol/frames.js';
import type { RecordInput } from '../../src/protocol/batch-writer.js';
import { RawConnection } from '../helpers/raw-connection.js';
import { serveEngineForFile } from '../helpers/ws-server.js';

const ws = serveEngineForFile({ workers: 2 });
const SHARDS = [0, 1, 2, 3].map((slot) => `shardId-00000000000${slot}`);

async function createStream(name: string, strategy: 'AUTO' | 'USER_PARTITION_KEY'): Promise<void> {
  await ws.engine.createStream({
    StreamName: name,
    StreamModeDetails: { StreamMode: 'ON_DEMAND' },
    RecordDistributionStrategy: strategy,
  });
}

function watermarks(stream: string): number[] {
  return SHARDS.map((shardId) => ws.engine.shardInternals(stream, shardId).index.nextOrdinal());
}

const data = (value: string) => Buffer.from(value);
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();
const oneKey = (count: number, key = 'same'): RecordInput[] =>
  Array.from({ length: count }, (_, i) => ({ PartitionKey: key, Data: data(`${key}-${i}`) }));
const noKey = (count: number, prefix = 'none'): RecordInput[] =>
  Array.from({ length: count }, (_, i) => ({ Data: data(`${prefix}-${i}`) }));

describe('SHARD_MAP', () => {
  it('marks every shard of an AUTO stream as placing records itself, and no other', async () => {
    await createStream('map-auto', 'AUTO');
    await createStream('map-keyed', 'USER_PARTITION_KEY');
    const client = await ws.connect();
    const flags = async (stream: string) =>
      (await client.listShards(stream)).map((shard) => shard.autoDistribution);
    expect(await flags('map-auto')).toEqual([true, true, true, true]);
    expect(await flags('map-keyed')).toEqual([false, false, false, false]);
  });
});

describe('puts to an AUTO stream', () => {
  for (const routing of ['client', 'server'] as const) {
    it(`spreads records of one key and of none evenly, sent unrouted (${routing})`, async () => {
      const stream = `auto-${routing}`;
      await createStream(stream, 'AUTO');
      const client = await ws.connect({ routing });
      const routed = vi.spyOn(ws.engine, 'putRoutedBatch');
      try {
        const keyed = await client.putRecords(stream, oneKey(400));
        expect(keyed.FailedRecordCount).toBe(0);
        const keyless = await client.putRecords(stream, noKey(40));
        expect(keyless.FailedRecordCount).toBe(0);
        expect(routed).not.toHaveBeenCalled();
      } finally {
        routed.mockRestore();
      }
      expect(watermarks(stream)).toEqual([110, 110, 110, 110]);
    });
  }

  it('places a routed PUT like any other, never refusing it as spanning shards', async () => {
    await createStream('auto-raw', 'AUTO');
    const raw = await RawConnection.open(ws.server.url);
    try {
      raw.send(encodePut(1, 'auto-raw', encodeRecordBatch([...noKey(4), ...oneKey(4)]), true));
      const ack = (await raw.next()) as ServerFrame & { opcode: typeof Opcode.PUT_ACK };
      expect(ack.opcode).toBe(Opcode.PUT_ACK);
      expect(ack.ack.failedRecordCount).toBe(0);
      const entries = ack.ack.entries.map((entry) => [entry.shardId, entry.recordCount]);
      expect(entries).toEqual(SHARDS.map((shardId) => [shardId, 2]));
    } finally {
      raw.close();
    }
  });

  it("stops routing by key once its map turns out to be an AUTO stream's", async () => {
    await createStream('auto-later', 'USER_PARTITION_KEY');
    const client = await ws.connect();
    // The client fetches the map of a stream that places records by key, and routes by it.
    expect((await client.putRecords('auto-later', oneKey(8, 'first'))).FailedRecordCount).toBe(0);
    await ws.engine.updateStreamRecordDistributionStrategy({
      StreamARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/auto-later',
      RecordDistributionStrategy: 'AUTO',
    });
    const before = watermarks('auto-later');
    const routed = vi.spyOn(ws.engine, 'putRoutedBatch');
    try {
      // Stale: routed by key to one shard, placed over all four; the ack tells the client so.
      await client.putRecords('auto-later', oneKey(8, 'second'));
      expect(routed).toHaveBeenCalledTimes(1);
      // The map fetched again marks the stream AUTO: nothing is routed from then on.
      await client.putRecords('auto-later', oneKey(8, 'third'));
      await client.putRecords('auto-later', noKey(8));
      expect(routed).toHaveBeenCalledTimes(1);
    } finally {
      routed.mockRestore();
    }
    const added = watermarks('auto-later').map((after, slot) => after - before[slot]!);
    expect(added).toEqual([6, 6, 6, 6]);
  });

  it('delivers records put without a key to subscribers without PartitionKey', async () => {
    await createStream('auto-read', 'AUTO');
    const client = await ws.connect();
    const kept = { Data: data('b'), PartitionKey: 'kept' };
    await client.putRecords('auto-read', [{ Data: data('a') }, kept, ...noKey(6)]);
    const subscription = await client.subscribe('auto-read', SHARDS[0]!, { type: 'TRIM_HORIZON' });
    const batch = (await subscription.nextBatch())!;
    const records = batch.records();
    expect(records.map((record) => text(record.Data))).toEqual(['a', 'b']);
    expect(records[0]).not.toHaveProperty('PartitionKey');
    expect(records[1]!.PartitionKey).toBe('kept');
    const keyLengths: number[] = [];
    batch.forEachRecord((_index, keyStart, keyEnd) => keyLengths.push(keyEnd - keyStart));
    expect(keyLengths).toEqual([0, 4]);
    subscription.unsubscribe();
  });
});

describe('puts without keys to a USER_PARTITION_KEY stream', () => {
  for (const routing of ['client', 'server'] as const) {
    it(`are refused whole with the partition-key ValidationException (${routing})`, async () => {
      const stream = `keyed-${routing}`;
      await createStream(stream, 'USER_PARTITION_KEY');
      const client = await ws.connect({ routing });
      const put = client.putRecords(stream, [...oneKey(1, 'given'), ...noKey(1)]);
      await expect(put).rejects.toMatchObject({
        code: 'ValidationException',
        message:
          "1 validation error detected: Value at 'records.2.member.partitionKey' failed to " +
          'satisfy constraint: Member must be 1 to 256 Unicode characters',
      });
      // An empty key is refused by the client itself: encoded, it would read as none.
      const empty = client.putRecords(stream, [{ PartitionKey: '', Data: data('x') }]);
      await expect(empty).rejects.toMatchObject({ code: 'ValidationException' });
      expect(watermarks(stream)).toEqual([0, 0, 0, 0]);
    });
  }
});
