/**
 * Goal: the protocol codec (src/protocol/frames.ts) and the browser-safe batch writer
 * (src/protocol/batch-writer.ts) are exactly what docs/protocol.md says:
 *  - the batch writer restates record-batch.ts's layout constant for constant, and writes the
 *    bytes the engine's own encoder writes, on one shard and split across many;
 *  - every frame round-trips, and every malformed frame is refused with the error the spec names;
 *  - every hex example in docs/protocol.md decodes to the fields its text states and re-encodes
 *    to the same bytes;
 *  - the sequence-number formula of §4 agrees with the engine's sequence numbers;
 *  - the batch stream of a subscription is cut back into batches wherever frames split it;
 *  - the client's import graph holds no `node:` module outside node-websocket.ts, which only a
 *    dynamic import reaches (the browser path).
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { encodeBatches, type RecordInput } from '../../src/engine/batch-encoder.js';
import { hashEncodedBatch } from '../../src/engine/encoded-batch.js';
import { RECORD_SIZE_DEFAULT_KIB } from '../../src/limits.js';
import { ShardRouter } from '../../src/engine/shard-router.js';
import {
  HASH_WORDS,
  bigIntToWords,
  evenHashRanges,
  md5Words,
  parseExplicitHashKey,
} from '../../src/kinesis/hash-key.js';
import { decodeSequenceNumber, encodeSequenceNumber } from '../../src/kinesis/sequence-number.js';
import * as storage from '../../src/storage/record-batch.js';
import * as writer from '../../src/protocol/batch-writer.js';
import {
  BatchStreamDecoder,
  EndReason,
  FRAME_HEADER_BYTES,
  Opcode,
  PROTOCOL_VERSION,
  ProtocolError,
  type ServerFrame,
  type ClientFrame,
  decodeClientFrame,
  decodeServerFrame,
  encodeCredit,
  encodeError,
  encodeListShards,
  encodeListStreams,
  encodePing,
  encodePong,
  encodePut,
  encodePutAck,
  encodeRecords,
  encodeShardMap,
  encodeStreamList,
  encodeSubscribe,
  encodeSubscribed,
  encodeSubscriptionEnd,
  encodeUnsubscribe,
  encodeWelcome,
  putPrefixBytes,
  sequenceNumberFrom,
  writePutPrefix,
} from '../../src/protocol/frames.js';
import { seededRandom } from '../helpers/temp-dir.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function sampleRecords(): RecordInput[] {
  return [
    { PartitionKey: 'a', Data: new Uint8Array([1, 2, 3]) },
    { PartitionKey: 'key-with-ascii', Data: new Uint8Array(0) },
    { PartitionKey: 'clé-ünïcødé-🔑', Data: new Uint8Array(200).fill(7) },
    {
      PartitionKey: 'explicit',
      Data: new Uint8Array([9]),
      ExplicitHashKey: '170141183460469231731687303715884105728',
    },
    { PartitionKey: 'x'.repeat(256), Data: new Uint8Array(20_000).map((_, i) => i & 0xff) },
    { PartitionKey: 'zero', Data: new Uint8Array([0]), ExplicitHashKey: '0' },
  ];
}

function expectProtocolError(action: () => unknown, code: string, fragment?: string): void {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ProtocolError);
  expect((caught as ProtocolError).code).toBe(code);
  if (fragment) expect((caught as ProtocolError).message).toContain(fragment);
}

describe('batch writer', () => {
  it('restates every layout constant of record-batch.ts', () => {
    const names = [
      'BATCH_MAGIC',
      'BATCH_FORMAT_VERSION',
      'MAGIC_OFFSET',
      'VERSION_OFFSET',
      'ATTRIBUTES_OFFSET',
      'RESERVED_OFFSET',
      'BATCH_LENGTH_OFFSET',
      'RECORD_COUNT_OFFSET',
      'CHECKSUM_OFFSET',
      'BASE_ORDINAL_OFFSET',
      'ARRIVAL_MS_OFFSET',
      'BATCH_HEADER_BYTES',
    ] as const;
    for (const name of names) expect(writer[name], name).toBe(storage[name]);
  });

  it('writes the bytes the engine encoder writes for one shard', () => {
    const records = sampleRecords();
    const ours = writer.encodeRecordBatch(records);
    const engine = encodeBatches(records, new ShardRouter([0n])).batches.get(0)!;
    expect(Buffer.from(ours).equals(Buffer.from(engine))).toBe(true);
    // And the server's edge check reads it as a sound batch.
    const header = storage.readBatchHeader(ours, storage.viewOf(ours), 0, ours.length)!;
    expect(header.recordCount).toBe(records.length);
    expect(hashEncodedBatch(ours, RECORD_SIZE_DEFAULT_KIB * 1024).recordCount).toBe(records.length);
  });

  it('writes the engine encoder bytes for random records, with a frame prefix in front', () => {
    const seed = Date.now() >>> 0;
    console.log(`batch writer seed ${seed}`);
    const random = seededRandom(seed);
    for (let round = 0; round < 50; round++) {
      const records: RecordInput[] = Array.from(
        { length: 1 + Math.floor(random() * 40) },
        (_, i) => ({
          PartitionKey: `k${round}-${i}-${'é'.repeat(Math.floor(random() * 3))}`,
          Data: new Uint8Array(Math.floor(random() * 300)).map(() => Math.floor(random() * 256)),
        }),
      );
      const prefix = Math.floor(random() * 20);
      const ours = writer.encodeRecordBatch(records, prefix).subarray(prefix);
      const engine = encodeBatches(records, new ShardRouter([0n])).batches.get(0)!;
      expect(Buffer.from(ours).equals(Buffer.from(engine))).toBe(true);
    }
  });

  it('splits records per shard exactly as the engine routes and encodes them', () => {
    const router = new ShardRouter(evenHashRanges(7).map((range) => range.start));
    const words = new Uint32Array(HASH_WORDS);
    const route: writer.RecordRouter = (bytes, start, length, explicit) => {
      if (explicit === undefined) md5Words(bytes, start, length, words, 0);
      else bigIntToWords(parseExplicitHashKey(explicit)!, words, 0);
      return router.route(words);
    };
    const records = [
      ...sampleRecords(),
      ...Array.from({ length: 300 }, (_, i) => ({
        PartitionKey: `p-${i}`,
        Data: new Uint8Array([i & 0xff]),
      })),
    ];
    const ours = writer.encodeRecordBatches(records, router.size, route);
    const engine = encodeBatches(records, router);
    expect([...ours.slotOfRecord]).toEqual([...engine.shardOfRecord]);
    for (let slot = 0; slot < router.size; slot++) {
      const expected = engine.batches.get(slot);
      if (!expected) {
        expect(ours.batches[slot]).toBeUndefined();
        continue;
      }
      expect(Buffer.from(ours.batches[slot]!).equals(Buffer.from(expected))).toBe(true);
    }
  });

  it('reads back what it wrote', () => {
    const records = sampleRecords();
    const batch = writer.encodeRecordBatch(records);
    const fields = writer.readBatchFields(batch, 0)!;
    expect(fields).toEqual({
      batchLength: batch.length,
      recordCount: records.length,
      baseOrdinal: 0,
      arrivalMs: 0,
    });
    const cursor = writer.newRecordFields(writer.BATCH_HEADER_BYTES);
    for (const record of records) {
      expect(writer.nextRecordFields(batch, cursor, batch.length)).toBe(true);
      expect(new TextDecoder().decode(batch.subarray(cursor.keyStart, cursor.keyEnd))).toBe(
        record.PartitionKey,
      );
      expect(new TextDecoder().decode(batch.subarray(cursor.hashKeyStart, cursor.hashKeyEnd))).toBe(
        record.ExplicitHashKey ?? '',
      );
      expect(
        Buffer.from(batch.subarray(cursor.dataStart, cursor.dataEnd)).equals(
          Buffer.from(record.Data),
        ),
      ).toBe(true);
    }
    expect(cursor.offset).toBe(batch.length);
    expect(writer.readBatchFields(batch.subarray(0, batch.length - 1), 0)).toBeUndefined();
  });
});

/** Re-encodes a decoded frame with the encoder of its opcode. */
function reencode(frame: ServerFrame | ClientFrame): Uint8Array {
  const id = frame.requestId;
  switch (frame.opcode) {
    case Opcode.WELCOME:
      return encodeWelcome(frame.welcome);
    case Opcode.PING:
      return encodePing(id, frame.payload);
    case Opcode.PONG:
      return encodePong(id, frame.payload);
    case Opcode.ERROR:
      return encodeError(id, frame.fatal, frame.name, frame.message);
    case Opcode.PUT:
      return encodePut(id, frame.streamName, frame.batch);
    case Opcode.PUT_ACK:
      return encodePutAck(id, frame.ack);
    case Opcode.SUBSCRIBE:
      return encodeSubscribe(id, frame);
    case Opcode.SUBSCRIBED:
      return encodeSubscribed(id, frame.startOrdinal, frame.watermark, frame.sequenceBase);
    case Opcode.CREDIT:
      return encodeCredit(id, frame.bytes);
    case Opcode.RECORDS:
      return encodeRecords(id, frame.watermark, frame.data);
    case Opcode.UNSUBSCRIBE:
      return encodeUnsubscribe(id);
    case Opcode.SUBSCRIPTION_END:
      return encodeSubscriptionEnd(id, frame.reason, frame.nextOrdinal);
    case Opcode.LIST_STREAMS:
      return encodeListStreams(id);
    case Opcode.STREAM_LIST:
      return encodeStreamList(id, frame.streamNames);
    case Opcode.LIST_SHARDS:
      return encodeListShards(id, frame.streamName);
    case Opcode.SHARD_MAP:
      return encodeShardMap(id, frame.shards);
  }
}

