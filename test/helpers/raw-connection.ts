/**
 * A WebSocket connection to the protocol endpoint that sends raw frames and decodes what comes
 * back, frame by frame: for tests that need frames the client would never send.
 */
import { expect } from 'vitest';
import { NodeWebSocket } from '../../src/client/node-websocket.js';
import { Opcode, decodeServerFrame, type ServerFrame } from '../../src/protocol/frames.js';

export class RawConnection {
  private readonly frames: ServerFrame[] = [];
  private waiter: (() => void) | undefined;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(private readonly ws: NodeWebSocket) {
    this.closed = new Promise((resolve) => {
      ws.onclose = (event) => {
        resolve({ code: event.code, reason: event.reason });
        this.waiter?.();
      };
    });
    ws.onmessage = (event) => {
      this.frames.push(decodeServerFrame(event.data as Uint8Array));
      this.waiter?.();
    };
  }

  static async open(url: string): Promise<RawConnection> {
    const ws = new NodeWebSocket(`${url}/v1`);
    ws.binaryType = 'uint8array';
    // Handlers first: WELCOME may arrive in the same read as the upgrade response.
    const connection = new RawConnection(ws);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = (event) => reject(event.error);
    });
    expect((await connection.next()).opcode).toBe(Opcode.WELCOME);
    return connection;
  }

  send(frame: Uint8Array): void {
    this.ws.send(frame);
  }

  /** The next frame, or undefined after `timeoutMs` or on close. */
  async next(timeoutMs = 5000): Promise<ServerFrame> {
    const frame = await this.maybeNext(timeoutMs);
    if (!frame) throw new Error('no frame arrived');
    return frame;
  }

  async maybeNext(timeoutMs: number): Promise<ServerFrame | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0 || this.ws.readyState === NodeWebSocket.CLOSED) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.frames.shift();
  }

  close(): void {
    this.ws.close();
  }
}
