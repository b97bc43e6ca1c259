/**
 * Goal: stopping the server and starting a new one on the same data directory keeps every
 * stream (with its settings and tags) and every acknowledged record, readable through the API
 * with the same sequence numbers — over the real SDK, HTTP/1.1.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  AddTagsToStreamCommand,
  CreateStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  IncreaseStreamRetentionPeriodCommand,
  KinesisClient,
  ListStreamsCommand,
  ListTagsForStreamCommand,
  DescribeStreamSummaryCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, expect, it } from 'vitest';

import { startServer, type RunningServer } from '../../src/server/server.js';

const dataDir = mkdtempSync(join(tmpdir(), 'runnel-restart-'));
let server: RunningServer | undefined;

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function clientFor(running: RunningServer): KinesisClient {
  return new KinesisClient({
    endpoint: running.kinesisUrl,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    requestHandler: new NodeHttpHandler(),
  });
}

async function readAll(client: KinesisClient, stream: string, shardId: string) {
  const { ShardIterator } = await client.send(
    new GetShardIteratorCommand({
      StreamName: stream,
      ShardId: shardId,
      ShardIteratorType: 'TRIM_HORIZON',
    }),
  );
  const page = await client.send(new GetRecordsCommand({ ShardIterator }));
  return page.Records!.map((record) => ({
    sequence: record.SequenceNumber,
    key: record.PartitionKey,
    data: Buffer.from(record.Data!).toString(),
  }));
}

it('keeps streams and records across a restart on the same data directory', async () => {
  server = await startServer({ port: 0, wsPort: 0, dataDir, workers: 2 });
  let client = clientFor(server);
  await client.send(new CreateStreamCommand({ StreamName: 'durable', ShardCount: 2 }));
  await client.send(new CreateStreamCommand({ StreamName: 'second', ShardCount: 1 }));
  await client.send(
    new IncreaseStreamRetentionPeriodCommand({ StreamName: 'durable', RetentionPeriodHours: 72 }),
  );
  await client.send(new AddTagsToStreamCommand({ StreamName: 'durable', Tags: { kept: 'yes' } }));
  const put = await client.send(
    new PutRecordsCommand({
      StreamName: 'durable',
      Records: Array.from({ length: 100 }, (_, i) => ({
        PartitionKey: `key-${i}`,
        Data: Buffer.from(`value-${i}`),
      })),
    }),
  );
  expect(put.FailedRecordCount).toBe(0);
  const before = {
    shard0: await readAll(client, 'durable', 'shardId-000000000000'),
    shard1: await readAll(client, 'durable', 'shardId-000000000001'),
  };
  expect(before.shard0.length + before.shard1.length).toBe(100);
  client.destroy();
  await server.close();

  server = await startServer({ port: 0, wsPort: 0, dataDir, workers: 2 });
  client = clientFor(server);
  const streams = await client.send(new ListStreamsCommand({}));
  expect(streams.StreamNames).toEqual(['durable', 'second']);
  const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'durable' }));
  expect(summary.StreamDescriptionSummary!.StreamStatus).toBe('ACTIVE');
  expect(summary.StreamDescriptionSummary!.RetentionPeriodHours).toBe(72);
  expect(summary.StreamDescriptionSummary!.OpenShardCount).toBe(2);
  const tags = await client.send(new ListTagsForStreamCommand({ StreamName: 'durable' }));
  expect(tags.Tags).toEqual([{ Key: 'kept', Value: 'yes' }]);
  expect(await readAll(client, 'durable', 'shardId-000000000000')).toEqual(before.shard0);
  expect(await readAll(client, 'durable', 'shardId-000000000001')).toEqual(before.shard1);

  // New writes continue after the recovered ones.
  const more = await client.send(
    new PutRecordsCommand({
      StreamName: 'durable',
      Records: [{ PartitionKey: 'key-0', Data: Buffer.from('after-restart') }],
    }),
  );
  const shardId = more.Records![0]!.ShardId!;
  const after = await readAll(client, 'durable', shardId);
  const last = after[after.length - 1]!;
  expect(last.data).toBe('after-restart');
  expect(BigInt(last.sequence!) > BigInt(after[after.length - 2]!.sequence!)).toBe(true);
  client.destroy();
});
