/**
 * Goal: no frame a client can send hurts the server or anyone else on it. Seeded (the seed is
 * printed; set RUNNEL_FUZZ_SEED to replay one) and bounded (RUNNEL_FUZZ_CASES, default 240):
 *  - each malformed frame of a known kind — truncated header, payload length larger or smaller
 *    than the message, unknown or server-only opcode, wrong version, non-zero flags, garbage
 *    after a valid frame, a text message, a reused subscription id, a zero credit, an oversized
 *    PING — is answered by one fatal ERROR with the name docs/protocol.md gives, then a close
 *    (1002; 1003 for text);
 *  - random bytes and randomly mutated valid frames get either a normal answer (the connection
 *    then still answers PING) or a fatal ERROR and a close — never silence, never a crash;
 *  - a valid PUT followed by garbage is still acknowledged before the close, and what was
 *    acknowledged is stored;
 *  - a message over the frame limit is dropped by uWS, and the server stays up;
 *  - meanwhile a producer and a subscriber on other connections run undisturbed: every record
 *    acknowledged to them arrives, in order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RunnelClient } from '../../src/client/index.js';
import { encodeRecordBatch } from '../../src/protocol/batch-writer.js';
import {
  FRAME_HEADER_BYTES,
  Opcode,
  encodeCredit,
  encodeListShards,
  encodePing,
  encodePut,
  encodeSubscribe,
  encodeUnsubscribe,
} from '../../src/protocol/frames.js';
import { WS_FRAME_BYTES_MAX, WS_PING_PAYLOAD_BYTES_MAX } from '../../src/limits.js';
import type { WebSocketProtocol } from '../../src/server/ws-protocol-handler.js';
import { RawConnection } from '../helpers/raw-connection.js';
import { seededRandom } from '../helpers/temp-dir.js';
import { type ServedEngine, serveEngine } from '../helpers/ws-server.js';

const SEED = Number(process.env.RUNNEL_FUZZ_SEED ?? Date.now() >>> 0);
const CASES = Number(process.env.RUNNEL_FUZZ_CASES ?? 240);
/** Fuzz connections open at once. */
const PARALLEL = 4;
const ANSWER_TIMEOUT_MS = 5_000;

type Random = () => number;

function randomBytes(random: Random, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => Math.floor(random() * 256));
}

function validBatch(random: Random, tag: string): Uint8Array {
  return encodeRecordBatch(
    Array.from({ length: 1 + Math.floor(random() * 5) }, (_, i) => ({
      PartitionKey: `${tag}-${i}`,
      Data: randomBytes(random, Math.floor(random() * 300)),
    })),
  );
}

/** Valid client frames, the material mutations start from. */
function validFrame(random: Random, id: number): Uint8Array {
  switch (Math.floor(random() * 6)) {
    case 0:
      return encodePut(id, 'fuzz', validBatch(random, `v${id}`));
    case 1:
      return encodeSubscribe(id, {
        position: (['TRIM_HORIZON', 'LATEST'] as const)[Math.floor(random() * 2)]!,
        initialCredit: Math.floor(random() * 5000),
        timestampMs: 0,
        streamName: 'fuzz',
        shardId: 'shardId-000000000000',
        sequenceNumber: '',
      });
    case 2:
      return encodeCredit(id, 1 + Math.floor(random() * 1e6));
    case 3:
      return encodeListShards(id, 'fuzz');
    case 4:
      return encodeUnsubscribe(id);
    default:
      return encodePing(id, randomBytes(random, Math.floor(random() * 16)));
  }
}

interface Expectation {
  name: string;
  closeCode: number;
}

