/**
 * Goal: the binary WebSocket protocol works end to end — the real client (`runnel/client`, on
 * its built-in Node WebSocket, since Node 20 has no global one) against the real server
 * (ws-protocol-handler.ts on native uWS over a real Engine with two shard workers), on
 * 127.0.0.1:
 *  - puts return the sequence numbers and shards GetRecords and Kinesis hashing agree on, with
 *    client-side and server-side routing;
 *  - 1,000,000 records of 100 B put by 4 clients in batches of 1000 come back through
 *    TRIM_HORIZON subscriptions complete, in order per shard and producer, byte for byte;
 *  - LATEST starts after the subscribe; AT/AFTER_SEQUENCE_NUMBER and AT_TIMESTAMP start where
 *    GetShardIterator would;
 *  - 50 subscribers of one shard each receive everything;
 *  - a subscriber that grants no credit gets nothing and costs no memory while 200 MB flow to
 *    others; the server never sends beyond the credit granted, and a batch larger than the
 *    credit arrives cut and reassembled;
 *  - errors come back named as Kinesis names them, per request, and limits are enforced;
 *  - the client runs on any WebSocket given to it (here an in-memory fake without sendParts)
 *    and reports throttled records per record, as PutRecords does;
 *  - the route mounts on startServer's uWS front end through its configureUws hook.
 */
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';

import { describe, expect, it } from 'vitest';

import {
  RunnelClient,
  type RecordInput,
  type RunnelSubscription,
  type SubscribedRecord,
} from '../../src/client/index.js';
import { evenHashRanges, hashPartitionKey } from '../../src/kinesis/hash-key.js';
import { encodeRecordBatch } from '../../src/protocol/batch-writer.js';
import {
  Opcode,
  type ServerFrame,
  decodeClientFrame,
  encodeCredit,
  encodeError,
  encodePut,
  encodePutAck,
  encodeShardMap,
  encodeSubscribe,
  encodeUnsubscribe,
  encodeWelcome,
} from '../../src/protocol/frames.js';
import { seededRandom } from '../../src/harness/workload.js';
import { RECORD_BATCH_BYTES_MAX, WS_PUTS_IN_FLIGHT_MAX } from '../../src/limits.js';
import { startServer } from '../../src/server/server.js';
import { readShard } from '../helpers/read-all.js';
import { RawConnection } from '../helpers/raw-connection.js';
import { listenProtocol, serveEngineForFile } from '../helpers/ws-server.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** 100 bytes of data derived from (client, index), so nothing needs to be kept to check it. */
function dataOf(client: number, index: number, bytes = 100): Uint8Array {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (index * 131 + client * 17 + i * 7) & 0xff;
  return data;
}

function matchesData(
  bytes: Uint8Array,
  start: number,
  end: number,
  client: number,
  index: number,
): boolean {
  if (end - start !== 100) return false;
  for (let i = 0; i < 100; i++)
    if (bytes[start + i] !== ((index * 131 + client * 17 + i * 7) & 0xff)) return false;
  return true;
}

async function take(subscription: RunnelSubscription, count: number): Promise<SubscribedRecord[]> {
  const records: SubscribedRecord[] = [];
  while (records.length < count) {
    const next = await subscription.next();
    if (next.done) break;
    records.push(next.value);
  }
  return records;
}

/** Resolves with the next record, or undefined if none comes within `ms`. */
async function nextWithin(
  subscription: RunnelSubscription,
  ms: number,
): Promise<SubscribedRecord | undefined> {
  const timeout = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms));
  const next = subscription.next().then((result) => (result.done ? undefined : result.value));
  return Promise.race([next, timeout]);
}

function anonymousRssBytes(): number {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kib = /RssAnon:\s+(\d+) kB/.exec(status);
  return kib ? Number(kib[1]) * 1024 : process.memoryUsage().rss;
}

const ws = serveEngineForFile({ workers: 2 });
const { connect } = ws;

