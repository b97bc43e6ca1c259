/**
 * Goal: large JSON PutRecords prepared on codec threads behave exactly like PutRecords decoded
 * on the event loop. The real SDK (HTTP/2 and HTTP/1.1 on the Kinesis port, HTTP/1.1 on the uWS
 * front end, whose bodies arrive in other buffers) puts 500-record batches through a server
 * with codec threads; every record is read back from the shard its MD5 picks, byte-identical,
 * at the sequence number it was given, and /metrics shows the codec did the work. Then bodies
 * with one defect each are sent to that server and to one without codec threads: status, error
 * name and message are identical, including errors that depend on the stream (unknown stream,
 * a record too large for it), which the prepared path checks on the event loop.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  CreateStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
  waitUntilStreamExists,
  type Shard,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startServer, type RunningServer } from '../../src/server/server.js';
import { CODEC_BODY_BYTES_MIN } from '../../src/server/codec-threads.js';

const STREAM = 'codec-stream';
const SHARDS = 4;
const CREDENTIALS = { accessKeyId: 'x', secretAccessKey: 'x' };

let withCodec: RunningServer;
let withoutCodec: RunningServer;
const dirs: string[] = [];

async function open(codecThreads: number): Promise<RunningServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'runnel-codec-'));
  dirs.push(dataDir);
  const server = await startServer({
    port: 0,
    wsPort: 0,
    dataDir,
    workers: 2,
    codecThreads,
    engineOptions: { streamTransitionMs: 0 },
  });
  const client = new KinesisClient({
    endpoint: server.kinesisUrl,
    region: 'us-east-1',
    credentials: CREDENTIALS,
  });
  await client.send(new CreateStreamCommand({ StreamName: STREAM, ShardCount: SHARDS }));
  await waitUntilStreamExists({ client, maxWaitTime: 30, minDelay: 1 }, { StreamName: STREAM });
  client.destroy();
  return server;
}

beforeAll(async () => {
  [withCodec, withoutCodec] = await Promise.all([open(2), open(0)]);
});

afterAll(async () => {
  await Promise.all([withCodec?.close(), withoutCodec?.close()]);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A counter from the uWS app's /metrics page. */
