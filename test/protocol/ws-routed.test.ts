/**
 * Goal: a PUT flagged routed (docs/protocol.md §6.1) is stored only when every record belongs to
 * the shard its first record hashes to — checked by that shard's owner worker, record by record,
 * with the errors an unrouted PUT gets — and is otherwise refused whole, with nothing stored; a
 * client routing by a stale shard map gets its put stored all the same. Real server, real
 * worker threads, raw frames where the client would not send them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RunnelClient } from '../../src/client/index.js';
import type { Engine } from '../../src/engine/engine.js';
import { evenHashRanges, hashPartitionKey } from '../../src/kinesis/hash-key.js';
import { encodeRecordBatch } from '../../src/protocol/batch-writer.js';
import { Opcode, PUT_FLAG_ROUTED, encodePut, type ServerFrame } from '../../src/protocol/frames.js';
import { RawConnection } from '../helpers/raw-connection.js';
import { type ServedEngine, type TestServer, serveEngine } from '../helpers/ws-server.js';

const SHARDS = 4;
let served: ServedEngine;
let engine: Engine;
let server: TestServer;

beforeAll(async () => {
  served = await serveEngine({ workers: 2 });
  ({ engine, server } = served);
});

afterAll(() => served?.close());

const shardId = (slot: number) => `shardId-${String(slot).padStart(12, '0')}`;

/** `count` partition keys per shard of a `shards`-shard stream, by MD5 as Kinesis routes them. */
function keysByShard(shards: number, count: number, prefix: string): string[][] {
  const ranges = evenHashRanges(shards);
  const byShard = Array.from({ length: shards }, () => [] as string[]);
  for (let i = 0; byShard.some((keys) => keys.length < count); i++) {
    const key = `${prefix}-${i}`;
    const hash = hashPartitionKey(key);
    const keys = byShard[ranges.findIndex((range) => range.start <= hash && hash <= range.end)]!;
    if (keys.length < count) keys.push(key);
  }
  return byShard;
}

const recordsOf = (keys: string[]) =>
  keys.map((PartitionKey, i) => ({ PartitionKey, Data: new Uint8Array(50).fill(i) }));

function watermarks(stream: string, shards = SHARDS): number[] {
  return Array.from({ length: shards }, (_, slot) =>
    engine.shardInternals(stream, shardId(slot)).index.nextOrdinal(),
  );
}

async function put(
  raw: RawConnection,
  id: number,
  stream: string,
  batch: Uint8Array,
  routed: boolean,
): Promise<ServerFrame> {
  raw.send(encodePut(id, stream, batch, routed));
  return raw.next();
}