describe('WebSocket protocol: puts', () => {
  it('runs on the built-in Node WebSocket when there is no global one', async () => {
    expect((globalThis as { WebSocket?: unknown }).WebSocket).toBeUndefined();
    const client = await connect();
    expect(client.welcome.version).toBe(1);
    expect(await client.ping()).toBeLessThan(1000);
  });

  it('acknowledges with the sequence numbers and shards GetRecords and Kinesis hashing give', async () => {
    await ws.engine.createStream({ StreamName: 'acks', ShardCount: 4 });
    const ranges = evenHashRanges(4);
    const acknowledged = new Map<string, string>();
    for (const routing of ['client', 'server'] as const) {
      const client = await connect({ routing });
      const records: RecordInput[] = Array.from({ length: 300 }, (_, i) => ({
        PartitionKey: `${routing}-${i}`,
        Data: dataOf(0, i),
      }));
      records.push({
        PartitionKey: 'explicit',
        Data: dataOf(0, 1),
        ExplicitHashKey: ranges[3]!.start.toString(),
      });
      const output = await client.putRecords('acks', records);
      expect(output.FailedRecordCount).toBe(0);
      output.Records.forEach((entry, i) => {
        const record = records[i]!;
        const hash = record.ExplicitHashKey
          ? BigInt(record.ExplicitHashKey)
          : hashPartitionKey(record.PartitionKey!);
        const shard = ranges.findIndex((range) => range.start <= hash && hash <= range.end);
        expect('ShardId' in entry && entry.ShardId).toBe(`shardId-00000000000${shard}`);
        acknowledged.set(
          (entry as { SequenceNumber: string }).SequenceNumber,
          record.PartitionKey!,
        );
      });
    }
    const bySequence = new Map<string, string>();
    for (let shard = 0; shard < 4; shard++) {
      const { ShardIterator } = await ws.engine.getShardIterator({
        StreamName: 'acks',
        ShardId: `shardId-00000000000${shard}`,
        ShardIteratorType: 'TRIM_HORIZON',
      });
      const { Records } = await ws.engine.getRecords({ ShardIterator });
      for (const record of Records) bySequence.set(record.SequenceNumber, record.PartitionKey!);
    }
    expect(bySequence.size).toBe(602);
    expect(acknowledged).toEqual(bySequence);
    const client = await connect();
    const again = await client.putRecords('acks', [
      { PartitionKey: 'late', Data: new Uint8Array([1]) },
    ]);
    const { ShardIterator } = await ws.engine.getShardIterator({
      StreamName: 'acks',
      ShardId: (again.Records[0] as { ShardId: string }).ShardId,
      ShardIteratorType: 'AT_SEQUENCE_NUMBER',
      StartingSequenceNumber: (again.Records[0] as { SequenceNumber: string }).SequenceNumber,
    });
    expect((await ws.engine.getRecords({ ShardIterator })).Records[0]!.PartitionKey).toBe('late');
  });

  it('reports request errors by their Kinesis names and keeps the connection', async () => {
    const client = await connect();
    await expect(
      client.putRecords('no-such-stream', [{ PartitionKey: 'k', Data: new Uint8Array(1) }]),
    ).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
    await expect(client.putRecords('acks', [])).rejects.toMatchObject({
      name: 'ValidationException',
    });
    await expect(client.listShards('no-such-stream')).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
    await expect(
      client.subscribe('acks', 'shardId-000000000099', { type: 'LATEST' }),
    ).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
    await expect(
      client.subscribe('acks', 'shardId-000000000000', {
        type: 'AT_SEQUENCE_NUMBER',
        sequenceNumber: '12345',
      }),
    ).rejects.toMatchObject({ name: 'InvalidArgumentException' });
    expect(await client.listStreams()).toContain('acks');
    // A batch the engine refuses (a partition key over 256 characters) fails only that put.
    const raw = await RawConnection.open(ws.server.url);
    /** The next frame: a non-fatal ERROR answering `requestId`. */
    const refused = async (requestId: number, name: string, message?: unknown) =>
      expect(await raw.next()).toMatchObject({
        opcode: Opcode.ERROR,
        requestId,
        fatal: false,
        name,
        ...(message === undefined ? {} : { message }),
      });
    raw.send(
      encodePut(
        5,
        'acks',
        encodeRecordBatch([{ PartitionKey: 'k'.repeat(300), Data: new Uint8Array(1) }]),
      ),
    );
    await refused(5, 'ValidationException');
    raw.send(
      encodePut(6, 'acks', encodeRecordBatch([{ PartitionKey: 'k', Data: new Uint8Array(1) }])),
    );
    expect(await raw.next()).toMatchObject({ opcode: Opcode.PUT_ACK, requestId: 6 });
    // A batch header whose attributes or reserved bytes are not 0 (docs/protocol.md §4) is refused.
    for (const [offset, requestId] of [
      [5, 7],
      [6, 8],
    ] as const) {
      const flagged = encodeRecordBatch([{ PartitionKey: 'k', Data: new Uint8Array(1) }]);
      flagged[offset] = 1;
      raw.send(encodePut(requestId, 'acks', flagged));
      await refused(requestId, 'ValidationException');
    }
    // The server's own check of an explicit hash key that is not a decimal, unrouted and routed
    // (the shard worker's check then): PutRecords's ValidationException, word for word.
    for (const [routed, requestId] of [
      [false, 9],
      [true, 10],
    ] as const) {
      const batch = encodeRecordBatch([
        { PartitionKey: 'k', Data: new Uint8Array(1), ExplicitHashKey: '007' },
      ]);
      raw.send(encodePut(requestId, 'acks', batch, routed));
      await refused(
        requestId,
        'ValidationException',
        expect.stringContaining("Value '007' at 'records.1.member.explicitHashKey'"),
      );
    }
    // A record over the stream's 1 MiB by its key alone is PutRecords's InvalidArgumentException;
    // by its data alone, the model's ValidationException on the record's data. Unrouted and
    // routed (the shard worker's check then).
    const MIB = 1024 * 1024;
    for (const [routed, requestId] of [
      [false, 11],
      [true, 12],
    ] as const) {
      const keyTips = encodeRecordBatch([{ PartitionKey: 'kk', Data: new Uint8Array(MIB - 1) }]);
      raw.send(encodePut(requestId, 'acks', keyTips, routed));
      await refused(
        requestId,
        'InvalidArgumentException',
        'Record size 1048577 bytes (data plus partition key) exceeds the maximum record size ' +
          'of 1048576 bytes for stream acks.',
      );
      const dataAlone = encodeRecordBatch([{ PartitionKey: 'k', Data: new Uint8Array(MIB + 1) }]);
      raw.send(encodePut(requestId + 10, 'acks', dataAlone, routed));
      await refused(
        requestId + 10,
        'ValidationException',
        expect.stringContaining(
          "at 'records.1.member.data' failed to satisfy constraint: Member must have length " +
            'less than or equal to 1048576',
        ),
      );
    }
    // A batch larger than WELCOME's max record batch bytes, in a frame the server still takes.
    raw.send(encodePut(30, 'acks', new Uint8Array(RECORD_BATCH_BYTES_MAX + 1)));
    await refused(
      30,
      'ValidationException',
      `The record batch of ${RECORD_BATCH_BYTES_MAX + 1} bytes is larger than the ` +
        `${RECORD_BATCH_BYTES_MAX} bytes a PUT may carry.`,
    );
    raw.close();
    // An empty explicit hash key is refused as PutRecords refuses it, not sent as none.
    await expect(
      client.putRecords('acks', [
        { PartitionKey: 'k', Data: new Uint8Array(1), ExplicitHashKey: '' },
      ]),
    ).rejects.toMatchObject({
      name: 'ValidationException',
      message: expect.stringContaining("Value '' at 'records.1.member.explicitHashKey'"),
    });
    // An explicit hash key that is not a decimal is PutRecords's ValidationException, word for word.
    await expect(
      client.putRecords('acks', [
        { PartitionKey: 'k', Data: new Uint8Array(1), ExplicitHashKey: '007' },
      ]),
    ).rejects.toMatchObject({
      name: 'ValidationException',
      message:
        "1 validation error detected: Value '007' at 'records.1.member.explicitHashKey' failed to satisfy " +
        'constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})',
    });
  });

  it('refuses puts beyond the in-flight limit with LimitExceededException', async () => {
    const limited = await listenProtocol(ws.engine, { putsInFlightMax: 2 });
    try {
      const raw = await RawConnection.open(limited.url);
      const batch = encodeRecordBatch([{ PartitionKey: 'k', Data: new Uint8Array(10) }]);
      for (let id = 1; id <= 40; id++) raw.send(encodePut(id, 'acks', batch));
      const answers: ServerFrame[] = [];
      for (let i = 0; i < 40; i++) answers.push(await raw.next());
      const refused = answers.filter((frame) => frame.opcode === Opcode.ERROR);
      expect(refused.length).toBeGreaterThan(0);
      for (const frame of refused)
        expect(frame).toMatchObject({ name: 'LimitExceededException', fatal: false });
      expect(answers.filter((frame) => frame.opcode === Opcode.PUT_ACK).length).toBe(
        40 - refused.length,
      );
      // The client library keeps within the limit by itself.
      const client = await RunnelClient.connect(limited.url);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          client.putRecords('acks', [{ PartitionKey: `q${i}`, Data: new Uint8Array(5) }]),
        ),
      );
      expect(results.every((output) => output.FailedRecordCount === 0)).toBe(true);
      await client.close();
      raw.close();
    } finally {
      limited.close();
    }
    // The bytes in flight are bounded too: puts of 64 KiB against 3 puts' worth of bytes, with
    // no bound on their count, sent at once.
    const batch = encodeRecordBatch([{ PartitionKey: 'k', Data: new Uint8Array(64 * 1024) }]);
    const putBytes = encodePut(0, 'acks', batch).byteLength;
    const byBytes = await listenProtocol(ws.engine, { putBytesInFlightMax: 3 * putBytes });
    try {
      const raw = await RawConnection.open(byBytes.url);
      for (let id = 1; id <= 40; id++) raw.send(encodePut(id, 'acks', batch));
      const answers: ServerFrame[] = [];
      for (let i = 0; i < 40; i++) answers.push(await raw.next());
      const refused = answers.filter((frame) => frame.opcode === Opcode.ERROR);
      expect(refused.length).toBeGreaterThan(0);
      for (const frame of refused) {
        expect(frame).toMatchObject({
          name: 'LimitExceededException',
          fatal: false,
          message: expect.stringContaining(
            `the limits are ${WS_PUTS_IN_FLIGHT_MAX} puts and ${3 * putBytes} bytes`,
          ),
        });
      }
      expect(answers.filter((frame) => frame.opcode === Opcode.PUT_ACK).length).toBe(
        40 - refused.length,
      );
      raw.close();
    } finally {
      byBytes.close();
    }
  });
});

