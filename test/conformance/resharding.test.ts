/**
 * Goal: resharding (SplitShard, MergeShards, UpdateShardCount) works through the real
 * `@aws-sdk/client-kinesis` as on Kinesis (reference kinesis-api.md §2.2, §2.10, §3.3, §3.9):
 *  - the shard listing afterwards: closed parents with an EndingSequenceNumber, children with the
 *    next unused shard ids, parent links and hash ranges; UpdateShardCount's uniform open shards
 *    and their lineage back to the shards that existed before;
 *  - the errors, by Kinesis error name and full message;
 *  - reads across a reshard the way KCL reads: parents first from TRIM_HORIZON to their end
 *    (no NextShardIterator, ChildShards that match DescribeStream), then children; every record
 *    put is read exactly once, byte-identical, in put order per partition key;
 *  - routing of puts to the open children only; open-shard counts;
 *  - the UPDATING state (a server whose transitions take TRANSITION_MS);
 *  - persistence of the reshaped stream across a server restart on the same data directory.
 * Servers are in-process `startServer` on 127.0.0.1 with free ports, temp data dirs, real worker
 * threads. The main one has `streamTransitionMs: 0`: a reshard is complete when its call returns.
 */

import { randomBytes } from 'node:crypto';

import {
  CreateStreamCommand,
  DescribeLimitsCommand,
  DescribeStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  MergeShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  SplitShardCommand,
  UpdateShardCountCommand,
  type ChildShard,
  type Shard,
} from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';

import {
  ACCOUNT,
  createActive,
  dataDirForBlock,
  failure,
  listShards,
  md5HashKey,
  serverForBlock,
  statusOf,
  streamArn as arnOf,
  waitActive,
  withServerOn,
} from '../helpers/sdk.js';

/** How long UPDATING (and CREATING) last on the transition server. */
const TRANSITION_MS = 1500;
const TWO_POW_128 = 1n << 128n;
const HASH_KEY_MAX = TWO_POW_128 - 1n;
/** Shard ids of a stream by index. */
const sid = (index: number) => `shardId-${String(index).padStart(12, '0')}`;

// ---------------------------------------------------------------------------------------------
// Helpers shared by every server
// ---------------------------------------------------------------------------------------------

/** What CreateStream gives N shards (reference §3.3): step = floor(2^128 / N). */
function uniformRanges(count: number): { StartingHashKey: string; EndingHashKey: string }[] {
  const step = TWO_POW_128 / BigInt(count);
  return Array.from({ length: count }, (_, i) => ({
    StartingHashKey: String(step * BigInt(i)),
    EndingHashKey: String(i === count - 1 ? HASH_KEY_MAX : step * BigInt(i + 1) - 1n),
  }));
}

const startOf = (shard: Shard) => BigInt(shard.HashKeyRange!.StartingHashKey!);
const endOf = (shard: Shard) => BigInt(shard.HashKeyRange!.EndingHashKey!);
const isOpen = (shard: Shard) => shard.SequenceNumberRange!.EndingSequenceNumber === undefined;
const parentIds = (shard: Shard) =>
  [shard.ParentShardId, shard.AdjacentParentShardId].filter((id): id is string => id !== undefined);
const rangesOf = (shards: Shard[]) => shards.map((shard) => shard.HashKeyRange);
/** Hash ranges in hash order (open shards in shard-id order need not be in hash order). */
const hashOrderedRanges = (shards: Shard[]) =>
  rangesOf(
    [...shards].sort((a, b) => (startOf(a) < startOf(b) ? -1 : startOf(a) > startOf(b) ? 1 : 0)),
  );

/** The open shard whose hash range holds the key. */
function ownerOf(openShards: Shard[], hashKey: bigint): string {
  const owners = openShards.filter((shard) => startOf(shard) <= hashKey && hashKey <= endOf(shard));
  expect(owners).toHaveLength(1);
  return owners[0]!.ShardId!;
}

/** Every shard DescribeStream lists, following HasMoreShards. */
async function describeShards(client: KinesisClient, name: string): Promise<Shard[]> {
  const shards: Shard[] = [];
  for (let pages = 0; pages < 100; pages++) {
    const described = await client.send(
      new DescribeStreamCommand({
        StreamName: name,
        ...(shards.length > 0 ? { ExclusiveStartShardId: shards[shards.length - 1]!.ShardId } : {}),
      }),
    );
    shards.push(...described.StreamDescription!.Shards!);
    if (!described.StreamDescription!.HasMoreShards) return shards;
  }
  throw new Error('DescribeStream did not stop paging');
}

/** One record put, as the test remembers it. */
interface PutEntry {
  id: string;
  partitionKey: string;
  data: Buffer;
  shardId: string;
  sequenceNumber: string;
}

/** Partition keys of several scripts, so that keys land all over the hash space. */
const KEYS = [
  ...Array.from({ length: 120 }, (_, i) => `key-${i}`),
  ...Array.from({ length: 20 }, (_, i) => `ключ-${i}`),
  ...Array.from({ length: 20 }, (_, i) => `日本-${i}`),
];

/**
 * Puts `count` records in PutRecords calls of up to 500, partition keys cycling through KEYS.
 * Data is the record's id then up to 63 random bytes (any byte value). Unless `routing` is
 * false, checks each record went to the open shard that owns md5(key), listed before the call.
 */
async function putMany(
  client: KinesisClient,
  name: string,
  log: PutEntry[],
  tag: string,
  count: number,
  routing = true,
): Promise<PutEntry[]> {
  const added: PutEntry[] = [];
  for (let first = 0; first < count; first += 500) {
    const open = await listShards(client, name, 'AT_LATEST');
    const Records = Array.from({ length: Math.min(500, count - first) }, (_, i) => {
      const n = first + i;
      return {
        PartitionKey: KEYS[(n * 7 + tag.length) % KEYS.length]!,
        Data: Buffer.concat([Buffer.from(`${tag}-${n}|`), randomBytes(n % 64)]),
      };
    });
    const output = await client.send(new PutRecordsCommand({ StreamName: name, Records }));
    expect(output.FailedRecordCount ?? 0).toBe(0);
    output.Records!.forEach((result, i) => {
      const record = Records[i]!;
      if (routing) expect(result.ShardId).toBe(ownerOf(open, md5HashKey(record.PartitionKey)));
      added.push({
        id: `${tag}-${first + i}`,
        partitionKey: record.PartitionKey,
        data: record.Data,
        shardId: result.ShardId!,
        sequenceNumber: result.SequenceNumber!,
      });
    });
  }
  log.push(...added);
  return added;
}

/** One record read, with the shard it was read from. */
interface ReadEntry {
  shardId: string;
  sequenceNumber: string;
  partitionKey: string;
  data: Buffer;
}

/**
 * Reads the whole stream as KCL does: shards whose parents are not listed first; a shard only
 * once all its listed parents are done; each from TRIM_HORIZON, `limit` records per call, to its
 * end. At a closed shard's end GetRecords must answer without NextShardIterator and with
 * ChildShards equal to the listed children (ParentShards, HashKeyRange); before that, and on
 * open shards (read until an empty answer), NextShardIterator is set and ChildShards empty.
 * Also checks that ListShards and DescribeStream agree, and that the sequence numbers read from
 * a shard increase and lie within its SequenceNumberRange.
 */
