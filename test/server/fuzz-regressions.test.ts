/**
 * Goal: the bugs test/fuzz/kinesis-http.fuzz.test.ts found stay fixed. Each test is named after
 * the bug it guards against and sends the smallest request that showed it, on both the Kinesis
 * port and the uWebSockets.js port where both are concerned.
 */
import net from 'node:net';

import { cbor, tag } from '@smithy/core/cbor';
import { describe, expect, it, vi } from 'vitest';

import { KinesisError } from '../../src/errors.js';
import { decodeCborInput } from '../../src/server/cbor-codec.js';
import { decodeJsonInput, INPUT_MODELS } from '../../src/server/json-codec.js';
import { parseResponseHead } from '../helpers/raw-http.js';
import { serverForBlock } from '../helpers/sdk.js';

const JSON_TYPE = 'application/x-amz-json-1.1';
const CBOR_TYPE = 'application/x-amz-cbor-1.1';
const TARGET = 'Kinesis_20131202.';

const block = serverForBlock({ dataDirPrefix: 'runnel-fuzz-regressions-', wsPort: 0, workers: 1 });

/** The raw HTTP/1.1 answer to `request`, read until the server closes the connection. */
function exchange(
  url: string,
  request: string,
): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(new URL(url).port), '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const received = Buffer.concat(chunks);
      const { status, headers, bodyStart } = parseResponseHead(received)!;
      resolve({ status, headers, body: received.subarray(bodyStart) });
    });
    socket.on('connect', () => socket.write(request));
  });
}

/** The error `decode` throws. */
function thrownBy(decode: () => unknown): KinesisError {
  try {
    decode();
  } catch (error) {
    expect(error).toBeInstanceOf(KinesisError);
    return error as KinesisError;
  }
  throw new Error('expected the decode to fail');
}

describe('answers of the Kinesis HTTP API the fuzz test found wanting', () => {
  it('what node:http cannot parse is answered with x-amzn-ErrorType (it had none)', async () => {
    // A header value with a control character: node:http refuses it before any handler runs.
    const answer = await exchange(
      block.server.kinesisUrl,
      'POST / HTTP/1.1\r\nHost: x\r\n' +
        `Content-Type: ${JSON_TYPE}\u0001\r\nContent-Length: 2\r\n\r\n{}`,
    );
    expect(answer.status).toBe(400);
    expect(answer.headers['x-amzn-errortype']).toBe('SerializationException');
    expect(JSON.parse(answer.body.toString('utf8')).__type).toBe('SerializationException');
  });

  it.each(['kinesis', 'uws'] as const)(
    'a request other than a POST, in CBOR, is refused in CBOR on the %s port (it was JSON)',
    async (front) => {
      const url = front === 'kinesis' ? block.server.kinesisUrl : block.server.wsUrl!;
      const response = await fetch(`${url}/`, {
        method: 'PUT',
        headers: { 'content-type': CBOR_TYPE, 'x-amz-target': `${TARGET}ListStreams` },
        body: cbor.serialize({}),
      });
      expect(response.status).toBe(403);
      expect(response.headers.get('content-type')).toBe(CBOR_TYPE);
      expect(response.headers.get('x-amzn-errortype')).toBe('AccessDeniedException');
      const body = new Uint8Array(await response.arrayBuffer());
      expect(cbor.deserialize(body)).toMatchObject({ __type: 'AccessDeniedException' });
    },
  );

  it('an out-of-range timestamp is a SerializationException (it was an Invalid Date)', async () => {
    // Until the fix, 1e16 seconds and 9e15 milliseconds (both past the 8.64e15 ms a Date holds)
    // reached validation, which answered "Value 'Invalid Date' at 'streamCreationTimestamp'".
    const listShards = INPUT_MODELS.ListShards!;
    const json = (text: string) => () => decodeJsonInput(Buffer.from(text), listShards);
    const tooLate = { StreamCreationTimestamp: tag({ tag: 1, value: 9e15 }) };
    const refusals = [
      json('{"StreamName":"s","StreamCreationTimestamp":1e16}'),
      json('{"StreamCreationTimestamp":"-1e300"}'),
      () => decodeCborInput(Buffer.from(cbor.serialize(tooLate)), listShards),
    ];
    for (const refusal of refusals) {
      const error = thrownBy(refusal);
      expect(error.code).toBe('SerializationException');
      expect(error.message).toMatch(/^Numeric value \(.+\) out of range of Timestamp$/);
    }
    // The last instant a Date holds still decodes.
    const edge = json('{"StreamCreationTimestamp":8.64e12}')();
    expect((edge.input.StreamCreationTimestamp as Date).getTime()).toBe(8.64e15);

    const response = await fetch(`${block.server.kinesisUrl}/`, {
      method: 'POST',
      headers: { 'content-type': JSON_TYPE, 'x-amz-target': `${TARGET}GetShardIterator` },
      body: JSON.stringify({
        StreamName: 's',
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'AT_TIMESTAMP',
        Timestamp: 1e16,
      }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      __type: 'SerializationException',
      message: 'Numeric value (10000000000000000) out of range of Timestamp',
    });
  });
});

describe('a tampered NextToken', () => {
  it('is refused as Invalid NextToken, with or without its MAC (it was InternalFailure, 500)', async () => {
    const create = await fetch(`${block.server.kinesisUrl}/`, {
      method: 'POST',
      headers: { 'content-type': JSON_TYPE, 'x-amz-target': `${TARGET}CreateStream` },
      body: JSON.stringify({ StreamName: 'tokens', ShardCount: 2 }),
    });
    expect(create.status).toBe(200);
    const listShards = (input: object) =>
      fetch(`${block.server.kinesisUrl}/`, {
        method: 'POST',
        headers: { 'content-type': JSON_TYPE, 'x-amz-target': `${TARGET}ListShards` },
        body: JSON.stringify(input),
      });
    const first = await listShards({ StreamName: 'tokens', MaxResults: 1 });
    const token = ((await first.json()) as { NextToken: string }).NextToken;
    // The token's JSON, and the 16-byte MAC that ends it.
    const signed = Buffer.from(token, 'base64');
    const mac = signed.subarray(signed.length - 16);
    const fields = JSON.parse(signed.subarray(0, signed.length - 16).toString('utf8')) as object;
    const logged = vi.spyOn(console, 'error');
    try {
      for (const filter of [{ Type: 'NO_SUCH_TYPE' }, { Type: 'AFTER_SHARD_ID', ShardId: 5 }]) {
        const altered = Buffer.from(JSON.stringify({ ...fields, filter }));
        for (const forged of [altered, Buffer.concat([altered, mac])]) {
          const answer = await listShards({ NextToken: forged.toString('base64') });
          expect(answer.status).toBe(400);
          expect(await answer.json()).toEqual({
            __type: 'InvalidArgumentException',
            message: 'Invalid NextToken.',
          });
        }
      }
      expect(logged).not.toHaveBeenCalled();
    } finally {
      logged.mockRestore();
    }
    // The token as issued still lists the rest.
    const rest = await listShards({ NextToken: token });
    expect(rest.status).toBe(200);
    const { Shards } = (await rest.json()) as { Shards: Array<{ ShardId: string }> };
    expect(Shards.map((shard) => shard.ShardId)).toEqual(['shardId-000000000001']);
  });
});