/**
 * The part of a browser's WebSocket the client uses, in memory; a subclass is the server. Like a
 * browser's it has no sendParts, delivers each message as an ArrayBuffer of its own on a later
 * turn, and throws on a close code other than 1000 and 3000–4999 (the WHATWG rule).
 */
abstract class InMemoryWebSocket {
  binaryType = 'arraybuffer';
  readyState = 1;
  bufferedAmount = 0;
  onopen: ((event: never) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: never) => void) | null = null;

  abstract send(data: Uint8Array): void;

  protected reply(frame: Uint8Array): void {
    queueMicrotask(() => this.onmessage?.({ data: frame.slice().buffer }));
  }

  close(code = 1000, reason = ''): void {
    if (code !== 1000 && (code < 3000 || code > 4999)) {
      throw new DOMException(
        `The close code must be either 1000, or between 3000 and 4999. ${code} is neither.`,
        'InvalidAccessError',
      );
    }
    this.readyState = 3;
    queueMicrotask(() => this.onclose?.({ code, reason }));
  }
}

/** A server in memory: WELCOME, a 2-shard map, and PUTs to the second shard throttled. */
class FakeWebSocket extends InMemoryWebSocket {
  static url = '';
  private sequence = 1000n;

  constructor(url: string) {
    super();
    FakeWebSocket.url = url;
    setTimeout(() =>
      this.reply(
        encodeWelcome({
          version: 1,
          frameBytesMax: 1 << 20,
          putsInFlightMax: 4,
          putBytesInFlightMax: 1 << 20,
          subscriptionsMax: 1,
          idleTimeoutMs: 60_000,
          batchBytesMax: 1 << 19,
          software: 'fake',
        }),
      ),
    );
  }