/** Malformed frames of a known kind and the fatal error each must get. */
function malformedFrame(
  random: Random,
  kind: number,
  id: number,
): { frame: Uint8Array | string; expect: Expectation } {
  const serialization = { name: 'SerializationException', closeCode: 1002 };
  const valid = validFrame(random, id);
  switch (kind) {
    case 0: // truncated header
      return {
        frame: valid.subarray(0, Math.floor(random() * FRAME_HEADER_BYTES)),
        expect: serialization,
      };
    case 1: {
      // payload length larger than the message
      const frame = valid.slice();
      new DataView(frame.buffer).setUint32(
        8,
        frame.length - FRAME_HEADER_BYTES + 1 + Math.floor(random() * 2 ** 31),
        true,
      );
      return { frame, expect: serialization };
    }
    case 2: // truncated payload: the length field promises more than arrives
      return {
        frame:
          valid.length > FRAME_HEADER_BYTES
            ? valid.subarray(
                0,
                FRAME_HEADER_BYTES + Math.floor(random() * (valid.length - FRAME_HEADER_BYTES)),
              )
            : Uint8Array.from([...valid.subarray(0, 8), 9, 0, 0, 0]),
        expect: serialization,
      };
    case 3: {
      // unknown opcode, or one only servers send
      const frame = valid.slice();
      const known = new Set<number>(Object.values(Opcode));
      const serverOnly = [
        Opcode.WELCOME,
        Opcode.ERROR,
        Opcode.PUT_ACK,
        Opcode.SUBSCRIBED,
        Opcode.RECORDS,
        Opcode.SUBSCRIPTION_END,
        Opcode.STREAM_LIST,
        Opcode.SHARD_MAP,
      ];
      let opcode = Math.floor(random() * 256);
      if (random() < 0.3) opcode = serverOnly[Math.floor(random() * serverOnly.length)]!;
      else while (known.has(opcode)) opcode = Math.floor(random() * 256);
      frame[1] = opcode;
      return { frame, expect: { name: 'UnknownOperationException', closeCode: 1002 } };
    }
    case 4: {
      const frame = valid.slice();
      frame[0] = [0, 2, 3, 0x7f, 0xff][Math.floor(random() * 5)]!;
      return { frame, expect: serialization };
    }
    case 5: {
      const frame = valid.slice();
      new DataView(frame.buffer).setUint16(2, 1 + Math.floor(random() * 0xfffe), true);
      return { frame, expect: serialization };
    }
    case 6: {
      // garbage after a valid frame, in the same message
      const garbage = randomBytes(random, 1 + Math.floor(random() * 64));
      const frame = new Uint8Array(valid.length + garbage.length);
      frame.set(valid);
      frame.set(garbage, valid.length);
      return { frame, expect: serialization };
    }
    case 7:
      return { frame: 'not a frame', expect: { name: 'SerializationException', closeCode: 1003 } };
    case 8:
      return {
        frame: encodeCredit(id, 0),
        expect: { name: 'ValidationException', closeCode: 1002 },
      };
    default:
      return {
        frame: encodePing(
          id,
          new Uint8Array(WS_PING_PAYLOAD_BYTES_MAX + 1 + Math.floor(random() * 100)),
        ),
        expect: serialization,
      };
  }
}
const MALFORMED_KINDS = 10;

function mutate(random: Random, frame: Uint8Array): Uint8Array {
  const bytes = frame.slice();
  const flips = 1 + Math.floor(random() * 4);
  for (let i = 0; i < flips; i++)
    bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
  if (random() < 0.2) return bytes.subarray(0, Math.floor(random() * bytes.length));
  return bytes;
}

let served: ServedEngine;
let protocol: WebSocketProtocol;
let url: string;

beforeAll(async () => {
  served = await serveEngine({ workers: 2 }, 'runnel-fuzz-');
  ({ protocol, url } = served.server);
  await served.engine.createStream({ StreamName: 'fuzz', ShardCount: 1 });
  await served.engine.createStream({ StreamName: 'control', ShardCount: 1 });
});

afterAll(() => served?.close());

async function expectFatal(
  connection: RawConnection,
  expected: Expectation,
  label: string,
): Promise<void> {
  // Answers to frames accepted before the bad one may come first; the fatal ERROR must follow.
  for (;;) {
    const frame = await connection.answer();
    expect(frame, `${label}: no fatal ERROR`).toBeDefined();
    if (frame instanceof Error) throw frame;
    if (frame!.opcode !== Opcode.ERROR || !frame!.fatal) continue;
    expect(frame!.name, label).toBe(expected.name);
    break;
  }
  const closed = await connection.closedWithin();
  expect(closed?.code, `${label}: close code`).toBe(expected.closeCode);
}

/** Sends a PING after `frame`: the connection must answer it, or die with a fatal ERROR. */
async function expectAnswerOrFatal(
  connection: RawConnection,
  frame: Uint8Array,
  label: string,
): Promise<void> {
  connection.send(frame);
  connection.send(encodePing(0xfeedface, new Uint8Array([1, 2, 3])));
  let fatal = false;
  for (;;) {
    const answer = await connection.answer();
    if (answer === undefined) {
      expect(connection.closedWith, `${label}: neither PONG nor close`).toBeDefined();
      expect(fatal, `${label}: closed without a fatal ERROR`).toBe(true);
      return;
    }
    if (answer instanceof Error) throw answer;
    if (answer.opcode === Opcode.ERROR && answer.fatal) fatal = true;
    if (answer.opcode === Opcode.PONG && answer.requestId === 0xfeedface) return;
  }
}

