/**
 * Goal: the AUTO record distribution strategy (SDK 3.1143's RecordDistributionStrategy) works
 * through the real `@aws-sdk/client-kinesis` as the SDK documents it:
 *  - CreateStream and UpdateStreamRecordDistributionStrategy set it on an ON_DEMAND stream, and
 *    refuse AUTO on a PROVISIONED one (InvalidArgumentException); UpdateStreamMode refuses to
 *    make an AUTO stream PROVISIONED; DescribeStreamSummary reports the strategy of every
 *    ON_DEMAND stream (and of no PROVISIONED one), DescribeStream never;
 *  - under AUTO a PartitionKey is optional on PutRecord and PutRecords, and neither it nor an
 *    ExplicitHashKey decides the shard: 4,000 records of one key spread exactly evenly over 4
 *    shards (Runnel's rotation is deterministic: no shard differs from another by more than one
 *    record, so 25 % each with no tolerance); a key given is still validated as always;
 *  - GetRecords and SubscribeToShard (JSON through the SDK, and JSON and CBOR on the wire) leave
 *    PartitionKey out of a record put without one and return a given key as given;
 *  - switching back to USER_PARTITION_KEY makes keys required again (the ValidationException of
 *    before) and routes by MD5; records already stored keep their shards;
 *  - after a split and a merge, AUTO places records only on open shards (the children);
 *  - the strategy survives a restart, and a catalog without it opens as USER_PARTITION_KEY;
 *  - in limits mode each shard's write allowance applies to AUTO records as to any.
 * Servers are in-process `startServer` on 127.0.0.1 with free ports, temp data dirs and real
 * worker threads; the main ones, over HTTP/2 (the SDK's default) and HTTP/1.1, have a short
 * stream transition so UPDATING can be seen.
 */

import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';

import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  MergeShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  SplitShardCommand,
  SubscribeToShardCommand,
  UpdateStreamModeCommand,
  UpdateStreamRecordDistributionStrategyCommand,
  type PutRecordInput,
  type PutRecordsRequestEntry,
  type RecordDistributionStrategy,
  type StreamMode,
  type _Record,
} from '@aws-sdk/client-kinesis';
import { cbor } from '@smithy/core/cbor';
import { EventStreamCodec } from '@smithy/core/event-streams';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { describe, expect, it } from 'vitest';

import {
  ACCOUNT,
  createActive,
  dataDirForBlock,
  failure,
  listShards,
  md5HashKey,
  registerActive,
  serverForBlock,
  streamArn,
  waitActive,
  withServerOn,
} from '../helpers/sdk.js';

const TRANSITION_MS = 200;
const JSON_TYPE = 'application/x-amz-json-1.1';
const CBOR_TYPE = 'application/x-amz-cbor-1.1';
const SHARD = (index: number) => `shardId-${String(index).padStart(12, '0')}`;
const data = (text: string) => Buffer.from(text);
const text = (bytes: Uint8Array | undefined) => Buffer.from(bytes!).toString();
const keyNull = (path: string) =>
  `Value null at '${path}' failed to satisfy constraint: Member must not be null`;
/** `count` records without a partition key holding `<prefix><i>`. */
const keyless = (count: number, prefix = 'v'): PutRecordsRequestEntry[] =>
  Array.from({ length: count }, (_, i) => ({ Data: data(`${prefix}${i}`) }));

/** Creates an ON_DEMAND stream (4 shards) with the strategy given; waits until it is ACTIVE. */
async function createOnDemand(
  client: KinesisClient,
  name: string,
  strategy?: RecordDistributionStrategy,
): Promise<void> {
  await client.send(
    new CreateStreamCommand({
      StreamName: name,
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      ...(strategy === undefined ? {} : { RecordDistributionStrategy: strategy }),
    }),
  );
  await waitActive(client, name);
}

async function summaryOf(client: KinesisClient, name: string) {
  const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
  return summary.StreamDescriptionSummary!;
}