async function readLikeKcl(
  client: KinesisClient,
  name: string,
  limit = 173,
): Promise<{ records: ReadEntry[]; shardOrder: string[] }> {
  const listed = await listShards(client, name);
  expect(await describeShards(client, name)).toEqual(listed);
  const byId = new Map(listed.map((shard) => [shard.ShardId!, shard]));
  const done = new Set<string>();
  const records: ReadEntry[] = [];
  const shardOrder: string[] = [];
  while (done.size < listed.length) {
    const next = listed.find(
      (shard) =>
        !done.has(shard.ShardId!) &&
        parentIds(shard).every((parent) => !byId.has(parent) || done.has(parent)),
    );
    if (next === undefined) throw new Error(`the lineage of ${name} has a cycle`);
    const children = listed.filter((shard) => parentIds(shard).includes(next.ShardId!));
    records.push(...(await readShard(client, name, next, children, limit)));
    done.add(next.ShardId!);
    shardOrder.push(next.ShardId!);
  }
  return { records, shardOrder };
}

const byShardId = (a: { ShardId?: string }, b: { ShardId?: string }) =>
  a.ShardId! < b.ShardId! ? -1 : a.ShardId! > b.ShardId! ? 1 : 0;

/** ChildShards as GetRecords must give them for these listed children. */
function expectedChildShards(children: Shard[]): ChildShard[] {
  return children
    .map((child) => ({
      ShardId: child.ShardId!,
      ParentShards: parentIds(child).sort(),
      HashKeyRange: child.HashKeyRange!,
    }))
    .sort(byShardId);
}

function normalizedChildShards(childShards: ChildShard[]): ChildShard[] {
  return childShards
    .map((child) => ({ ...child, ParentShards: [...(child.ParentShards ?? [])].sort() }))
    .sort(byShardId);
}

async function readShard(
  client: KinesisClient,
  name: string,
  shard: Shard,
  children: Shard[],
  limit: number,
): Promise<ReadEntry[]> {
  const shardId = shard.ShardId!;
  const closed = !isOpen(shard);
  const records: ReadEntry[] = [];
  let iterator = (
    await client.send(
      new GetShardIteratorCommand({
        StreamName: name,
        ShardId: shardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    )
  ).ShardIterator!;
  let emptyInARow = 0;
  for (let call = 0; call < 2000; call++) {
    const output = await client.send(
      new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }),
    );
    for (const record of output.Records!) {
      records.push({
        shardId,
        sequenceNumber: record.SequenceNumber!,
        partitionKey: record.PartitionKey!,
        data: Buffer.from(record.Data!),
      });
    }
    if (output.NextShardIterator === undefined) {
      // The end of a closed shard: KCL's valid shard-end answer.
      expect(closed, `${shardId} ended without being closed`).toBe(true);
      expect(
        output.ChildShards?.length ?? 0,
        `ChildShards at the end of ${shardId}`,
      ).toBeGreaterThan(0);
      expect(normalizedChildShards(output.ChildShards!)).toEqual(expectedChildShards(children));
      break;
    }
    expect(output.ChildShards ?? [], `ChildShards before the end of ${shardId}`).toEqual([]);
    if (output.Records!.length === 0) {
      if (!closed) break; // an open shard read to its tip
      if (++emptyInARow > 50) throw new Error(`closed shard ${shardId} never reached its end`);
    } else {
      emptyInARow = 0;
    }
    iterator = output.NextShardIterator;
    if (call === 1999) throw new Error(`shard ${shardId} was not read to its end in 2000 calls`);
  }
  // Sequence numbers increase within the shard and lie within its SequenceNumberRange.
  const first = BigInt(shard.SequenceNumberRange!.StartingSequenceNumber!);
  const last = closed ? BigInt(shard.SequenceNumberRange!.EndingSequenceNumber!) : undefined;
  let previous = -1n;
  for (const record of records) {
    const sequence = BigInt(record.sequenceNumber);
    expect(sequence > previous, `sequence numbers of ${shardId} increase`).toBe(true);
    expect(
      sequence >= first,
      `${record.sequenceNumber} >= ${shardId}'s StartingSequenceNumber`,
    ).toBe(true);
    if (last !== undefined) {
      expect(
        sequence <= last,
        `${record.sequenceNumber} <= ${shardId}'s EndingSequenceNumber`,
      ).toBe(true);
    }
    previous = sequence;
  }
  return records;
}

/**
 * Every record put was read exactly once, byte-identical, from the shard and with the sequence
 * number its put returned; and for each partition key in the order the records were put.
 */
function expectReadBack(log: PutEntry[], read: ReadEntry[]): void {
  const idOf = (data: Buffer) => data.subarray(0, data.indexOf('|')).toString('latin1');
  const expected = new Map(log.map((entry) => [entry.id, entry]));
  const seen = new Set<string>();
  const duplicates: string[] = [];
  const unknown: string[] = [];
  const mismatched: string[] = [];
  for (const record of read) {
    const id = idOf(record.data);
    const put = expected.get(id);
    if (put === undefined) {
      unknown.push(id);
      continue;
    }
    if (seen.has(id)) duplicates.push(id);
    seen.add(id);
    if (
      !record.data.equals(put.data) ||
      record.partitionKey !== put.partitionKey ||
      record.shardId !== put.shardId ||
      record.sequenceNumber !== put.sequenceNumber
    ) {
      mismatched.push(
        `${id}: read from ${record.shardId} as ${record.sequenceNumber} (key ${record.partitionKey}), ` +
          `put to ${put.shardId} as ${put.sequenceNumber} (key ${put.partitionKey})` +
          (record.data.equals(put.data) ? '' : ', data differs'),
      );
    }
  }
  const missing = log.filter((entry) => !seen.has(entry.id)).map((entry) => entry.id);
  expect({ missing: missing.slice(0, 20), missingCount: missing.length }).toEqual({
    missing: [],
    missingCount: 0,
  });
  expect(duplicates.slice(0, 20)).toEqual([]);
  expect(unknown.slice(0, 20)).toEqual([]);
  expect(mismatched.slice(0, 20)).toEqual([]);
  expect(read).toHaveLength(log.length);
  // Per partition key, the read order is the put order.
  const putOrder = new Map<string, string[]>();
  const readOrder = new Map<string, string[]>();
  for (const entry of log)
    putOrder.set(entry.partitionKey, [...(putOrder.get(entry.partitionKey) ?? []), entry.id]);
  for (const record of read) {
    readOrder.set(record.partitionKey, [
      ...(readOrder.get(record.partitionKey) ?? []),
      idOf(record.data),
    ]);
  }
  for (const [key, ids] of putOrder)
    expect(readOrder.get(key), `read order of key ${key}`).toEqual(ids);
}

/**
 * What UpdateShardCount must leave (the contract): the open shards are exactly the uniform
 * ranges of `target`; every shard named as a parent is listed; every closed shard has an
 * EndingSequenceNumber; every shard the scaling made descends only from shards that existed
 * before, through parents whose hash ranges overlap it; new shard ids are the next unused ones.
 */
