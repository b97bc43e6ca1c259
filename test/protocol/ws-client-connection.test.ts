/**
 * Goal: the client keeps its connection as docs/protocol.md §2 and §5.2 say, on 127.0.0.1:
 *  - keep-alive PINGs are requests of their own: ids from 1 up (0 is reserved), never the id of
 *    a request in flight, and their PONGs are never taken for another request's answer (the
 *    real client against the real server, many requests overlapping fast pings);
 *  - against a server that stops answering without closing (as a stopped process does: the
 *    socket stays open, no close handshake comes back), the connection is declared dead once two
 *    PINGs in a row went unanswered, about two intervals after the first of them, and pending
 *    requests and subscriptions fail at once, without waiting for a close handshake; while the
 *    server answers PINGs, an unanswered request is left pending;
 *  - an upgrade the server refuses with a client error (a path the real front end does not
 *    serve: 403) fails connect() with an error that is not retried, naming the status and URL;
 *    a server error (5xx) stays the retryable ServiceUnavailableException.
 */
import { createHash } from 'node:crypto';
import { type Server, type Socket, createServer } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RunnelClient, type WebSocketConstructor } from '../../src/client/index.js';
import { NodeWebSocket } from '../../src/client/node-websocket.js';
import type { Engine } from '../../src/engine/engine.js';
import { WS_FRAME_BYTES_MAX } from '../../src/limits.js';
import {
  Opcode,
  decodeClientFrame,
  decodeServerFrame,
  encodePong,
  encodeSubscribed,
  encodeWelcome,
} from '../../src/protocol/frames.js';
import { startServer } from '../../src/server/server.js';
import { type ServedEngine, type TestServer, serveEngine } from '../helpers/ws-server.js';

let served: ServedEngine;
let engine: Engine;
let server: TestServer;

beforeAll(async () => {
  served = await serveEngine({ workers: 1 }, 'runnel-ws-client-connection-');
  ({ engine, server } = served);
  await engine.createStream({ StreamName: 'alive', ShardCount: 1 });
});

afterAll(() => served?.close());

interface Logged {
  direction: 'sent' | 'received';
  opcode: number;
  requestId: number;
}

/** The built-in Node WebSocket, logging the opcode and request id of every frame. */
class LoggingWebSocket extends NodeWebSocket {
  static log: Logged[] = [];

  constructor(url: string) {
    super(url, undefined, { messageBytesMax: WS_FRAME_BYTES_MAX });
    let handler: ((event: { data: unknown }) => void) | null = null;
    const logged = (event: { data: unknown }) => {
      const frame = decodeServerFrame(event.data as Uint8Array);
      LoggingWebSocket.log.push({
        direction: 'received',
        opcode: frame.opcode,
        requestId: frame.requestId,
      });
      handler?.(event);
    };
    // The client assigns onmessage; the log sees each message before the client does.
    Object.defineProperty(this, 'onmessage', {
      get: () => logged,
      set: (value: typeof handler) => {
        handler = value;
      },
    });
  }

  override send(data: ArrayBuffer | ArrayBufferView | string): void {
    this.logSent(data as Uint8Array);
    super.send(data);
  }

  override sendParts(parts: readonly Uint8Array[]): void {
    this.logSent(Buffer.concat(parts));
    super.sendParts(parts);
  }

  private logSent(data: Uint8Array): void {
    const frame = decodeClientFrame(data);
    LoggingWebSocket.log.push({
      direction: 'sent',
      opcode: frame.opcode,
      requestId: frame.requestId,
    });
  }
}