function setStrategy(client: KinesisClient, name: string, strategy: RecordDistributionStrategy) {
  return client.send(
    new UpdateStreamRecordDistributionStrategyCommand({
      StreamARN: streamArn(name),
      RecordDistributionStrategy: strategy,
    }),
  );
}

function modeCommand(name: string, mode: StreamMode): UpdateStreamModeCommand {
  const StreamModeDetails = { StreamMode: mode };
  return new UpdateStreamModeCommand({ StreamARN: streamArn(name), StreamModeDetails });
}

async function setMode(client: KinesisClient, name: string, mode: StreamMode): Promise<void> {
  await client.send(modeCommand(name, mode));
  await waitActive(client, name);
}

function putRecord(client: KinesisClient, input: PutRecordInput) {
  return client.send(new PutRecordCommand(input));
}

/** Puts records with PutRecords and returns the shard each landed in; no record may fail. */
async function putAll(
  client: KinesisClient,
  name: string,
  records: PutRecordsRequestEntry[],
): Promise<string[]> {
  const shards: string[] = [];
  for (let start = 0; start < records.length; start += 500) {
    const Records = records.slice(start, start + 500);
    const put = await client.send(new PutRecordsCommand({ StreamName: name, Records }));
    expect(put.FailedRecordCount).toBe(0);
    shards.push(...put.Records!.map((record) => record.ShardId!));
  }
  return shards;
}

function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

function iteratorCommand(name: string, shardId: string): GetShardIteratorCommand {
  return new GetShardIteratorCommand({
    StreamName: name,
    ShardId: shardId,
    ShardIteratorType: 'TRIM_HORIZON',
  });
}

/** Every record of a shard, TRIM_HORIZON to its current end, through GetRecords. */
async function readShard(client: KinesisClient, name: string, shardId: string): Promise<_Record[]> {
  const { ShardIterator } = await client.send(iteratorCommand(name, shardId));
  const records: _Record[] = [];
  let iterator = ShardIterator;
  while (iterator !== undefined) {
    const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator }));
    records.push(...page.Records!);
    if (page.Records!.length === 0) break;
    iterator = page.NextShardIterator;
  }
  return records;
}

/** The shard whose hash-key range holds the MD5 of `key`, as Kinesis routes it. */
async function ownerFinder(client: KinesisClient, name: string) {
  const shards = await listShards(client, name);
  return (key: string) => {
    const hash = md5HashKey(key);
    const owner = shards.find(
      (shard) =>
        BigInt(shard.HashKeyRange!.StartingHashKey!) <= hash &&
        hash <= BigInt(shard.HashKeyRange!.EndingHashKey!),
    );
    return owner!.ShardId!;
  };
}

type Format = 'json' | 'cbor';

function encodeAs(format: Format, input: object): string | Uint8Array {
  return format === 'json' ? JSON.stringify(input) : cbor.serialize(input);
}

function decodeAs(format: Format, bytes: Uint8Array): Record<string, unknown> {
  if (format === 'cbor') return cbor.deserialize(bytes) as Record<string, unknown>;
  return JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
}

function headersOf(format: Format, operation: string): Record<string, string> {
  return {
    'content-type': format === 'json' ? JSON_TYPE : CBOR_TYPE,
    'x-amz-target': `Kinesis_20131202.${operation}`,
  };
}

