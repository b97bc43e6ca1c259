/**
 * Goal: the binary protocol carries a stream across resharding (docs/protocol.md §7.5, §6.1,
 * §8.2). Real client, real server on 127.0.0.1, real engine with two shard workers:
 *  - a subscription to a shard that a split or merge closes delivers every record of it and then
 *    ends with SUBSCRIPTION_END reason 1 (the client's iterator completes with `shardClosed`);
 *    the children, found through the shard map's parent ids, carry the later records: every
 *    record once, byte for byte, each partition key in put order reading parents before children;
 *  - that end needs no credit: LATEST on a closed shard ends right after SUBSCRIBED, a
 *    subscription started mid-shard (or with a window smaller than a batch) delivers the rest
 *    first, and an UNSUBSCRIBE that comes after the end is still answered;
 *  - UpdateShardCount 2 → 4 while two clients keep puts in flight: every acknowledged record is
 *    read exactly once by a reader that follows the shard lineage as a KCL worker does;
 *  - client-side routing by a shard map made stale by splits: a routed put whose records now
 *    belong to one child is stored there, one that spans children is refused and sent again
 *    unrouted, and the client then routes by a fresh map.
 */
import { describe, expect, it } from 'vitest';

import {
  type PutRecordsOutput,
  RunnelClient,
  type RunnelSubscription,
  type SubscribedRecord,
  type WebSocketConstructor,
} from '../../src/client/index.js';
import { NodeWebSocket } from '../../src/client/node-websocket.js';
import type { KinesisRecord } from '../../src/kinesis/shapes.js';
import { HASH_KEY_MAX, hashPartitionKey } from '../../src/kinesis/hash-key.js';
import { WS_FRAME_BYTES_MAX } from '../../src/limits.js';
import {
  EndReason,
  Opcode,
  decodeClientFrame,
  encodeCredit,
  encodeSubscribe,
  encodeUnsubscribe,
} from '../../src/protocol/frames.js';
import { RawConnection } from '../helpers/raw-connection.js';
import { serveEngineForFile } from '../helpers/ws-server.js';

/** How long a subscription may take to deliver what is expected of it, or to end. */
const READ_DEADLINE_MS = 20_000;
const HALF = 1n << 127n;
const QUARTER = 1n << 126n;

const ws = serveEngineForFile({ workers: 2 });
const { connect } = ws;

const shardId = (index: number) => `shardId-${String(index).padStart(12, '0')}`;

/** `count` partition keys whose MD5 hash key lies in [start, end]. */
function keysIn(start: bigint, end: bigint, count: number, prefix: string): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    const key = `${prefix}-${i}`;
    const hash = hashPartitionKey(key);
    if (start <= hash && hash <= end) keys.push(key);
  }
  return keys;
}

/** The data of a key's `n`-th record: `n` in its first 4 bytes, then bytes derived from both. */
function dataOf(key: string, n: number): Uint8Array {
  const data = new Uint8Array(8 + ((n * 37 + key.length * 11) % 120));
  new DataView(data.buffer).setUint32(0, n, true);
  for (let i = 4; i < data.length; i++)
    data[i] = (n * 31 + i * 7 + key.charCodeAt(key.length - 1)) & 0xff;
  return data;
}

const nOf = (data: Uint8Array) =>
  new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0, true);

/** Puts of records with per-key counters, so every record is known by (key, n). */
class Producer {
  readonly next = new Map<string, number>();
  /** Every acknowledged record by sequence number. */
  readonly acked = new Map<string, { key: string; n: number; shardId: string }>();

  records(keys: readonly string[], count: number) {
    return Array.from({ length: count }, (_, i) => {
      const key = keys[i % keys.length]!;
      const n = this.next.get(key) ?? 0;
      this.next.set(key, n + 1);
      return { PartitionKey: key, Data: dataOf(key, n) };
    });
  }