describe('WebSocket client: keep-alive PINGs', () => {
  it('are requests of their own: ids from 1 up, never one in flight, answers never confused', async () => {
    LoggingWebSocket.log = [];
    const client = await RunnelClient.connect(server.url, {
      WebSocket: LoggingWebSocket as unknown as WebSocketConstructor,
      keepAliveIntervalMs: 20,
    });
    // Requests overlap keep-alive PINGs for a while; each gets its own answer.
    const until = Date.now() + 400;
    while (Date.now() < until) {
      const [streams, shards] = await Promise.all([
        client.listStreams(),
        client.listShards('alive'),
        client.ping(),
      ]);
      expect(streams).toEqual(['alive']);
      expect(shards.map((shard) => shard.shardId)).toEqual(['shardId-000000000000']);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await client.close();
    const sent = LoggingWebSocket.log.filter((entry) => entry.direction === 'sent');
    const pings = sent.filter((entry) => entry.opcode === Opcode.PING);
    // Three per round come from listStreams, listShards and ping(); the rest are keep-alive.
    const rounds = sent.filter((entry) => entry.opcode === Opcode.LIST_STREAMS).length;
    expect(pings.length).toBeGreaterThan(rounds);
    expect(sent.filter((entry) => entry.requestId === 0)).toEqual([]);
    // No frame is sent with the id of a request still waiting for its answer.
    const inFlight = new Set<number>();
    for (const entry of LoggingWebSocket.log) {
      if (entry.direction === 'sent') {
        expect(inFlight.has(entry.requestId)).toBe(false);
        inFlight.add(entry.requestId);
      } else {
        inFlight.delete(entry.requestId);
      }
    }
  });
});

const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** An unmasked binary WebSocket message (server to client), of fewer than 126 bytes. */
function serverMessage(payload: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([0x82, payload.length]), payload]);
}

/**
 * A WebSocket server speaking just enough of the protocol: WELCOME, PONG for PING, SUBSCRIBED
 * for SUBSCRIBE. Once `hang()` is called it reads and answers nothing — no PONG, no close frame —
 * and keeps the sockets open, as a stopped server process does.
 */
class StoppingServer {
  private hung = false;
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;

  private constructor(server: Server) {
    this.server = server;
    server.on('connection', (socket) => this.accept(socket));
  }

  static async listen(): Promise<StoppingServer> {
    const stopping = new StoppingServer(createServer());
    await new Promise<void>((resolve) => stopping.server.listen(0, '127.0.0.1', resolve));
    return stopping;
  }

  get url(): string {
    const address = this.server.address() as { port: number };
    return `ws://127.0.0.1:${address.port}`;
  }

  hang(): void {
    this.hung = true;
  }

  close(): void {
    for (const socket of this.sockets) socket.destroy();
    this.server.close();
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    let input = Buffer.alloc(0);
    let upgraded = false;
    socket.on('data', (chunk: Buffer) => {
      if (this.hung) return;
      input = Buffer.concat([input, chunk]);
      if (!upgraded) {
        const end = input.indexOf('\r\n\r\n');
        if (end < 0) return;
        const key = /sec-websocket-key: *(\S+)/i.exec(
          input.subarray(0, end).toString('latin1'),
        )![1]!;
        const accept = createHash('sha1')
          .update(key + WEBSOCKET_GUID)
          .digest('base64');
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
        );
        socket.write(
          serverMessage(
            encodeWelcome({
              version: 1,
              frameBytesMax: 1 << 20,
              putsInFlightMax: 4,
              putBytesInFlightMax: 1 << 20,
              subscriptionsMax: 4,
              idleTimeoutMs: 60_000,
              batchBytesMax: 1 << 19,
              software: 'stopping',
            }),
          ),
        );
        input = input.subarray(end + 4);
        upgraded = true;
      }
      // Client frames: masked, each under 64 KiB here.
      for (;;) {
        if (input.length < 2) return;
        let length = input[1]! & 0x7f;
        let at = 2;
        if (length === 126) {
          if (input.length < 4) return;
          length = input.readUInt16BE(2);
          at = 4;
        }
        if (input.length < at + 4 + length) return;
        const mask = input.subarray(at, at + 4);
        const payload = Buffer.from(input.subarray(at + 4, at + 4 + length));
        for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
        const opcode = input[0]! & 0x0f;
        input = input.subarray(at + 4 + length);
        if (opcode !== 0x2) continue;
        const frame = decodeClientFrame(payload);
        if (frame.opcode === Opcode.PING) {
          socket.write(serverMessage(encodePong(frame.requestId, frame.payload)));
        } else if (frame.opcode === Opcode.SUBSCRIBE) {
          socket.write(serverMessage(encodeSubscribed(frame.requestId, 0, 0, '1')));
        }
      }
    });
  }
}

