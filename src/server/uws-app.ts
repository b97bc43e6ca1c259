/**
 * The uWebSockets.js front end, on its own port: the same Kinesis API over HTTP/1.1 (answered by
 * the same KinesisApi as the node:http endpoint), `GET /health`, and `GET /metrics` in the
 * Prometheus text format. The binary WebSocket protocol will be mounted on this app as
 * `.ws('/v1', ...)`: pass `configure` to add routes before the app listens, or use `app`.
 *
 * uWS rules followed here (DESIGN.md §5 and the uWS user manual):
 *  - An HttpRequest is valid only during the route handler: every header is read up front.
 *  - An HttpResponse must have `onAborted` attached before any asynchronous work, and must not
 *    be touched after it fired; `aborted` guards every later write.
 *  - `onData` chunks are ArrayBuffers neutered when the callback returns: they are copied out
 *    (straight into a body buffer preallocated from Content-Length when there is one).
 *  - Writes that happen outside the route handler's own tick are wrapped in `res.cork`, so the
 *    status, headers and body leave in one syscall.
 *
 * The installed package's loader silently falls back to a slow pure-JS shim when the native
 * binary does not load; `assertNativeUws` refuses to start on the shim.
 *
 * What uWS does on its own, before any handler here runs, and no handler can change: it closes
 * without an answer a connection whose HTTP it cannot parse (a malformed request line or header,
 * a Content-Length of ten digits or more, bytes after a body that do not start a request, a body
 * cut short by the client's half-close), after its 10 s idle timeout when the fault is a control
 * character in a header value; and it closes, unanswered, a connection that pipelines a request
 * behind one still being answered, since every Kinesis answer comes from a later tick (uWS
 * refuses such pipelining by design). SDKs do neither; the Kinesis endpoint (node:http) answers
 * both with an error or in order.
 */

import { STATUS_CODES } from 'node:http';

import uWS from 'uWebSockets.js';

import { HTTP_REQUEST_BODY_BYTES_MAX, HTTP_SHUTDOWN_GRACE_MS } from '../limits.js';
import type { ApiResponse, KinesisApi } from './kinesis-api.js';
import { DASHBOARD_HTML } from './dashboard.js';

export type UwsApp = uWS.TemplatedApp;

/** True when the native uWS binary (not the JS fallback) is what loaded. */
export function isNativeUws(): boolean {
  return String(uWS.App).includes('[native code]');
}

export function assertNativeUws(): void {
  if (!isNativeUws()) {
    throw new Error(
      'uWebSockets.js loaded its pure-JS fallback instead of the native binary ' +
        `(Node ABI ${process.versions.modules}, ${process.platform}-${process.arch}); ` +
        'refusing to start. Run `npm run check:native` for details.',
    );
  }
}