  /** Records what a put stored; fails on any record that was not stored. */
  settle(records: ReturnType<Producer['records']>, output: PutRecordsOutput): void {
    const failures = output.Records.filter((entry) => 'ErrorCode' in entry);
    expect(failures, `failed records: ${JSON.stringify(failures.slice(0, 3))}`).toEqual([]);
    output.Records.forEach((entry, i) => {
      const { SequenceNumber, ShardId } = entry as { SequenceNumber: string; ShardId: string };
      const record = records[i]!;
      expect(this.acked.has(SequenceNumber)).toBe(false);
      this.acked.set(SequenceNumber, {
        key: record.PartitionKey,
        n: nOf(record.Data),
        shardId: ShardId,
      });
    });
  }

  async put(
    client: RunnelClient,
    stream: string,
    keys: readonly string[],
    count: number,
  ): Promise<PutRecordsOutput> {
    const records = this.records(keys, count);
    const output = await client.putRecords(stream, records);
    this.settle(records, output);
    return output;
  }
}

/**
 * Reads until `count` records arrived or, without a count, until the iteration completes.
 * Throws if that does not happen within READ_DEADLINE_MS.
 */
async function read(
  subscription: RunnelSubscription,
  count?: number,
): Promise<{ records: SubscribedRecord[]; done: boolean }> {
  const records: SubscribedRecord[] = [];
  const deadline = Date.now() + READ_DEADLINE_MS;
  while (count === undefined || records.length < count) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), Math.max(0, deadline - Date.now()));
    });
    const next = await Promise.race([subscription.next(), late]);
    clearTimeout(timer);
    if (next === 'late') {
      throw new Error(
        `${subscription.shardId}: ${records.length} records and no end within ${READ_DEADLINE_MS} ms`,
      );
    }
    if (next.done) return { records, done: true };
    records.push(next.value);
  }
  return { records, done: false };
}

/** Checks each record against what was put under its sequence number, byte for byte. */
function checkRecords(
  producer: Producer,
  records: readonly SubscribedRecord[],
  shard: string,
): void {
  for (const record of records) {
    const acked = producer.acked.get(record.SequenceNumber);
    expect(acked, `${shard}: record ${record.SequenceNumber} was never acknowledged`).toBeDefined();
    expect(record.PartitionKey).toBe(acked!.key);
    expect(acked!.shardId).toBe(shard);
    expect(Buffer.from(record.Data).equals(Buffer.from(dataOf(acked!.key, acked!.n)))).toBe(true);
  }
}

/**
 * Every acknowledged record read exactly once, and each key's records, taken shard by shard in
 * the order given (parents before children), in put order: n = 0, 1, 2, ...
 */
function checkExactlyOnceInOrder(
  producer: Producer,
  shards: ReadonlyArray<readonly [string, readonly SubscribedRecord[]]>,
  ordered = true,
): void {
  const seen = new Set<string>();
  const byKey = new Map<string, number[]>();
  for (const [shard, records] of shards) {
    checkRecords(producer, records, shard);
    for (const record of records) {
      expect(seen.has(record.SequenceNumber), `${record.SequenceNumber} read twice`).toBe(false);
      seen.add(record.SequenceNumber);
      const list = byKey.get(record.PartitionKey!) ?? [];
      list.push(nOf(record.Data));
      byKey.set(record.PartitionKey!, list);
    }
  }
  expect(seen.size).toBe(producer.acked.size);
  for (const [key, count] of producer.next) {
    const ns = byKey.get(key) ?? [];
    if (ordered) expect(ns, key).toEqual(Array.from({ length: count }, (_, n) => n));
    else
      expect(
        [...ns].sort((a, b) => a - b),
        key,
      ).toEqual(Array.from({ length: count }, (_, n) => n));
  }
}

/** A shard's records through GetRecords, to the end of a closed shard (no next iterator there). */
async function readWholeShard(stream: string, shard: string): Promise<KinesisRecord[]> {
  let iterator: string | undefined = (
    await ws.engine.getShardIterator({
      StreamName: stream,
      ShardId: shard,
      ShardIteratorType: 'TRIM_HORIZON',
    })
  ).ShardIterator;
  const records: KinesisRecord[] = [];
  while (iterator !== undefined) {
    const page = await ws.engine.getRecords({ ShardIterator: iterator });
    records.push(...page.Records);
    if (page.Records.length === 0) break;
    iterator = page.NextShardIterator;
  }
  return records;
}