/** When a call settled, in ms after `since`, and with which error name. */
async function failure(
  call: Promise<unknown>,
  since: () => number,
): Promise<{ name: string; ms: number; message: string }> {
  try {
    await call;
  } catch (error) {
    return {
      name: (error as Error).name,
      ms: Date.now() - since(),
      message: (error as Error).message,
    };
  }
  throw new Error('the call did not fail');
}

describe('WebSocket client: a server that stops answering', () => {
  it('is declared dead after two unanswered PINGs, failing everything at once', async () => {
    const intervalMs = 150;
    const stopping = await StoppingServer.listen();
    try {
      const client = await RunnelClient.connect(stopping.url, { keepAliveIntervalMs: intervalMs });
      const subscription = await client.subscribe('s', 'shardId-000000000000', { type: 'LATEST' });
      let hungAt = 0;
      const since = () => hungAt;
      // Neither is ever answered by this server.
      const next = failure(subscription.next(), since);
      const listed = failure(client.listStreams(), since);
      let settled = false;
      void Promise.race([next, listed]).finally(() => {
        settled = true;
      });
      // While PINGs are answered, the connection lives, however long a request waits.
      await new Promise((resolve) => setTimeout(resolve, 5 * intervalMs));
      expect(settled).toBe(false);
      hungAt = Date.now();
      stopping.hang();
      const [nextFailure, listFailure] = await Promise.all([next, listed]);
      // The first unanswered PING goes out within an interval of the hang; two intervals later
      // the connection is dead. No close handshake is waited for (it would take 5 s here).
      expect(listFailure.ms).toBeGreaterThanOrEqual(2 * intervalMs - 20);
      expect(listFailure.ms).toBeLessThan(3 * intervalMs + 1_500);
      expect(Math.abs(nextFailure.ms - listFailure.ms)).toBeLessThan(50);
      for (const { name, message } of [nextFailure, listFailure]) {
        expect(name).toBe('ServiceUnavailableException');
        expect(message).toMatch(/no answer to 2 keep-alive pings in a row/);
      }
      const closing = Date.now();
      await client.close();
      expect(Date.now() - closing).toBeLessThan(100);
      await expect(client.listStreams()).rejects.toMatchObject({
        name: 'ServiceUnavailableException',
      });
    } finally {
      stopping.close();
    }
  });
});

/** A TCP server answering every upgrade request with `status` and closing. */
async function refusingServer(status: string): Promise<{ url: string; close: () => void }> {
  const refusing = createServer((socket) => {
    socket.once('data', () => socket.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\n\r\n`));
  });
  await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
  const { port } = refusing.address() as { port: number };
  return { url: `ws://127.0.0.1:${port}`, close: () => refusing.close() };
}

describe('WebSocket client: a refused upgrade', () => {
  it('fails connect() without retry on a client error, naming the status and URL', async () => {
    const running = await startServer({ port: 0, wsPort: 0, engine });
    try {
      const refused = RunnelClient.connect(`${running.wsUrl!}/v2`);
      await expect(refused).rejects.toMatchObject({
        name: 'ResourceNotFoundException',
        retryable: false,
        message: expect.stringMatching(
          /refused the WebSocket upgrade to ws:\/\/127\.0\.0\.1:\d+\/v2 with HTTP status 403/,
        ),
      });
      const client = await RunnelClient.connect(running.wsUrl!);
      expect(await client.listStreams()).toEqual(['alive']);
      await client.close();
    } finally {
      await running.close();
    }
    const badRequest = await refusingServer('400 Bad Request');
    const unavailable = await refusingServer('503 Service Unavailable');
    const tooMany = await refusingServer('429 Too Many Requests');
    try {
      // A proxy's 429 says "later": retryable, as a 5xx.
      await expect(RunnelClient.connect(tooMany.url)).rejects.toMatchObject({
        name: 'ServiceUnavailableException',
        retryable: true,
      });
      await expect(RunnelClient.connect(badRequest.url)).rejects.toMatchObject({
        name: 'ValidationException',
        retryable: false,
        message: expect.stringContaining('with HTTP status 400'),
      });
      await expect(RunnelClient.connect(unavailable.url)).rejects.toMatchObject({
        name: 'ServiceUnavailableException',
        retryable: true,
      });
    } finally {
      badRequest.close();
      unavailable.close();
      tooMany.close();
    }
  });
});