  send(data: Uint8Array): void {
    const frame = decodeClientFrame(data);
    const half = (1n << 127n).toString();
    if (frame.opcode === Opcode.LIST_SHARDS) {
      this.reply(
        encodeShardMap(frame.requestId, [
          {
            shardId: 'shard-a',
            parentShardId: undefined,
            adjacentParentShardId: undefined,
            closed: false,
            startingHashKey: '0',
            endingHashKey: (BigInt(half) - 1n).toString(),
            sequenceBase: '1',
          },
          {
            shardId: 'shard-b',
            parentShardId: undefined,
            adjacentParentShardId: undefined,
            closed: false,
            startingHashKey: half,
            endingHashKey: ((1n << 128n) - 1n).toString(),
            sequenceBase: '1',
          },
        ]),
      );
    } else if (frame.opcode === Opcode.PUT) {
      const recordCount = new DataView(frame.batch.buffer, frame.batch.byteOffset).getUint32(
        12,
        true,
      );
      // The client routed the batch: its first key tells the shard (keys are short: 1-byte length).
      const firstKey = Buffer.from(frame.batch.subarray(41, 41 + frame.batch[40]!)).toString();
      this.reply(
        hashPartitionKey(firstKey) < BigInt(half)
          ? encodePutAck(frame.requestId, {
              recordCount,
              failedRecordCount: 0,
              entryOfRecord: undefined,
              entries: [
                {
                  ok: true,
                  recordCount,
                  shardId: 'shard-a',
                  firstSequenceNumber: String(this.sequence),
                },
              ],
            })
          : encodeError(
              frame.requestId,
              false,
              'ProvisionedThroughputExceededException',
              'slow down',
            ),
      );
    }
  }
}

describe('WebSocket client on any WebSocket', () => {
  it('runs on an injected WebSocket and reports throttled records per record', async () => {
    const client = await RunnelClient.connect('ws://fake.invalid:1', {
      WebSocket: FakeWebSocket,
      keepAliveIntervalMs: 0,
    });
    expect(FakeWebSocket.url).toBe('ws://fake.invalid:1/v1');
    const records = Array.from({ length: 12 }, (_, i) => ({
      PartitionKey: `k${i}`,
      Data: new Uint8Array([i]),
    }));
    const inA = records.map((record) => hashPartitionKey(record.PartitionKey) < 1n << 127n);
    expect(inA.includes(true) && inA.includes(false)).toBe(true);
    const output = await client.putRecords('s', records);
    expect(output.FailedRecordCount).toBe(inA.filter((a) => !a).length);
    let k = 0;
    output.Records.forEach((entry, i) => {
      if (inA[i]) {
        expect(entry).toEqual({
          SequenceNumber: String(1000n + BigInt(k++) * 2n ** 80n),
          ShardId: 'shard-a',
        });
      } else {
        expect(entry).toEqual({
          ErrorCode: 'ProvisionedThroughputExceededException',
          ErrorMessage: 'slow down',
        });
      }
    });
    await client.close();
  });
});

/**
 * A server in memory that sends `first` on open, answers a LIST_STREAMS with `answer`, and
 * records the close codes the client used.
 */
class ScriptedWebSocket extends InMemoryWebSocket {
  static first: Uint8Array;
  static answer: Uint8Array;
  static closeCodes: number[] = [];

  constructor(_url: string) {
    super();
    setTimeout(() => this.reply(ScriptedWebSocket.first));
  }

  send(data: Uint8Array): void {
    if (decodeClientFrame(data).opcode === Opcode.LIST_STREAMS)
      this.reply(ScriptedWebSocket.answer);
  }

  override close(code = 1000, reason = ''): void {
    super.close(code, reason);
    ScriptedWebSocket.closeCodes.push(code);
  }
}

