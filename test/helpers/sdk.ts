/**
 * What the tests of the Kinesis API through the real `@aws-sdk/client-kinesis` share: the
 * default account and region, a test server with its client and data directory (for a describe
 * block, or for one run on a data directory that outlives it), catching a command's error, MD5
 * hash keys, creating a stream or registering a consumer and waiting (every 25 ms, not the SDK
 * waiter's 10 s) until it is ACTIVE, and listing every shard.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  CreateStreamCommand,
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListShardsCommand,
  RegisterStreamConsumerCommand,
  type Consumer,
  type KinesisClientConfig,
  type Shard,
  type ShardFilterType,
} from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll } from 'vitest';

import { startServer, type RunningServer, type ServerOptions } from '../../src/server/server.js';

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

export interface SdkClientOptions {
  maxAttempts?: number;
  /** The SDK's default is HTTP/2 (NodeHttp2Handler); a NodeHttpHandler speaks HTTP/1.1. */
  requestHandler?: KinesisClientConfig['requestHandler'];
}

/**
 * A client of a test server. `maxAttempts: 1` shows each answer as it is: the SDK retries
 * LimitExceededException as throttling.
 */
export function sdkClient(endpoint: string, options: SdkClientOptions = {}): KinesisClient {
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
export async function createActive(
  client: KinesisClient,
  name: string,
  shardCount?: number,
): Promise<void> {
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
export async function listShards(
  client: KinesisClient,
  name: string,
  filter?: ShardFilterType,
): Promise<Shard[]> {
  const shards: Shard[] = [];
  let page = await client.send(
    new ListShardsCommand({
      StreamName: name,
      ...(filter ? { ShardFilter: { Type: filter } } : {}),
    }),
  );
  for (let pages = 0; ; pages++) {
    shards.push(...page.Shards!);
    if (page.NextToken === undefined) return shards;
    if (pages > 100) throw new Error('ListShards did not stop paging');
    page = await client.send(new ListShardsCommand({ NextToken: page.NextToken }));
  }
}

/** Polls until the consumer is ACTIVE; fails after 30 s. */
export async function waitConsumerActive(
  client: KinesisClient,
  consumerArn: string,
): Promise<void> {
  const deadline = Date.now() + ACTIVE_WAIT_MS;
  for (;;) {
    const described = await client.send(
      new DescribeStreamConsumerCommand({ ConsumerARN: consumerArn }),
    );
    if (described.ConsumerDescription!.ConsumerStatus === 'ACTIVE') return;
    if (Date.now() > deadline)
      throw new Error(`consumer ${consumerArn} did not become ACTIVE in 30 s`);
    await sleep(POLL_MS);
  }
}

/**
 * Registers a consumer of the stream and waits until it is ACTIVE. Returns the consumer as
 * RegisterStreamConsumer answered (CREATING): its ARN is what SubscribeToShard takes.
 */
export async function registerActive(
  client: KinesisClient,
  stream: string,
  name: string,
): Promise<Consumer> {
  const { Consumer: consumer } = await client.send(
    new RegisterStreamConsumerCommand({ StreamARN: streamArn(stream), ConsumerName: name }),
  );
  await waitConsumerActive(client, consumer!.ConsumerARN!);
  return consumer!;
}

/**
 * How a test server runs: on free ports of 127.0.0.1, with `workers` shard threads and the
 * engine options given, and without the uWS app unless `wsPort` asks for it (0: a free port).
 */
export interface TestServerOptions extends Pick<
  ServerOptions,
  'wsPort' | 'workers' | 'engineOptions'
> {
  /**
   * The client the tests use: sdkClient of the Kinesis endpoint with these options (the
   * default: none), or what this function makes of the server (another transport or endpoint).
   */
  client?: SdkClientOptions | ((server: RunningServer) => KinesisClient);
}

async function startTestServer(
  dataDir: string,
  options: TestServerOptions,
): Promise<{ server: RunningServer; client: KinesisClient }> {
  const { client: clientOption = {}, wsPort = null, ...serverOptions } = options;
  const server = await startServer({ ...serverOptions, port: 0, wsPort, dataDir });
  const client =
    typeof clientOption === 'function'
      ? clientOption(server)
      : sdkClient(server.kinesisUrl, clientOption);
  return { server, client };
}

const removeDir = (dir: string) => rmSync(dir, { recursive: true, force: true });

/** A test server, its client and its data directory, as serverForBlock sets them. */
export interface BlockServer {
  readonly server: RunningServer;
  readonly client: KinesisClient;
  readonly dataDir: string;
}

/**
 * One server for the tests of the describe block (or file) that calls this: its beforeAll makes
 * a fresh temp data directory (named `dataDirPrefix` and a random suffix) and starts the server
 * and its client on it; its afterAll destroys the client, closes the server and removes the
 * directory. The returned object's fields are set only once the block starts: read them in
 * tests and hooks, not in the describe body itself.
 */
export function serverForBlock(
  options: TestServerOptions & { dataDirPrefix: string },
): BlockServer {
  const { dataDirPrefix, ...serverOptions } = options;
  const block = {} as { server: RunningServer; client: KinesisClient; dataDir: string };
  beforeAll(async () => {
    block.dataDir = mkdtempSync(join(tmpdir(), dataDirPrefix));
    Object.assign(block, await startTestServer(block.dataDir, serverOptions));
  });
  afterAll(async () => {
    block.client?.destroy();
    await block.server?.close();
    if (block.dataDir) removeDir(block.dataDir);
  });
  return block;
}

/**
 * A temp data directory for the describe block that calls this, made before its first test and
 * removed after its last: for tests that restart servers on it (see withServerOn).
 */
export function dataDirForBlock(prefix: string): { readonly path: string } {
  const block = {} as { path: string };
  beforeAll(() => {
    block.path = mkdtempSync(join(tmpdir(), prefix));
  });
  afterAll(() => {
    if (block.path) removeDir(block.path);
  });
  return block;
}

/**
 * Starts a server on `dataDir`, runs `body` with its client, then closes both, whether or not
 * `body` failed; the data directory stays, for the next server. Returns what `body` returns.
 */
export async function withServerOn<T>(
  dataDir: string,
  options: TestServerOptions,
  body: (client: KinesisClient) => Promise<T>,
): Promise<T> {
  const { server, client } = await startTestServer(dataDir, options);
  try {
    return await body(client);
  } finally {
    client.destroy();
    await server.close();
  }
}