function childrenOf(shards: Awaited<ReturnType<RunnelClient['listShards']>>, parent: string) {
  return shards.filter(
    (shard) => shard.parentShardId === parent || shard.adjacentParentShardId === parent,
  );
}

describe('subscriptions across a reshard', () => {
  it('a split ends the parent subscription after its records; the children carry the later ones', async () => {
    await ws.engine.createStream({ StreamName: 'split', ShardCount: 1 });
    const client = await connect();
    const producer = new Producer();
    const low = keysIn(0n, HALF - 1n, 8, 'low');
    const high = keysIn(HALF, HASH_KEY_MAX, 8, 'high');
    const keys = [...low, ...high];
    const parent = await client.subscribe('split', shardId(0), { type: 'TRIM_HORIZON' });
    for (let round = 0; round < 3; round++) await producer.put(client, 'split', keys, 160);
    // Caught up and waiting on the open shard when the split comes.
    const before = await read(parent, 480);
    expect(before.done).toBe(false);
    expect(parent.shardClosed).toBe(false);

    await ws.engine.splitShard({
      StreamName: 'split',
      ShardToSplit: shardId(0),
      NewStartingHashKey: HALF.toString(),
    });
    const end = await read(parent);
    expect(end).toEqual({ records: [], done: true });
    expect(parent.shardClosed).toBe(true);
    expect(await parent.next()).toEqual({ done: true, value: undefined });
    expect(ws.server.protocol.stats().subscriptions).toBe(0);

    const map = await client.listShards('split');
    expect(map.find((shard) => shard.shardId === shardId(0))?.closed).toBe(true);
    const children = childrenOf(map, shardId(0));
    expect(
      children.map((shard) => [
        shard.shardId,
        shard.startingHashKey,
        shard.endingHashKey,
        shard.closed,
      ]),
    ).toEqual([
      [shardId(1), '0', (HALF - 1n).toString(), false],
      [shardId(2), HALF.toString(), HASH_KEY_MAX.toString(), false],
    ]);
    const lowChild = await client.subscribe('split', shardId(1), { type: 'TRIM_HORIZON' });
    const highChild = await client.subscribe('split', shardId(2), { type: 'TRIM_HORIZON' });
    for (let round = 0; round < 2; round++) {
      const output = await producer.put(client, 'split', keys, 160);
      expect(
        new Set(output.Records.map((entry) => (entry as { ShardId: string }).ShardId)),
      ).toEqual(new Set([shardId(1), shardId(2)]));
    }
    const lowRecords = await read(lowChild, 160);
    const highRecords = await read(highChild, 160);
    expect(lowChild.shardClosed || highChild.shardClosed).toBe(false);
    checkExactlyOnceInOrder(producer, [
      [shardId(0), before.records],
      [shardId(1), lowRecords.records],
      [shardId(2), highRecords.records],
    ]);
    await lowChild.return();
    await highChild.return();
  });

  it('a closed shard ends at once from LATEST, and after the rest from mid-shard or with a small window', async () => {
    await ws.engine.createStream({ StreamName: 'closed', ShardCount: 1 });
    const client = await connect();
    const producer = new Producer();
    const keys = keysIn(0n, HASH_KEY_MAX, 10, 'closed');
    for (let round = 0; round < 3; round++) await producer.put(client, 'closed', keys, 100);
    await ws.engine.splitShard({
      StreamName: 'closed',
      ShardToSplit: shardId(0),
      NewStartingHashKey: HALF.toString(),
    });

    const latest = await client.subscribe('closed', shardId(0), { type: 'LATEST' });
    expect(latest.startOrdinal).toBe(300);
    expect(await read(latest)).toEqual({ records: [], done: true });
    expect(latest.shardClosed).toBe(true);

    const whole = await read(
      await client.subscribe('closed', shardId(0), { type: 'TRIM_HORIZON' }),
    );
    expect(whole.records).toHaveLength(300);
    const sequence = whole.records[149]!.SequenceNumber;
    const middle = await client.subscribe('closed', shardId(0), {
      type: 'AT_SEQUENCE_NUMBER',
      sequenceNumber: sequence,
    });
    const rest = await read(middle);
    expect(rest.done).toBe(true);
    expect(middle.shardClosed).toBe(true);
    expect(rest.records.map((record) => record.SequenceNumber)).toEqual(
      whole.records.slice(149).map((record) => record.SequenceNumber),
    );
    const last = whole.records[299]!.SequenceNumber;
    const after = await client.subscribe('closed', shardId(0), {
      type: 'AFTER_SEQUENCE_NUMBER',
      sequenceNumber: last,
    });
    expect(await read(after)).toEqual({ records: [], done: true });
    expect(after.shardClosed).toBe(true);

    // A window of 64 bytes is smaller than every batch (100 records): each batch arrives cut
    // across frames, and the end comes only after the last of them is whole.
    const small = await client.subscribe(
      'closed',
      shardId(0),
      { type: 'TRIM_HORIZON' },
      { windowBytes: 64 },
    );
    const cut = await read(small);
    expect(cut.done).toBe(true);
    expect(small.shardClosed).toBe(true);
    checkExactlyOnceInOrder(producer, [[shardId(0), cut.records]]);
    expect(ws.server.protocol.stats().subscriptions).toBe(0);
  });

  it('on the wire: SUBSCRIPTION_END reason 1 needs no credit, comes once, and an UNSUBSCRIBE after it is answered', async () => {
    await ws.engine.createStream({ StreamName: 'wire', ShardCount: 1 });
    const client = await connect();
    await new Producer().put(client, 'wire', keysIn(0n, HASH_KEY_MAX, 5, 'wire'), 50);
    await ws.engine.splitShard({
      StreamName: 'wire',
      ShardToSplit: shardId(0),
      NewStartingHashKey: HALF.toString(),
    });
    const raw = await RawConnection.open(ws.server.url);
    const subscribe = (id: number, position: 'LATEST' | 'TRIM_HORIZON') =>
      encodeSubscribe(id, {
        position,
        initialCredit: 0,
        timestampMs: 0,
        streamName: 'wire',
        shardId: shardId(0),
        sequenceNumber: '',
      });

    raw.send(subscribe(3, 'LATEST'));
    expect(await raw.next()).toMatchObject({
      opcode: Opcode.SUBSCRIBED,
      requestId: 3,
      startOrdinal: 50,
      watermark: 50,
    });
    expect(await raw.next()).toEqual({
      opcode: Opcode.SUBSCRIPTION_END,
      requestId: 3,
      reason: EndReason.SHARD_CLOSED,
      nextOrdinal: 50,
    });
    expect(await raw.maybeNext(300)).toBeUndefined();
    raw.send(encodeUnsubscribe(3));
    expect(await raw.next()).toEqual({
      opcode: Opcode.SUBSCRIPTION_END,
      requestId: 3,
      reason: EndReason.UNSUBSCRIBED,
      nextOrdinal: 0,
    });

    // With records left, nothing comes without credit; with credit, the records, then the end.
    raw.send(subscribe(4, 'TRIM_HORIZON'));
    expect(await raw.next()).toMatchObject({
      opcode: Opcode.SUBSCRIBED,
      requestId: 4,
      startOrdinal: 0,
    });
    expect(await raw.maybeNext(300)).toBeUndefined();
    raw.send(encodeCredit(4, 1 << 20));
    const records = await raw.next();
    expect(records).toMatchObject({ opcode: Opcode.RECORDS, requestId: 4 });
    expect(await raw.next()).toEqual({
      opcode: Opcode.SUBSCRIPTION_END,
      requestId: 4,
      reason: EndReason.SHARD_CLOSED,
      nextOrdinal: 50,
    });
    raw.send(encodeCredit(4, 1 << 20));
    expect(await raw.maybeNext(300)).toBeUndefined();
    expect(ws.server.protocol.stats().subscriptions).toBe(0);
    raw.close();
  });

  it('a merge ends the subscriptions of both parents; the child carries the later records', async () => {
    await ws.engine.createStream({ StreamName: 'merge', ShardCount: 2 });
    const client = await connect();
    const producer = new Producer();
    const keys = [...keysIn(0n, HALF - 1n, 6, 'm-low'), ...keysIn(HALF, HASH_KEY_MAX, 6, 'm-high')];
    const lower = await client.subscribe('merge', shardId(0), { type: 'TRIM_HORIZON' });
    const upper = await client.subscribe('merge', shardId(1), { type: 'TRIM_HORIZON' });
    for (let round = 0; round < 2; round++) await producer.put(client, 'merge', keys, 120);
    const lowerBefore = await read(lower, 120);
    const upperBefore = await read(upper, 120);

    await ws.engine.mergeShards({
      StreamName: 'merge',
      ShardToMerge: shardId(0),
      AdjacentShardToMerge: shardId(1),
    });
    expect(await read(lower)).toEqual({ records: [], done: true });
    expect(await read(upper)).toEqual({ records: [], done: true });
    expect([lower.shardClosed, upper.shardClosed]).toEqual([true, true]);

    const map = await client.listShards('merge');
    const children = childrenOf(map, shardId(1));
    expect(children).toMatchObject([
      {
        shardId: shardId(2),
        parentShardId: shardId(0),
        adjacentParentShardId: shardId(1),
        closed: false,
      },
    ]);
    expect(childrenOf(map, shardId(0))).toEqual(children);
    const child = await client.subscribe('merge', shardId(2), { type: 'TRIM_HORIZON' });
    const output = await producer.put(client, 'merge', keys, 120);
    expect(new Set(output.Records.map((entry) => (entry as { ShardId: string }).ShardId))).toEqual(
      new Set([shardId(2)]),
    );
    const childRecords = await read(child, 120);
    checkExactlyOnceInOrder(producer, [
      [shardId(0), lowerBefore.records],
      [shardId(1), upperBefore.records],
      [shardId(2), childRecords.records],
    ]);
    await child.return();
  });
});