const CLIENT_SENT = new Set<number>([
  Opcode.PUT,
  Opcode.SUBSCRIBE,
  Opcode.CREDIT,
  Opcode.UNSUBSCRIBE,
  Opcode.LIST_STREAMS,
  Opcode.LIST_SHARDS,
]);

function decodeAny(bytes: Uint8Array): ServerFrame | ClientFrame {
  return CLIENT_SENT.has(bytes[1]!) ? decodeClientFrame(bytes) : decodeServerFrame(bytes);
}

describe('frames', () => {
  const batch = writer.encodeRecordBatch(sampleRecords());
  const sequenceBase = '49680564718268972916233132615940332944002487003023147010';
  const frames: Uint8Array[] = [
    encodeWelcome({
      version: PROTOCOL_VERSION,
      frameBytesMax: 1,
      putsInFlightMax: 2,
      putBytesInFlightMax: 3,
      subscriptionsMax: 4,
      idleTimeoutMs: 5,
      batchBytesMax: 6,
      software: 'runnel/test',
    }),
    encodePing(1, new Uint8Array([1, 2])),
    encodePong(2, new Uint8Array(0)),
    encodeError(3, false, 'ResourceNotFoundException', 'Stream ünïcode not found'),
    encodeError(4, true, 'SerializationException', 'x'.repeat(70_000)),
    encodePut(5, 'stream-é', batch),
    encodePutAck(6, {
      recordCount: 4,
      failedRecordCount: 1,
      entries: [
        { ok: true, recordCount: 3, shardId: 'shardId-000000000001', firstSequenceNumber: '123' },
        {
          ok: false,
          recordCount: 1,
          shardId: 'shardId-000000000002',
          errorName: 'ProvisionedThroughputExceededException',
          errorMessage: 'slow down',
        },
      ],
      entryOfRecord: new Uint16Array([0, 1, 0, 0]),
    }),
    encodeSubscribe(7, {
      position: 'AT_TIMESTAMP',
      initialCredit: 1000,
      timestampMs: 1_700_000_000_123,
      streamName: 's',
      shardId: 'shardId-000000000000',
      sequenceNumber: '',
    }),
    encodeSubscribe(8, {
      position: 'AFTER_SEQUENCE_NUMBER',
      initialCredit: 0,
      timestampMs: 0,
      streamName: 's',
      shardId: 'shardId-000000000000',
      sequenceNumber: sequenceBase,
    }),
    encodeSubscribed(9, 2 ** 40, 2 ** 52, sequenceBase),
    encodeCredit(10, 0xffffffff),
    encodeRecords(11, 17, batch),
    encodeUnsubscribe(12),
    encodeSubscriptionEnd(13, 1, 99),
    encodeListStreams(14),
    encodeStreamList(15, ['a', 'b', 'ççç']),
    encodeListShards(16, 'stream'),
    encodeShardMap(17, [
      {
        shardId: 'shardId-000000000000',
        parentShardId: undefined,
        adjacentParentShardId: undefined,
        closed: true,
        startingHashKey: '0',
        endingHashKey: '170141183460469231731687303715884105727',
        sequenceBase,
      },
      {
        shardId: 'shardId-000000000003',
        parentShardId: 'shardId-000000000000',
        adjacentParentShardId: 'shardId-000000000001',
        closed: false,
        startingHashKey: '170141183460469231731687303715884105728',
        endingHashKey: ((1n << 128n) - 1n).toString(),
        sequenceBase,
      },
    ]),
  ];

  it('round-trips every frame', () => {
    for (const frame of frames) {
      const decoded = decodeAny(frame);
      expect(Buffer.from(reencode(decoded)).equals(Buffer.from(frame)), `opcode ${frame[1]}`).toBe(
        true,
      );
    }
  });

  it('decodes the fields it encoded', () => {
    const put = decodeClientFrame(frames[5]!);
    expect(put).toMatchObject({ opcode: Opcode.PUT, requestId: 5, streamName: 'stream-é' });
    expect(Buffer.from((put as { batch: Uint8Array }).batch).equals(Buffer.from(batch))).toBe(true);
    const ack = decodeServerFrame(frames[6]!) as ServerFrame & { opcode: typeof Opcode.PUT_ACK };
    expect(ack.ack.entries[1]).toEqual({
      ok: false,
      recordCount: 1,
      shardId: 'shardId-000000000002',
      errorName: 'ProvisionedThroughputExceededException',
      errorMessage: 'slow down',
    });
    expect([...ack.ack.entryOfRecord!]).toEqual([0, 1, 0, 0]);
    expect(decodeClientFrame(frames[7]!)).toMatchObject({
      position: 'AT_TIMESTAMP',
      initialCredit: 1000,
      timestampMs: 1_700_000_000_123,
    });
    expect(decodeServerFrame(frames[9]!)).toMatchObject({
      startOrdinal: 2 ** 40,
      watermark: 2 ** 52,
    });
    const error = decodeServerFrame(frames[4]!) as ServerFrame & { opcode: typeof Opcode.ERROR };
    expect(error.fatal).toBe(true);
    expect(error.message.length).toBeLessThanOrEqual(0xffff);
    const map = decodeServerFrame(frames[17]!) as ServerFrame & { opcode: typeof Opcode.SHARD_MAP };
    expect(map.shards[1]).toMatchObject({ parentShardId: 'shardId-000000000000', closed: false });
    expect(map.shards[0]!.parentShardId).toBeUndefined();
  });

  it('builds a PUT around a batch written behind its prefix, without copying it', () => {
    const prefix = putPrefixBytes('stream');
    const frame = writer.encodeRecordBatch(sampleRecords(), prefix);
    writePutPrefix(frame, 42, 'stream');
    expect(Buffer.from(frame).equals(Buffer.from(encodePut(42, 'stream', batch)))).toBe(true);
  });

  it('refuses malformed headers with SerializationException', () => {
    const good = encodeCredit(1, 5);
    expectProtocolError(
      () => decodeClientFrame(good.subarray(0, 11)),
      'SerializationException',
      'at least 12',
    );
    const version = good.slice();
    version[0] = 2;
    expectProtocolError(() => decodeClientFrame(version), 'SerializationException', 'version 2');
    const flags = good.slice();
    flags[2] = 1;
    expectProtocolError(() => decodeClientFrame(flags), 'SerializationException', 'flags');
    const longer = new Uint8Array(good.length + 1);
    longer.set(good);
    expectProtocolError(
      () => decodeClientFrame(longer),
      'SerializationException',
      'does not match',
    );
    expectProtocolError(
      () => decodeClientFrame(good.subarray(0, good.length - 1)),
      'SerializationException',
      'does not match',
    );
  });

  it('refuses unknown opcodes and opcodes of the other direction with UnknownOperationException', () => {
    const unknown = encodeCredit(9, 5);
    unknown[1] = 0x07;
    expectProtocolError(() => decodeClientFrame(unknown), 'UnknownOperationException', '0x7');
    expectProtocolError(
      () => decodeClientFrame(encodeSubscribed(1, 0, 0, '1')),
      'UnknownOperationException',
      'SUBSCRIBED',
    );
    expectProtocolError(
      () => decodeServerFrame(encodeCredit(1, 1)),
      'UnknownOperationException',
      'CREDIT',
    );
    try {
      decodeClientFrame(unknown);
    } catch (error) {
      expect((error as ProtocolError).requestId).toBe(9);
    }
  });

  it('refuses truncated, overlong and malformed payloads', () => {
    const withPayload = (opcode: number, payload: number[]) => {
      const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
      const view = new DataView(frame.buffer);
      frame[0] = PROTOCOL_VERSION;
      frame[1] = opcode;
      view.setUint32(8, payload.length, true);
      frame.set(payload, FRAME_HEADER_BYTES);
      return frame;
    };
    expectProtocolError(
      () => decodeClientFrame(withPayload(Opcode.CREDIT, [1, 0, 0])),
      'SerializationException',
      'truncated',
    );
    expectProtocolError(
      () => decodeClientFrame(withPayload(Opcode.CREDIT, [1, 0, 0, 0, 0])),
      'SerializationException',
      'too many',
    );
    expectProtocolError(
      () => decodeClientFrame(withPayload(Opcode.PUT, [5, 0x61])),
      'SerializationException',
      'truncated',
    );
    expectProtocolError(
      () => decodeClientFrame(withPayload(Opcode.LIST_SHARDS, [2, 0xc3, 0x28])),
      'SerializationException',
      'UTF-8',
    );
    expectProtocolError(
      () => decodeClientFrame(withPayload(Opcode.UNSUBSCRIBE, [0])),
      'SerializationException',
    );
    const subscribe = encodeSubscribe(1, {
      position: 'LATEST',
      initialCredit: 0,
      timestampMs: 0,
      streamName: 's',
      shardId: 'x',
      sequenceNumber: '',
    });
    const badPosition = subscribe.slice();
    badPosition[FRAME_HEADER_BYTES] = 9;
    expectProtocolError(() => decodeClientFrame(badPosition), 'SerializationException', 'position');
    const bigTimestamp = subscribe.slice();
    bigTimestamp[FRAME_HEADER_BYTES + 15] = 0xff;
    expectProtocolError(() => decodeClientFrame(bigTimestamp), 'SerializationException', '2^53');
    const reserved = subscribe.slice();
    reserved[FRAME_HEADER_BYTES + 2] = 1;
    expectProtocolError(() => decodeClientFrame(reserved), 'SerializationException', 'reserved');
    const ack = encodePutAck(1, {
      recordCount: 2,
      failedRecordCount: 0,
      entries: [{ ok: true, recordCount: 2, shardId: 's', firstSequenceNumber: '1' }],
      entryOfRecord: undefined,
    });
    const badCount = ack.slice();
    badCount[FRAME_HEADER_BYTES] = 3;
    expectProtocolError(() => decodeServerFrame(badCount), 'SerializationException', 'add up');
  });

  it('computes sequence numbers as the engine lays them out', () => {
    const random = seededRandom(7);
    for (let i = 0; i < 200; i++) {
      const shardCreationSec = 1_600_000_000 + Math.floor(random() * 200_000_000);
      const shardIndex = Math.floor(random() * 20_000);
      const ordinal = Math.floor(random() * 2 ** 50);
      const arrivalMs = shardCreationSec * 1000 + Math.floor(random() * 1e10);
      const base = encodeSequenceNumber({
        shardCreationSec,
        shardIndex,
        ordinal: 0n,
        recordTimeSec: 0,
      });
      expect(sequenceNumberFrom(BigInt(base), ordinal, arrivalMs)).toBe(
        encodeSequenceNumber({
          shardCreationSec,
          shardIndex,
          ordinal: BigInt(ordinal),
          recordTimeSec: Math.floor(arrivalMs / 1000),
        }),
      );
    }
  });
});