describe('WebSocket client against a server that breaks the protocol', () => {
  const welcome = (version: number) =>
    encodeWelcome({
      version,
      frameBytesMax: 1 << 20,
      putsInFlightMax: 4,
      putBytesInFlightMax: 1 << 20,
      subscriptionsMax: 1,
      idleTimeoutMs: 60_000,
      batchBytesMax: 1 << 19,
      software: 'scripted',
    });
  const options = { WebSocket: ScriptedWebSocket, keepAliveIntervalMs: 0 };

  it('refuses a first frame other than WELCOME, closing with a code a browser may send (4002)', async () => {
    ScriptedWebSocket.first = encodePutAck(7, {
      recordCount: 1,
      failedRecordCount: 0,
      entryOfRecord: undefined,
      entries: [{ ok: true, recordCount: 1, shardId: 's', firstSequenceNumber: '1' }],
    });
    ScriptedWebSocket.closeCodes = [];
    await expect(RunnelClient.connect('ws://scripted.invalid:1', options)).rejects.toMatchObject({
      name: 'SerializationException',
      message: expect.stringMatching(/WELCOME/),
    });
    expect(ScriptedWebSocket.closeCodes).toEqual([4002]);
  });

  it('refuses a WELCOME of another version the same way', async () => {
    ScriptedWebSocket.first = welcome(2);
    ScriptedWebSocket.closeCodes = [];
    await expect(RunnelClient.connect('ws://scripted.invalid:1', options)).rejects.toMatchObject({
      name: 'SerializationException',
    });
    expect(ScriptedWebSocket.closeCodes).toEqual([4002]);
  });

  it('fails what is pending on an unreadable frame after WELCOME, and closes with 4002', async () => {
    ScriptedWebSocket.first = welcome(1);
    ScriptedWebSocket.answer = new Uint8Array([1, 2, 3]);
    ScriptedWebSocket.closeCodes = [];
    const client = await RunnelClient.connect('ws://scripted.invalid:1', options);
    await expect(client.listStreams()).rejects.toMatchObject({ name: 'SerializationException' });
    expect(ScriptedWebSocket.closeCodes).toEqual([4002]);
  });
});

describe('WebSocket protocol on the server front end', () => {
  it('is mounted by startServer on its uWS front end, beside /health and the Kinesis API', async () => {
    const running = await startServer({ port: 0, wsPort: 0, engine: ws.engine });
    try {
      expect((await fetch(`${running.wsUrl!}/health`)).status).toBe(200);
      const client = await RunnelClient.connect(running.wsUrl!);
      await ws.engine.createStream({ StreamName: 'mounted', ShardCount: 2 });
      const output = await client.putRecords('mounted', [
        { PartitionKey: 'm', Data: new Uint8Array([1]) },
      ]);
      expect(output.FailedRecordCount).toBe(0);
      const { ShardId } = output.Records[0] as { ShardId: string };
      const subscription = await client.subscribe('mounted', ShardId, { type: 'TRIM_HORIZON' });
      expect((await take(subscription, 1))[0]!.PartitionKey).toBe('m');
      await client.close();
    } finally {
      await running.close();
    }
  });
});