/** A JSON or CBOR request straight to the endpoint: the answer as sent, members and all. */
async function raw(
  url: string,
  format: Format,
  operation: string,
  input: object,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}/`, {
    method: 'POST',
    headers: headersOf(format, operation),
    body: encodeAs(format, input),
  });
  const body = decodeAs(format, new Uint8Array(await response.arrayBuffer()));
  return { status: response.status, body };
}

const eventCodec = new EventStreamCodec(
  (bytes) => Buffer.from(bytes).toString('utf8'),
  (value) => Buffer.from(value, 'utf8'),
);

/**
 * SubscribeToShard from TRIM_HORIZON over HTTP/1.1 in JSON or CBOR, decoded by `@smithy/core`'s
 * event-stream codec: the records of the first event that has any, as the payload holds them.
 */
function firstEventRecords(
  url: string,
  format: Format,
  consumerArn: string,
  shardId: string,
): Promise<Record<string, unknown>[]> {
  const StartingPosition = { Type: 'TRIM_HORIZON' };
  const input = { ConsumerARN: consumerArn, ShardId: shardId, StartingPosition };
  const headers = headersOf(format, 'SubscribeToShard');
  return new Promise((resolve, reject) => {
    const request = http.request(`${url}/`, { method: 'POST', headers }, (answer) => {
      let pending = Buffer.alloc(0);
      answer.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 4 && pending.length >= pending.readUInt32BE(0)) {
          const length = pending.readUInt32BE(0);
          const message = eventCodec.decode(pending.subarray(0, length));
          pending = pending.subarray(length);
          if (message.headers[':event-type']?.value !== 'SubscribeToShardEvent') continue;
          const event = decodeAs(format, message.body) as { Records: Record<string, unknown>[] };
          if (event.Records.length === 0) continue;
          answer.destroy();
          resolve(event.Records);
          return;
        }
      });
      answer.on('error', () => undefined);
      answer.on('end', () => reject(new Error('the subscription ended without records')));
    });
    request.on('error', reject);
    request.end(encodeAs(format, input));
  });
}

type Transport = 'http2' | 'http1';

describe.each<Transport>(['http2', 'http1'])('RecordDistributionStrategy over %s', (transport) => {
  const handler = transport === 'http1' ? { requestHandler: new NodeHttpHandler() } : {};
  const runnel = serverForBlock({
    dataDirPrefix: `runnel-distribution-${transport}-`,
    workers: 2,
    engineOptions: { streamTransitionMs: TRANSITION_MS },
    client: { maxAttempts: 1, ...handler },
  });

  it('creates an ON_DEMAND stream with AUTO; Describe* report strategies as modeled', async () => {
    const { client } = runnel;
    await createOnDemand(client, 'auto-create', 'AUTO');
    await createOnDemand(client, 'keyed-create');
    await createActive(client, 'provisioned-create', 1);
    const auto = await summaryOf(client, 'auto-create');
    expect(auto.RecordDistributionStrategy).toBe('AUTO');
    expect(auto.OpenShardCount).toBe(4);
    const keyed = await summaryOf(client, 'keyed-create');
    expect(keyed.RecordDistributionStrategy).toBe('USER_PARTITION_KEY');
    // The model documents the member for on-demand streams only; DescribeStream has none at all.
    const url = runnel.server.kinesisUrl;
    const provisioned = await raw(url, 'json', 'DescribeStreamSummary', {
      StreamName: 'provisioned-create',
    });
    const member = 'RecordDistributionStrategy';
    expect(provisioned.body.StreamDescriptionSummary).not.toHaveProperty(member);
    const described = await raw(url, 'json', 'DescribeStream', { StreamName: 'auto-create' });
    expect(described.status).toBe(200);
    expect(described.body.StreamDescription).not.toHaveProperty(member);
  });

  it('spreads 4,000 records of one partition key exactly evenly over 4 open shards', async () => {
    const { client } = runnel;
    await createOnDemand(client, 'auto-spread', 'AUTO');
    const records = Array.from({ length: 4000 }, (_, i) => ({
      PartitionKey: 'one-key',
      Data: data(`r${i}`),
    }));
    const shards = await putAll(client, 'auto-spread', records);
    // 25 % each with no tolerance: the rotation leaves no shard more than one record ahead.
    expect(countBy(shards)).toEqual(Object.fromEntries([0, 1, 2, 3].map((i) => [SHARD(i), 1000])));
    // Single PutRecord calls take the shards in turn.
    const single: string[] = [];
    for (let i = 0; i < 8; i++) {
      const input = { StreamName: 'auto-spread', PartitionKey: 'one-key', Data: data('s') };
      single.push((await putRecord(client, input)).ShardId!);
    }
    expect(Object.values(countBy(single))).toEqual([2, 2, 2, 2]);
    // Every record reads back, with its key as given.
    for (const shardId of [0, 1, 2, 3].map(SHARD)) {
      const read = await readShard(client, 'auto-spread', shardId);
      expect(read).toHaveLength(1002);
      expect(read.every((record) => record.PartitionKey === 'one-key')).toBe(true);
    }
  });

  it('takes records without keys, ignores ExplicitHashKey, reads them back keyless', async () => {
    const { client } = runnel;
    await createOnDemand(client, 'auto-keyless', 'AUTO');
    const one = await putRecord(client, { StreamName: 'auto-keyless', Data: data('no key') });
    expect(one.ShardId).toBe(SHARD(0));
    expect(one.SequenceNumber).toMatch(/^\d{56}$/);
    // Every record names shard 0 by its hash key; AUTO places them in turn all the same, in runs
    // from the shard after the last one used.
    const records: PutRecordsRequestEntry[] = Array.from({ length: 7 }, (_, i) =>
      i % 2 === 0
        ? { Data: data(`keyless-${i}`), ExplicitHashKey: '0' }
        : { Data: data(`keyed-${i}`), PartitionKey: `key-${i}`, ExplicitHashKey: '0' },
    );
    const put = await client.send(
      new PutRecordsCommand({ StreamName: 'auto-keyless', Records: records }),
    );
    expect(put.FailedRecordCount).toBe(0);
    const placed = put.Records!.map((record) => record.ShardId!);
    expect(placed).toEqual([1, 1, 2, 2, 3, 3, 0].map(SHARD));

    const read = new Map<string, _Record>();
    for (const shard of await listShards(client, 'auto-keyless')) {
      for (const record of await readShard(client, 'auto-keyless', shard.ShardId!)) {
        read.set(record.SequenceNumber!, record);
      }
    }
    expect(read.size).toBe(8);
    const first = read.get(one.SequenceNumber!)!;
    expect(text(first.Data)).toBe('no key');
    expect(first).not.toHaveProperty('PartitionKey');
    put.Records!.forEach((entry, i) => {
      const record = read.get(entry.SequenceNumber!)!;
      expect(text(record.Data)).toBe(text(records[i]!.Data));
      expect(record.PartitionKey).toBe(records[i]!.PartitionKey);
    });

    // On the wire, the member is left out, not sent empty or null.
    const { ShardIterator } = await client.send(iteratorCommand('auto-keyless', SHARD(1)));
    const page = await raw(runnel.server.kinesisUrl, 'json', 'GetRecords', { ShardIterator });
    const wire = page.body.Records as Record<string, unknown>[];
    expect(wire.map((record) => record.PartitionKey)).toEqual([undefined, 'key-1']);
    const members = ['ApproximateArrivalTimestamp', 'Data', 'SequenceNumber'];
    expect(Object.keys(wire[0]!).sort()).toEqual(members);
  });

  it('validates a partition key that is given exactly as on any stream', async () => {
    const { client } = runnel;
    const StreamName = 'auto-validate';
    await createOnDemand(client, StreamName, 'AUTO');
    const empty = await failure(
      putRecord(client, { StreamName, PartitionKey: '', Data: data('x') }),
    );
    expect(empty.name).toBe('ValidationException');
    expect(empty.message).toBe(
      "1 validation error detected: Value '' at 'partitionKey' failed to satisfy constraint: " +
        'Member must have length greater than or equal to 1',
    );
    const long = 'k'.repeat(257);
    const Records = [{ Data: data('x') }, { Data: data('y'), PartitionKey: long }];
    const tooLong = await failure(client.send(new PutRecordsCommand({ StreamName, Records })));
    expect(tooLong.name).toBe('ValidationException');
    expect(tooLong.message).toBe(
      `1 validation error detected: Value '${long}' at 'records.2.member.partitionKey' ` +
        'failed to satisfy constraint: Member must have length less than or equal to 256',
    );
    const tooHigh = (1n << 128n).toString();
    const explicit = await failure(
      putRecord(client, { StreamName, Data: data('x'), ExplicitHashKey: tooHigh }),
    );
    expect(explicit.name).toBe('InvalidArgumentException');
    expect(explicit.message).toBe(
      'Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. ' +
        `Specified value was ${tooHigh}`,
    );
    // Nothing was stored by the refused puts.
    for (const shard of await listShards(client, StreamName)) {
      expect(await readShard(client, StreamName, shard.ShardId!)).toEqual([]);
    }
  });

  it('switches to USER_PARTITION_KEY (keys required, MD5 routing) and back', async () => {
    const { client } = runnel;
    const StreamName = 'auto-switch';
    await createOnDemand(client, StreamName, 'AUTO');
    const autoShards = await putAll(client, StreamName, keyless(8, 'a'));
    await setStrategy(client, StreamName, 'USER_PARTITION_KEY');
    const summary = await summaryOf(client, StreamName);
    expect(summary.RecordDistributionStrategy).toBe('USER_PARTITION_KEY');
    expect(summary.StreamStatus).toBe('ACTIVE');

    const noKey = await failure(putRecord(client, { StreamName, Data: data('x') }));
    expect(noKey.name).toBe('ValidationException');
    expect(noKey.message).toBe(`1 validation error detected: ${keyNull('partitionKey')}`);
    const Records = [{ Data: data('a'), PartitionKey: 'a' }, ...keyless(2)];
    const someNoKey = await failure(client.send(new PutRecordsCommand({ StreamName, Records })));
    expect(someNoKey.name).toBe('ValidationException');
    expect(someNoKey.message).toBe(
      `2 validation errors detected: ${keyNull('records.2.member.partitionKey')}; ` +
        keyNull('records.3.member.partitionKey'),
    );

    const owner = await ownerFinder(client, StreamName);
    const keys = Array.from({ length: 40 }, (_, i) => `user-${i}`);
    const keyedRecords = keys.map((key) => ({ PartitionKey: key, Data: data(key) }));
    const keyed = await putAll(client, StreamName, keyedRecords);
    expect(keyed).toEqual(keys.map(owner));

    await setStrategy(client, StreamName, 'AUTO');
    const again = await putAll(client, StreamName, keyless(4, 'b'));
    expect(new Set(again).size).toBe(4);

    // Records stored under each strategy are where their puts said, whatever came after.
    const expected = countBy([...autoShards, ...keyed, ...again]);
    for (const shardId of [0, 1, 2, 3].map(SHARD)) {
      expect(await readShard(client, StreamName, shardId)).toHaveLength(expected[shardId] ?? 0);
    }
  });

  it('refuses AUTO on a PROVISIONED stream, and making an AUTO stream PROVISIONED', async () => {
    const { client } = runnel;
    const created = await failure(
      client.send(
        new CreateStreamCommand({
          StreamName: 'auto-p',
          ShardCount: 2,
          RecordDistributionStrategy: 'AUTO',
        }),
      ),
    );
    expect(created.name).toBe('InvalidArgumentException');
    const refusal = 'RecordDistributionStrategy AUTO is only available for ON_DEMAND streams.';
    expect(created.message).toBe(refusal);

    await createActive(client, 'provisioned-auto', 2);
    const updated = await failure(setStrategy(client, 'provisioned-auto', 'AUTO'));
    expect(updated.name).toBe('InvalidArgumentException');
    expect(updated.message).toBe(
      `${refusal} Stream provisioned-auto under account ${ACCOUNT} is PROVISIONED.`,
    );
    // USER_PARTITION_KEY is what a provisioned stream does: accepted, and nothing changes.
    await setStrategy(client, 'provisioned-auto', 'USER_PARTITION_KEY');
    const provisioned = await summaryOf(client, 'provisioned-auto');
    expect(provisioned).not.toHaveProperty('RecordDistributionStrategy');
    const stillKeyed = await failure(
      putRecord(client, { StreamName: 'provisioned-auto', Data: data('x') }),
    );
    expect(stillKeyed.name).toBe('ValidationException');

    await createOnDemand(client, 'auto-mode', 'AUTO');
    const toProvisioned = await failure(client.send(modeCommand('auto-mode', 'PROVISIONED')));
    expect(toProvisioned.name).toBe('InvalidArgumentException');
    expect(toProvisioned.message).toBe(
      `Stream auto-mode under account ${ACCOUNT} has RecordDistributionStrategy AUTO, which only ` +
        'ON_DEMAND streams support: set it to USER_PARTITION_KEY ' +
        '(UpdateStreamRecordDistributionStrategy) before switching to PROVISIONED.',
    );
    const summary = await summaryOf(client, 'auto-mode');
    expect(summary.StreamModeDetails!.StreamMode).toBe('ON_DEMAND');
    expect(summary.StreamStatus).toBe('ACTIVE');
  });

  it("answers the operation's other errors in Kinesis terms", async () => {
    const { client } = runnel;
    const missing = await failure(setStrategy(client, 'no-such-stream', 'AUTO'));
    expect(missing.name).toBe('ResourceNotFoundException');
    expect(missing.message).toBe(`Stream no-such-stream under account ${ACCOUNT} not found.`);

    const random = 'RANDOM' as RecordDistributionStrategy;
    const invalid = await failure(setStrategy(client, 'no-such-stream', random));
    expect(invalid.name).toBe('ValidationException');
    expect(invalid.message).toBe(
      "1 validation error detected: Value 'RANDOM' at 'recordDistributionStrategy' failed to " +
        'satisfy constraint: Member must satisfy enum value set: [AUTO, USER_PARTITION_KEY]',
    );

    await createOnDemand(client, 'auto-busy');
    await client.send(modeCommand('auto-busy', 'PROVISIONED'));
    const busy = await failure(setStrategy(client, 'auto-busy', 'USER_PARTITION_KEY'));
    expect(busy.name).toBe('ResourceInUseException');
    expect(busy.message).toBe(
      `Stream auto-busy under account ${ACCOUNT} not ACTIVE, instead in state UPDATING`,
    );
    await waitActive(client, 'auto-busy');
  });

  it('places records on open shards only: the children after a split and a merge', async () => {
    const { client } = runnel;
    const StreamName = 'auto-reshard';
    await createActive(client, StreamName, 2);
    const [parent] = await listShards(client, StreamName);
    const range = parent!.HashKeyRange!;
    const middle = (BigInt(range.StartingHashKey!) + BigInt(range.EndingHashKey!)) / 2n;
    await client.send(
      new SplitShardCommand({
        StreamName,
        ShardToSplit: parent!.ShardId,
        NewStartingHashKey: middle.toString(),
      }),
    );
    await waitActive(client, StreamName);
    await setMode(client, StreamName, 'ON_DEMAND');
    await setStrategy(client, StreamName, 'AUTO');
    const afterSplit = await putAll(client, StreamName, keyless(300, 's'));
    expect(countBy(afterSplit)).toEqual({ [SHARD(1)]: 100, [SHARD(2)]: 100, [SHARD(3)]: 100 });

    // Merging needs a PROVISIONED stream, which cannot be AUTO: key routing for the while.
    await setStrategy(client, StreamName, 'USER_PARTITION_KEY');
    await setMode(client, StreamName, 'PROVISIONED');
    await client.send(
      new MergeShardsCommand({
        StreamName,
        ShardToMerge: SHARD(2),
        AdjacentShardToMerge: SHARD(3),
      }),
    );
    await waitActive(client, StreamName);
    await setMode(client, StreamName, 'ON_DEMAND');
    await setStrategy(client, StreamName, 'AUTO');
    const afterMerge = await putAll(client, StreamName, keyless(300, 'm'));
    expect(countBy(afterMerge)).toEqual({ [SHARD(1)]: 150, [SHARD(4)]: 150 });

    // The closed shards hold what they took while open, and nothing after.
    const lengths = [];
    for (const index of [0, 2, 3, 4]) {
      lengths.push((await readShard(client, StreamName, SHARD(index))).length);
    }
    expect(lengths).toEqual([0, 100, 100, 150]);
  });
});

describe('RecordDistributionStrategy AUTO on the wire (JSON, CBOR) and in SubscribeToShard', () => {
  const runnel = serverForBlock({ dataDirPrefix: 'runnel-distribution-wire-', workers: 2 });

  it('takes CBOR PutRecords without keys and answers CBOR GetRecords without them', async () => {
    const url = runnel.server.kinesisUrl;
    await createOnDemand(runnel.client, 'auto-cbor', 'AUTO');
    const put = await raw(url, 'cbor', 'PutRecords', {
      StreamName: 'auto-cbor',
      Records: [
        { Data: new Uint8Array([1]) },
        { Data: new Uint8Array([2]), PartitionKey: 'kept' },
        { Data: new Uint8Array([3]) },
        { Data: new Uint8Array([4]) },
      ],
    });
    expect(put.status).toBe(200);
    const entries = put.body.Records as { ShardId: string }[];
    expect(entries.map((entry) => entry.ShardId)).toEqual([0, 1, 2, 3].map(SHARD));
    const keys: unknown[] = [];
    for (const entry of entries) {
      const iterator = await raw(url, 'cbor', 'GetShardIterator', {
        StreamName: 'auto-cbor',
        ShardId: entry.ShardId,
        ShardIteratorType: 'TRIM_HORIZON',
      });
      const { ShardIterator } = iterator.body;
      const page = await raw(url, 'cbor', 'GetRecords', { ShardIterator });
      const [record] = page.body.Records as Record<string, unknown>[];
      keys.push(Object.hasOwn(record!, 'PartitionKey') ? record!.PartitionKey : 'absent');
    }
    expect(keys).toEqual(['absent', 'kept', 'absent', 'absent']);
  });

  it('delivers records put without a key without PartitionKey (SDK, JSON, CBOR)', async () => {
    const { client } = runnel;
    await createOnDemand(client, 'auto-subscribe', 'AUTO');
    // Two puts of 8, 2 records per shard each: each shard has 2 records without a key, 2 with.
    const first = await putAll(client, 'auto-subscribe', keyless(8, 'none-'));
    const keyedRecords = Array.from({ length: 8 }, (_, i) => ({
      Data: data(`keyed-${i + 8}`),
      PartitionKey: `k${i + 8}`,
    }));
    const second = await putAll(client, 'auto-subscribe', keyedRecords);
    const placed = [...first, ...second].map((shardId) => shardId.slice(-1)).join('');
    expect(placed).toBe('0011223300112233');
    const consumer = await registerActive(client, 'auto-subscribe', 'reader');

    const response = await client.send(
      new SubscribeToShardCommand({
        ConsumerARN: consumer.ConsumerARN,
        ShardId: SHARD(0),
        StartingPosition: { Type: 'TRIM_HORIZON' },
      }),
    );
    let delivered: _Record[] = [];
    for await (const message of response.EventStream!) {
      delivered = message.SubscribeToShardEvent?.Records ?? [];
      if (delivered.length > 0) break;
    }
    const delivery = delivered.map((record) => [text(record.Data), record.PartitionKey]);
    expect(delivery).toEqual([
      ['none-0', undefined],
      ['none-1', undefined],
      ['keyed-8', 'k8'],
      ['keyed-9', 'k9'],
    ]);

    for (const format of ['json', 'cbor'] as const) {
      const url = runnel.server.kinesisUrl;
      const wire = await firstEventRecords(url, format, consumer.ConsumerARN!, SHARD(1));
      const keys = wire.map((record) =>
        Object.hasOwn(record, 'PartitionKey') ? record.PartitionKey : 'absent',
      );
      expect(keys).toEqual(['absent', 'absent', 'k10', 'k11']);
    }
  });
});

describe('RecordDistributionStrategy across a restart', () => {
  const dataDir = dataDirForBlock('runnel-distribution-restart-');

  it('keeps AUTO and keyless records; an older catalog opens as USER_PARTITION_KEY', async () => {
    const options = { workers: 1 };
    const sequence = await withServerOn(dataDir.path, options, async (client) => {
      await createOnDemand(client, 'auto-kept', 'AUTO');
      await createOnDemand(client, 'keyed-kept');
      await createOnDemand(client, 'switched-kept');
      await setStrategy(client, 'switched-kept', 'AUTO');
      const put = await putRecord(client, { StreamName: 'auto-kept', Data: data('before') });
      return put.SequenceNumber!;
    });
    const catalogPath = join(dataDir.path, 'catalog.json');
    const readCatalog = () =>
      JSON.parse(readFileSync(catalogPath, 'utf8')) as { streams: Record<string, unknown>[] };
    const strategies = () =>
      Object.fromEntries(
        readCatalog().streams.map((stream) => [stream.name, stream.recordDistributionStrategy]),
      );
    const kept = (switched: string | undefined) => ({
      'auto-kept': 'AUTO',
      'keyed-kept': undefined,
      'switched-kept': switched,
    });
    // Only AUTO is written: a stream that never used it is saved exactly as before.
    expect(strategies()).toEqual(kept('AUTO'));

    await withServerOn(dataDir.path, options, async (client) => {
      const strategyOf = async (name: string) =>
        (await summaryOf(client, name)).RecordDistributionStrategy;
      expect(await strategyOf('auto-kept')).toBe('AUTO');
      expect(await strategyOf('keyed-kept')).toBe('USER_PARTITION_KEY');
      expect(await strategyOf('switched-kept')).toBe('AUTO');
      const [before] = await readShard(client, 'auto-kept', SHARD(0));
      expect(before!.SequenceNumber).toBe(sequence);
      expect(before).not.toHaveProperty('PartitionKey');
      await putRecord(client, { StreamName: 'auto-kept', Data: data('after') });
      await setStrategy(client, 'switched-kept', 'USER_PARTITION_KEY');
    });
    expect(strategies()).toEqual(kept(undefined));

    // A catalog written before the setting existed: the stream opens as USER_PARTITION_KEY.
    const catalog = readCatalog();
    for (const stream of catalog.streams) delete stream.recordDistributionStrategy;
    writeFileSync(catalogPath, JSON.stringify(catalog));
    await withServerOn(dataDir.path, options, async (client) => {
      const summary = await summaryOf(client, 'auto-kept');
      expect(summary.RecordDistributionStrategy).toBe('USER_PARTITION_KEY');
      const refused = await failure(
        putRecord(client, { StreamName: 'auto-kept', Data: data('x') }),
      );
      expect(refused.name).toBe('ValidationException');
      // Its records without keys still read back without one ('after' too: the rotation starts
      // again at the first shard after a restart).
      const records = await readShard(client, 'auto-kept', SHARD(0));
      expect(records.map((record) => text(record.Data))).toEqual(['before', 'after']);
      expect(records.map((record) => record.PartitionKey)).toEqual([undefined, undefined]);
    });
  });
});

describe('RecordDistributionStrategy AUTO in limits mode', () => {
  /** The engine's clock stands still: no shard's write allowance refills. */
  const nowMs = Date.now();
  const runnel = serverForBlock({
    dataDirPrefix: 'runnel-distribution-limits-',
    workers: 1,
    engineOptions: { enforceLimits: true, clock: () => nowMs },
    client: { maxAttempts: 1 },
  });

  it('spreads 4,000 records over 4 allowances of 1,000, then refuses per record', async () => {
    const { client } = runnel;
    const StreamName = 'auto-limits';
    await createOnDemand(client, StreamName, 'AUTO');
    const shards = await putAll(client, StreamName, keyless(4000));
    expect(Object.values(countBy(shards))).toEqual([1000, 1000, 1000, 1000]);
    const over = await client.send(new PutRecordsCommand({ StreamName, Records: keyless(4) }));
    expect(over.FailedRecordCount).toBe(4);
    const codes = over.Records!.map((record) => record.ErrorCode);
    expect(codes).toEqual(Array(4).fill('ProvisionedThroughputExceededException'));
    const single = await failure(putRecord(client, { StreamName, Data: data('x') }));
    expect(single.name).toBe('ProvisionedThroughputExceededException');
  });
});
