/**
 * The built-in Node WebSocket client against a scripted server on 127.0.0.1 (plain TCP and TLS):
 * server frames of every length form, cut into reads at every kind of boundary (inside a header,
 * inside a payload, many frames in one read), fragmented messages with a ping between the
 * fragments, and a frame longer than the client accepts.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  createServer as createNetServer,
  type AddressInfo,
  type Server,
  type Socket,
} from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeWebSocket, type CloseEventLike } from '../../src/client/node-websocket.js';
import { joined } from '../helpers/joined.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const FIXTURES = new URL('../fixtures/tls/', import.meta.url);
const TLS_KEY = readFileSync(new URL('key.pem', FIXTURES));
const TLS_CERT = readFileSync(new URL('cert.pem', FIXTURES));

const OPCODE_CONTINUATION = 0x0;
const OPCODE_TEXT = 0x1;
const OPCODE_BINARY = 0x2;
const OPCODE_CLOSE = 0x8;
const OPCODE_PING = 0x9;
const OPCODE_PONG = 0xa;

/** One unmasked server frame (RFC 6455 §5.2), with the shortest length form. */
function serverFrame(opcode: number, payload: Uint8Array, fin = true): Buffer {
  const length = payload.length;
  const extended = length < 126 ? 0 : length <= 0xffff ? 2 : 8;
  const header = Buffer.alloc(2 + extended);
  header[0] = (fin ? 0x80 : 0) | opcode;
  if (extended === 0) header[1] = length;
  else if (extended === 2) {
    header[1] = 126;
    header.writeUInt16BE(length, 2);
  } else {
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  return Buffer.concat([header, payload]);
}

/** Bytes that tell their message and position apart. */
function pattern(bytes: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return out;
}

/** A deterministic generator, so a failing cut can be replayed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    return state / 2 ** 32;
  };
}

interface ClientFrame {
  opcode: number;
  payload: Buffer;
}

/** The server's side of one connection: the upgrade, then frames out and the client's frames in. */
class ScriptedPeer {
  readonly received: ClientFrame[] = [];
  private input = Buffer.alloc(0);
  private upgraded = false;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {});
  }

  /** Writes `bytes` cut at `cuts` (ascending offsets), each piece in its own turn. */
  async write(bytes: Buffer, cuts: number[] = []): Promise<void> {
    let at = 0;
    for (const cut of [...cuts.filter((cut) => cut > 0 && cut < bytes.length), bytes.length]) {
      if (cut <= at) continue;
      this.socket.write(bytes.subarray(at, cut));
      at = cut;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async nextFrame(): Promise<ClientFrame> {
    while (this.received.length === 0)
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.received.shift()!;
  }

  private onData(chunk: Buffer): void {
    this.input = Buffer.concat([this.input, chunk]);
    if (!this.upgraded) {
      const end = this.input.indexOf('\r\n\r\n');
      if (end < 0) return;
      const key = /sec-websocket-key: *(\S+)/i.exec(
        this.input.subarray(0, end).toString('latin1'),
      )![1]!;
      const accept = createHash('sha1')
        .update(key + GUID)
        .digest('base64');
      this.socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      this.upgraded = true;
      this.input = this.input.subarray(end + 4);
    }
    // Client frames: always masked; the tests' client frames are short.
    while (this.input.length >= 6) {
      const opcode = this.input[0]! & 0x0f;
      let length = this.input[1]! & 0x7f;
      let at = 2;
      if (length === 126) {
        length = this.input.readUInt16BE(2);
        at = 4;
      } else if (length === 127) {
        length = Number(this.input.readBigUInt64BE(2));
        at = 10;
      }
      if (this.input.length < at + 4 + length) return;
      const mask = this.input.subarray(at, at + 4);
      const payload = Buffer.from(this.input.subarray(at + 4, at + 4 + length));
      for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
      this.input = this.input.subarray(at + 4 + length);
      this.received.push({ opcode, payload });
      for (const wake of this.waiters.splice(0)) wake();
    }
  }
}

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

/** A listening server, plain or TLS, handing each connection to `peers`. */
async function listen(
  secure: boolean,
): Promise<{ url: string; peer: () => Promise<ScriptedPeer> }> {
  const waiting: Array<(peer: ScriptedPeer) => void> = [];
  const accepted: ScriptedPeer[] = [];
  const onSocket = (socket: Socket) => {
    const peer = new ScriptedPeer(socket);
    const wake = waiting.shift();
    if (wake) wake(peer);
    else accepted.push(peer);
  };
  const server = secure
    ? createTlsServer({ key: TLS_KEY, cert: TLS_CERT }, onSocket)
    : createNetServer(onSocket);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${secure ? 'wss' : 'ws'}://127.0.0.1:${port}/v1`,
    peer: () => {
      const ready = accepted.shift();
      return ready ? Promise.resolve(ready) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

interface Connected {
  ws: NodeWebSocket;
  peer: ScriptedPeer;
  messages: Array<Uint8Array | ArrayBuffer | string>;
  closed: Promise<CloseEventLike>;
}

async function connect(
  secure: boolean,
  binaryType: 'uint8array' | 'arraybuffer',
  messageBytesMax?: number,
): Promise<Connected> {
  const server = await listen(secure);
  const ws = new NodeWebSocket(server.url, undefined, { messageBytesMax, tls: { ca: TLS_CERT } });
  ws.binaryType = binaryType;
  const messages: Connected['messages'] = [];
  ws.onmessage = (event) => messages.push(event.data);
  const closed = new Promise<CloseEventLike>((resolve) => (ws.onclose = resolve));
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = (event) => reject(event.error);
  });
  return { ws, peer: await server.peer(), messages, closed };
}

const asBytes = (data: Uint8Array | ArrayBuffer | string) =>
  Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : (data as Uint8Array));

