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
  type PutRecordsRequestEntry,
  type RecordDistributionStrategy,
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
const data = (text: string) => Buffer.from(text);
const keyNull = (path: string) =>
  `Value null at '${path}' failed to satisfy constraint: Member must not be null`;

/** Creates an ON_DEMAND stream (4 shards) with the strategy given, and waits until it is ACTIVE. */
async function createOnDemand(client: KinesisClient, name: string, strategy?: RecordDistributionStrategy) {
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
  return (await client.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary!;
}

function setStrategy(client: KinesisClient, name: string, strategy: RecordDistributionStrategy) {
  return client.send(
    new UpdateStreamRecordDistributionStrategyCommand({ StreamARN: streamArn(name), RecordDistributionStrategy: strategy }),
  );
}

async function setMode(client: KinesisClient, name: string, mode: 'PROVISIONED' | 'ON_DEMAND') {
  await client.send(new UpdateStreamModeCommand({ StreamARN: streamArn(name), StreamModeDetails: { StreamMode: mode } }));
  await waitActive(client, name);
}

/** Puts records with PutRecords and returns the shard each landed in; fails on any failed record. */
async function putAll(client: KinesisClient, name: string, records: PutRecordsRequestEntry[]): Promise<string[]> {
  const shards: string[] = [];
  for (let start = 0; start < records.length; start += 500) {
    const put = await client.send(new PutRecordsCommand({ StreamName: name, Records: records.slice(start, start + 500) }));
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

/** Every record of a shard, TRIM_HORIZON to its current end, through GetRecords. */
async function readShard(client: KinesisClient, name: string, shardId: string): Promise<_Record[]> {
  const { ShardIterator } = await client.send(
    new GetShardIteratorCommand({ StreamName: name, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }),
  );
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

/** A JSON or CBOR request straight to the endpoint: the answer as sent, members and all. */
async function raw(
  url: string,
  format: 'json' | 'cbor',
  operation: string,
  input: object,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}/`, {
    method: 'POST',
    headers: { 'content-type': format === 'json' ? JSON_TYPE : CBOR_TYPE, 'x-amz-target': `Kinesis_20131202.${operation}` },
    body: format === 'json' ? JSON.stringify(input) : cbor.serialize(input),
  });
  const bytes = new Uint8Array(await response.arrayBuffer());
  const body = format === 'json' ? JSON.parse(Buffer.from(bytes).toString('utf8')) : cbor.deserialize(bytes);
  return { status: response.status, body: body as Record<string, unknown> };
}

const eventCodec = new EventStreamCodec(
  (bytes) => Buffer.from(bytes).toString('utf8'),
  (text) => Buffer.from(text, 'utf8'),
);

/**
 * SubscribeToShard from TRIM_HORIZON over HTTP/1.1 in JSON or CBOR, decoded by `@smithy/core`'s
 * event-stream codec: the records of the first event that has any, as the payload holds them.
 */
function firstEventRecords(
  url: string,
  format: 'json' | 'cbor',
  consumerArn: string,
  shardId: string,
): Promise<Record<string, unknown>[]> {
  const input = { ConsumerARN: consumerArn, ShardId: shardId, StartingPosition: { Type: 'TRIM_HORIZON' } };
  const headers = {
    'content-type': format === 'json' ? JSON_TYPE : CBOR_TYPE,
    'x-amz-target': 'Kinesis_20131202.SubscribeToShard',
  };
  return new Promise((resolve, reject) => {
    const request = http.request(`${url}/`, { method: 'POST', headers }, (answer) => {
      let pending = Buffer.alloc(0);
      answer.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 4 && pending.length >= pending.readUInt32BE(0)) {
          const message = eventCodec.decode(pending.subarray(0, pending.readUInt32BE(0)));
          pending = pending.subarray(pending.readUInt32BE(0));
          if (message.headers[':event-type']?.value !== 'SubscribeToShardEvent') continue;
          const payload = Buffer.from(message.body);
          const event = (format === 'json' ? JSON.parse(payload.toString('utf8')) : cbor.deserialize(payload)) as {
            Records: Record<string, unknown>[];
          };
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
    request.end(format === 'json' ? JSON.stringify(input) : cbor.serialize(input));
  });
}

type Transport = 'http2' | 'http1';

describe.each<Transport>(['http2', 'http1'])('RecordDistributionStrategy over %s', (transport) => {
  const runnel = serverForBlock({
    dataDirPrefix: `runnel-distribution-${transport}-`,
    workers: 2,
    engineOptions: { streamTransitionMs: TRANSITION_MS },
    client: { maxAttempts: 1, ...(transport === 'http1' ? { requestHandler: new NodeHttpHandler() } : {}) },
  });

  it('creates an ON_DEMAND stream with AUTO; DescribeStreamSummary reports every ON_DEMAND stream\'s strategy', async () => {
    await createOnDemand(runnel.client, 'auto-create', 'AUTO');
    await createOnDemand(runnel.client, 'keyed-create');
    await createActive(runnel.client, 'provisioned-create', 1);
    const auto = await summaryOf(runnel.client, 'auto-create');
    expect(auto.RecordDistributionStrategy).toBe('AUTO');
    expect(auto.OpenShardCount).toBe(4);
    expect((await summaryOf(runnel.client, 'keyed-create')).RecordDistributionStrategy).toBe('USER_PARTITION_KEY');
    // The model documents the member for on-demand streams only; DescribeStream has none at all.
    const provisioned = await raw(runnel.server.kinesisUrl, 'json', 'DescribeStreamSummary', { StreamName: 'provisioned-create' });
    expect(provisioned.body.StreamDescriptionSummary).not.toHaveProperty('RecordDistributionStrategy');
    const described = await raw(runnel.server.kinesisUrl, 'json', 'DescribeStream', { StreamName: 'auto-create' });
    expect(described.status).toBe(200);
    expect(described.body.StreamDescription).not.toHaveProperty('RecordDistributionStrategy');
  });

  it('spreads 4,000 records of one partition key exactly evenly over the 4 open shards', async () => {
    await createOnDemand(runnel.client, 'auto-spread', 'AUTO');
    const shards = await putAll(
      runnel.client,
      'auto-spread',
      Array.from({ length: 4000 }, (_, i) => ({ PartitionKey: 'one-key', Data: data(`r${i}`) })),
    );
    // 25 % each with no tolerance: the rotation leaves no shard more than one record ahead.
    expect(countBy(shards)).toEqual({
      'shardId-000000000000': 1000,
      'shardId-000000000001': 1000,
      'shardId-000000000002': 1000,
      'shardId-000000000003': 1000,
    });
    // Single PutRecord calls take the shards in turn.
    const single: string[] = [];
    for (let i = 0; i < 8; i++) {
      single.push((await runnel.client.send(new PutRecordCommand({ StreamName: 'auto-spread', PartitionKey: 'one-key', Data: data('s') }))).ShardId!);
    }
    expect(Object.values(countBy(single))).toEqual([2, 2, 2, 2]);
    // Every record reads back, with its key as given.
    for (const shardId of Object.keys(countBy(shards))) {
      const records = await readShard(runnel.client, 'auto-spread', shardId);
      expect(records).toHaveLength(1002);
      expect(records.every((record) => record.PartitionKey === 'one-key')).toBe(true);
    }
  });

  it('puts records without a partition key, ignores ExplicitHashKey, and reads them back without PartitionKey', async () => {
    await createOnDemand(runnel.client, 'auto-keyless', 'AUTO');
    const one = await runnel.client.send(new PutRecordCommand({ StreamName: 'auto-keyless', Data: data('no key') }));
    expect(one.ShardId).toBe('shardId-000000000000');
    expect(one.SequenceNumber).toMatch(/^\d{56}$/);
    // Every record names shard 0 by its hash key; AUTO places them in turn all the same, in runs
    // from the shard after the last one used.
    const records: PutRecordsRequestEntry[] = Array.from({ length: 7 }, (_, i) =>
      i % 2 === 0
        ? { Data: data(`keyless-${i}`), ExplicitHashKey: '0' }
        : { Data: data(`keyed-${i}`), PartitionKey: `key-${i}`, ExplicitHashKey: '0' },
    );
    const put = await runnel.client.send(new PutRecordsCommand({ StreamName: 'auto-keyless', Records: records }));
    expect(put.FailedRecordCount).toBe(0);
    expect(put.Records!.map((record) => record.ShardId!.slice(-1))).toEqual(['1', '1', '2', '2', '3', '3', '0']);

    const read = new Map<string, _Record>();
    for (const shard of await listShards(runnel.client, 'auto-keyless')) {
      for (const record of await readShard(runnel.client, 'auto-keyless', shard.ShardId!)) read.set(record.SequenceNumber!, record);
    }
    expect(read.size).toBe(8);
    const first = read.get(one.SequenceNumber!)!;
    expect(Buffer.from(first.Data!).toString()).toBe('no key');
    expect(first).not.toHaveProperty('PartitionKey');
    put.Records!.forEach((entry, i) => {
      const record = read.get(entry.SequenceNumber!)!;
      expect(Buffer.from(record.Data!).toString()).toBe(Buffer.from(records[i]!.Data!).toString());
      expect(record.PartitionKey).toBe(records[i]!.PartitionKey);
    });

    // On the wire, the member is left out, not sent empty or null.
    const { ShardIterator } = await runnel.client.send(
      new GetShardIteratorCommand({ StreamName: 'auto-keyless', ShardId: 'shardId-000000000001', ShardIteratorType: 'TRIM_HORIZON' }),
    );
    const page = await raw(runnel.server.kinesisUrl, 'json', 'GetRecords', { ShardIterator });
    const wire = page.body.Records as Record<string, unknown>[];
    expect(wire.map((record) => record.PartitionKey)).toEqual([undefined, 'key-1']);
    expect(Object.keys(wire[0]!).sort()).toEqual(['ApproximateArrivalTimestamp', 'Data', 'SequenceNumber']);
  });

  it('validates a partition key that is given exactly as on any stream', async () => {
    await createOnDemand(runnel.client, 'auto-validate', 'AUTO');
    const empty = await failure(runnel.client.send(new PutRecordCommand({ StreamName: 'auto-validate', PartitionKey: '', Data: data('x') })));
    expect(empty.name).toBe('ValidationException');
    expect(empty.message).toBe(
      "1 validation error detected: Value '' at 'partitionKey' failed to satisfy constraint: " +
        'Member must have length greater than or equal to 1',
    );
    const long = await failure(
      runnel.client.send(new PutRecordsCommand({ StreamName: 'auto-validate', Records: [{ Data: data('x') }, { Data: data('y'), PartitionKey: 'k'.repeat(257) }] })),
    );
    expect(long.name).toBe('ValidationException');
    expect(long.message).toBe(
      `1 validation error detected: Value '${'k'.repeat(257)}' at 'records.2.member.partitionKey' failed to satisfy ` +
        'constraint: Member must have length less than or equal to 256',
    );
    const tooHigh = (1n << 128n).toString();
    const explicit = await failure(
      runnel.client.send(new PutRecordCommand({ StreamName: 'auto-validate', Data: data('x'), ExplicitHashKey: tooHigh })),
    );
    expect(explicit.name).toBe('InvalidArgumentException');
    expect(explicit.message).toBe(
      `Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was ${tooHigh}`,
    );
    // Nothing was stored by the refused puts.
    for (const shard of await listShards(runnel.client, 'auto-validate')) {
      expect(await readShard(runnel.client, 'auto-validate', shard.ShardId!)).toEqual([]);
    }
  });

  it('switches to USER_PARTITION_KEY (keys required again, MD5 routing) and back, records keeping their shards', async () => {
    await createOnDemand(runnel.client, 'auto-switch', 'AUTO');
    const autoShards = await putAll(runnel.client, 'auto-switch', Array.from({ length: 8 }, (_, i) => ({ Data: data(`a${i}`) })));
    await setStrategy(runnel.client, 'auto-switch', 'USER_PARTITION_KEY');
    expect((await summaryOf(runnel.client, 'auto-switch')).RecordDistributionStrategy).toBe('USER_PARTITION_KEY');
    expect((await summaryOf(runnel.client, 'auto-switch')).StreamStatus).toBe('ACTIVE');

    const noKey = await failure(runnel.client.send(new PutRecordCommand({ StreamName: 'auto-switch', Data: data('x') })));
    expect(noKey.name).toBe('ValidationException');
    expect(noKey.message).toBe(`1 validation error detected: ${keyNull('partitionKey')}`);
    const someNoKey = await failure(
      runnel.client.send(
        new PutRecordsCommand({
          StreamName: 'auto-switch',
          Records: [{ Data: data('a'), PartitionKey: 'a' }, { Data: data('b') }, { Data: data('c') }],
        }),
      ),
    );
    expect(someNoKey.name).toBe('ValidationException');
    expect(someNoKey.message).toBe(
      `2 validation errors detected: ${keyNull('records.2.member.partitionKey')}; ${keyNull('records.3.member.partitionKey')}`,
    );

    const shards = await listShards(runnel.client, 'auto-switch');
    const owner = (key: string) =>
      shards.find((shard) => BigInt(shard.HashKeyRange!.StartingHashKey!) <= md5HashKey(key) && md5HashKey(key) <= BigInt(shard.HashKeyRange!.EndingHashKey!))!.ShardId;
    const keys = Array.from({ length: 40 }, (_, i) => `user-${i}`);
    const keyed = await putAll(runnel.client, 'auto-switch', keys.map((key) => ({ PartitionKey: key, Data: data(key) })));
    expect(keyed).toEqual(keys.map(owner));

    await setStrategy(runnel.client, 'auto-switch', 'AUTO');
    const again = await putAll(runnel.client, 'auto-switch', Array.from({ length: 4 }, (_, i) => ({ Data: data(`b${i}`) })));
    expect(new Set(again).size).toBe(4);

    // Records stored under each strategy are where their puts said, whatever came after.
    const expected = countBy([...autoShards, ...keyed, ...again]);
    for (const shard of shards) {
      expect(await readShard(runnel.client, 'auto-switch', shard.ShardId!)).toHaveLength(expected[shard.ShardId!] ?? 0);
    }
  });

  it('refuses AUTO on a PROVISIONED stream, and making an AUTO stream PROVISIONED', async () => {
    const created = await failure(
      runnel.client.send(new CreateStreamCommand({ StreamName: 'auto-p', ShardCount: 2, RecordDistributionStrategy: 'AUTO' })),
    );
    expect(created.name).toBe('InvalidArgumentException');
    expect(created.message).toBe('RecordDistributionStrategy AUTO is only available for ON_DEMAND streams.');

    await createActive(runnel.client, 'provisioned-auto', 2);
    const updated = await failure(setStrategy(runnel.client, 'provisioned-auto', 'AUTO'));
    expect(updated.name).toBe('InvalidArgumentException');
    expect(updated.message).toBe(
      'RecordDistributionStrategy AUTO is only available for ON_DEMAND streams. ' +
        `Stream provisioned-auto under account ${ACCOUNT} is PROVISIONED.`,
    );
    // USER_PARTITION_KEY is what a provisioned stream does: accepted, and nothing changes.
    await setStrategy(runnel.client, 'provisioned-auto', 'USER_PARTITION_KEY');
    expect(await summaryOf(runnel.client, 'provisioned-auto')).not.toHaveProperty('RecordDistributionStrategy');
    const stillKeyed = await failure(runnel.client.send(new PutRecordCommand({ StreamName: 'provisioned-auto', Data: data('x') })));
    expect(stillKeyed.name).toBe('ValidationException');

    await createOnDemand(runnel.client, 'auto-mode', 'AUTO');
    const toProvisioned = await failure(
      runnel.client.send(new UpdateStreamModeCommand({ StreamARN: streamArn('auto-mode'), StreamModeDetails: { StreamMode: 'PROVISIONED' } })),
    );
    expect(toProvisioned.name).toBe('InvalidArgumentException');
    expect(toProvisioned.message).toBe(
      `Stream auto-mode under account ${ACCOUNT} has RecordDistributionStrategy AUTO, which only ON_DEMAND ` +
        'streams support: set it to USER_PARTITION_KEY (UpdateStreamRecordDistributionStrategy) before ' +
        'switching to PROVISIONED.',
    );
    const summary = await summaryOf(runnel.client, 'auto-mode');
    expect(summary.StreamModeDetails!.StreamMode).toBe('ON_DEMAND');
    expect(summary.StreamStatus).toBe('ACTIVE');
  });

  it('answers UpdateStreamRecordDistributionStrategy\'s other errors in Kinesis\'s vocabulary', async () => {
    const missing = await failure(setStrategy(runnel.client, 'no-such-stream', 'AUTO'));
    expect(missing.name).toBe('ResourceNotFoundException');
    expect(missing.message).toBe(`Stream no-such-stream under account ${ACCOUNT} not found.`);

    const invalid = await failure(setStrategy(runnel.client, 'no-such-stream', 'RANDOM' as RecordDistributionStrategy));
    expect(invalid.name).toBe('ValidationException');
    expect(invalid.message).toBe(
      "1 validation error detected: Value 'RANDOM' at 'recordDistributionStrategy' failed to satisfy constraint: " +
        'Member must satisfy enum value set: [AUTO, USER_PARTITION_KEY]',
    );

    await createOnDemand(runnel.client, 'auto-busy');
    await runnel.client.send(
      new UpdateStreamModeCommand({ StreamARN: streamArn('auto-busy'), StreamModeDetails: { StreamMode: 'PROVISIONED' } }),
    );
    const busy = await failure(setStrategy(runnel.client, 'auto-busy', 'USER_PARTITION_KEY'));
    expect(busy.name).toBe('ResourceInUseException');
    expect(busy.message).toBe(`Stream auto-busy under account ${ACCOUNT} not ACTIVE, instead in state UPDATING`);
    await waitActive(runnel.client, 'auto-busy');
  });

  it('places records on open shards only, the children after a split and after a merge', async () => {
    await createActive(runnel.client, 'auto-reshard', 2);
    const [parent] = await listShards(runnel.client, 'auto-reshard');
    const middle = (BigInt(parent!.HashKeyRange!.StartingHashKey!) + BigInt(parent!.HashKeyRange!.EndingHashKey!)) / 2n;
    await runnel.client.send(
      new SplitShardCommand({ StreamName: 'auto-reshard', ShardToSplit: parent!.ShardId, NewStartingHashKey: middle.toString() }),
    );
    await waitActive(runnel.client, 'auto-reshard');
    await setMode(runnel.client, 'auto-reshard', 'ON_DEMAND');
    await setStrategy(runnel.client, 'auto-reshard', 'AUTO');
    const afterSplit = await putAll(runnel.client, 'auto-reshard', Array.from({ length: 300 }, (_, i) => ({ Data: data(`s${i}`) })));
    expect(countBy(afterSplit)).toEqual({
      'shardId-000000000001': 100,
      'shardId-000000000002': 100,
      'shardId-000000000003': 100,
    });

    // Merging needs a PROVISIONED stream, which cannot be AUTO: key routing for the while.
    await setStrategy(runnel.client, 'auto-reshard', 'USER_PARTITION_KEY');
    await setMode(runnel.client, 'auto-reshard', 'PROVISIONED');
    await runnel.client.send(
      new MergeShardsCommand({ StreamName: 'auto-reshard', ShardToMerge: 'shardId-000000000002', AdjacentShardToMerge: 'shardId-000000000003' }),
    );
    await waitActive(runnel.client, 'auto-reshard');
    await setMode(runnel.client, 'auto-reshard', 'ON_DEMAND');
    await setStrategy(runnel.client, 'auto-reshard', 'AUTO');
    const afterMerge = await putAll(runnel.client, 'auto-reshard', Array.from({ length: 300 }, (_, i) => ({ Data: data(`m${i}`) })));
    expect(countBy(afterMerge)).toEqual({ 'shardId-000000000001': 150, 'shardId-000000000004': 150 });

    // The closed shards hold what they took while open, and nothing after.
    expect(await readShard(runnel.client, 'auto-reshard', 'shardId-000000000000')).toEqual([]);
    expect(await readShard(runnel.client, 'auto-reshard', 'shardId-000000000002')).toHaveLength(100);
    expect(await readShard(runnel.client, 'auto-reshard', 'shardId-000000000003')).toHaveLength(100);
    expect(await readShard(runnel.client, 'auto-reshard', 'shardId-000000000004')).toHaveLength(150);
  });
});

describe('RecordDistributionStrategy AUTO on the wire (JSON and CBOR) and with SubscribeToShard', () => {
  const runnel = serverForBlock({ dataDirPrefix: 'runnel-distribution-wire-', workers: 2 });

  it('takes CBOR PutRecords without keys and answers CBOR GetRecords without PartitionKey', async () => {
    await createOnDemand(runnel.client, 'auto-cbor', 'AUTO');
    const put = await raw(runnel.server.kinesisUrl, 'cbor', 'PutRecords', {
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
    expect(entries.map((entry) => entry.ShardId)).toEqual([0, 1, 2, 3].map((i) => `shardId-00000000000${i}`));
    const keys: unknown[] = [];
    for (const entry of entries) {
      const iterator = await raw(runnel.server.kinesisUrl, 'cbor', 'GetShardIterator', {
        StreamName: 'auto-cbor',
        ShardId: entry.ShardId,
        ShardIteratorType: 'TRIM_HORIZON',
      });
      const page = await raw(runnel.server.kinesisUrl, 'cbor', 'GetRecords', { ShardIterator: iterator.body.ShardIterator });
      const [record] = page.body.Records as Record<string, unknown>[];
      keys.push(Object.hasOwn(record!, 'PartitionKey') ? record!.PartitionKey : 'absent');
    }
    expect(keys).toEqual(['absent', 'kept', 'absent', 'absent']);
  });

  it('delivers records without a key through SubscribeToShard without PartitionKey (SDK, raw JSON, raw CBOR)', async () => {
    await createOnDemand(runnel.client, 'auto-subscribe', 'AUTO');
    // Two puts of 8, each 2 records per shard: every shard has 2 records without a key, then 2 with.
    const keyless = await putAll(runnel.client, 'auto-subscribe', Array.from({ length: 8 }, (_, i) => ({ Data: data(`none-${i}`) })));
    const keyed = await putAll(
      runnel.client,
      'auto-subscribe',
      Array.from({ length: 8 }, (_, i) => ({ Data: data(`keyed-${i + 8}`), PartitionKey: `k${i + 8}` })),
    );
    expect([...keyless, ...keyed].map((shardId) => shardId.slice(-1)).join('')).toBe('0011223300112233');
    const consumer = await registerActive(runnel.client, 'auto-subscribe', 'reader');

    const response = await runnel.client.send(
      new SubscribeToShardCommand({ ConsumerARN: consumer.ConsumerARN, ShardId: 'shardId-000000000000', StartingPosition: { Type: 'TRIM_HORIZON' } }),
    );
    let delivered: _Record[] = [];
    for await (const message of response.EventStream!) {
      delivered = message.SubscribeToShardEvent?.Records ?? [];
      if (delivered.length > 0) break;
    }
    expect(delivered.map((record) => Buffer.from(record.Data!).toString())).toEqual(['none-0', 'none-1', 'keyed-8', 'keyed-9']);
    expect(delivered.map((record) => record.PartitionKey)).toEqual([undefined, undefined, 'k8', 'k9']);

    for (const format of ['json', 'cbor'] as const) {
      const wire = await firstEventRecords(runnel.server.kinesisUrl, format, consumer.ConsumerARN!, 'shardId-000000000001');
      expect(wire.map((record) => Object.hasOwn(record, 'PartitionKey'))).toEqual([false, false, true, true]);
      expect(wire.map((record) => record.PartitionKey)).toEqual([undefined, undefined, 'k10', 'k11']);
    }
  });
});

describe('RecordDistributionStrategy across a restart', () => {
  const dataDir = dataDirForBlock('runnel-distribution-restart-');

  it('keeps AUTO and the records without keys; a catalog without the setting opens as USER_PARTITION_KEY', async () => {
    const sequence = await withServerOn(dataDir.path, { workers: 1 }, async (client) => {
      await createOnDemand(client, 'auto-kept', 'AUTO');
      await createOnDemand(client, 'keyed-kept');
      await createOnDemand(client, 'switched-kept');
      await setStrategy(client, 'switched-kept', 'AUTO');
      return (await client.send(new PutRecordCommand({ StreamName: 'auto-kept', Data: data('before') }))).SequenceNumber!;
    });
    const catalogPath = join(dataDir.path, 'catalog.json');
    const strategies = () => {
      const catalog = JSON.parse(readFileSync(catalogPath, 'utf8')) as { streams: Record<string, unknown>[] };
      return Object.fromEntries(catalog.streams.map((stream) => [stream.name, stream.recordDistributionStrategy]));
    };
    // Only AUTO is written: a stream that never used it is saved exactly as before.
    expect(strategies()).toEqual({ 'auto-kept': 'AUTO', 'keyed-kept': undefined, 'switched-kept': 'AUTO' });

    await withServerOn(dataDir.path, { workers: 1 }, async (client) => {
      expect((await summaryOf(client, 'auto-kept')).RecordDistributionStrategy).toBe('AUTO');
      expect((await summaryOf(client, 'keyed-kept')).RecordDistributionStrategy).toBe('USER_PARTITION_KEY');
      expect((await summaryOf(client, 'switched-kept')).RecordDistributionStrategy).toBe('AUTO');
      const [before] = await readShard(client, 'auto-kept', 'shardId-000000000000');
      expect(before!.SequenceNumber).toBe(sequence);
      expect(before).not.toHaveProperty('PartitionKey');
      await client.send(new PutRecordCommand({ StreamName: 'auto-kept', Data: data('after') }));
      await setStrategy(client, 'switched-kept', 'USER_PARTITION_KEY');
    });
    expect(strategies()).toEqual({ 'auto-kept': 'AUTO', 'keyed-kept': undefined, 'switched-kept': undefined });
    const catalog = JSON.parse(readFileSync(catalogPath, 'utf8')) as { streams: Record<string, unknown>[] };

    // A catalog written before the setting existed: the stream opens as USER_PARTITION_KEY.
    for (const stream of catalog.streams) delete stream.recordDistributionStrategy;
    writeFileSync(catalogPath, JSON.stringify(catalog));
    await withServerOn(dataDir.path, { workers: 1 }, async (client) => {
      expect((await summaryOf(client, 'auto-kept')).RecordDistributionStrategy).toBe('USER_PARTITION_KEY');
      const refused = await failure(client.send(new PutRecordCommand({ StreamName: 'auto-kept', Data: data('x') })));
      expect(refused.name).toBe('ValidationException');
      // Its records without keys still read back without one ('after' too: the rotation starts
      // again at the first shard after a restart).
      const records = await readShard(client, 'auto-kept', 'shardId-000000000000');
      expect(records.map((record) => Buffer.from(record.Data!).toString())).toEqual(['before', 'after']);
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

  it('spreads 4,000 records over 4 shards\' allowances of 1,000, then refuses per record', async () => {
    await createOnDemand(runnel.client, 'auto-limits', 'AUTO');
    const shards = await putAll(runnel.client, 'auto-limits', Array.from({ length: 4000 }, () => ({ Data: data('x') })));
    expect(Object.values(countBy(shards))).toEqual([1000, 1000, 1000, 1000]);
    const over = await runnel.client.send(
      new PutRecordsCommand({ StreamName: 'auto-limits', Records: Array.from({ length: 4 }, () => ({ Data: data('x') })) }),
    );
    expect(over.FailedRecordCount).toBe(4);
    expect(over.Records!.map((record) => record.ErrorCode)).toEqual(Array(4).fill('ProvisionedThroughputExceededException'));
    const single = await failure(runnel.client.send(new PutRecordCommand({ StreamName: 'auto-limits', Data: data('x') })));
    expect(single.name).toBe('ProvisionedThroughputExceededException');
  });
});