async function metric(server: RunningServer, name: string): Promise<number> {
  const text = await (await fetch(`${server.wsUrl}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

function md5(key: string): bigint {
  return BigInt(`0x${createHash('md5').update(key).digest('hex')}`);
}

describe('PutRecords on codec threads', () => {
  for (const transport of ['http2', 'http1', 'uws-http1'] as const) {
    it(`stores 500-record batches exactly, routed by MD5, over ${transport}`, async () => {
      const client = new KinesisClient({
        endpoint: transport === 'uws-http1' ? withCodec.wsUrl! : withCodec.kinesisUrl,
        region: 'us-east-1',
        credentials: CREDENTIALS,
        ...(transport !== 'http2' ? { requestHandler: new NodeHttpHandler() } : {}),
      });
      const before = await metric(withCodec, 'runnel_codec_prepared_total');
      const sent = new Map<string, { data: Buffer; key: string }>();
      for (let batch = 0; batch < 4; batch++) {
        const records = Array.from({ length: 500 }, (_, i) => {
          const key = `${transport}-${batch}-${i}`;
          const data = createHash('sha256').update(key).digest();
          return { PartitionKey: key, Data: Buffer.concat([data, Buffer.alloc(i % 50, i)]) };
        });
        const output = await client.send(
          new PutRecordsCommand({ StreamName: STREAM, Records: records }),
        );
        expect(output.FailedRecordCount).toBe(0);
        output.Records!.forEach((entry, i) => {
          sent.set(entry.SequenceNumber!, {
            data: Buffer.from(records[i]!.Data),
            key: records[i]!.PartitionKey,
          });
          expect(entry.ShardId).toMatch(/^shardId-\d{12}$/);
        });
      }
      expect(await metric(withCodec, 'runnel_codec_prepared_total')).toBe(before + 4);

      const shards: Shard[] = (await client.send(new ListShardsCommand({ StreamName: STREAM })))
        .Shards!;
      let found = 0;
      for (const shard of shards) {
        const start = BigInt(shard.HashKeyRange!.StartingHashKey!);
        const end = BigInt(shard.HashKeyRange!.EndingHashKey!);
        let iterator = (
          await client.send(
            new GetShardIteratorCommand({
              StreamName: STREAM,
              ShardId: shard.ShardId!,
              ShardIteratorType: 'TRIM_HORIZON',
            }),
          )
        ).ShardIterator;
        let previous = -1n;
        for (;;) {
          const page = await client.send(
            new GetRecordsCommand({ ShardIterator: iterator!, Limit: 10_000 }),
          );
          for (const record of page.Records!) {
            expect(BigInt(record.SequenceNumber!)).toBeGreaterThan(previous);
            previous = BigInt(record.SequenceNumber!);
            const expected = sent.get(record.SequenceNumber!);
            if (!expected) continue; // the other transport's records
            found++;
            expect(record.PartitionKey).toBe(expected.key);
            expect(Buffer.from(record.Data!).equals(expected.data)).toBe(true);
            const hash = md5(expected.key);
            expect(hash >= start && hash <= end).toBe(true);
          }
          if (page.Records!.length === 0) break;
          iterator = page.NextShardIterator;
        }
      }
      expect(found).toBe(2_000);
      client.destroy();
    });
  }

  /** Bodies over CODEC_BODY_BYTES_MIN, each with one defect somewhere after its first records. */
  function defective(): Record<string, unknown> {
    const records = (count: number, size = 40) =>
      Array.from({ length: count }, (_, i) => ({
        PartitionKey: `k${i}`,
        Data: Buffer.alloc(size, i).toString('base64'),
      }));
    const many = records(400);
    const oneMiB = Buffer.alloc(1024 * 1024, 1).toString('base64');
    return {
      'bad base64': {
        StreamName: STREAM,
        Records: [...many.slice(0, 300), { PartitionKey: 'k', Data: 'ab-_' }, ...many],
      },
      'url-safe base64 only': {
        StreamName: STREAM,
        Records: [...many.slice(0, 300), { PartitionKey: 'k', Data: 'abc_' }],
      },
      'unknown stream': { StreamName: 'no-such-stream', Records: many },
      'unknown stream by ARN': {
        StreamARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/no-such-stream',
        Records: many,
      },
      'name and ARN disagree': {
        StreamName: STREAM,
        StreamARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/other',
        Records: many,
      },
      'no stream named': { Records: many },
      'record too large for the stream': {
        StreamName: STREAM,
        Records: [...many.slice(0, 10), { PartitionKey: 'long-key', Data: oneMiB }],
      },
      'data over the limit': {
        StreamName: STREAM,
        Records: [
          ...many.slice(0, 10),
          { PartitionKey: 'k', Data: Buffer.alloc(1024 * 1024 + 1).toString('base64') },
        ],
      },
      '501 records': { StreamName: STREAM, Records: records(501) },
      'explicit hash key out of range': {
        StreamName: STREAM,
        Records: [
          ...many,
          { PartitionKey: 'k', Data: '', ExplicitHashKey: (1n << 128n).toString() },
        ],
      },
      'partition key too long': {
        StreamName: STREAM,
        Records: [...many, { PartitionKey: 'k'.repeat(257), Data: '' }],
      },
      'dry run': { StreamName: STREAM, Records: many, DryRun: true },
      'wrong type': { StreamName: STREAM, Records: [...many, { PartitionKey: 5, Data: 'AAAA' }] },
    };
  }

  async function post(server: RunningServer, body: string) {
    const response = await fetch(server.kinesisUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'Kinesis_20131202.PutRecords',
      },
      body,
    });
    return { status: response.status, body: await response.json() };
  }

  it('answers defective bodies exactly as the event-loop path does', async () => {
    const declinedBefore = await metric(withCodec, 'runnel_codec_declined_total');
    const preparedBefore = await metric(withCodec, 'runnel_codec_prepared_total');
    const cases = Object.entries(defective());
    for (const [name, body] of cases) {
      const text = JSON.stringify(body);
      expect(text.length, name).toBeGreaterThanOrEqual(CODEC_BODY_BYTES_MIN);
      const [coded, plain] = await Promise.all([post(withCodec, text), post(withoutCodec, text)]);
      expect(coded, name).toEqual(plain);
      expect(coded.status, name).toBeGreaterThanOrEqual(400);
    }
    const declined = (await metric(withCodec, 'runnel_codec_declined_total')) - declinedBefore;
    const prepared = (await metric(withCodec, 'runnel_codec_prepared_total')) - preparedBefore;
    expect(declined + prepared).toBe(cases.length);
    // Stream-dependent errors come from the prepared path; the others were declined.
    expect(prepared).toBe(5);
    expect(await metric(withoutCodec, 'runnel_codec_prepared_total')).toBe(0);
  });
});