describe('WebSocket protocol: large frames', () => {
  it('stores large pipelined puts byte-identical: a frame buffer is reused only once written', async () => {
    await ws.engine.createStream({ StreamName: 'large-frames', ShardCount: 1 });
    const client = await connect();
    const random = seededRandom(7);
    const puts = 40;
    const perPut = 6;
    // Sizes vary, so reused buffers are larger than some frames built in them.
    const records = Array.from({ length: puts }, () =>
      Array.from({ length: perPut }, (_, k) => ({
        PartitionKey: `p${k}`,
        Data: Uint8Array.from({ length: 32 * 1024 + Math.floor(random() * 40 * 1024) }, () =>
          Math.floor(random() * 256),
        ),
      })),
    );
    const inFlight = new Set<Promise<void>>();
    for (const batch of records) {
      const put = client
        .putRecords('large-frames', batch)
        .then((result) => expect(result.FailedRecordCount).toBe(0));
      inFlight.add(put);
      void put.finally(() => inFlight.delete(put));
      if (inFlight.size >= 12) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    const stored = await readShard(ws.engine, 'large-frames', 'shardId-000000000000');
    expect(stored).toHaveLength(puts * perPut);
    const expected = records.flat();
    for (let i = 0; i < expected.length; i++) {
      expect(Buffer.from(stored[i]!.Data!).equals(Buffer.from(expected[i]!.Data))).toBe(true);
    }
  });
});

describe('WebSocket protocol: a million records', () => {
  it('reads back 1,000,000 records put by 4 clients, complete, in order and byte-identical', async () => {
    const shards = 4;
    const producers = 4;
    const perProducer = 250_000;
    const perPut = 1000;
    await ws.engine.createStream({ StreamName: 'million', ShardCount: shards });
    const sampled = new Map<string, string>();
    const started = performance.now();
    await Promise.all(
      Array.from({ length: producers }, async (_, producer) => {
        const client = await connect();
        const inFlight = new Set<Promise<void>>();
        for (let first = 0; first < perProducer; first += perPut) {
          const records = Array.from({ length: perPut }, (_, k) => ({
            PartitionKey: `c${producer}-${first + k}`,
            Data: dataOf(producer, first + k),
          }));
          const put = client.putRecordBatch('million', records).then((result) => {
            expect(result.FailedRecordCount).toBe(0);
            sampled.set(
              `c${producer}-${first}`,
              `${result.shardIdOf(0)} ${result.sequenceNumberOf(0)}`,
            );
          });
          inFlight.add(put);
          void put.finally(() => inFlight.delete(put));
          if (inFlight.size >= 8) await Promise.race(inFlight);
        }
        await Promise.all(inFlight);
      }),
    );
    const putSeconds = (performance.now() - started) / 1000;

    const reader = await connect();
    const seen = new Uint8Array(producers * perProducer);
    const lastIndex = new Float64Array(shards * producers).fill(-1);
    let total = 0;
    const readStarted = performance.now();
    await Promise.all(
      Array.from({ length: shards }, async (_, shard) => {
        const shardId = `shardId-00000000000${shard}`;
        // The stream is new, so the shard's watermark is how many records it holds.
        const { ordinal: count } = await ws.engine.shardPosition({
          StreamName: 'million',
          ShardId: shardId,
          ShardIteratorType: 'LATEST',
        });
        const subscription = await reader.subscribe('million', shardId, { type: 'TRIM_HORIZON' });
        let nextOrdinal = 0;
        for await (const batch of subscription.batches()) {
          const { bytes, fields } = batch;
          expect(fields.baseOrdinal).toBe(nextOrdinal);
          nextOrdinal += fields.recordCount;
          batch.forEachRecord((index, keyStart, keyEnd, dataStart, dataEnd) => {
            let key = '';
            for (let i = keyStart; i < keyEnd; i++) key += String.fromCharCode(bytes[i]!);
            const dash = key.indexOf('-');
            const producer = Number(key.slice(1, dash));
            const recordIndex = Number(key.slice(dash + 1));
            const slot = shard * producers + producer;
            if (recordIndex <= lastIndex[slot]!)
              throw new Error(`out of order in ${shardId}: ${key}`);
            lastIndex[slot] = recordIndex;
            if (!matchesData(bytes, dataStart, dataEnd, producer, recordIndex))
              throw new Error(`data differs: ${key}`);
            seen[producer * perProducer + recordIndex]!++;
            const expected = sampled.get(key);
            if (expected) expect(`${shardId} ${batch.sequenceNumberAt(index)}`).toBe(expected);
            total++;
          });
          if (nextOrdinal >= count) break;
        }
      }),
    );
    const readSeconds = (performance.now() - readStarted) / 1000;
    console.log(
      `1M records: put in ${putSeconds.toFixed(1)} s (${Math.round(1e6 / putSeconds)} records/s), ` +
        `read back in ${readSeconds.toFixed(1)} s (${Math.round(1e6 / readSeconds)} records/s)`,
    );
    expect(total).toBe(producers * perProducer);
    expect(seen.every((count) => count === 1)).toBe(true);
    expect(sampled.size).toBe(producers * (perProducer / perPut));
  }, 240_000);
});

describe('WebSocket protocol: subscriptions', () => {
  it('LATEST receives only records put after it started', async () => {
    await ws.engine.createStream({ StreamName: 'latest', ShardCount: 1 });
    const client = await connect();
    await client.putRecords(
      'latest',
      Array.from({ length: 10 }, (_, i) => ({ PartitionKey: `before-${i}`, Data: dataOf(1, i) })),
    );
    const subscription = await client.subscribe('latest', 'shardId-000000000000', {
      type: 'LATEST',
    });
    const pending = take(subscription, 10);
    const output = await client.putRecords(
      'latest',
      Array.from({ length: 10 }, (_, i) => ({ PartitionKey: `after-${i}`, Data: dataOf(2, i) })),
    );
    const records = await pending;
    expect(records.map((record) => record.PartitionKey)).toEqual(
      Array.from({ length: 10 }, (_, i) => `after-${i}`),
    );
    expect(records.map((record) => record.SequenceNumber)).toEqual(
      output.Records.map((entry) => (entry as { SequenceNumber: string }).SequenceNumber),
    );
    records.forEach((record, i) =>
      expect(Buffer.from(record.Data).equals(Buffer.from(dataOf(2, i)))).toBe(true),
    );
    expect(records[0]!.ApproximateArrivalTimestamp).toBeInstanceOf(Date);
    expect(await nextWithin(subscription, 200)).toBeUndefined();
    subscription.unsubscribe();
  });

  it('starts AT/AFTER_SEQUENCE_NUMBER and AT_TIMESTAMP where GetShardIterator would', async () => {
    await ws.engine.createStream({ StreamName: 'positions', ShardCount: 1 });
    const client = await connect();
    const first = await client.putRecords(
      'positions',
      Array.from({ length: 5 }, (_, i) => ({ PartitionKey: `a${i}`, Data: dataOf(3, i) })),
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    const middle = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await client.putRecords(
      'positions',
      Array.from({ length: 5 }, (_, i) => ({ PartitionKey: `b${i}`, Data: dataOf(3, i) })),
    );
    const third = (first.Records[2] as { SequenceNumber: string }).SequenceNumber;
    const shard = 'shardId-000000000000';
    const at = await client.subscribe('positions', shard, {
      type: 'AT_SEQUENCE_NUMBER',
      sequenceNumber: third,
    });
    expect((await take(at, 3)).map((record) => record.PartitionKey)).toEqual(['a2', 'a3', 'a4']);
    const after = await client.subscribe('positions', shard, {
      type: 'AFTER_SEQUENCE_NUMBER',
      sequenceNumber: third,
    });
    expect((await take(after, 2)).map((record) => record.PartitionKey)).toEqual(['a3', 'a4']);
    const byTime = await client.subscribe('positions', shard, {
      type: 'AT_TIMESTAMP',
      timestamp: new Date(middle),
    });
    expect((await take(byTime, 1))[0]!.PartitionKey).toBe('b0');
    const horizon = await client.subscribe('positions', shard, { type: 'TRIM_HORIZON' });
    const all = await take(horizon, 10);
    const { ShardIterator } = await ws.engine.getShardIterator({
      StreamName: 'positions',
      ShardId: shard,
      ShardIteratorType: 'TRIM_HORIZON',
    });
    const stored = (await ws.engine.getRecords({ ShardIterator })).Records;
    expect(all.map((record) => [record.SequenceNumber, record.PartitionKey])).toEqual(
      stored.map((record) => [record.SequenceNumber, record.PartitionKey]),
    );
    expect(all.map((record) => record.ApproximateArrivalTimestamp.getTime())).toEqual(
      stored.map((record) => record.ApproximateArrivalTimestamp!.getTime()),
    );
    for (const subscription of [at, after, byTime, horizon]) subscription.unsubscribe();
  });

  it('50 subscribers of one shard each receive everything', async () => {
    await ws.engine.createStream({ StreamName: 'fanout', ShardCount: 1 });
    const readers = await Promise.all(Array.from({ length: 5 }, () => connect()));
    const subscriptions = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        readers[i % 5]!.subscribe('fanout', 'shardId-000000000000', { type: 'TRIM_HORIZON' }),
      ),
    );
    const total = 20_000;
    const reading = subscriptions.map(async (subscription) => {
      let count = 0;
      for await (const batch of subscription.batches()) {
        batch.forEachRecord((_index, _keyStart, _keyEnd, dataStart, dataEnd) => {
          if (!matchesData(batch.bytes, dataStart, dataEnd, 4, count))
            throw new Error(`record ${count} differs`);
          count++;
        });
        if (count >= total) break;
      }
      return count;
    });
    const writer = await connect();
    for (let first = 0; first < total; first += 500) {
      await writer.putRecords(
        'fanout',
        Array.from({ length: 500 }, (_, k) => ({
          PartitionKey: `f${first + k}`,
          Data: dataOf(4, first + k),
        })),
      );
    }
    expect(await Promise.all(reading)).toEqual(Array.from({ length: 50 }, () => total));
  });

  it('a subscriber that grants no credit receives nothing and costs no memory while 200 MB flow to others', async () => {
    await ws.engine.createStream({ StreamName: 'memory', ShardCount: 1 });
    const shard = 'shardId-000000000000';
    const idle = await RawConnection.open(ws.server.url);
    idle.send(
      encodeSubscribe(77, {
        position: 'TRIM_HORIZON',
        initialCredit: 0,
        timestampMs: 0,
        streamName: 'memory',
        shardId: shard,
        sequenceNumber: '',
      }),
    );
    expect(await idle.next()).toMatchObject({ opcode: Opcode.SUBSCRIBED, requestId: 77 });
    const readers = await Promise.all([connect(), connect()]);
    const writer = await connect();
    const recordBytes = 64 * 1024;
    const perPut = 16;
    const puts = 200;
    // Puts that flow before the measurement, so allocator arenas of the threads this process
    // shares with the server reach their working size first: growth then means accumulation.
    const warmPuts = 50;
    const data = new Uint8Array(recordBytes).fill(0x5a);
    const putBatch = (i: number) =>
      writer.putRecordBatch(
        'memory',
        Array.from({ length: perPut }, (_, k) => ({ PartitionKey: `m${i}-${k}`, Data: data })),
      );
    const expected = (warmPuts + puts) * perPut;
    const progress = [0, 0];
    const reading = readers.map(async (reader, r) => {
      const subscription = await reader.subscribe('memory', shard, { type: 'TRIM_HORIZON' });
      let count = 0;
      let bytes = 0;
      for await (const batch of subscription.batches()) {
        count += batch.deliveredCount;
        progress[r] = count;
        if (count > warmPuts * perPut) bytes += batch.bytes.length;
        if (count >= expected) break;
      }
      return bytes;
    });
    for (let i = 0; i < warmPuts; i++) expect((await putBatch(i)).FailedRecordCount).toBe(0);
    while (progress.some((count) => count < warmPuts * perPut)) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    gc();
    const before = { anon: anonymousRssBytes(), ...process.memoryUsage() };
    for (let i = warmPuts; i < warmPuts + puts; i++) await putBatch(i);
    const delivered = await Promise.all(reading);
    gc();
    const after = { anon: anonymousRssBytes(), ...process.memoryUsage() };
    const growth = {
      anon: after.anon - before.anon,
      arrayBuffers: after.arrayBuffers - before.arrayBuffers,
      heapUsed: after.heapUsed - before.heapUsed,
    };
    console.log(
      `no-credit subscriber: ${(delivered[0]! / 1e6).toFixed(0)} MB delivered to each of 2 readers; growth ` +
        `RssAnon ${(growth.anon / 1e6).toFixed(1)} MB, arrayBuffers ${(growth.arrayBuffers / 1e6).toFixed(1)} MB, ` +
        `heapUsed ${(growth.heapUsed / 1e6).toFixed(1)} MB`,
    );
    for (const bytes of delivered) expect(bytes).toBeGreaterThan(200 * 1e6);
    const stats = ws.server.protocol.stats();
    const idleStats = stats.subscriptionBytesSent.find((entry) => entry.subscription === 77)!;
    expect(idleStats).toMatchObject({ bytes: 0, credit: 0 });
    expect(await idle.maybeNext(100)).toBeUndefined();
    expect(growth.anon).toBeLessThan(64 * 1024 * 1024);
    expect(growth.arrayBuffers).toBeLessThan(64 * 1024 * 1024);
    // Granting credit later delivers exactly what was granted.
    idle.send(encodeCredit(77, 1000));
    const frame = await idle.next();
    expect(frame).toMatchObject({ opcode: Opcode.RECORDS, requestId: 77 });
    expect((frame as ServerFrame & { opcode: typeof Opcode.RECORDS }).data.length).toBe(1000);
    expect(await idle.maybeNext(200)).toBeUndefined();
    idle.close();
  }, 120_000);

  it('never sends beyond the credit, and cuts a batch larger than the credit', async () => {
    await ws.engine.createStream({ StreamName: 'credit', ShardCount: 1 });
    const client = await connect();
    const records = Array.from({ length: 5 }, (_, i) => ({
      PartitionKey: `c${i}`,
      Data: dataOf(5, i, 1000),
    }));
    await client.putRecords('credit', records);
    const raw = await RawConnection.open(ws.server.url);
    raw.send(
      encodeSubscribe(3, {
        position: 'TRIM_HORIZON',
        initialCredit: 100,
        timestampMs: 0,
        streamName: 'credit',
        shardId: 'shardId-000000000000',
        sequenceNumber: '',
      }),
    );
    expect(await raw.next()).toMatchObject({ opcode: Opcode.SUBSCRIBED });
    const first = (await raw.next()) as ServerFrame & { opcode: typeof Opcode.RECORDS };
    expect(first.data.length).toBe(100);
    expect(await raw.maybeNext(200)).toBeUndefined();
    let received = first.data.length;
    raw.send(encodeCredit(3, 10_000));
    while (received < 100 + 10_000) {
      const frame = await raw.maybeNext(300);
      if (!frame) break;
      expect(frame.opcode).toBe(Opcode.RECORDS);
      received += (frame as ServerFrame & { opcode: typeof Opcode.RECORDS }).data.length;
    }
    // The one batch of the put is 5,000-odd bytes: all of it, and not one byte more.
    expect(received).toBeLessThanOrEqual(100 + 10_000);
    raw.send(encodeUnsubscribe(3));
    expect(await raw.next()).toMatchObject({
      opcode: Opcode.SUBSCRIPTION_END,
      requestId: 3,
      reason: 0,
    });
    expect(await raw.maybeNext(200)).toBeUndefined();
    raw.close();
    // The client reassembles batches cut by a window smaller than a batch.
    const small = await client.subscribe(
      'credit',
      'shardId-000000000000',
      { type: 'TRIM_HORIZON' },
      { windowBytes: 700 },
    );
    const read = await take(small, 5);
    expect(read.map((record) => record.PartitionKey)).toEqual(
      records.map((record) => record.PartitionKey),
    );
    read.forEach((record, i) =>
      expect(Buffer.from(record.Data).equals(Buffer.from(records[i]!.Data))).toBe(true),
    );
    small.unsubscribe();
  });

  it('delivers records within milliseconds of their commit', async () => {
    await ws.engine.createStream({ StreamName: 'latency', ShardCount: 1 });
    const client = await connect();
    const subscription = await client.subscribe('latency', 'shardId-000000000000', {
      type: 'LATEST',
    });
    const latencies: number[] = [];
    for (let i = 0; i < 100; i++) {
      const sent = performance.now();
      const arrival = subscription.next();
      await client.putRecords('latency', [{ PartitionKey: `l${i}`, Data: dataOf(6, i) }]);
      await arrival;
      latencies.push(performance.now() - sent);
    }
    latencies.sort((a, b) => a - b);
    console.log(
      `put-to-subscriber latency, 1 record at a time: p50 ${latencies[50]!.toFixed(2)} ms, p99 ${latencies[98]!.toFixed(2)} ms`,
    );
    expect(latencies[50]!).toBeLessThan(20);
    subscription.unsubscribe();
  });

  it('close() ends subscriptions as finished and fails requests still unanswered', async () => {
    const client = await RunnelClient.connect(ws.server.url);
    const subscription = await client.subscribe('latency', 'shardId-000000000000', {
      type: 'LATEST',
    });
    const waiting = subscription.next();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const subscriptionsBefore = ws.server.protocol.stats().subscriptions;
    await client.close();
    expect(await waiting).toEqual({ done: true, value: undefined });
    await expect(client.listStreams()).rejects.toMatchObject({
      name: 'ServiceUnavailableException',
    });
    // The server drops the subscription with the connection.
    const live = () => ws.server.protocol.stats().subscriptions;
    for (let waited = 0; live() >= subscriptionsBefore && waited < 5000; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(live()).toBe(subscriptionsBefore - 1);
  });

  it('ends subscriptions with ResourceNotFoundException when the stream is deleted, and limits them', async () => {
    await ws.engine.createStream({ StreamName: 'doomed', ShardCount: 1 });
    const client = await connect();
    const subscription = await client.subscribe('doomed', 'shardId-000000000000', {
      type: 'LATEST',
    });
    const ended = subscription.next();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await ws.engine.deleteStream({ StreamName: 'doomed' });
    await expect(ended).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    const limited = await listenProtocol(ws.engine, { subscriptionsMax: 2 });
    try {
      const other = await RunnelClient.connect(limited.url);
      await other.subscribe('latency', 'shardId-000000000000', { type: 'LATEST' });
      await other.subscribe('latency', 'shardId-000000000000', { type: 'LATEST' });
      await expect(
        other.subscribe('latency', 'shardId-000000000000', { type: 'LATEST' }),
      ).rejects.toMatchObject({
        name: 'LimitExceededException',
      });
      await other.close();
    } finally {
      limited.close();
    }
  });
});