/** Payload lengths on both sides of every length form and of the client's read buffer. */
const SIZES = [0, 1, 125, 126, 127, 1000, 65_535, 65_536, 65_537, 70_000, 200_000, 1_048_579];

/**
 * Where to cut a stream of frames starting at `starts` (and `length` bytes long), so that the
 * client's reads end at those places.
 */
type Cut = (starts: number[], length: number) => number[];

const CUTS: Array<[string, Cut]> = [
  ['nowhere (one write)', () => []],
  [
    'one to three bytes into each header, after the frames before it',
    (starts) => starts.map((start, i) => start + 1 + (i % 3)),
  ],
  [
    'a byte at a time through each header',
    (starts) => starts.flatMap((start) => Array.from({ length: 10 }, (_, k) => start + k + 1)),
  ],
  [
    'in random pieces',
    (_starts, length) => {
      const next = prng(length);
      const cuts: number[] = [];
      for (let at = 0; at < length;) cuts.push((at += 1 + Math.floor(next() ** 3 * 150_000)));
      return cuts;
    },
  ],
];

describe.each([
  ['plain', false],
  ['TLS', true],
])('NodeWebSocket over %s sockets', (_name, secure) => {
  it.each(CUTS)('receives every frame length byte-identical when cut %s', async (_cut, cut) => {
    for (const binaryType of ['uint8array', 'arraybuffer'] as const) {
      const { ws, peer, messages, closed } = await connect(secure, binaryType);
      const expected = SIZES.map((size, i) => pattern(size, i));
      const { bytes, starts } = joined([
        ...expected.map((payload) => serverFrame(OPCODE_BINARY, payload)),
        serverFrame(OPCODE_TEXT, Buffer.from('héllo, wörld')),
      ]);
      await peer.write(bytes, cut(starts, bytes.length));
      await expect.poll(() => messages.length, { timeout: 10_000 }).toBe(SIZES.length + 1);
      for (let i = 0; i < SIZES.length; i++) {
        const message = messages[i]!;
        expect(message instanceof (binaryType === 'arraybuffer' ? ArrayBuffer : Uint8Array)).toBe(
          true,
        );
        expect(asBytes(message).equals(expected[i]!), `message ${i} (${SIZES[i]} bytes)`).toBe(
          true,
        );
      }
      expect(messages[SIZES.length]).toBe('héllo, wörld');
      const close = serverFrame(OPCODE_CLOSE, Buffer.from([0x03, 0xe8]));
      await peer.write(close, cut([0], close.length));
      expect(await closed).toMatchObject({ code: 1000, wasClean: true });
      expect((await peer.nextFrame()).opcode).toBe(OPCODE_CLOSE);
      ws.close();
    }
  });

  it('reassembles a fragmented message and answers a ping sent between its fragments', async () => {
    const { ws, peer, messages } = await connect(secure, 'uint8array');
    const parts = [pattern(70_000, 1), pattern(10, 2), pattern(100_000, 3)];
    const { bytes, starts } = joined([
      serverFrame(OPCODE_BINARY, parts[0]!, false),
      serverFrame(OPCODE_PING, Buffer.from('are you there')),
      serverFrame(OPCODE_CONTINUATION, parts[1]!, false),
      serverFrame(OPCODE_CONTINUATION, parts[2]!, true),
      serverFrame(OPCODE_BINARY, pattern(5, 4)),
    ]);
    await peer.write(bytes, CUTS[1]![1](starts, bytes.length));
    const pong = await peer.nextFrame();
    expect(pong.opcode).toBe(OPCODE_PONG);
    expect(pong.payload.toString()).toBe('are you there');
    await expect.poll(() => messages.length).toBe(2);
    expect(asBytes(messages[0]!).equals(Buffer.concat(parts))).toBe(true);
    expect(asBytes(messages[1]!).equals(pattern(5, 4))).toBe(true);
    ws.close();
  });

  it('reads consecutive fragmented messages of growing and shrinking sizes into whole messages', async () => {
    const { ws, peer, messages } = await connect(secure, 'uint8array');
    // Each message: a small head fragment, then pieces, as the server sends RECORDS.
    const plans = [
      [30, 70_000],
      [30, 200_000, 300_000],
      [10, 5],
      [0, 0, 1],
      [30, 1_048_576],
      [30, 65_536, 65_536],
    ];
    const expected = plans.map((sizes, m) =>
      Buffer.concat(sizes.map((size, f) => pattern(size, 10 * m + f))),
    );
    const { bytes, starts } = joined(
      plans.flatMap((sizes, m) =>
        sizes.map((size, f) =>
          serverFrame(
            f === 0 ? OPCODE_BINARY : OPCODE_CONTINUATION,
            pattern(size, 10 * m + f),
            f === sizes.length - 1,
          ),
        ),
      ),
    );
    await peer.write(bytes, CUTS[3]![1](starts, bytes.length));
    await expect.poll(() => messages.length, { timeout: 10_000 }).toBe(plans.length);
    messages.forEach((message, m) =>
      expect(asBytes(message).equals(expected[m]!), `message ${m}`).toBe(true),
    );
    ws.close();
  });

  it('reassembles RECORDS-shaped messages byte-identical, each in a buffer at most twice its size (exactly its size for a head and one piece)', async () => {
    // As the server sends RECORDS: a small head fragment, then the stored batches.
    const plans = [
      [20, 111_000],
      [20, 65_536, 65_536, 3],
      [20, 1_048_576],
      [20, 30, 40],
      [4000, 10],
    ];
    for (const binaryType of ['uint8array', 'arraybuffer'] as const) {
      const { ws, peer, messages } = await connect(secure, binaryType);
      const fragments = plans.map((sizes, m) => sizes.map((size, f) => pattern(size, 10 * m + f)));
      const { bytes, starts } = joined(
        fragments.flatMap((parts) =>
          parts.map((part, f) =>
            serverFrame(
              f === 0 ? OPCODE_BINARY : OPCODE_CONTINUATION,
              part,
              f === parts.length - 1,
            ),
          ),
        ),
      );
      await peer.write(bytes, CUTS[3]![1](starts, bytes.length));
      await expect.poll(() => messages.length, { timeout: 10_000 }).toBe(plans.length);
      messages.forEach((message, m) => {
        const expected = Buffer.concat(fragments[m]!);
        expect(asBytes(message).equals(expected), `message ${m}`).toBe(true);
        const buffer = message instanceof ArrayBuffer ? message : (message as Uint8Array).buffer;
        // A head and one piece: the message is its whole buffer, as one allocation.
        if (m === 0 || m === 2) expect(buffer.byteLength, `message ${m}`).toBe(expected.length);
        if (binaryType === 'uint8array')
          expect(buffer.byteLength, `message ${m}`).toBeLessThanOrEqual(2 * expected.length + 4096);
      });
      ws.close();
    }
  });

  it.each([
    ['a continuation frame without a message', [serverFrame(OPCODE_CONTINUATION, pattern(10, 1))]],
    [
      'a new message inside a fragmented one',
      [
        serverFrame(OPCODE_BINARY, pattern(10, 1), false),
        serverFrame(OPCODE_BINARY, pattern(10, 2)),
      ],
    ],
    ['an unknown opcode', [serverFrame(0x3, pattern(10, 1))]],
  ])('closes with 1002 on %s', async (_what, frames) => {
    const { peer, messages, closed } = await connect(secure, 'uint8array');
    await peer.write(Buffer.concat(frames));
    const close = await peer.nextFrame();
    expect(close.opcode).toBe(OPCODE_CLOSE);
    expect(close.payload.readUInt16BE(0)).toBe(1002);
    expect((await closed).code).toBe(1002);
    expect(messages).toHaveLength(0);
  });

  it('closes with 1009 on a fragmented message whose fragments add up to more than it accepts', async () => {
    const { peer, messages, closed } = await connect(secure, 'uint8array', 100_000);
    await peer.write(
      Buffer.concat([
        serverFrame(OPCODE_BINARY, pattern(60_000, 1), false),
        serverFrame(OPCODE_CONTINUATION, pattern(40_000, 2), false),
        serverFrame(OPCODE_CONTINUATION, pattern(1, 3), true),
      ]),
    );
    const close = await peer.nextFrame();
    expect(close.payload.readUInt16BE(0)).toBe(1009);
    expect((await closed).code).toBe(1009);
    expect(messages).toHaveLength(0);
  });

  it('closes with 1009 on a frame longer than it accepts, before its payload arrives', async () => {
    const { peer, messages, closed } = await connect(secure, 'uint8array', 100_000);
    // A header announcing 1 GiB, and none of the payload.
    const header = serverFrame(OPCODE_BINARY, Buffer.alloc(0));
    header[1] = 127;
    const announced = Buffer.concat([header, Buffer.alloc(8)]);
    announced.writeBigUInt64BE(2n ** 30n, 2);
    await peer.write(announced.subarray(0, 10), [3, 6]);
    const close = await peer.nextFrame();
    expect(close.opcode).toBe(OPCODE_CLOSE);
    expect(close.payload.readUInt16BE(0)).toBe(1009);
    expect((await closed).code).toBe(1009);
    expect(messages).toHaveLength(0);
  });
});
