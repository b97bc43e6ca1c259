// Goal: ListShards's filters list the shards Kinesis lists as a stream's shards split and age:
// AT_TRIM_HORIZON only the shards open at the trim horizon (the stream's creation while it is
// younger than its retention period, else the retention's cutoff), never their later children,
// which a consumer starting at TRIM_HORIZON (KCL) reaches through their parents;
// FROM_TRIM_HORIZON every shard still within retention; AT_LATEST the open ones; AT_TIMESTAMP
// those open at the time. A StreamCreationTimestamp that is not the stream's names another
// stream of that name: ResourceNotFoundException, as ListStreamConsumers answers it. Real SDK
// against a real server whose clock the test moves.
import {
  IncreaseStreamRetentionPeriodCommand,
  ListShardsCommand,
  ListStreamConsumersCommand,
  SplitShardCommand,
  type ShardFilter,
} from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';

import {
  createActive,
  failure,
  listShards,
  serverForBlock,
  streamArn,
  waitActive,
} from '../helpers/sdk.js';

const HOUR_MS = 3_600_000;
/** The engine's clock: it stands still unless a test moves it. */
let nowMs = Date.parse('2026-03-01T00:00:00Z');

const runnel = serverForBlock({
  dataDirPrefix: 'runnel-shard-filters-',
  workers: 1,
  engineOptions: { clock: () => nowMs, streamTransitionMs: 0 },
});

async function ids(stream: string, filter: ShardFilter): Promise<string[]> {
  const listed = await runnel.client.send(
    new ListShardsCommand({ StreamName: stream, ShardFilter: filter }),
  );
  return listed.Shards!.map((shard) => shard.ShardId!);
}

const id = (n: number) => `shardId-${String(n).padStart(12, '0')}`;

describe('ListShards filters over a stream that splits and ages', () => {
  it('lists at the trim horizon only the shards open there, never their later children', async () => {
    const createdMs = nowMs;
    await createActive(runnel.client, 'lineage', 1);
    expect(await ids('lineage', { Type: 'AT_TRIM_HORIZON' })).toEqual([id(0)]);

    // An hour later shard 0 splits into 1 and 2.
    nowMs = createdMs + HOUR_MS;
    await runnel.client.send(
      new SplitShardCommand({
        StreamName: 'lineage',
        ShardToSplit: id(0),
        NewStartingHashKey: (2n ** 127n).toString(),
      }),
    );
    await waitActive(runnel.client, 'lineage');
    nowMs += 1_000;
    // Younger than its 24 h retention: the horizon is the stream's creation, when only 0 was open.
    expect(await ids('lineage', { Type: 'AT_TRIM_HORIZON' })).toEqual([id(0)]);
    expect(await ids('lineage', { Type: 'FROM_TRIM_HORIZON' })).toEqual([id(0), id(1), id(2)]);
    expect(await ids('lineage', { Type: 'AT_LATEST' })).toEqual([id(1), id(2)]);
    expect(
      await ids('lineage', { Type: 'AT_TIMESTAMP', Timestamp: new Date(createdMs + HOUR_MS / 2) }),
    ).toEqual([id(0)]);
    expect(await ids('lineage', { Type: 'AT_TIMESTAMP', Timestamp: new Date(nowMs) })).toEqual([
      id(1),
      id(2),
    ]);

    // 24 h and 30 min after the creation the horizon is half an hour in: 0 was still open then.
    nowMs = createdMs + 24 * HOUR_MS + HOUR_MS / 2;
    expect(await ids('lineage', { Type: 'AT_TRIM_HORIZON' })).toEqual([id(0)]);
    // Past 25 h the horizon is after the split: the children were open there, 0 had closed
    // (and its records are past retention).
    nowMs = createdMs + 25 * HOUR_MS + 60_000;
    expect(await ids('lineage', { Type: 'AT_TRIM_HORIZON' })).toEqual([id(1), id(2)]);
    expect(await ids('lineage', { Type: 'FROM_TRIM_HORIZON' })).toEqual([id(1), id(2)]);

    // Retention expires shard 0 for good; raised to 48 h, the horizon moves back before the
    // children were made, but 0 is gone: the oldest shards left, 1 and 2, are where to start.
    await runnel.server.engine.enforceRetention();
    await runnel.client.send(
      new IncreaseStreamRetentionPeriodCommand({ StreamName: 'lineage', RetentionPeriodHours: 48 }),
    );
    expect(await ids('lineage', { Type: 'AT_TRIM_HORIZON' })).toEqual([id(1), id(2)]);
    expect(await ids('lineage', { Type: 'FROM_TRIM_HORIZON' })).toEqual([id(1), id(2)]);
  });

  it('refuses a StreamCreationTimestamp that is not the stream’s, as ListStreamConsumers does', async () => {
    nowMs += HOUR_MS;
    const createdMs = nowMs;
    await createActive(runnel.client, 'dated', 2);
    nowMs += 5_000;
    const listed = await runnel.client.send(
      new ListShardsCommand({ StreamName: 'dated', StreamCreationTimestamp: new Date(createdMs) }),
    );
    expect(listed.Shards!.map((shard) => shard.ShardId)).toEqual([id(0), id(1)]);

    const other = new Date(createdMs - 60_000);
    const message =
      `Stream dated under account 000000000000 with creation timestamp ${other.toISOString()} ` +
      `not found: the stream was created at ${new Date(createdMs).toISOString()}.`;
    const shards = await failure(
      runnel.client.send(
        new ListShardsCommand({ StreamName: 'dated', StreamCreationTimestamp: other }),
      ),
    );
    expect([shards.name, shards.message]).toEqual(['ResourceNotFoundException', message]);
    const consumers = await failure(
      runnel.client.send(
        new ListStreamConsumersCommand({
          StreamARN: streamArn('dated'),
          StreamCreationTimestamp: other,
        }),
      ),
    );
    expect([consumers.name, consumers.message]).toEqual(['ResourceNotFoundException', message]);
    expect(await listShards(runnel.client, 'dated')).toHaveLength(2);
  });
});