function expectScaledLineage(before: Shard[], after: Shard[], target: number): void {
  const beforeIds = new Set(before.map((shard) => shard.ShardId!));
  const byId = new Map(after.map((shard) => [shard.ShardId!, shard]));
  for (const id of beforeIds) expect(byId.has(id), `${id} is still listed`).toBe(true);
  const open = after.filter(isOpen);
  expect(open).toHaveLength(target);
  expect(hashOrderedRanges(open)).toEqual(uniformRanges(target));
  for (const shard of after) {
    expect(shard.SequenceNumberRange!.StartingSequenceNumber).toMatch(/^\d+$/);
    if (!isOpen(shard)) expect(shard.SequenceNumberRange!.EndingSequenceNumber).toMatch(/^\d+$/);
    for (const parent of parentIds(shard)) {
      expect(byId.has(parent), `parent ${parent} of ${shard.ShardId} is listed`).toBe(true);
      const p = byId.get(parent)!;
      expect(
        startOf(p) <= endOf(shard) && startOf(shard) <= endOf(p),
        `parent ${parent} overlaps ${shard.ShardId}`,
      ).toBe(true);
      expect(isOpen(p), `parent ${parent} of ${shard.ShardId} is closed`).toBe(false);
    }
  }
  // Ids of the shards made by the scaling: the next unused indices, none skipped.
  const maxBefore = Math.max(
    ...before.map((shard) => Number(shard.ShardId!.slice('shardId-'.length))),
  );
  const made = after
    .filter((shard) => !beforeIds.has(shard.ShardId!))
    .map((shard) => shard.ShardId!);
  expect(made).toEqual(Array.from({ length: made.length }, (_, i) => sid(maxBefore + 1 + i)));
  // Lineage of every new shard ends in shards that existed before.
  const roots = (id: string, seen: Set<string> = new Set()): string[] => {
    if (seen.has(id)) throw new Error(`lineage cycle at ${id}`);
    seen.add(id);
    const shard = byId.get(id)!;
    const parents = parentIds(shard);
    if (beforeIds.has(id)) return [id];
    expect(parents.length, `${id}, made by the scaling, has a parent`).toBeGreaterThan(0);
    return parents.flatMap((parent) => roots(parent, new Set(seen)));
  };
  for (const id of made) {
    for (const root of roots(id))
      expect(beforeIds.has(root), `${id} descends from ${root}`).toBe(true);
  }
  // A new shard's range lies within its parents' ranges.
  for (const id of made) {
    const shard = byId.get(id)!;
    const parents = parentIds(shard).map((parent) => byId.get(parent)!);
    const low = parents.reduce((min, p) => (startOf(p) < min ? startOf(p) : min), HASH_KEY_MAX);
    const high = parents.reduce((max, p) => (endOf(p) > max ? endOf(p) : max), 0n);
    expect(
      low <= startOf(shard) && endOf(shard) <= high,
      `${id} lies within its parents' ranges`,
    ).toBe(true);
  }
}

// ---------------------------------------------------------------------------------------------
// The main server: changes are complete when the call returns
// ---------------------------------------------------------------------------------------------