/**
 * Reads a stream as a KCL worker does: every shard from TRIM_HORIZON, and a child once each of
 * its parents has been read to its end. Records are kept per shard with the shard's depth in
 * the lineage, so each key's records can be put in parent-before-child order.
 */
class LineageReader {
  readonly shards = new Map<
    string,
    { depth: number; records: SubscribedRecord[]; subscription?: RunnelSubscription }
  >();
  readonly ended = new Set<string>();
  private readonly reading: Array<Promise<void>> = [];
  private failure: unknown;

  constructor(
    private readonly client: RunnelClient,
    private readonly stream: string,
  ) {}

  get total(): number {
    let total = 0;
    for (const shard of this.shards.values()) total += shard.records.length;
    return total;
  }

  start(shard: string, depth: number): void {
    if (this.shards.has(shard)) return;
    const state: { depth: number; records: SubscribedRecord[]; subscription?: RunnelSubscription } =
      { depth, records: [] };
    this.shards.set(shard, state);
    this.reading.push(
      this.follow(shard, state).catch((error: unknown) => {
        this.failure ??= error;
      }),
    );
  }

  private async follow(
    shard: string,
    state: { depth: number; records: SubscribedRecord[]; subscription?: RunnelSubscription },
  ) {
    const subscription = await this.client.subscribe(this.stream, shard, { type: 'TRIM_HORIZON' });
    state.subscription = subscription;
    for await (const record of subscription) state.records.push(record);
    if (!subscription.shardClosed) return;
    this.ended.add(shard);
    const map = await this.client.listShards(this.stream);
    for (const child of childrenOf(map, shard)) {
      const parents = [child.parentShardId, child.adjacentParentShardId].filter(
        (id): id is string => id !== undefined,
      );
      if (parents.every((parent) => this.ended.has(parent)))
        this.start(child.shardId, state.depth + 1);
    }
  }

