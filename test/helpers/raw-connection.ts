/**
 * A WebSocket connection to the protocol endpoint that sends raw frames and decodes what comes
 * back, frame by frame: for tests that need frames the client would never send (the protocol
 * tests and the fuzz test). A server message that does not decode is kept as its Error.
 */
import { expect } from 'vitest';
import { NodeWebSocket } from '../../src/client/node-websocket.js';
import { WS_FRAME_BYTES_MAX } from '../../src/limits.js';
import { Opcode, decodeServerFrame, type ServerFrame } from '../../src/protocol/frames.js';

const ANSWER_TIMEOUT_MS = 5_000;

export class RawConnection {
  private readonly frames: Array<ServerFrame | Error> = [];
  private waiter: (() => void) | undefined;
  /** How the connection closed, once it has. */
  closedWith: { code: number; reason: string } | undefined;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(private readonly ws: NodeWebSocket) {
    this.closed = new Promise((resolve) => {
      ws.onclose = (event) => {
        this.closedWith = { code: event.code, reason: event.reason };
        resolve(this.closedWith);
        this.waiter?.();
      };
    });
    ws.onmessage = (event) => {
      try {
        this.frames.push(decodeServerFrame(event.data as Uint8Array));
      } catch (error) {
        this.frames.push(error as Error);
      }
      this.waiter?.();
    };
  }

  static async open(url: string): Promise<RawConnection> {
    const ws = new NodeWebSocket(`${url}/v1`, undefined, { messageBytesMax: WS_FRAME_BYTES_MAX });
    ws.binaryType = 'uint8array';
    // Handlers first: WELCOME may arrive in the same read as the upgrade response.
    const connection = new RawConnection(ws);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = (event) => reject(event.error);
    });
    ws.onerror = () => undefined;
    expect((await connection.next()).opcode).toBe(Opcode.WELCOME);
    return connection;
  }

  send(frame: Uint8Array | string): void {
    this.ws.send(frame);
  }

  /** The next frame, which must arrive within `timeoutMs` and decode. */
  async next(timeoutMs = ANSWER_TIMEOUT_MS): Promise<ServerFrame> {
    const frame = await this.maybeNext(timeoutMs);
    if (!frame) throw new Error('no frame arrived');
    return frame;
  }

  /** The next frame, or undefined after `timeoutMs` or on close; throws if it does not decode. */
  async maybeNext(timeoutMs: number): Promise<ServerFrame | undefined> {
    const answer = await this.answer(timeoutMs);
    if (answer instanceof Error) throw answer;
    return answer;
  }

  /** The next message as decoded, or its decoding Error; undefined after `timeoutMs` or on close. */
  async answer(timeoutMs = ANSWER_TIMEOUT_MS): Promise<ServerFrame | Error | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0 || this.closedWith) return undefined;
      await this.wake(left);
    }
    return this.frames.shift();
  }

  /** How the connection closed, waiting up to `timeoutMs`; undefined if still open then. */
  async closedWithin(
    timeoutMs = ANSWER_TIMEOUT_MS,
  ): Promise<{ code: number; reason: string } | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closedWith && Date.now() < deadline) await this.wake(deadline - Date.now());
    return this.closedWith;
  }

  close(): void {
    this.ws.close();
  }

  /** Resolves on the next message or close, or after `ms`. */
  private wake(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