describe('routed PUT', () => {
  it('stores a batch of one shard in that shard, acknowledged as one entry', async () => {
    await engine.createStream({ StreamName: 'routed', ShardCount: SHARDS });
    const keys = keysByShard(SHARDS, 20, 'one');
    const raw = await RawConnection.open(server.url);
    const answer = await put(raw, 1, 'routed', encodeRecordBatch(recordsOf(keys[2]!)), true);
    expect(answer).toMatchObject({ opcode: Opcode.PUT_ACK, requestId: 1 });
    const ack = (answer as ServerFrame & { opcode: typeof Opcode.PUT_ACK }).ack;
    expect(ack).toMatchObject({ recordCount: 20, failedRecordCount: 0 });
    expect(ack.entries.map((entry) => entry.shardId)).toEqual([shardId(2)]);
    expect(watermarks('routed')).toEqual([0, 0, 20, 0]);
    raw.close();
  });

  it('refuses whole a batch that spans shards, stores nothing of it, and the connection goes on', async () => {
    await engine.createStream({ StreamName: 'spanning', ShardCount: SHARDS });
    const keys = keysByShard(SHARDS, 10, 'span');
    // Shard 1's records, then one of shard 3's: routed by the first, refused for the last.
    const batch = encodeRecordBatch(recordsOf([...keys[1]!, keys[3]![0]!]));
    const raw = await RawConnection.open(server.url);
    const refused = await put(raw, 7, 'spanning', batch, true);
    expect(refused).toMatchObject({
      opcode: Opcode.ERROR,
      requestId: 7,
      fatal: false,
      name: 'InvalidArgumentException',
    });
    expect((refused as ServerFrame & { opcode: typeof Opcode.ERROR }).message).toMatch(
      /^Record 10 of a put routed to shardId-000000000001 belongs to another shard/,
    );
    expect(watermarks('spanning')).toEqual([0, 0, 0, 0]);
    // The same batch unrouted is split by the server.
    const stored = await put(raw, 8, 'spanning', batch, false);
    expect(stored).toMatchObject({ opcode: Opcode.PUT_ACK, requestId: 8 });
    expect(watermarks('spanning')).toEqual([0, 10, 0, 1]);
    raw.close();
  });

  it('checks every record as an unrouted PUT does, with the same error', async () => {
    await engine.createStream({ StreamName: 'checked', ShardCount: SHARDS });
    const keys = keysByShard(SHARDS, 5, 'bad')[0]!;
    // An empty partition key in the middle: invalid wherever it would hash.
    const batch = encodeRecordBatch(recordsOf([keys[0]!, keys[1]!, '', keys[2]!]));
    const raw = await RawConnection.open(server.url);
    const routed = await put(raw, 3, 'checked', batch, true);
    const unrouted = await put(raw, 4, 'checked', batch, false);
    expect(routed).toMatchObject({
      opcode: Opcode.ERROR,
      fatal: false,
      name: 'ValidationException',
    });
    const message = (frame: ServerFrame) =>
      (frame as ServerFrame & { opcode: typeof Opcode.ERROR }).message;
    expect(message(routed)).toContain("'records.3.member.partitionKey'");
    expect(message(routed)).toBe(message(unrouted));
    expect(watermarks('checked')).toEqual([0, 0, 0, 0]);
    raw.close();
  });

  it('refuses a batch whose records do not fill it, with the error an unrouted PUT gets', async () => {
    await engine.createStream({ StreamName: 'framing', ShardCount: SHARDS });
    const keys = keysByShard(SHARDS, 3, 'framing')[0]!;
    const whole = encodeRecordBatch(recordsOf(keys));
    // Three bytes after the last record, counted in the header's length: the first record still
    // reads (the event loop routes by it); the body as a whole does not.
    const batch = new Uint8Array(whole.length + 3);
    batch.set(whole);
    batch.set([0x7f, 0x01, 0x02], whole.length);
    new DataView(batch.buffer).setUint32(8, batch.length, true);
    const raw = await RawConnection.open(server.url);
    const routed = await put(raw, 5, 'framing', batch, true);
    const unrouted = await put(raw, 6, 'framing', batch, false);
    expect(routed).toMatchObject({ opcode: Opcode.ERROR, fatal: false });
    const { name, message } = routed as ServerFrame & { opcode: typeof Opcode.ERROR };
    expect(unrouted).toMatchObject({ opcode: Opcode.ERROR, fatal: false, name, message });
    expect(message).toContain('records do not fill the batch');
    expect(watermarks('framing')).toEqual([0, 0, 0, 0]);
    raw.close();
  });

  it('is a flag of PUT only: on any other frame it is a protocol error', async () => {
    const raw = await RawConnection.open(server.url);
    const ping = new Uint8Array(12);
    const view = new DataView(ping.buffer);
    view.setUint8(0, 1);
    view.setUint8(1, Opcode.PING);
    view.setUint16(2, PUT_FLAG_ROUTED, true);
    view.setUint32(4, 9, true);
    raw.send(ping);
    expect(await raw.next()).toMatchObject({
      opcode: Opcode.ERROR,
      fatal: true,
      name: 'SerializationException',
    });
    expect((await raw.closed).code).toBe(1002);
  });

  it('a client routing by a stale shard map still gets every record stored where MD5 puts it', async () => {
    await engine.createStream({ StreamName: 'moving', ShardCount: 2 });
    const client = await RunnelClient.connect(server.url);
    const before = await client.putRecords('moving', recordsOf(keysByShard(2, 10, 'early').flat()));
    expect(before.FailedRecordCount).toBe(0);
    // The stream comes back with 4 shards; the client still holds the 2-shard map, by which
    // each batch spans two of the new shards.
    await engine.deleteStream({ StreamName: 'moving' });
    await engine.createStream({ StreamName: 'moving', ShardCount: SHARDS });
    const keys = keysByShard(SHARDS, 10, 'late').flat();
    const after = await client.putRecords('moving', recordsOf(keys));
    expect(after.FailedRecordCount).toBe(0);
    const ranges = evenHashRanges(SHARDS);
    after.Records.forEach((record, i) => {
      const hash = hashPartitionKey(keys[i]!);
      expect('ShardId' in record && record.ShardId).toBe(
        shardId(ranges.findIndex((range) => range.start <= hash && hash <= range.end)),
      );
    });
    expect(watermarks('moving')).toEqual([10, 10, 10, 10]);
    client.close();
  });
});