describe('batch stream decoder', () => {
  it('cuts a stream back into its batches wherever frames split it', () => {
    const batches = Array.from({ length: 12 }, (_, i) =>
      writer.encodeRecordBatch(
        Array.from({ length: 1 + (i % 4) }, (_, j) => ({
          PartitionKey: `k${i}-${j}`,
          Data: new Uint8Array(i * 37 + j),
        })),
      ),
    );
    const stream = Buffer.concat(batches);
    const seed = 1234;
    const random = seededRandom(seed);
    for (let round = 0; round < 200; round++) {
      const decoder = new BatchStreamDecoder();
      const seen: Buffer[] = [];
      let position = 0;
      while (position < stream.length) {
        // Cuts of 1 byte (inside a header) up to several batches at once.
        const size = round < 20 ? 1 + round : 1 + Math.floor(random() * 2000);
        const piece = stream.subarray(position, position + size);
        decoder.push(piece, (bytes) => seen.push(Buffer.from(bytes)));
        position += size;
      }
      expect(decoder.pendingBytes).toBe(0);
      expect(seen.length).toBe(batches.length);
      seen.forEach((bytes, i) => expect(bytes.equals(Buffer.from(batches[i]!))).toBe(true));
    }
  });

  it('refuses a corrupt stream', () => {
    const decoder = new BatchStreamDecoder();
    const bad = writer.encodeRecordBatch([{ PartitionKey: 'a', Data: new Uint8Array(1) }]);
    bad[0] = 0;
    expect(() => decoder.push(bad, () => undefined)).toThrow(/corrupt/);
    const huge = writer.encodeRecordBatch([{ PartitionKey: 'a', Data: new Uint8Array(1) }]);
    new DataView(huge.buffer).setUint32(writer.BATCH_LENGTH_OFFSET, 0xffffffff, true);
    expect(() => new BatchStreamDecoder().push(huge, () => undefined)).toThrow(/out of range/);
  });
});