describe('WebSocket frame fuzzing', () => {
  it(`answers every bad frame with a fatal error and a close, and disturbs no one (seed ${SEED})`, async () => {
    console.log(
      `ws frame fuzz: seed ${SEED}, ${CASES} cases (replay with RUNNEL_FUZZ_SEED=${SEED})`,
    );
    const random = seededRandom(SEED);

    // Bystanders: a producer and a subscriber that must not notice anything.
    const producer = await RunnelClient.connect(url);
    const consumer = await RunnelClient.connect(url);
    const subscription = await consumer.subscribe('control', 'shardId-000000000000', {
      type: 'TRIM_HORIZON',
    });
    const acknowledged: string[] = [];
    let producing = true;
    const production = (async () => {
      for (let batch = 0; producing; batch++) {
        const records = Array.from({ length: 20 }, (_, i) => ({
          PartitionKey: `p${batch}-${i}`,
          Data: new Uint8Array([batch & 0xff, i]),
        }));
        const output = await producer.putRecords('control', records);
        expect(output.FailedRecordCount).toBe(0);
        acknowledged.push(...records.map((record) => record.PartitionKey));
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    const received: string[] = [];
    const consumption = (async () => {
      for await (const record of subscription) received.push(record.PartitionKey!);
    })();

    // Fuzz acknowledged puts: a valid PUT then garbage on the same connection.
    const fuzzAcknowledged: string[] = [];
    let kinds = 0;
    const runCase = async (index: number): Promise<void> => {
      const connection = await RawConnection.open(url);
      const id = 1 + Math.floor(random() * 1000);
      const label = `case ${index} (seed ${SEED})`;
      const choice = random();
      if (choice < 0.5) {
        const kind = Math.floor(random() * MALFORMED_KINDS);
        kinds |= 1 << kind;
        const { frame, expect: expected } = malformedFrame(random, kind, id);
        connection.send(frame);
        await expectFatal(connection, expected, `${label} kind ${kind}`);
      } else if (choice < 0.6) {
        const key = `ack-${index}`;
        connection.send(
          encodePut(
            id,
            'fuzz',
            encodeRecordBatch([{ PartitionKey: key, Data: new Uint8Array([7]) }]),
          ),
        );
        connection.send(randomBytes(random, 1 + Math.floor(random() * 40)));
        let acked = false;
        let fatal = false;
        for (;;) {
          const frame = await connection.answer();
          if (!frame) break;
          if (frame instanceof Error) throw frame;
          if (frame.opcode === Opcode.PUT_ACK && frame.requestId === id) acked = true;
          if (frame.opcode === Opcode.ERROR && frame.fatal) fatal = true;
        }
        expect(fatal, `${label}: garbage after a PUT`).toBe(true);
        expect(acked, `${label}: the PUT before the garbage was answered`).toBe(true);
        fuzzAcknowledged.push(key);
      } else if (choice < 0.7) {
        // Reusing a live subscription id.
        const subscribe = encodeSubscribe(id, {
          position: 'LATEST',
          initialCredit: 0,
          timestampMs: 0,
          streamName: 'fuzz',
          shardId: 'shardId-000000000000',
          sequenceNumber: '',
        });
        connection.send(subscribe);
        connection.send(subscribe);
        await expectFatal(
          connection,
          { name: 'ValidationException', closeCode: 1002 },
          `${label} reused id`,
        );
      } else if (choice < 0.85) {
        await expectAnswerOrFatal(
          connection,
          randomBytes(random, Math.floor(random() * 200)),
          `${label} random`,
        );
      } else {
        await expectAnswerOrFatal(
          connection,
          mutate(random, validFrame(random, id)),
          `${label} mutated`,
        );
      }
      connection.close();
      await connection.closedWithin();
    };
    let next = 0;
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        while (next < CASES) await runCase(next++);
      }),
    );

    // A message over the frame limit is dropped by uWS; the server goes on.
    const big = await RawConnection.open(url);
    big.send(new Uint8Array(WS_FRAME_BYTES_MAX + 1));
    expect((await big.closedWithin())?.code).toBe(1006);

    producing = false;
    await production;
    for (
      let waited = 0;
      received.length < acknowledged.length && waited < ANSWER_TIMEOUT_MS;
      waited += 10
    ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    subscription.unsubscribe();
    await consumption;
    expect(received).toEqual(acknowledged);
    expect(acknowledged.length).toBeGreaterThan(0);

    // Everything acknowledged on the fuzzed connections is stored.
    const stored = new Set<string>();
    const { ShardIterator } = await served.engine.getShardIterator({
      StreamName: 'fuzz',
      ShardId: 'shardId-000000000000',
      ShardIteratorType: 'TRIM_HORIZON',
    });
    let iterator: string | undefined = ShardIterator;
    while (iterator) {
      const page = await served.engine.getRecords({ ShardIterator: iterator });
      for (const record of page.Records) stored.add(record.PartitionKey!);
      if (page.Records.length === 0) break;
      iterator = page.NextShardIterator;
    }
    for (const key of fuzzAcknowledged) expect(stored.has(key), key).toBe(true);
    if (CASES >= 200) expect(kinds).toBe((1 << MALFORMED_KINDS) - 1);

    await producer.close();
    await consumer.close();
    // The server sees the last closes a moment after the clients do.
    for (
      let waited = 0;
      protocol.stats().connections > 0 && waited < ANSWER_TIMEOUT_MS;
      waited += 20
    ) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(protocol.stats()).toMatchObject({ connections: 0, subscriptions: 0, putsInFlight: 0 });
  }, 120_000);
});
