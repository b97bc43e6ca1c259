/**
 * Goal: the CBOR 1.1 protocol Java SDKs speak by default (`application/x-amz-cbor-1.1`) works:
 * blobs travel as CBOR byte strings, timestamps as tag 1 + integer epoch milliseconds (Java's
 * convention), errors as a CBOR map {__type, message}. Requests are encoded, and responses
 * decoded, by an independent CBOR implementation (`@smithy/core/cbor`), plus hand-written bytes
 * for the indefinite-length maps Jackson emits. Also unit-checks Runnel's own codec on hostile
 * input: every malformation is a SerializationException, never a crash.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { cbor, tag } from '@smithy/core/cbor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { decodeCbor, encodeCbor } from '../../src/server/cbor-codec.js';
import { startServer, type RunningServer } from '../../src/server/server.js';

const CBOR_TYPE = 'application/x-amz-cbor-1.1';

let server: RunningServer;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'runnel-cbor-'));
  server = await startServer({ port: 0, wsPort: 0, dataDir, workers: 1 });
});

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function call(
  base: string,
  operation: string,
  body: Uint8Array,
): Promise<{ status: number; contentType: string | null; value: Record<string, unknown> }> {
  const response = await fetch(`${base}/`, {
    method: 'POST',
    headers: { 'content-type': CBOR_TYPE, 'x-amz-target': `Kinesis_20131202.${operation}` },
    body,
  });
  const bytes = new Uint8Array(await response.arrayBuffer());
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    value: cbor.deserialize(bytes) as Record<string, unknown>,
  };
}

describe.each(['kinesis', 'uws'] as const)('CBOR 1.1 on the %s port', (front) => {
  const base = () => (front === 'kinesis' ? server.kinesisUrl : server.wsUrl!);
  const stream = `cbor-${front}`;

  it('round-trips PutRecord and GetRecords with byte strings and ms timestamps', async () => {
    const create = cbor.serialize({ StreamName: stream, ShardCount: 1 });
    const created = await call(base(), 'CreateStream', create);
    expect(created.status).toBe(200);
    expect(created.contentType).toBe(CBOR_TYPE);

    const data = new Uint8Array([0, 1, 2, 254, 255, 0x7b, 0x22]);
    const before = Date.now();
    const put = await call(
      base(),
      'PutRecord',
      cbor.serialize({ StreamName: stream, PartitionKey: 'pk', Data: data }),
    );
    expect(put.status).toBe(200);
    expect(put.value.ShardId).toBe('shardId-000000000000');
    expect(put.value.SequenceNumber).toMatch(/^\d{56}$/);

    // AT_TIMESTAMP with a Java-style timestamp: tag 1 + integer milliseconds.
    const iterator = await call(
      base(),
      'GetShardIterator',
      cbor.serialize({
        StreamName: stream,
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'AT_TIMESTAMP',
        Timestamp: tag({ tag: 1, value: before - 1000 }),
      }),
    );
    expect(iterator.status).toBe(200);
    const records = await call(
      base(),
      'GetRecords',
      cbor.serialize({ ShardIterator: iterator.value.ShardIterator }),
    );
    expect(records.status).toBe(200);
    const list = records.value.Records as Record<string, unknown>[];
    expect(list).toHaveLength(1);
    const record = list[0]!;
    expect(record.Data).toBeInstanceOf(Uint8Array);
    expect([...(record.Data as Uint8Array)]).toEqual([...data]);
    expect(record.PartitionKey).toBe('pk');
    expect(record.SequenceNumber).toBe(put.value.SequenceNumber);
    const arrival = record.ApproximateArrivalTimestamp as { tag: number; value: number };
    expect(arrival.tag).toBe(1);
    expect(Number.isInteger(arrival.value)).toBe(true);
    expect(arrival.value).toBeGreaterThanOrEqual(before - 1000);
    expect(arrival.value).toBeLessThanOrEqual(Date.now() + 1000);
    expect(records.value.MillisBehindLatest).toBe(0);
    expect(typeof records.value.NextShardIterator).toBe('string');
  });

  it('decodes the indefinite-length maps Jackson writes', async () => {
    // {_ "StreamName": "<stream>" } with an indefinite-length map and a chunked text string.
    const name = Buffer.from(stream, 'utf8');
    const body = Buffer.concat([
      Buffer.from([0xbf, 0x6a]),
      Buffer.from('StreamName'),
      Buffer.from([0x7f, 0x60 + name.length]),
      name,
      Buffer.from([0xff, 0xff]),
    ]);
    const summary = await call(base(), 'DescribeStreamSummary', body);
    expect(summary.status).toBe(200);
    const description = summary.value.StreamDescriptionSummary as Record<string, unknown>;
    expect(description.StreamName).toBe(stream);
    const created = description.StreamCreationTimestamp as { tag: number; value: number };
    expect(created.tag).toBe(1);
    expect(Math.abs(created.value - Date.now())).toBeLessThan(60_000);
    expect(description.StreamId).toBeUndefined();
  });

  it('answers errors as a CBOR map with the catalog status', async () => {
    const missing = await call(base(), 'DescribeStream', cbor.serialize({ StreamName: 'nope' }));
    expect(missing.status).toBe(400);
    expect(missing.contentType).toBe(CBOR_TYPE);
    expect(missing.value).toEqual({
      __type: 'ResourceNotFoundException',
      message: 'Stream nope under account 000000000000 not found.',
    });
    const wrongType = await call(
      base(),
      'PutRecord',
      cbor.serialize({ StreamName: stream, PartitionKey: 'pk', Data: 'text, not bytes' }),
    );
    expect(wrongType.status).toBe(400);
    expect(wrongType.value.__type).toBe('SerializationException');
    const garbage = await call(base(), 'ListStreams', new Uint8Array([0xbf, 0x61]));
    expect(garbage.status).toBe(400);
    expect(garbage.value.__type).toBe('SerializationException');
  });
});

describe('the CBOR codec', () => {
  it('round-trips through an independent implementation', () => {
    const value = {
      text: 'héllo',
      bytes: new Uint8Array([1, 2, 3]),
      small: 23,
      medium: 70_000,
      big: 2 ** 40,
      negative: -500,
      fraction: 1.5,
      flag: true,
      list: [1, 'two', [3]],
      when: new Date(1_700_000_000_123),
    };
    const decoded = cbor.deserialize(encodeCbor(value)) as Record<string, unknown>;
    expect(decoded.text).toBe('héllo');
    expect([...(decoded.bytes as Uint8Array)]).toEqual([1, 2, 3]);
    expect(decoded.small).toBe(23);
    expect(decoded.medium).toBe(70_000);
    expect(decoded.big).toBe(2 ** 40);
    expect(decoded.negative).toBe(-500);
    expect(decoded.fraction).toBe(1.5);
    expect(decoded.flag).toBe(true);
    expect(decoded.list).toEqual([1, 'two', [3]]);
    expect((decoded.when as { tag: number; value: number }).value).toBe(1_700_000_000_123);

    const encoded = cbor.serialize({ a: [1, -2, 'x'], b: new Uint8Array([9]) });
    const back = decodeCbor(Buffer.from(encoded));
    expect(back).toEqual({ a: [1, -2, 'x'], b: Buffer.from([9]) });
  });

  it('turns every malformation into a SerializationException (seeded fuzz)', () => {
    let state = 0xc0ffee;
    const random = () => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state / 2 ** 32;
    };
    const valid = Buffer.from(
      cbor.serialize({
        StreamName: 's',
        Records: [{ Data: new Uint8Array(40), PartitionKey: 'k' }],
      }),
    );
    for (let round = 0; round < 2000; round++) {
      const mutated = Buffer.from(valid.subarray(0, 1 + Math.floor(random() * valid.length)));
      for (let flips = 0; flips < 3; flips++) {
        mutated[Math.floor(random() * mutated.length)] = Math.floor(random() * 256);
      }
      try {
        decodeCbor(mutated);
      } catch (error) {
        const where = `seed 0xc0ffee round ${round}`;
        expect((error as Error).name, where).toBe('SerializationException');
      }
    }
    // A nesting bomb and a length that lies about the bytes left.
    expect(() => decodeCbor(Buffer.alloc(10_000, 0x81))).toThrow(/nesting too deep|truncated/);
    expect(() => decodeCbor(Buffer.from([0x5b, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]))).toThrow();
  });
});
