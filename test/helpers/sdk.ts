/**
 * What the tests of the Kinesis API through the real `@aws-sdk/client-kinesis` share: the
 * default account and region, a client for a test server, catching a command's error, MD5 hash
 * keys, and creating a stream and waiting (every 25 ms, not the SDK waiter's 10 s) until it is
 * ACTIVE, and listing every shard.
 */
import { createHash } from 'node:crypto';

import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListShardsCommand,
  type Shard,
  type ShardFilterType,
} from '@aws-sdk/client-kinesis';

export const ACCOUNT = '000000000000';
export const REGION = 'us-east-1';
const ACTIVE_WAIT_MS = 30_000;
const POLL_MS = 25;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const streamArn = (name: string) => `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/${name}`;

export interface SdkFailure {
  name: string;
  message: string;
  $fault: string;
  $metadata: { httpStatusCode?: number; attempts?: number; requestId?: string };
}

/** Catches the SDK error a command throws, so tests can check name, message and metadata. */
export async function failure(promise: Promise<unknown>): Promise<SdkFailure> {
  try {
    await promise;
  } catch (error) {
    return error as never;
  }
  throw new Error('expected the command to fail');
}

/**
 * A client of a test server. `maxAttempts: 1` shows each answer as it is: the SDK retries
 * LimitExceededException as throttling.
 */
export function sdkClient(endpoint: string, options: { maxAttempts?: number } = {}): KinesisClient {
  return new KinesisClient({
    endpoint,
    region: REGION,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    ...options,
  });
}

/** The 128-bit hash key Kinesis routes a partition key by. */
export function md5HashKey(partitionKey: string): bigint {
  return BigInt(`0x${createHash('md5').update(partitionKey, 'utf8').digest('hex')}`);
}

export async function statusOf(client: KinesisClient, name: string): Promise<string | undefined> {
  const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
  return summary.StreamDescriptionSummary!.StreamStatus;
}

/** Polls until the stream is ACTIVE; fails after 30 s. */
export async function waitActive(client: KinesisClient, name: string): Promise<void> {
  const deadline = Date.now() + ACTIVE_WAIT_MS;
  for (;;) {
    if ((await statusOf(client, name)) === 'ACTIVE') return;
    if (Date.now() > deadline) throw new Error(`stream ${name} did not become ACTIVE in 30 s`);
    await sleep(POLL_MS);
  }
}

/** Creates a stream (PROVISIONED with `shardCount`, else ON_DEMAND) and waits until it is ACTIVE. */
export async function createActive(client: KinesisClient, name: string, shardCount?: number): Promise<void> {
  await client.send(
    new CreateStreamCommand(
      shardCount === undefined
        ? { StreamName: name, StreamModeDetails: { StreamMode: 'ON_DEMAND' } }
        : { StreamName: name, ShardCount: shardCount },
    ),
  );
  await waitActive(client, name);
}

/** Every shard ListShards lists (no filter, or the given one), following NextToken. */
export async function listShards(client: KinesisClient, name: string, filter?: ShardFilterType): Promise<Shard[]> {
  const shards: Shard[] = [];
  let page = await client.send(
    new ListShardsCommand({ StreamName: name, ...(filter ? { ShardFilter: { Type: filter } } : {}) }),
  );
  for (let pages = 0; ; pages++) {
    shards.push(...page.Shards!);
    if (page.NextToken === undefined) return shards;
    if (pages > 100) throw new Error('ListShards did not stop paging');
    page = await client.send(new ListShardsCommand({ NextToken: page.NextToken }));
  }
}