  /** Waits until `count` records were read (throws on a reader's failure or the deadline). */
  async waitFor(count: number): Promise<void> {
    const deadline = Date.now() + READ_DEADLINE_MS;
    while (this.total < count) {
      if (this.failure) throw this.failure;
      if (Date.now() > deadline)
        throw new Error(`read ${this.total} of ${count} records within ${READ_DEADLINE_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async stop(): Promise<void> {
    for (const shard of this.shards.values()) await shard.subscription?.return();
    await Promise.all(this.reading);
    if (this.failure) throw this.failure;
  }

  /** Per shard, deepest last: each key's records in parent-before-child order when concatenated. */
  byDepth(): Array<[string, SubscribedRecord[]]> {
    return [...this.shards]
      .sort((a, b) => a[1].depth - b[1].depth)
      .map(([shard, state]) => [shard, state.records]);
  }
}

/** Each producer's pipelined puts, and how many it sends once the reshard is done. */
const PUTS_IN_FLIGHT = 8;
const PUTS_AFTER_RESHARD = 50;

describe('UpdateShardCount with puts in flight', () => {
  it('2 → 4: every acknowledged record is read once, parents before children, none lost', async () => {
    await ws.engine.createStream({ StreamName: 'scaling', ShardCount: 2 });
    const reader = new LineageReader(await connect(), 'scaling');
    reader.start(shardId(0), 0);
    reader.start(shardId(1), 0);
    // Two producers: one routed by the server (its puts are stored in the order sent, so each
    // key's records must read back in put order), one routing on the client by a map the
    // reshard makes stale (a refused routed put is sent again later: exactly once, any order).
    const producers = [
      {
        producer: new Producer(),
        client: await connect({ routing: 'server' }),
        keys: keysIn(0n, HASH_KEY_MAX, 32, 'srv'),
      },
      {
        producer: new Producer(),
        client: await connect({ routing: 'client' }),
        keys: keysIn(0n, HASH_KEY_MAX, 32, 'cli'),
      },
    ];
    let phase: 'before' | 'during' | 'after' | 'stop' = 'before';
    const sentAfter = new Set<PutRecordsOutput>();
    let unsettled = 0;
    const putting = producers.map(async ({ producer, client, keys }) => {
      const inFlight: Array<Promise<void>> = [];
      let puts = 0;
      let putsAfter = 0;
      while (phase !== 'stop' && putsAfter < PUTS_AFTER_RESHARD) {
        const records = producer.records(keys, 40);
        const after = phase === 'after';
        unsettled++;
        inFlight.push(
          client.putRecords('scaling', records).then((output) => {
            unsettled--;
            producer.settle(records, output);
            if (after) sentAfter.add(output);
          }),
        );
        puts++;
        if (after) putsAfter++;
        if (inFlight.length >= PUTS_IN_FLIGHT) await inFlight.shift();
      }
      await Promise.all(inFlight);
      return puts;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    phase = 'during';
    expect(unsettled).toBeGreaterThan(0);
    const scaled = await ws.engine.updateShardCount({
      StreamName: 'scaling',
      TargetShardCount: 4,
      ScalingType: 'UNIFORM_SCALING',
    });
    expect(scaled).toMatchObject({ CurrentShardCount: 2, TargetShardCount: 4 });
    phase = 'after';
    const puts = await Promise.all(putting);
    phase = 'stop';
    // Each producer put before, during and after the reshard.
    expect(Math.min(...puts)).toBeGreaterThan(PUTS_AFTER_RESHARD + PUTS_IN_FLIGHT);

    const acked = producers.reduce((sum, { producer }) => sum + producer.acked.size, 0);
    await reader.waitFor(acked);
    // Nothing beyond: a record read twice would show here.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(reader.total).toBe(acked);
    await reader.stop();

    expect([...reader.ended].sort()).toEqual([shardId(0), shardId(1)]);
    const open = (await producers[0]!.client.listShards('scaling')).filter(
      (shard) => !shard.closed,
    );
    expect(open.map((shard) => shard.shardId).sort()).toEqual(
      [...reader.shards.keys()].filter((id) => !reader.ended.has(id)).sort(),
    );
    expect(open).toHaveLength(4);
    // Puts sent after the reshard completed land in the children only.
    for (const output of sentAfter) {
      for (const entry of output.Records)
        expect(open.map((shard) => shard.shardId)).toContain(
          (entry as { ShardId: string }).ShardId,
        );
    }
    const byDepth = reader.byDepth();
    expect(byDepth.map(([shard, records]) => [shard, records.length > 0]).sort()).toEqual(
      [0, 1, 2, 3, 4, 5].map((index) => [shardId(index), true]),
    );
    for (const [index, { producer }] of producers.entries()) {
      const mine = byDepth.map(
        ([shard, records]) =>
          [shard, records.filter((record) => producer.next.has(record.PartitionKey!))] as const,
      );
      checkExactlyOnceInOrder(producer, mine, index === 0);
    }
  });
});

/** Client frames as a recording WebSocket saw them leave. */
interface SentFrame {
  opcode: number;
  routed: boolean;
  records: number;
}

function recordingWebSocket(sent: SentFrame[]): WebSocketConstructor {
  const note = (bytes: Uint8Array) => {
    const frame = decodeClientFrame(bytes);
    const records =
      frame.opcode === Opcode.PUT
        ? new DataView(frame.batch.buffer, frame.batch.byteOffset).getUint32(12, true)
        : 0;
    sent.push({
      opcode: frame.opcode,
      routed: frame.opcode === Opcode.PUT && frame.routed,
      records,
    });
  };
  class RecordingWebSocket extends NodeWebSocket {
    constructor(url: string) {
      super(url, undefined, { messageBytesMax: WS_FRAME_BYTES_MAX });
    }

    override send(data: ArrayBuffer | ArrayBufferView | string): void {
      if (typeof data !== 'string')
        note(
          new Uint8Array(
            data instanceof ArrayBuffer ? data : data.buffer,
            data instanceof ArrayBuffer ? 0 : data.byteOffset,
            data.byteLength,
          ),
        );
      super.send(data);
    }

    override sendParts(parts: readonly Uint8Array[]): void {
      note(Buffer.concat(parts));
      super.sendParts(parts);
    }
  }
  return RecordingWebSocket as unknown as WebSocketConstructor;
}

describe('client-side routing across a split', () => {
  it('a stale map still stores every record once where its hash key belongs, then routes by a fresh map', async () => {
    await ws.engine.createStream({ StreamName: 'routing', ShardCount: 2 });
    const sent: SentFrame[] = [];
    const client = await connect({ routing: 'client', WebSocket: recordingWebSocket(sent) });
    const producer = new Producer();
    const owner = (key: string, bounds: ReadonlyArray<readonly [string, bigint, bigint]>) => {
      const hash = hashPartitionKey(key);
      return bounds.find(([, start, end]) => start <= hash && hash <= end)![0];
    };
    const frames = async (put: () => Promise<PutRecordsOutput>) => {
      const from = sent.length;
      const output = await put();
      return {
        output,
        frames: sent
          .slice(from)
          .filter((frame) => frame.opcode === Opcode.PUT || frame.opcode === Opcode.LIST_SHARDS),
      };
    };
    const shardsOf = (output: PutRecordsOutput) =>
      output.Records.map((entry) => (entry as { ShardId: string }).ShardId);
    const list = { opcode: Opcode.LIST_SHARDS, routed: false, records: 0 };
    const routedPut = (records: number) => ({ opcode: Opcode.PUT, routed: true, records });

    const first = await frames(() =>
      producer.put(
        client,
        'routing',
        [...keysIn(0n, HALF - 1n, 4, 'r0'), ...keysIn(HALF, HASH_KEY_MAX, 4, 'r1')],
        40,
      ),
    );
    expect(first.frames).toEqual([list, routedPut(20), routedPut(20)]);

    // Shard 1 splits: its upper half becomes shard 3. A batch of shard 3's keys, routed to the
    // closed shard 1 by the cached map, is stored in shard 3 as it came; the ack names shard 3.
    await ws.engine.splitShard({
      StreamName: 'routing',
      ShardToSplit: shardId(1),
      NewStartingHashKey: (HALF + QUARTER).toString(),
    });
    const upperKeys = keysIn(HALF + QUARTER, HASH_KEY_MAX, 5, 'r3');
    const intoChild = await frames(() => producer.put(client, 'routing', upperKeys, 20));
    expect(intoChild.frames).toEqual([routedPut(20)]);
    expect(shardsOf(intoChild.output)).toEqual(Array(20).fill(shardId(3)));

    // That ack made the map stale: the next put fetches it and routes one batch per open shard.
    const threeShards = [
      [shardId(0), 0n, HALF - 1n],
      [shardId(2), HALF, HALF + QUARTER - 1n],
      [shardId(3), HALF + QUARTER, HASH_KEY_MAX],
    ] as const;
    const allKeys = [
      ...keysIn(0n, HALF - 1n, 4, 'a0'),
      ...keysIn(HALF, HALF + QUARTER - 1n, 4, 'a2'),
      ...keysIn(HALF + QUARTER, HASH_KEY_MAX, 4, 'a3'),
    ];
    const refreshed = await frames(() => producer.put(client, 'routing', allKeys, 36));
    expect(refreshed.frames).toEqual([list, routedPut(12), routedPut(12), routedPut(12)]);
    expect(shardsOf(refreshed.output)).toEqual(
      Array.from({ length: 36 }, (_, i) => owner(allKeys[i % 12]!, threeShards)),
    );

    // Shard 0 splits in two: a batch routed to it by the cached map now spans its children. The
    // server refuses it whole; the client sends it again unrouted and fetches the map next time.
    await ws.engine.splitShard({
      StreamName: 'routing',
      ShardToSplit: shardId(0),
      NewStartingHashKey: QUARTER.toString(),
    });
    const lowerKeys = [
      ...keysIn(0n, QUARTER - 1n, 3, 'l4'),
      ...keysIn(QUARTER, HALF - 1n, 3, 'l5'),
    ];
    const spanning = await frames(() => producer.put(client, 'routing', lowerKeys, 30));
    expect(spanning.frames).toEqual([
      routedPut(30),
      { opcode: Opcode.PUT, routed: false, records: 30 },
    ]);
    const fourShards = [
      [shardId(4), 0n, QUARTER - 1n],
      [shardId(5), QUARTER, HALF - 1n],
      threeShards[1],
      threeShards[2],
    ] as const;
    expect(shardsOf(spanning.output)).toEqual(
      Array.from({ length: 30 }, (_, i) => owner(lowerKeys[i % 6]!, fourShards)),
    );
    expect(new Set(shardsOf(spanning.output))).toEqual(new Set([shardId(4), shardId(5)]));

    const last = await frames(() =>
      producer.put(client, 'routing', [...lowerKeys, ...allKeys.slice(4)], 42),
    );
    expect(last.frames).toEqual([list, routedPut(9), routedPut(9), routedPut(12), routedPut(12)]);

    // Every acknowledged record is stored once, in the shard its ack named, byte for byte.
    const stored: Array<readonly [string, SubscribedRecord[]]> = [];
    for (let index = 0; index <= 5; index++) {
      const records = await readWholeShard('routing', shardId(index));
      stored.push([
        shardId(index),
        records.map((record) => ({
          ...record,
          ApproximateArrivalTimestamp: record.ApproximateArrivalTimestamp!,
        })),
      ]);
    }
    checkExactlyOnceInOrder(producer, stored);
  });
});