describe('resharding (streamTransitionMs 0)', () => {
  const runnel = serverForBlock({
    dataDirPrefix: 'runnel-resharding-',
    workers: 2,
    engineOptions: { streamTransitionMs: 0 },
    client: { maxAttempts: 1 },
  });

  describe('SplitShard', () => {
    it('closes the parent and makes two children with the next shard ids and the split ranges', async () => {
      await createActive(runnel.client, 'split-one', 1);
      const [parentBefore] = await listShards(runnel.client, 'split-one');
      const k = 123456789012345678901234567890123456n;
      const output = await runnel.client.send(
        new SplitShardCommand({
          StreamName: 'split-one',
          ShardToSplit: sid(0),
          NewStartingHashKey: String(k),
        }),
      );
      expect(Object.keys(output)).toEqual(['$metadata']);
      expect(output.$metadata.httpStatusCode).toBe(200);
      expect(await statusOf(runnel.client, 'split-one')).toBe('ACTIVE');

      const shards = await listShards(runnel.client, 'split-one');
      expect(shards.map((shard) => shard.ShardId)).toEqual([sid(0), sid(1), sid(2)]);
      const [parent, low, high] = shards as [Shard, Shard, Shard];
      expect(parent.HashKeyRange).toEqual(parentBefore!.HashKeyRange);
      expect(parent.SequenceNumberRange!.StartingSequenceNumber).toBe(
        parentBefore!.SequenceNumberRange!.StartingSequenceNumber,
      );
      expect(parent.SequenceNumberRange!.EndingSequenceNumber).toMatch(/^\d{56}$/);
      expect(parent.ParentShardId).toBeUndefined();
      expect(low).toEqual({
        ShardId: sid(1),
        ParentShardId: sid(0),
        HashKeyRange: { StartingHashKey: '0', EndingHashKey: String(k - 1n) },
        SequenceNumberRange: { StartingSequenceNumber: expect.stringMatching(/^\d{56}$/) },
      });
      expect(high).toEqual({
        ShardId: sid(2),
        ParentShardId: sid(0),
        HashKeyRange: { StartingHashKey: String(k), EndingHashKey: String(HASH_KEY_MAX) },
        SequenceNumberRange: { StartingSequenceNumber: expect.stringMatching(/^\d{56}$/) },
      });
      expect(await describeShards(runnel.client, 'split-one')).toEqual(shards);
    });

    it('accepts StreamARN, and numbers children after the highest shard id of the stream', async () => {
      await createActive(runnel.client, 'split-arn', 2);
      const [, second] = await listShards(runnel.client, 'split-arn');
      const middle = (startOf(second!) + endOf(second!)) / 2n;
      await runnel.client.send(
        new SplitShardCommand({
          StreamARN: arnOf('split-arn'),
          ShardToSplit: sid(1),
          NewStartingHashKey: String(middle),
        }),
      );
      // Splitting a child: its children are 4 and 5, after 2 and 3.
      const [, , childLow] = await listShards(runnel.client, 'split-arn');
      const quarter = (startOf(childLow!) + endOf(childLow!)) / 2n;
      await runnel.client.send(
        new SplitShardCommand({
          StreamName: 'split-arn',
          ShardToSplit: sid(2),
          NewStartingHashKey: String(quarter),
        }),
      );
      const shards = await listShards(runnel.client, 'split-arn');
      expect(shards.map((shard) => [shard.ShardId, shard.ParentShardId, isOpen(shard)])).toEqual([
        [sid(0), undefined, true],
        [sid(1), undefined, false],
        [sid(2), sid(1), false],
        [sid(3), sid(1), true],
        [sid(4), sid(2), true],
        [sid(5), sid(2), true],
      ]);
      expect(rangesOf(shards)).toEqual([
        uniformRanges(2)[0],
        uniformRanges(2)[1],
        { StartingHashKey: String(startOf(second!)), EndingHashKey: String(middle - 1n) },
        { StartingHashKey: String(middle), EndingHashKey: String(HASH_KEY_MAX) },
        { StartingHashKey: String(startOf(second!)), EndingHashKey: String(quarter - 1n) },
        { StartingHashKey: String(quarter), EndingHashKey: String(middle - 1n) },
      ]);
      for (const shard of shards) expect(shard.AdjacentParentShardId).toBeUndefined();
    });

    it('refuses a NewStartingHashKey not above StartingHashKey + 1 or not below EndingHashKey', async () => {
      await createActive(runnel.client, 'split-keys', 2);
      const s = TWO_POW_128 / 2n;
      const e = HASH_KEY_MAX;
      const message = (k: bigint | string, id: string, start: bigint, end: bigint) =>
        `NewStartingHashKey ${k} used in SplitShard() on shard ${id} in stream split-keys under account ` +
        `${ACCOUNT} is not both greater than one plus the shard's StartingHashKey ${start} and less than ` +
        `the shard's EndingHashKey ${end}.`;
      const cases: [string, bigint, bigint, bigint][] = [
        [sid(0), 0n, 0n, s - 1n],
        [sid(0), 1n, 0n, s - 1n],
        [sid(0), s - 1n, 0n, s - 1n],
        [sid(1), 0n, s, e],
        [sid(1), s, s, e],
        [sid(1), s + 1n, s, e],
        [sid(1), e, s, e],
      ];
      for (const [id, k, start, end] of cases) {
        const refused = await failure(
          runnel.client.send(
            new SplitShardCommand({
              StreamName: 'split-keys',
              ShardToSplit: id,
              NewStartingHashKey: String(k),
            }),
          ),
        );
        expect(refused.name).toBe('InvalidArgumentException');
        expect(refused.message).toBe(message(k, id, start, end));
      }
      // Nothing changed.
      expect((await listShards(runnel.client, 'split-keys')).map((shard) => shard.ShardId)).toEqual(
        [sid(0), sid(1)],
      );
      // start + 2 is the lowest key allowed: the lower child holds [start, start + 1].
      await runnel.client.send(
        new SplitShardCommand({
          StreamName: 'split-keys',
          ShardToSplit: sid(1),
          NewStartingHashKey: String(s + 2n),
        }),
      );
      expect(rangesOf((await listShards(runnel.client, 'split-keys')).slice(2))).toEqual([
        { StartingHashKey: String(s), EndingHashKey: String(s + 1n) },
        { StartingHashKey: String(s + 2n), EndingHashKey: String(e) },
      ]);
      // end - 1 is the highest allowed: the upper child holds [end - 1, end].
      await runnel.client.send(
        new SplitShardCommand({
          StreamName: 'split-keys',
          ShardToSplit: sid(0),
          NewStartingHashKey: String(s - 2n),
        }),
      );
      expect(rangesOf((await listShards(runnel.client, 'split-keys')).slice(4))).toEqual([
        { StartingHashKey: '0', EndingHashKey: String(s - 3n) },
        { StartingHashKey: String(s - 2n), EndingHashKey: String(s - 1n) },
      ]);
    });

    it('refuses an unknown stream, an unknown shard and a shard already split', async () => {
      await createActive(runnel.client, 'split-errors', 1);
      const split = (StreamName: string, ShardToSplit: string) =>
        failure(
          runnel.client.send(
            new SplitShardCommand({ StreamName, ShardToSplit, NewStartingHashKey: '1000' }),
          ),
        );

      const noStream = await split('split-nowhere', sid(0));
      expect(noStream.name).toBe('ResourceNotFoundException');
      expect(noStream.message).toBe(`Stream split-nowhere under account ${ACCOUNT} not found.`);

      const noShard = await split('split-errors', sid(9));
      expect(noShard.name).toBe('ResourceNotFoundException');
      expect(noShard.message).toBe(
        `Could not find shard ${sid(9)} in stream split-errors under account ${ACCOUNT}.`,
      );

      await runnel.client.send(
        new SplitShardCommand({
          StreamName: 'split-errors',
          ShardToSplit: sid(0),
          NewStartingHashKey: '1000',
        }),
      );
      const again = await split('split-errors', sid(0));
      expect(again.name).toBe('InvalidArgumentException');
      expect(again.message).toBe(
        `Shard ${sid(0)} in stream split-errors under account ${ACCOUNT} has already been merged or split, ` +
          'and thus is not eligible for merging or splitting.',
      );
      expect(await listShards(runnel.client, 'split-errors')).toHaveLength(3);
    });

    it('routes puts after a split to the children that own md5(key), never to the closed parent', async () => {
      await createActive(runnel.client, 'split-route', 1);
      const k = TWO_POW_128 / 3n;
      await runnel.client.send(
        new SplitShardCommand({
          StreamName: 'split-route',
          ShardToSplit: sid(0),
          NewStartingHashKey: String(k),
        }),
      );
      const seen = new Set<string>();
      for (const key of KEYS.slice(0, 40)) {
        const put = await runnel.client.send(
          new PutRecordCommand({
            StreamName: 'split-route',
            PartitionKey: key,
            Data: Buffer.from(key),
          }),
        );
        expect(put.ShardId).toBe(md5HashKey(key) < k ? sid(1) : sid(2));
        seen.add(put.ShardId!);
      }
      // An explicit hash key on each side of the boundary.
      for (const [hashKey, shardId] of [
        [k - 1n, sid(1)],
        [k, sid(2)],
        [0n, sid(1)],
        [HASH_KEY_MAX, sid(2)],
      ] as const) {
        const put = await runnel.client.send(
          new PutRecordCommand({
            StreamName: 'split-route',
            PartitionKey: 'explicit',
            ExplicitHashKey: String(hashKey),
            Data: Buffer.from('e'),
          }),
        );
        expect(put.ShardId).toBe(shardId);
      }
      const log: PutEntry[] = [];
      const batch = await putMany(runnel.client, 'split-route', log, 'r', 600);
      for (const entry of batch) seen.add(entry.shardId);
      expect([...seen].sort()).toEqual([sid(1), sid(2)]);

      // The closed parent holds nothing.
      const iterator = await runnel.client.send(
        new GetShardIteratorCommand({
          StreamName: 'split-route',
          ShardId: sid(0),
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      const parentRead = await runnel.client.send(
        new GetRecordsCommand({ ShardIterator: iterator.ShardIterator! }),
      );
      expect(parentRead.Records).toEqual([]);
      expect(parentRead.NextShardIterator).toBeUndefined();
      expect(normalizedChildShards(parentRead.ChildShards!)).toEqual(
        expectedChildShards((await listShards(runnel.client, 'split-route')).slice(1)),
      );
    });

    it('reads every record exactly once and in order across two splits (KCL order)', async () => {
      await createActive(runnel.client, 'split-read', 1);
      const log: PutEntry[] = [];
      await putMany(runnel.client, 'split-read', log, 'a', 1500);
      const k = 10n ** 37n * 17n; // not a midpoint
      await runnel.client.send(
        new SplitShardCommand({
          StreamName: 'split-read',
          ShardToSplit: sid(0),
          NewStartingHashKey: String(k),
        }),
      );
      await putMany(runnel.client, 'split-read', log, 'b', 1500);
      const k2 = k + (HASH_KEY_MAX - k) / 3n;
      await runnel.client.send(
        new SplitShardCommand({
          StreamName: 'split-read',
          ShardToSplit: sid(2),
          NewStartingHashKey: String(k2),
        }),
      );
      await putMany(runnel.client, 'split-read', log, 'c', 1500);

      // Each phase went where it had to: before the split all in shard 0, then 1/2, then 1/3/4.
      const shardsOf = (tag: string) =>
        [
          ...new Set(
            log.filter((entry) => entry.id.startsWith(`${tag}-`)).map((entry) => entry.shardId),
          ),
        ].sort();
      expect(shardsOf('a')).toEqual([sid(0)]);
      expect(shardsOf('b')).toEqual([sid(1), sid(2)]);
      expect(shardsOf('c')).toEqual([sid(1), sid(3), sid(4)]);

      const { records, shardOrder } = await readLikeKcl(runnel.client, 'split-read');
      expect(shardOrder.indexOf(sid(0))).toBeLessThan(shardOrder.indexOf(sid(1)));
      expect(shardOrder.indexOf(sid(2))).toBeLessThan(shardOrder.indexOf(sid(3)));
      expectReadBack(log, records);
    });

    it('gives a LATEST iterator on a closed shard that ends at once, with ChildShards', async () => {
      await createActive(runnel.client, 'split-latest', 1);
      await putMany(runnel.client, 'split-latest', [], 'x', 50);
      await runnel.client.send(
        new SplitShardCommand({
          StreamName: 'split-latest',
          ShardToSplit: sid(0),
          NewStartingHashKey: String(TWO_POW_128 / 2n),
        }),
      );
      const { ShardIterator } = await runnel.client.send(
        new GetShardIteratorCommand({
          StreamName: 'split-latest',
          ShardId: sid(0),
          ShardIteratorType: 'LATEST',
        }),
      );
      expect(ShardIterator).toBeTruthy();
      const output = await runnel.client.send(new GetRecordsCommand({ ShardIterator }));
      expect(output.Records).toEqual([]);
      expect(output.NextShardIterator).toBeUndefined();
      expect(normalizedChildShards(output.ChildShards!)).toEqual([
        { ShardId: sid(1), ParentShards: [sid(0)], HashKeyRange: uniformRanges(2)[0] },
        { ShardId: sid(2), ParentShards: [sid(0)], HashKeyRange: uniformRanges(2)[1] },
      ]);
      // An open child's LATEST iterator carries on: NextShardIterator set, no ChildShards.
      const child = await runnel.client.send(
        new GetShardIteratorCommand({
          StreamName: 'split-latest',
          ShardId: sid(1),
          ShardIteratorType: 'LATEST',
        }),
      );
      const open = await runnel.client.send(
        new GetRecordsCommand({ ShardIterator: child.ShardIterator }),
      );
      expect(open.NextShardIterator).toBeTruthy();
      expect(open.ChildShards ?? []).toEqual([]);
    });
  });

  describe('MergeShards', () => {
    it('merges two adjacent shards into the next shard id, closing both', async () => {
      await createActive(runnel.client, 'merge-pair', 3);
      const output = await runnel.client.send(
        new MergeShardsCommand({
          StreamName: 'merge-pair',
          ShardToMerge: sid(0),
          AdjacentShardToMerge: sid(1),
        }),
      );
      expect(Object.keys(output)).toEqual(['$metadata']);
      expect(await statusOf(runnel.client, 'merge-pair')).toBe('ACTIVE');
      const shards = await listShards(runnel.client, 'merge-pair');
      expect(shards.map((shard) => shard.ShardId)).toEqual([sid(0), sid(1), sid(2), sid(3)]);
      const ranges = uniformRanges(3);
      for (const closed of [shards[0]!, shards[1]!]) {
        expect(closed.SequenceNumberRange!.EndingSequenceNumber).toMatch(/^\d{56}$/);
      }
      expect(isOpen(shards[2]!)).toBe(true);
      expect(shards[3]).toEqual({
        ShardId: sid(3),
        ParentShardId: sid(0),
        AdjacentParentShardId: sid(1),
        HashKeyRange: {
          StartingHashKey: ranges[0]!.StartingHashKey,
          EndingHashKey: ranges[1]!.EndingHashKey,
        },
        SequenceNumberRange: { StartingSequenceNumber: expect.stringMatching(/^\d{56}$/) },
      });
    });

    it('accepts the upper shard as ShardToMerge, and StreamARN', async () => {
      await createActive(runnel.client, 'merge-reverse', 3);
      await runnel.client.send(
        new MergeShardsCommand({
          StreamARN: arnOf('merge-reverse'),
          ShardToMerge: sid(2),
          AdjacentShardToMerge: sid(1),
        }),
      );
      const shards = await listShards(runnel.client, 'merge-reverse');
      const ranges = uniformRanges(3);
      expect(shards[3]).toEqual({
        ShardId: sid(3),
        ParentShardId: sid(2),
        AdjacentParentShardId: sid(1),
        HashKeyRange: {
          StartingHashKey: ranges[1]!.StartingHashKey,
          EndingHashKey: ranges[2]!.EndingHashKey,
        },
        SequenceNumberRange: { StartingSequenceNumber: expect.stringMatching(/^\d{56}$/) },
      });
      expect(shards.map(isOpen)).toEqual([true, false, false, true]);
      // A merged shard merges again with its neighbour: 0 + 3 covers everything.
      await runnel.client.send(
        new MergeShardsCommand({
          StreamName: 'merge-reverse',
          ShardToMerge: sid(3),
          AdjacentShardToMerge: sid(0),
        }),
      );
      const [open] = await listShards(runnel.client, 'merge-reverse', 'AT_LATEST');
      expect(open).toEqual({
        ShardId: sid(4),
        ParentShardId: sid(3),
        AdjacentParentShardId: sid(0),
        HashKeyRange: { StartingHashKey: '0', EndingHashKey: String(HASH_KEY_MAX) },
        SequenceNumberRange: { StartingSequenceNumber: expect.stringMatching(/^\d{56}$/) },
      });
    });

    it('refuses an unknown shard, shards that are not adjacent, the same shard twice and a closed shard', async () => {
      await createActive(runnel.client, 'merge-errors', 3);
      const merge = (
        ShardToMerge: string,
        AdjacentShardToMerge: string,
        StreamName = 'merge-errors',
      ) =>
        failure(
          runnel.client.send(
            new MergeShardsCommand({ StreamName, ShardToMerge, AdjacentShardToMerge }),
          ),
        );

      const noStream = await merge(sid(0), sid(1), 'merge-nowhere');
      expect(noStream.name).toBe('ResourceNotFoundException');
      expect(noStream.message).toBe(`Stream merge-nowhere under account ${ACCOUNT} not found.`);

      for (const [a, b, missing] of [
        [sid(9), sid(0), sid(9)],
        [sid(0), sid(9), sid(9)],
      ] as const) {
        const unknown = await merge(a, b);
        expect(unknown.name).toBe('ResourceNotFoundException');
        expect(unknown.message).toBe(
          `Could not find shard ${missing} in stream merge-errors under account ${ACCOUNT}.`,
        );
      }

      for (const [a, b] of [
        [sid(0), sid(2)],
        [sid(2), sid(0)],
        [sid(1), sid(1)],
      ] as const) {
        const apart = await merge(a, b);
        expect(apart.name).toBe('InvalidArgumentException');
        expect(apart.message).toBe(
          `Shards ${a} and ${b} in stream merge-errors under account ${ACCOUNT} are not an adjacent pair of ` +
            'shards eligible for merging',
        );
      }
      expect(await listShards(runnel.client, 'merge-errors')).toHaveLength(3);

      await runnel.client.send(
        new MergeShardsCommand({
          StreamName: 'merge-errors',
          ShardToMerge: sid(0),
          AdjacentShardToMerge: sid(1),
        }),
      );
      // Shard 1 is closed now; shard 3 (0 + 1) and shard 2 are the open ones.
      const closed = await merge(sid(1), sid(2));
      expect(closed.name).toBe('InvalidArgumentException');
      expect(closed.message).toBe(
        `Shard ${sid(1)} in stream merge-errors under account ${ACCOUNT} has already been merged or split, ` +
          'and thus is not eligible for merging or splitting.',
      );
      expect(await listShards(runnel.client, 'merge-errors')).toHaveLength(4);
    });

    it('reads every record exactly once and in order across two merges (a child after both parents)', async () => {
      await createActive(runnel.client, 'merge-read', 3);
      const log: PutEntry[] = [];
      await putMany(runnel.client, 'merge-read', log, 'a', 1500);
      await runnel.client.send(
        new MergeShardsCommand({
          StreamName: 'merge-read',
          ShardToMerge: sid(2),
          AdjacentShardToMerge: sid(1),
        }),
      );
      await putMany(runnel.client, 'merge-read', log, 'b', 1500);
      await runnel.client.send(
        new MergeShardsCommand({
          StreamName: 'merge-read',
          ShardToMerge: sid(0),
          AdjacentShardToMerge: sid(3),
        }),
      );
      await putMany(runnel.client, 'merge-read', log, 'c', 1500);
      const shardsOf = (tag: string) =>
        [
          ...new Set(
            log.filter((entry) => entry.id.startsWith(`${tag}-`)).map((entry) => entry.shardId),
          ),
        ].sort();
      expect(shardsOf('a')).toEqual([sid(0), sid(1), sid(2)]);
      expect(shardsOf('b')).toEqual([sid(0), sid(3)]);
      expect(shardsOf('c')).toEqual([sid(4)]);

      const { records, shardOrder } = await readLikeKcl(runnel.client, 'merge-read');
      for (const parent of [sid(1), sid(2)]) {
        expect(shardOrder.indexOf(parent)).toBeLessThan(shardOrder.indexOf(sid(3)));
      }
      for (const parent of [sid(0), sid(3)]) {
        expect(shardOrder.indexOf(parent)).toBeLessThan(shardOrder.indexOf(sid(4)));
      }
      expectReadBack(log, records);
    });
  });

  describe('UpdateShardCount', () => {
    const scalings: [number, number, number | undefined][] = [
      // [from, to, shards listed afterwards when the contract fixes it]
      [1, 2, 3],
      [2, 4, 6],
      [4, 2, 6],
      [3, 5, undefined],
      [5, 3, undefined],
    ];
    for (const [from, to, total] of scalings) {
      it(`scales ${from} → ${to} to uniform open shards whose lineage reaches the old ones`, async () => {
        const name = `scale-${from}-${to}`;
        await createActive(runnel.client, name, from);
        const before = await listShards(runnel.client, name);
        const limitsBefore = await runnel.client.send(new DescribeLimitsCommand({}));
        const { $metadata, ...output } = await runnel.client.send(
          new UpdateShardCountCommand({
            StreamName: name,
            TargetShardCount: to,
            ScalingType: 'UNIFORM_SCALING',
          }),
        );
        expect($metadata.httpStatusCode).toBe(200);
        expect(output).toEqual({
          StreamName: name,
          CurrentShardCount: from,
          TargetShardCount: to,
          StreamARN: arnOf(name),
        });
        expect(await statusOf(runnel.client, name)).toBe('ACTIVE');
        const after = await listShards(runnel.client, name);
        expectScaledLineage(before, after, to);
        if (total !== undefined) expect(after).toHaveLength(total);
        expect(hashOrderedRanges(await listShards(runnel.client, name, 'AT_LATEST'))).toEqual(
          uniformRanges(to),
        );
        expect(await describeShards(runnel.client, name)).toEqual(after);
        const summary = await runnel.client.send(
          new DescribeStreamSummaryCommand({ StreamName: name }),
        );
        expect(summary.StreamDescriptionSummary!.OpenShardCount).toBe(to);
        const limitsAfter = await runnel.client.send(new DescribeLimitsCommand({}));
        expect(limitsAfter.OpenShardCount! - limitsBefore.OpenShardCount!).toBe(to - from);
      });
    }

    it('scales 1 → 1 without any change', async () => {
      await createActive(runnel.client, 'scale-same', 1);
      const before = await listShards(runnel.client, 'scale-same');
      const { $metadata: _, ...output } = await runnel.client.send(
        new UpdateShardCountCommand({
          StreamName: 'scale-same',
          TargetShardCount: 1,
          ScalingType: 'UNIFORM_SCALING',
        }),
      );
      expect(output).toEqual({
        StreamName: 'scale-same',
        CurrentShardCount: 1,
        TargetShardCount: 1,
        StreamARN: arnOf('scale-same'),
      });
      expect(await listShards(runnel.client, 'scale-same')).toEqual(before);
      expect(await statusOf(runnel.client, 'scale-same')).toBe('ACTIVE');
    });

    it('counts only open shards as CurrentShardCount, and scales by StreamARN', async () => {
      await createActive(runnel.client, 'scale-after-split', 2);
      await runnel.client.send(
        new SplitShardCommand({
          StreamName: 'scale-after-split',
          ShardToSplit: sid(0),
          NewStartingHashKey: String(TWO_POW_128 / 4n),
        }),
      );
      const before = await listShards(runnel.client, 'scale-after-split');
      const output = await runnel.client.send(
        new UpdateShardCountCommand({
          StreamARN: arnOf('scale-after-split'),
          TargetShardCount: 5,
          ScalingType: 'UNIFORM_SCALING',
        }),
      );
      expect(output.CurrentShardCount).toBe(3);
      expect(output.TargetShardCount).toBe(5);
      expect(output.StreamName).toBe('scale-after-split');
      const after = await listShards(runnel.client, 'scale-after-split');
      expectScaledLineage(before, after, 5);
    });

    it('refuses a target above twice or below half the open count, or above 10000', async () => {
      await createActive(runnel.client, 'scale-limits', 4);
      const before = await listShards(runnel.client, 'scale-limits');
      // 10 001 and 20 000 are above twice the count as well: the 10 000 cap alone would need a
      // stream of more than 5 000 open shards, too big for this suite.
      for (const target of [9, 1, 10_001, 20_000]) {
        const refused = await failure(
          runnel.client.send(
            new UpdateShardCountCommand({
              StreamName: 'scale-limits',
              TargetShardCount: target,
              ScalingType: 'UNIFORM_SCALING',
            }),
          ),
        );
        expect(refused.name, `target ${target}`).toBe('LimitExceededException');
      }
      expect(await listShards(runnel.client, 'scale-limits')).toEqual(before);
      // The bounds themselves are allowed: 4 → 8 (twice), then 8 → 4 (half).
      await runnel.client.send(
        new UpdateShardCountCommand({
          StreamName: 'scale-limits',
          TargetShardCount: 8,
          ScalingType: 'UNIFORM_SCALING',
        }),
      );
      expect(
        hashOrderedRanges(await listShards(runnel.client, 'scale-limits', 'AT_LATEST')),
      ).toEqual(uniformRanges(8));
      await runnel.client.send(
        new UpdateShardCountCommand({
          StreamName: 'scale-limits',
          TargetShardCount: 4,
          ScalingType: 'UNIFORM_SCALING',
        }),
      );
      expect(
        hashOrderedRanges(await listShards(runnel.client, 'scale-limits', 'AT_LATEST')),
      ).toEqual(uniformRanges(4));

      const unknown = await failure(
        runnel.client.send(
          new UpdateShardCountCommand({
            StreamName: 'scale-nowhere',
            TargetShardCount: 2,
            ScalingType: 'UNIFORM_SCALING',
          }),
        ),
      );
      expect(unknown.name).toBe('ResourceNotFoundException');
      expect(unknown.message).toBe(`Stream scale-nowhere under account ${ACCOUNT} not found.`);
    });

    it('reads every record exactly once and in order across 2 → 3 → 2', async () => {
      await createActive(runnel.client, 'scale-read', 2);
      const log: PutEntry[] = [];
      await putMany(runnel.client, 'scale-read', log, 'a', 1200);
      await runnel.client.send(
        new UpdateShardCountCommand({
          StreamName: 'scale-read',
          TargetShardCount: 3,
          ScalingType: 'UNIFORM_SCALING',
        }),
      );
      await putMany(runnel.client, 'scale-read', log, 'b', 1200);
      await runnel.client.send(
        new UpdateShardCountCommand({
          StreamName: 'scale-read',
          TargetShardCount: 2,
          ScalingType: 'UNIFORM_SCALING',
        }),
      );
      await putMany(runnel.client, 'scale-read', log, 'c', 1200);
      const open = await listShards(runnel.client, 'scale-read', 'AT_LATEST');
      expect(hashOrderedRanges(open)).toEqual(uniformRanges(2));
      // The last phase went to the open shards only.
      const openIds = new Set(open.map((shard) => shard.ShardId!));
      for (const entry of log.filter((e) => e.id.startsWith('c-')))
        expect(openIds.has(entry.shardId)).toBe(true);
      const { records } = await readLikeKcl(runnel.client, 'scale-read', 251);
      expectReadBack(log, records);
    });
  });

  describe('on-demand streams', () => {
    it('refuses SplitShard, MergeShards and UpdateShardCount with ValidationException', async () => {
      await runnel.client.send(
        new CreateStreamCommand({
          StreamName: 'on-demand',
          StreamModeDetails: { StreamMode: 'ON_DEMAND' },
        }),
      );
      await waitActive(runnel.client, 'on-demand');
      const before = await listShards(runnel.client, 'on-demand');
      expect(before.length).toBeGreaterThanOrEqual(2);
      const [first, second] = before as [Shard, Shard];
      const refusals = [
        await failure(
          runnel.client.send(
            new SplitShardCommand({
              StreamName: 'on-demand',
              ShardToSplit: first.ShardId,
              NewStartingHashKey: String((startOf(first) + endOf(first)) / 2n),
            }),
          ),
        ),
        await failure(
          runnel.client.send(
            new MergeShardsCommand({
              StreamName: 'on-demand',
              ShardToMerge: first.ShardId,
              AdjacentShardToMerge: second.ShardId,
            }),
          ),
        ),
        await failure(
          runnel.client.send(
            new UpdateShardCountCommand({
              StreamName: 'on-demand',
              TargetShardCount: before.length + 1,
              ScalingType: 'UNIFORM_SCALING',
            }),
          ),
        ),
      ];
      for (const refused of refusals) {
        expect(refused.name).toBe('ValidationException');
        expect(refused.message).toContain('ON_DEMAND');
      }
      expect(await listShards(runnel.client, 'on-demand')).toEqual(before);
    });
  });

  describe('listings and counts', () => {
    it('lists closed and open shards in shard-id order, AT_LATEST the open ones, and counts open shards', async () => {
      await createActive(runnel.client, 'counts', 2);
      const limitsBefore = (await runnel.client.send(new DescribeLimitsCommand({})))
        .OpenShardCount!;
      // Twelve shards in all, so that ids 10 and 11 sort after 9.
      const splitAt = async (id: string) => {
        const shard = (await listShards(runnel.client, 'counts')).find((s) => s.ShardId === id)!;
        await runnel.client.send(
          new SplitShardCommand({
            StreamName: 'counts',
            ShardToSplit: id,
            NewStartingHashKey: String((startOf(shard) + endOf(shard)) / 2n),
          }),
        );
      };
      await splitAt(sid(0)); // 2, 3
      await splitAt(sid(1)); // 4, 5
      await splitAt(sid(2)); // 6, 7
      await splitAt(sid(5)); // 8, 9
      await runnel.client.send(
        new MergeShardsCommand({
          StreamName: 'counts',
          ShardToMerge: sid(6),
          AdjacentShardToMerge: sid(7),
        }),
      ); // 10
      await runnel.client.send(
        new MergeShardsCommand({
          StreamName: 'counts',
          ShardToMerge: sid(3),
          AdjacentShardToMerge: sid(4),
        }),
      ); // 11
      const all = await listShards(runnel.client, 'counts');
      expect(all.map((shard) => shard.ShardId)).toEqual(
        Array.from({ length: 12 }, (_, i) => sid(i)),
      );
      const openIds = [sid(8), sid(9), sid(10), sid(11)];
      expect(all.filter(isOpen).map((shard) => shard.ShardId)).toEqual(openIds);
      for (const shard of all.filter((s) => !isOpen(s))) {
        expect(shard.SequenceNumberRange!.EndingSequenceNumber).toMatch(/^\d{56}$/);
      }
      const latest = await listShards(runnel.client, 'counts', 'AT_LATEST');
      expect(latest).toEqual(all.filter(isOpen));
      // The open shards cover the hash space without gaps or overlaps.
      const sorted = [...latest].sort((a, b) => (startOf(a) < startOf(b) ? -1 : 1));
      expect(startOf(sorted[0]!)).toBe(0n);
      expect(endOf(sorted[sorted.length - 1]!)).toBe(HASH_KEY_MAX);
      for (let i = 1; i < sorted.length; i++)
        expect(startOf(sorted[i]!)).toBe(endOf(sorted[i - 1]!) + 1n);

      const summary = await runnel.client.send(
        new DescribeStreamSummaryCommand({ StreamName: 'counts' }),
      );
      expect(summary.StreamDescriptionSummary!.OpenShardCount).toBe(4);
      const limitsAfter = (await runnel.client.send(new DescribeLimitsCommand({}))).OpenShardCount!;
      expect(limitsAfter - limitsBefore).toBe(2);

      // DescribeStream pages through the same listing.
      const page = await runnel.client.send(
        new DescribeStreamCommand({ StreamName: 'counts', Limit: 5 }),
      );
      expect(page.StreamDescription!.Shards).toEqual(all.slice(0, 5));
      expect(page.StreamDescription!.HasMoreShards).toBe(true);
      expect(await describeShards(runnel.client, 'counts')).toEqual(all);
      // ListShards pages too.
      const first = await runnel.client.send(
        new ListShardsCommand({ StreamName: 'counts', MaxResults: 7 }),
      );
      expect(first.Shards).toEqual(all.slice(0, 7));
      const rest = await runnel.client.send(new ListShardsCommand({ NextToken: first.NextToken! }));
      expect(rest.Shards).toEqual(all.slice(7));
    });
  });
});

// ---------------------------------------------------------------------------------------------
// A server whose transitions take TRANSITION_MS: the UPDATING state
// ---------------------------------------------------------------------------------------------

describe(`resharding with a ${TRANSITION_MS} ms transition`, () => {
  const runnel = serverForBlock({
    dataDirPrefix: 'runnel-resharding-transition-',
    workers: 1,
    engineOptions: { streamTransitionMs: TRANSITION_MS },
    client: { maxAttempts: 1 },
  });

  it('is UPDATING after SplitShard, refuses further reshards until ACTIVE, and serves puts and reads meanwhile', async () => {
    await createActive(runnel.client, 'updating', 2);
    const log: PutEntry[] = [];
    await putMany(runnel.client, 'updating', log, 'a', 300);
    const startedMs = Date.now();
    await runnel.client.send(
      new SplitShardCommand({
        StreamName: 'updating',
        ShardToSplit: sid(0),
        NewStartingHashKey: String(TWO_POW_128 / 4n),
      }),
    );
    expect(await statusOf(runnel.client, 'updating')).toBe('UPDATING');

    const notActive = `Stream updating under account ${ACCOUNT} not ACTIVE, instead in state UPDATING`;
    const refusals = [
      await failure(
        runnel.client.send(
          new SplitShardCommand({
            StreamName: 'updating',
            ShardToSplit: sid(1),
            NewStartingHashKey: String((TWO_POW_128 * 3n) / 4n),
          }),
        ),
      ),
      await failure(
        runnel.client.send(
          new MergeShardsCommand({
            StreamName: 'updating',
            ShardToMerge: sid(0),
            AdjacentShardToMerge: sid(1),
          }),
        ),
      ),
      await failure(
        runnel.client.send(
          new UpdateShardCountCommand({
            StreamName: 'updating',
            TargetShardCount: 3,
            ScalingType: 'UNIFORM_SCALING',
          }),
        ),
      ),
    ];
    for (const refused of refusals) {
      expect(refused.name).toBe('ResourceInUseException');
      expect(refused.message).toBe(notActive);
    }

    // Puts and reads work while UPDATING (which shard a put lands in may follow either layout).
    await putMany(runnel.client, 'updating', log, 'b', 300, false);
    const put = await runnel.client.send(
      new PutRecordCommand({
        StreamName: 'updating',
        PartitionKey: 'during',
        Data: Buffer.from('during|'),
      }),
    );
    log.push({
      id: 'during',
      partitionKey: 'during',
      data: Buffer.from('during|'),
      shardId: put.ShardId!,
      sequenceNumber: put.SequenceNumber!,
    });
    const iterator = await runnel.client.send(
      new GetShardIteratorCommand({
        StreamName: 'updating',
        ShardId: sid(1),
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const read = await runnel.client.send(
      new GetRecordsCommand({ ShardIterator: iterator.ShardIterator! }),
    );
    expect(read.Records!.length).toBeGreaterThan(0);
    // All of the above ran inside the transition (otherwise this test proves nothing about it).
    expect(await statusOf(runnel.client, 'updating')).toBe('UPDATING');
    expect(Date.now() - startedMs).toBeLessThan(TRANSITION_MS);

    await waitActive(runnel.client, 'updating');
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(TRANSITION_MS - 50);
    const shards = await listShards(runnel.client, 'updating');
    expect(shards.map((shard) => [shard.ShardId, shard.ParentShardId, isOpen(shard)])).toEqual([
      [sid(0), undefined, false],
      [sid(1), undefined, true],
      [sid(2), sid(0), true],
      [sid(3), sid(0), true],
    ]);
    // Now another reshard is accepted, and puts route to the children.
    await putMany(runnel.client, 'updating', log, 'c', 300);
    await runnel.client.send(
      new MergeShardsCommand({
        StreamName: 'updating',
        ShardToMerge: sid(3),
        AdjacentShardToMerge: sid(1),
      }),
    );
    expect(await statusOf(runnel.client, 'updating')).toBe('UPDATING');
    await waitActive(runnel.client, 'updating');
    await putMany(runnel.client, 'updating', log, 'd', 300);
    const { records } = await readLikeKcl(runnel.client, 'updating');
    expectReadBack(log, records);
  });

  it('is UPDATING during UpdateShardCount and ACTIVE with the target count afterwards', async () => {
    await createActive(runnel.client, 'updating-count', 2);
    const output = await runnel.client.send(
      new UpdateShardCountCommand({
        StreamName: 'updating-count',
        TargetShardCount: 4,
        ScalingType: 'UNIFORM_SCALING',
      }),
    );
    expect(output.CurrentShardCount).toBe(2);
    expect(output.TargetShardCount).toBe(4);
    expect(await statusOf(runnel.client, 'updating-count')).toBe('UPDATING');
    const again = await failure(
      runnel.client.send(
        new UpdateShardCountCommand({
          StreamName: 'updating-count',
          TargetShardCount: 3,
          ScalingType: 'UNIFORM_SCALING',
        }),
      ),
    );
    expect(again.name).toBe('ResourceInUseException');
    expect(again.message).toBe(
      `Stream updating-count under account ${ACCOUNT} not ACTIVE, instead in state UPDATING`,
    );
    await waitActive(runnel.client, 'updating-count');
    expect(
      hashOrderedRanges(await listShards(runnel.client, 'updating-count', 'AT_LATEST')),
    ).toEqual(uniformRanges(4));
    const summary = await runnel.client.send(
      new DescribeStreamSummaryCommand({ StreamName: 'updating-count' }),
    );
    expect(summary.StreamDescriptionSummary!.OpenShardCount).toBe(4);
  });
});

// ---------------------------------------------------------------------------------------------
// Persistence: the reshaped stream survives a restart on the same data directory
// ---------------------------------------------------------------------------------------------

describe('resharding persists across a restart', () => {
  const dataDir = dataDirForBlock('runnel-resharding-restart-');
  const serverOptions = {
    workers: 2,
    engineOptions: { streamTransitionMs: 0 },
    client: { maxAttempts: 1 },
  };

  it('lists the same shards and reads every record after a restart; puts go to the open shards', async () => {
    const log: PutEntry[] = [];
    const { before, summaryBefore } = await withServerOn(
      dataDir.path,
      serverOptions,
      async (kinesis) => {
        await createActive(kinesis, 'restart', 2);
        await putMany(kinesis, 'restart', log, 'a', 1000);
        await kinesis.send(
          new SplitShardCommand({
            StreamName: 'restart',
            ShardToSplit: sid(1),
            NewStartingHashKey: String((TWO_POW_128 * 5n) / 8n),
          }),
        );
        await putMany(kinesis, 'restart', log, 'b', 1000);
        await kinesis.send(
          new MergeShardsCommand({
            StreamName: 'restart',
            ShardToMerge: sid(0),
            AdjacentShardToMerge: sid(2),
          }),
        );
        await putMany(kinesis, 'restart', log, 'c', 1000);
        await kinesis.send(
          new UpdateShardCountCommand({
            StreamName: 'restart',
            TargetShardCount: 3,
            ScalingType: 'UNIFORM_SCALING',
          }),
        );
        await putMany(kinesis, 'restart', log, 'd', 1000);
        const before = await listShards(kinesis, 'restart');
        expect(before.filter((shard) => !isOpen(shard)).length).toBeGreaterThanOrEqual(4);
        const summaryBefore = await kinesis.send(
          new DescribeStreamSummaryCommand({ StreamName: 'restart' }),
        );
        return { before, summaryBefore };
      },
    );

    await withServerOn(dataDir.path, serverOptions, async (kinesis) => {
      const after = await listShards(kinesis, 'restart');
      expect(after).toEqual(before);
      expect(await listShards(kinesis, 'restart', 'AT_LATEST')).toEqual(before.filter(isOpen));
      const summary = await kinesis.send(
        new DescribeStreamSummaryCommand({ StreamName: 'restart' }),
      );
      expect(summary.StreamDescriptionSummary!.StreamStatus).toBe('ACTIVE');
      expect(summary.StreamDescriptionSummary!.OpenShardCount).toBe(3);
      expect(summary.StreamDescriptionSummary!.OpenShardCount).toBe(
        summaryBefore.StreamDescriptionSummary!.OpenShardCount,
      );
      expect((await kinesis.send(new DescribeLimitsCommand({}))).OpenShardCount).toBe(3);

      expectReadBack(log, (await readLikeKcl(kinesis, 'restart')).records);
      // New puts go to the open shards by md5(key) (putMany checks the owner of every record).
      const added = await putMany(kinesis, 'restart', log, 'e', 1000);
      const openIds = new Set(before.filter(isOpen).map((shard) => shard.ShardId!));
      for (const entry of added) expect(openIds.has(entry.shardId)).toBe(true);
      expectReadBack(log, (await readLikeKcl(kinesis, 'restart')).records);
      // And the stream reshards further after the restart, with the next unused id.
      const maxId = Math.max(
        ...after.map((shard) => Number(shard.ShardId!.slice('shardId-'.length))),
      );
      await kinesis.send(
        new UpdateShardCountCommand({
          StreamName: 'restart',
          TargetShardCount: 2,
          ScalingType: 'UNIFORM_SCALING',
        }),
      );
      const reshaped = await listShards(kinesis, 'restart');
      expect(reshaped[after.length]!.ShardId).toBe(sid(maxId + 1));
      expectScaledLineage(after, reshaped, 2);
    });
  });
});