describe('docs/protocol.md examples', () => {
  const doc = readFileSync(join(root, 'docs/protocol.md'), 'utf8');
  const blocks = [...doc.matchAll(/```hex\n([\s\S]*?)```/g)].map((match) =>
    Uint8Array.from(Buffer.from(match[1]!.replace(/\s+/g, ''), 'hex')),
  );

  it('has one block per example, each a whole frame that re-encodes to itself', () => {
    expect(blocks.length).toBe(18);
    for (const block of blocks) {
      const frame = decodeAny(block);
      expect(Buffer.from(reencode(frame)).equals(Buffer.from(block)), `opcode ${block[1]}`).toBe(
        true,
      );
    }
  });

  it('states the fields the blocks hold', () => {
    const frames = blocks.map(decodeAny);
    const [
      welcome,
      ping,
      pong,
      put,
      ack,
      mixedAck,
      subscribe,
      subscribed,
      credit,
      records,
      ,
      end,
      closedEnd,
      error,
    ] = frames;
    expect(welcome).toMatchObject({
      opcode: Opcode.WELCOME,
      welcome: {
        version: 1,
        frameBytesMax: 10_555_392,
        putsInFlightMax: 64,
        putBytesInFlightMax: 32 * 1024 * 1024,
        subscriptionsMax: 256,
        idleTimeoutMs: 60_000,
        batchBytesMax: 10_551_296,
        software: 'runnel/0.1.0',
      },
    });
    expect(ping).toMatchObject({ opcode: Opcode.PING, requestId: 7 });
    expect(pong).toMatchObject({ opcode: Opcode.PONG, requestId: 7 });
    const putFrame = put as ClientFrame & { opcode: typeof Opcode.PUT };
    expect(putFrame.streamName).toBe('s');
    expect(
      Buffer.from(putFrame.batch).equals(
        Buffer.from(
          writer.encodeRecordBatch([{ PartitionKey: 'a', Data: new Uint8Array([1, 2, 3]) }]),
        ),
      ),
    ).toBe(true);
    const base = 49680564718268972916233132615940332944002487003023147010n;
    // The base is ordinal 0 at second 0 in the Kinesis layout, and the ack's fields are the record's.
    expect(decodeSequenceNumber(base.toString())).toEqual({
      shardCreationSec: 1_795_644_621,
      shardIndex: 0,
      ordinal: 0n,
      recordTimeSec: 0,
    });
    const first = sequenceNumberFrom(base, 0, 1_795_817_421_711);
    expect(decodeSequenceNumber(first)).toEqual({
      shardCreationSec: 1_795_644_621,
      shardIndex: 0,
      ordinal: 0n,
      recordTimeSec: 1_795_817_421,
    });
    expect(ack).toMatchObject({
      ack: {
        recordCount: 1,
        failedRecordCount: 0,
        entries: [{ ok: true, shardId: 'shardId-000000000000', firstSequenceNumber: first }],
      },
    });
    const mixed = (mixedAck as ServerFrame & { opcode: typeof Opcode.PUT_ACK }).ack;
    expect([...mixed.entryOfRecord!]).toEqual([0, 1, 0]);
    expect(sequenceNumberFrom(base, 1, 1_795_817_421_711)).toBe(
      '49680564718268972916233132615941541993229735116710871042',
    );
    expect((BigInt(first) + 2n ** 80n).toString()).toBe(
      '49680564718268972916233132615941541993229735116710871042',
    );
    expect(subscribe).toMatchObject({
      position: 'TRIM_HORIZON',
      initialCredit: 0,
      streamName: 's',
      shardId: 'shardId-000000000000',
      sequenceNumber: '',
    });
    expect(subscribed).toMatchObject({
      startOrdinal: 0,
      watermark: 1,
      sequenceBase: base.toString(),
    });
    expect(credit).toMatchObject({ opcode: Opcode.CREDIT, requestId: 2, bytes: 1024 * 1024 });
    const recordsFrame = records as ServerFrame & { opcode: typeof Opcode.RECORDS };
    expect(writer.readBatchFields(recordsFrame.data, 0)).toEqual({
      batchLength: 47,
      recordCount: 1,
      baseOrdinal: 0,
      arrivalMs: 1_795_817_421_711,
    });
    // A real checksum, so a client can test its xxhash64 against it.
    const stored = recordsFrame.data;
    expect(storage.batchChecksum(stored, 0, 47)).toBe(
      new DataView(stored.buffer, stored.byteOffset).getBigUint64(16, true),
    );
    expect(storage.batchChecksum(stored, 0, 47)).toBe(0x51c07ca3ed23ecd8n);
    expect(end).toMatchObject({ reason: 0, nextOrdinal: 1 });
    expect(closedEnd).toMatchObject({
      opcode: Opcode.SUBSCRIPTION_END,
      requestId: 2,
      reason: EndReason.SHARD_CLOSED,
      nextOrdinal: 1,
    });
    expect(error).toMatchObject({ requestId: 9, fatal: true, name: 'UnknownOperationException' });
  });
});