export interface UwsFrontEndOptions {
  api: KinesisApi;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Adds routes (e.g. the WebSocket protocol's `.ws('/v1', ...)`) before the app listens. */
  configure?: (app: UwsApp) => void;
  /** Overrides HTTP_REQUEST_BODY_BYTES_MAX (tests). */
  bodyBytesMax?: number;
}

function statusLine(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? 'Unknown'}`;
}

/** Per-request state that outlives the route handler. */
interface PendingRequest {
  aborted: boolean;
  method: string;
  target: string;
  contentType: string;
  /** Preallocated from Content-Length, or undefined to collect chunks. */
  body: Buffer | undefined;
  filled: number;
  chunks: Buffer[];
}

export class UwsFrontEnd {
  readonly app: UwsApp;
  readonly url: string;
  readonly port: number;
  private inFlight = 0;
  private listening = true;
  private closed: Promise<void> | undefined;

  private constructor(
    app: UwsApp,
    private readonly listenSocket: uWS.us_listen_socket,
    host: string,
    port: number,
  ) {
    this.app = app;
    this.port = port;
    this.url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  static async listen(options: UwsFrontEndOptions): Promise<UwsFrontEnd> {
    assertNativeUws();
    const app = uWS.App();
    let frontEnd: UwsFrontEnd | undefined;
    const counter = {
      begin: () => frontEnd && frontEnd.inFlight++,
      end: () => frontEnd && frontEnd.inFlight--,
    };
    options.configure?.(app);
    mountRoutes(app, options, counter);
    const listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
      // Exclusive: otherwise uWS sets SO_REUSEPORT, and a second server given the same port
      // would start and silently take half of this one's connections. The native listen takes
      // the options between port and callback with a host too, though its typings do not say so.
      const listen = app.listen as unknown as ListenWithOptions;
      listen.call(app, options.host, options.port, LISTEN_EXCLUSIVE_PORT, (token) => {
        if (token) resolve(token);
        else {
          reject(
            new Error(
              `uWS could not listen on ${options.host}:${options.port} (is the port in use?)`,
            ),
          );
        }
      });
    });
    const port = uWS.us_socket_local_port(listenSocket as unknown as uWS.us_socket);
    frontEnd = new UwsFrontEnd(app, listenSocket, options.host, port);
    return frontEnd;
  }

  /** Stops accepting, waits (at most HTTP_SHUTDOWN_GRACE_MS) for in-flight requests, then
   * closes every remaining connection. */
  close(): Promise<void> {
    this.closed ??= this.shutDown();
    return this.closed;
  }

  /** Stops accepting connections; those open keep being served until close(). */
  stopListening(): void {
    if (this.listening) uWS.us_listen_socket_close(this.listenSocket);
    this.listening = false;
  }

  private async shutDown(): Promise<void> {
    this.stopListening();
    const deadline = Date.now() + HTTP_SHUTDOWN_GRACE_MS;
    while (this.inFlight > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // close() exists on native uWS 20.30 apps, though its typings do not declare it.
    const closable = this.app as UwsApp & { close?: () => void };
    closable.close?.();
  }
}

/** uSockets' listen option that leaves SO_REUSEPORT off (exported by the binary, not the typings). */
const LISTEN_EXCLUSIVE_PORT = (uWS as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT: number })
  .LIBUS_LISTEN_EXCLUSIVE_PORT;

/** uWS's listen with a host and listen options. */
type ListenWithOptions = (
  host: string,
  port: number,
  options: number,
  cb: (listenSocket: uWS.us_listen_socket | false) => void,
) => uWS.TemplatedApp;

function mountRoutes(
  app: UwsApp,
  options: UwsFrontEndOptions,
  counter: { begin: () => unknown; end: () => unknown },
): void {
  const { api } = options;
  const max = options.bodyBytesMax ?? HTTP_REQUEST_BODY_BYTES_MAX;

  app.get('/health', (res) => {
    res.writeStatus('200 OK').writeHeader('Content-Type', 'application/json');
    res.end('{"status":"ok"}');
  });

  app.get('/dashboard', (res) => {
    res.writeStatus('200 OK').writeHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(DASHBOARD_HTML);
  });

  app.get('/metrics', (res) => {
    res.writeStatus('200 OK').writeHeader('Content-Type', 'text/plain; version=0.0.4');
    res.end(api.metrics.render());
  });

  app.any('/*', (res, req) => {
    const declared = req.getHeader('content-length');
    const pending: PendingRequest = {
      aborted: false,
      method: req.getMethod().toUpperCase(),
      target: req.getHeader('x-amz-target'),
      contentType: req.getHeader('content-type'),
      body: undefined,
      filled: 0,
      chunks: [],
    };
    counter.begin();
    res.onAborted(() => {
      if (!pending.aborted) counter.end();
      pending.aborted = true;
    });
    const length = declared === '' ? undefined : Number(declared);
    if (length !== undefined && length > max) {
      const answer = api.tooLarge(pending.contentType || undefined, length, max);
      finish(res, pending, answer, true, counter);
      return;
    }
    if (length !== undefined && Number.isSafeInteger(length) && length > 0) {
      pending.body = Buffer.allocUnsafe(length);
    }
    res.onData((chunk, isLast) => {
      if (pending.aborted) return;
      if (!appendChunk(pending, chunk, max)) {
        const answer = api.tooLarge(pending.contentType || undefined, undefined, max);
        finish(res, pending, answer, true, counter);
        return;
      }
      if (!isLast) return;
      const body = bodyOf(pending);
      void api
        .handle({
          method: pending.method,
          target: pending.target === '' ? undefined : pending.target,
          contentType: pending.contentType === '' ? undefined : pending.contentType,
          body,
        })
        .then((answer) => finish(res, pending, answer, false, counter));
    });
  });
}

/** Copies a chunk out of uWS's buffer; false when the body passes the max. */
function appendChunk(pending: PendingRequest, chunk: ArrayBuffer, max: number): boolean {
  const bytes = new Uint8Array(chunk);
  const target = pending.body;
  if (target !== undefined) {
    if (pending.filled + bytes.length <= target.length) {
      target.set(bytes, pending.filled);
      pending.filled += bytes.length;
      return true;
    }
    // More than Content-Length said (uWS does not allow it, but stay correct): collect instead.
    pending.chunks.push(target.subarray(0, pending.filled));
    pending.body = undefined;
  }
  if (pending.filled + bytes.length > max) return false;
  pending.chunks.push(Buffer.from(bytes));
  pending.filled += bytes.length;
  return true;
}

function bodyOf(pending: PendingRequest): Buffer {
  if (pending.body !== undefined) return pending.body.subarray(0, pending.filled);
  if (pending.chunks.length === 1) return pending.chunks[0]!;
  return Buffer.concat(pending.chunks, pending.filled);
}

function finish(
  res: uWS.HttpResponse,
  pending: PendingRequest,
  answer: ApiResponse,
  closeConnection: boolean,
  counter: { end: () => unknown },
): void {
  if (pending.aborted) return;
  pending.aborted = true;
  counter.end();
  res.cork(() => {
    res.writeStatus(statusLine(answer.status));
    res.writeHeader('Content-Type', answer.contentType);
    res.writeHeader('x-amzn-RequestId', answer.requestId);
    if (answer.errorType !== undefined) res.writeHeader('x-amzn-ErrorType', answer.errorType);
    res.end(answer.body, closeConnection);
  });
}
