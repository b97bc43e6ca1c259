// Goal: a shard's StartingSequenceNumber lies below every record's sequence number, the first
// record's included even when it is put within the second the shard was created, and
// AFTER_SEQUENCE_NUMBER from any number starts at the first record whose number is greater, as
// the numbers compare (KCL compares them as BigInteger): from StartingSequenceNumber that is the
// first record, through GetShardIterator and SubscribeToShard alike, on a stream's first shards
// and on the children of a split. A StartingSequenceNumber an earlier version issued (the
// shard's creation second in its record-time field) still starts at the first record when that
// record came in a later second. Real SDK against a real server whose clock the test moves.
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  PutRecordCommand,
  SplitShardCommand,
  SubscribeToShardCommand,
  type ShardIteratorType,
  type StartingPosition,
} from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';

import { decodeSequenceNumber, encodeSequenceNumber } from '../../src/kinesis/sequence-number.js';
import {
  createActive,
  listShards,
  registerActive,
  serverForBlock,
  waitActive,
} from '../helpers/sdk.js';

/** The engine's clock: it stands still unless a test moves it. */
let nowMs = Date.parse('2026-06-01T12:00:00.250Z');
const LIFETIME_MS = 600;

const runnel = serverForBlock({
  dataDirPrefix: 'runnel-sequence-positions-',
  workers: 1,
  engineOptions: { clock: () => nowMs, streamTransitionMs: 0, subscriptionLifetimeMs: LIFETIME_MS },
});

async function put(stream: string, data: string): Promise<string> {
  const put = await runnel.client.send(
    new PutRecordCommand({ StreamName: stream, PartitionKey: 'pk', Data: Buffer.from(data) }),
  );
  return put.SequenceNumber!;
}

/** The data of every record from the position on, through GetShardIterator and GetRecords. */
async function readFrom(
  stream: string,
  shardId: string,
  type: ShardIteratorType,
  sequenceNumber?: string,
): Promise<string[]> {
  const { ShardIterator } = await runnel.client.send(
    new GetShardIteratorCommand({
      StreamName: stream,
      ShardId: shardId,
      ShardIteratorType: type,
      ...(sequenceNumber !== undefined ? { StartingSequenceNumber: sequenceNumber } : {}),
    }),
  );
  const { Records } = await runnel.client.send(new GetRecordsCommand({ ShardIterator }));
  return Records!.map((record) => Buffer.from(record.Data!).toString());
}

/** The data of every record a SubscribeToShard from the position sends in its lifetime. */
async function subscribeFrom(
  consumerArn: string,
  shardId: string,
  position: StartingPosition,
): Promise<string[]> {
  const response = await runnel.client.send(
    new SubscribeToShardCommand({
      ConsumerARN: consumerArn,
      ShardId: shardId,
      StartingPosition: position,
    }),
  );
  const data: string[] = [];
  for await (const message of response.EventStream!) {
    for (const record of message.SubscribeToShardEvent!.Records!) {
      data.push(Buffer.from(record.Data!).toString());
    }
  }
  return data;
}

describe('sequence positions', () => {
  it('puts the first record, within the creation second, above StartingSequenceNumber, and starts AFTER it there', async () => {
    await createActive(runnel.client, 'same-second', 1);
    const [shard] = await listShards(runnel.client, 'same-second');
    const starting = shard!.SequenceNumberRange!.StartingSequenceNumber!;
    // The clock stands still: both records arrive in the second the shard was created in.
    const first = await put('same-second', 'r0');
    const second = await put('same-second', 'r1');
    expect(BigInt(first)).toBeGreaterThan(BigInt(starting));
    expect(BigInt(second)).toBeGreaterThan(BigInt(first));

    const shardId = shard!.ShardId!;
    expect(await readFrom('same-second', shardId, 'AFTER_SEQUENCE_NUMBER', starting)).toEqual([
      'r0',
      'r1',
    ]);
    expect(await readFrom('same-second', shardId, 'AT_SEQUENCE_NUMBER', starting)).toEqual([
      'r0',
      'r1',
    ]);
    expect(await readFrom('same-second', shardId, 'AFTER_SEQUENCE_NUMBER', first)).toEqual(['r1']);
    expect(await readFrom('same-second', shardId, 'AT_SEQUENCE_NUMBER', first)).toEqual([
      'r0',
      'r1',
    ]);
    expect(await readFrom('same-second', shardId, 'AFTER_SEQUENCE_NUMBER', second)).toEqual([]);

    const consumer = await registerActive(runnel.client, 'same-second', 'after-start');
    expect(
      await subscribeFrom(consumer.ConsumerARN!, shardId, {
        Type: 'AFTER_SEQUENCE_NUMBER',
        SequenceNumber: starting,
      }),
    ).toEqual(['r0', 'r1']);
    expect(
      await subscribeFrom(consumer.ConsumerARN!, shardId, {
        Type: 'AFTER_SEQUENCE_NUMBER',
        SequenceNumber: first,
      }),
    ).toEqual(['r1']);
  });

  it('starts AFTER a StartingSequenceNumber of an earlier version at the first record put in a later second', async () => {
    nowMs += 10_000;
    await createActive(runnel.client, 'later-second', 1);
    const [shard] = await listShards(runnel.client, 'later-second');
    const fields = decodeSequenceNumber(shard!.SequenceNumberRange!.StartingSequenceNumber!)!;
    // What earlier versions answered: the creation second as the record time.
    const earlier = encodeSequenceNumber({
      ...fields,
      recordTimeSec: fields.shardCreationSec,
    });
    nowMs += 3_000;
    const first = await put('later-second', 'r0');
    await put('later-second', 'r1');
    expect(BigInt(first)).toBeGreaterThan(BigInt(earlier));
    expect(
      await readFrom('later-second', shard!.ShardId!, 'AFTER_SEQUENCE_NUMBER', earlier),
    ).toEqual(['r0', 'r1']);
    expect(await readFrom('later-second', shard!.ShardId!, 'AFTER_SEQUENCE_NUMBER', first)).toEqual(
      ['r1'],
    );
  });

  it('starts AFTER the StartingSequenceNumber of a split child at its first record', async () => {
    nowMs += 10_000;
    await createActive(runnel.client, 'split', 1);
    const [parent] = await listShards(runnel.client, 'split');
    await runnel.client.send(
      new SplitShardCommand({
        StreamName: 'split',
        ShardToSplit: parent!.ShardId!,
        NewStartingHashKey: (2n ** 127n).toString(),
      }),
    );
    await waitActive(runnel.client, 'split');
    const children = (await listShards(runnel.client, 'split')).filter(
      (shard) => shard.ParentShardId === parent!.ShardId,
    );
    expect(children).toHaveLength(2);
    // 'pk' hashes into one of the children; its first record comes within its creation second.
    const first = await put('split', 'c0');
    await put('split', 'c1');
    const index = decodeSequenceNumber(first)!.shardIndex;
    const child = children.find((shard) => Number(shard.ShardId!.slice(-12)) === index)!;
    expect(child).toBeDefined();
    const starting = child.SequenceNumberRange!.StartingSequenceNumber!;
    expect(BigInt(first)).toBeGreaterThan(BigInt(starting));
    expect(await readFrom('split', child.ShardId!, 'AFTER_SEQUENCE_NUMBER', starting)).toEqual([
      'c0',
      'c1',
    ]);
  });
});