describe('browser safety', () => {
  /** Files reachable from `entry` through static imports (dynamic imports are not followed). */
  function staticImports(entry: string, seen = new Set<string>()): Set<string> {
    if (seen.has(entry)) return seen;
    seen.add(entry);
    const source = readFileSync(entry, 'utf8');
    for (const match of source.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/gm)) {
      const specifier = match[1]!;
      if (specifier.startsWith('.')) {
        staticImports(resolve(dirname(entry), specifier.replace(/\.js$/, '.ts')), seen);
      } else {
        seen.add(specifier);
      }
    }
    return seen;
  }

  it('the client and codec import no Node module; only a dynamic import reaches node-websocket.ts', () => {
    const graph = staticImports(join(root, 'src/client/index.ts'));
    // Files are absolute paths; anything else is a bare specifier (node:*, a package).
    const bare = [...graph].filter((name) => !name.startsWith('/'));
    expect(bare).toEqual([]);
    expect([...graph].some((file) => file.endsWith('node-websocket.ts'))).toBe(false);
    expect([...graph].some((file) => file.endsWith('src/protocol/frames.ts'))).toBe(true);
    const client = readFileSync(join(root, 'src/client/runnel-client.ts'), 'utf8');
    expect(client).toContain("const specifier = './node-websocket.js'");
  });
});
