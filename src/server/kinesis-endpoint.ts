/**
 * The Kinesis endpoint: one TCP port that speaks HTTP/1.1 and HTTP/2 cleartext with prior
 * knowledge (what the Node SDK uses against `http://`: a new h2c connection per request), or,
 * given a certificate and key, one TLS port where ALPN picks h2 or http/1.1.
 *
 * Cleartext sniffing (reference §1.5): a net.Server accepts every connection and reads until the
 * first bytes either match the 24-byte HTTP/2 preface `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n` or
 * diverge from it.
 *  - HTTP/1.1: the bytes are `unshift`ed back and the socket is handed to an http.Server. The
 *    socket is left flowing: pausing it lets the HTTP parser consume the native handle ahead of
 *    the unshifted bytes and reorders the stream.
 *  - HTTP/2: the socket is paused first, then the bytes are `unshift`ed and the socket handed
 *    to the http2 server, which takes over the native handle and, on its next tick, feeds the
 *    session whatever waits in the socket's buffer. Unshifting into a flowing socket loses the
 *    bytes (the trap the reference warns of); wrapping the socket in a JS Duplex instead, as the
 *    reference suggests, routes every frame through JavaScript and cost a third of HTTP/2
 *    throughput.
 * Every socket gets `setNoDelay(true)`: with Nagle on, a 10 MB h2c PutRecords took 14.5 s
 * instead of 0.3 s (Nagle against delayed ACKs on WINDOW_UPDATE frames).
 *
 * Request bodies: a Content-Length over HTTP_REQUEST_BODY_BYTES_MAX is refused with 413 before
 * any body byte is read; a body without one is cut off with 413 the moment it passes the max.
 * Either way the connection (HTTP/1.1) or the stream (HTTP/2, RST_STREAM) is closed after the
 * answer, since the rest of the body is never read. Truncated bodies, resets and garbage bytes
 * only ever cost their own connection. A request node:http cannot parse is answered 400 (431 for
 * headers over its limit) SerializationException in JSON, then the connection closes. On HTTP/2,
 * nghttp2 itself resets, without an answer, a stream whose body disagrees with its content-length,
 * whose header holds a character HTTP/2 forbids (RFC 9113 §8.1.1, §8.2.1), or whose header block
 * is over its limits (64 KiB, 128 fields).
 *
 * Shutdown (`close`): stop accepting; idle HTTP/1.1 connections close at once, busy ones after
 * their in-flight response (sent with `Connection: close`); HTTP/2 sessions get GOAWAY and
 * finish their open streams; whatever is left after HTTP_SHUTDOWN_GRACE_MS is destroyed.
 */

import { randomUUID } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { TLSSocket } from 'node:tls';

import {
  HTTP_KEEP_ALIVE_TIMEOUT_MS,
  HTTP_PREFACE_WAIT_MS,
  HTTP_REQUEST_BODY_BYTES_MAX,
  HTTP_SHUTDOWN_GRACE_MS,
  HTTP_SOCKET_IDLE_TIMEOUT_MS,
  HTTP2_FRAME_BYTES_MAX,
  HTTP2_SHUTDOWN_REAP_MS,
  HTTP2_WINDOW_BYTES,
  SUBSCRIPTION_END_FLUSH_MS,
} from '../limits.js';
import { JSON_CONTENT_TYPE, type ApiResponse, type KinesisApi } from './kinesis-api.js';
import { encodeJsonError } from './json-codec.js';

/**
 * Stream and connection flow-control windows as large as one request body, so a client streams a
 * whole 14 MB PutRecords without stopping for WINDOW_UPDATEs (with the 64 KiB default, a
 * 700 KB body waits out ten round trips).
 */
const HTTP2_SETTINGS: http2.Settings = {
  initialWindowSize: HTTP2_WINDOW_BYTES,
  maxFrameSize: HTTP2_FRAME_BYTES_MAX,
};

const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export interface TlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
}

export interface KinesisEndpointOptions {
  api: KinesisApi;
  host: string;
  /** 0 picks a free port. */
  port: number;
  tls?: TlsOptions;
  /** Overrides HTTP_REQUEST_BODY_BYTES_MAX (tests). */
  bodyBytesMax?: number;
}

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

/** 'h1', 'h2', or 'more' when the bytes so far are a strict prefix of the HTTP/2 preface. */
function classify(bytes: Buffer): 'h1' | 'h2' | 'more' {
  const length = Math.min(bytes.length, HTTP2_PREFACE.length);
  for (let i = 0; i < length; i++) {
    if (bytes[i] !== HTTP2_PREFACE[i]) return 'h1';
  }
  return bytes.length >= HTTP2_PREFACE.length ? 'h2' : 'more';
}

/**
 * A response that can take no more writes: ended, or destroyed (on HTTP/2 the stream is, as
 * Http2ServerResponse has no `destroyed` of its own).
 */
/**
 * Waits until a response whose write was refused can take more ('drain': true), or until it
 * closes or `stopped` aborts (false).
 */
function drainedUnlessStopped(
  response: Response,
  stopped: AbortSignal | undefined,
): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const settle = (drained: boolean): void => {
      response.removeListener('drain', onDrain);
      response.removeListener('close', onEnd);
      stopped?.removeEventListener('abort', onEnd);
      resolve(drained);
    };
    const onDrain = (): void => settle(true);
    const onEnd = (): void => settle(false);
    response.once('drain', onDrain);
    response.once('close', onEnd);
    stopped?.addEventListener('abort', onEnd, { once: true });
    if (stopped?.aborted) onEnd();
  });
}

function gone(response: Response): boolean {
  const stream = (response as { stream?: { destroyed?: boolean } }).stream;
  return response.writableEnded || response.destroyed === true || stream?.destroyed === true;
}

/**
 * Answers a request node:http could not parse (garbage, a body cut short by a half-close, a
 * header block over the limit) like every other response (JSON error, request id), then closes.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: net.Socket): void {
  const inProgress = (socket as net.Socket & { _httpMessage?: { headersSent?: boolean } })
    ._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || inProgress?.headersSent) {
    socket.destroy();
    return;
  }
  const status =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 431
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 408
        : 400;
  const errorType = 'SerializationException';
  const message = `Malformed HTTP request (${error.code ?? 'parse error'})`;
  const body = encodeJsonError(errorType, message);
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n` +
      `Content-Type: ${JSON_CONTENT_TYPE}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `x-amzn-RequestId: ${randomUUID()}\r\n` +
      `x-amzn-ErrorType: ${errorType}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
  socket.destroySoon();
}

export class KinesisEndpoint {
  readonly url: string;
  readonly port: number;

  private readonly http1Sockets = new Set<net.Socket>();
  private readonly http2Sessions = new Set<http2.Http2Session>();
  /**
   * The connection of each cleartext HTTP/2 session. A server session that is done ends its
   * socket and waits for the client to close its side; a client that stopped reading one of its
   * streams may never do so, and the listener would never close. Shutdown destroys the socket
   * of every session that is done (and, at the end of its grace, of every session).
   */
  private readonly http2SocketOf = new Map<http2.Http2Session, net.Socket>();
  /** The socket startHttp2 is handing to the HTTP/2 server, which makes its session at once. */
  private attaching: net.Socket | undefined;
  private readonly pendingSockets = new Set<net.Socket>();
  private readonly busySockets = new Map<net.Socket, number>();
  private closing = false;
  private closed: Promise<void> | undefined;
  /** Enders of the SubscribeToShard event streams being written. */
  private readonly subscriptions = new Set<() => void>();
  /**
   * Event streams that ended and wait for their client to take what is left, for at most
   * SUBSCRIPTION_END_FLUSH_MS.
   */
  private readonly flushing = new Set<Response>();

  private constructor(
    private readonly options: KinesisEndpointOptions,
    private readonly listener: net.Server,
    private readonly http1: http.Server | undefined,
    private readonly http2Server: http2.Http2Server | http2.Http2SecureServer,
    port: number,
  ) {
    this.port = port;
    const scheme = options.tls ? 'https' : 'http';
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    this.url = `${scheme}://${host}:${port}`;
  }

  static async listen(options: KinesisEndpointOptions): Promise<KinesisEndpoint> {
    let endpoint: KinesisEndpoint | undefined;
    const onRequest = (request: Request, response: Response): void => {
      endpoint!.onRequest(request, response);
    };
    let listener: net.Server;
    let http1: http.Server | undefined;
    let h2: http2.Http2Server | http2.Http2SecureServer;
    if (options.tls) {
      h2 = http2.createSecureServer({
        allowHTTP1: true,
        cert: options.tls.cert,
        key: options.tls.key,
        settings: HTTP2_SETTINGS,
      });
      h2.on('request', onRequest);
      h2.on('secureConnection', (socket: TLSSocket) => endpoint!.onTlsConnection(socket));
      listener = h2;
    } else {
      http1 = http.createServer({ noDelay: true }, onRequest);
      http1.keepAliveTimeout = HTTP_KEEP_ALIVE_TIMEOUT_MS;
      http1.timeout = HTTP_SOCKET_IDLE_TIMEOUT_MS;
      // The http.Server never listens itself; 'listening' is what starts its connection
      // tracking (headersTimeout, requestTimeout, closeIdleConnections).
      http1.emit('listening');
      http1.on('clientError', (error: NodeJS.ErrnoException, socket: net.Socket) => {
        answerClientError(error, socket);
      });
      h2 = http2.createServer({ settings: HTTP2_SETTINGS });
      h2.on('request', onRequest);
      listener = net.createServer({ noDelay: true }, (socket) => endpoint!.onConnection(socket));
    }
    h2.on('session', (session: http2.ServerHttp2Session) => endpoint!.onSession(session));
    h2.setTimeout(HTTP_SOCKET_IDLE_TIMEOUT_MS);
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(options.port, options.host, () => {
        listener.removeListener('error', reject);
        resolve();
      });
    });
    const address = listener.address() as net.AddressInfo;
    endpoint = new KinesisEndpoint(options, listener, http1, h2, address.port);
    listener.on('error', (error) => console.error('runnel: kinesis endpoint error:', error));
    return endpoint;
  }

  private get bodyBytesMax(): number {
    return this.options.bodyBytesMax ?? HTTP_REQUEST_BODY_BYTES_MAX;
  }

  // ---- connections -------------------------------------------------------------------------

  private onConnection(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    socket.on('error', () => socket.destroy());
    this.pendingSockets.add(socket);
    let buffered: Buffer | undefined;
    const timer = setTimeout(() => socket.destroy(), HTTP_PREFACE_WAIT_MS);
    const done = (): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('close', done);
      this.pendingSockets.delete(socket);
    };
    const onData = (chunk: Buffer): void => {
      buffered = buffered === undefined ? chunk : Buffer.concat([buffered, chunk]);
      const verdict = classify(buffered);
      if (verdict === 'more') return;
      done();
      if (verdict === 'h1') this.startHttp1(socket, buffered);
      else this.startHttp2(socket, buffered);
    };
    socket.on('data', onData);
    socket.once('close', done);
  }

  private startHttp1(socket: net.Socket, head: Buffer): void {
    this.http1Sockets.add(socket);
    socket.once('close', () => {
      this.http1Sockets.delete(socket);
      this.busySockets.delete(socket);
    });
    // Left flowing on purpose (see the header comment).
    socket.unshift(head);
    this.http1!.emit('connection', socket);
  }

  private startHttp2(socket: net.Socket, head: Buffer): void {
    // Paused, so the sniffed bytes wait in the socket's buffer, where http2 looks first.
    socket.pause();
    socket.unshift(head);
    this.attaching = socket;
    try {
      this.http2Server.emit('connection', socket);
    } finally {
      this.attaching = undefined;
    }
  }

  private onTlsConnection(socket: TLSSocket): void {
    socket.setNoDelay(true);
    if (socket.alpnProtocol !== 'h2') {
      this.http1Sockets.add(socket);
      socket.once('close', () => {
        this.http1Sockets.delete(socket);
        this.busySockets.delete(socket);
      });
    }
  }

  private onSession(session: http2.ServerHttp2Session): void {
    this.http2Sessions.add(session);
    if (this.attaching) this.http2SocketOf.set(session, this.attaching);
    // The connection-level window is not a SETTINGS value: it grows with a WINDOW_UPDATE.
    // A client may already have gone (garbage, a reset) by the time 'connect' fires; setting the
    // window on a destroyed session throws, which must never take the server down.
    session.once('connect', () => {
      if (session.destroyed || session.closed) return;
      try {
        session.setLocalWindowSize(HTTP2_WINDOW_BYTES);
      } catch {
        session.destroy();
      }
    });
    session.once('close', () => {
      this.http2Sessions.delete(session);
      this.http2SocketOf.delete(session);
    });
    session.on('error', () => session.destroy());
    if (this.closing) session.close();
  }

  // ---- requests ----------------------------------------------------------------------------

  private onRequest(request: Request, response: Response): void {
    const socket = request.httpVersionMajor === 1 ? (request.socket as net.Socket) : undefined;
    if (socket) this.busySockets.set(socket, (this.busySockets.get(socket) ?? 0) + 1);
    response.once('close', () => {
      if (!socket) return;
      const count = (this.busySockets.get(socket) ?? 1) - 1;
      if (count > 0) {
        this.busySockets.set(socket, count);
        return;
      }
      this.busySockets.delete(socket);
      // Shutting down: a connection whose last answer left before the shutdown began (so
      // without `Connection: close`) is idle now, and goes.
      if (this.closing) socket.destroySoon();
    });
    request.on('error', () => undefined);
    response.on('error', () => undefined);

    const headers = request.headers;
    const contentType = headers['content-type'];
    const declared = headers['content-length'];
    const max = this.bodyBytesMax;
    if (declared !== undefined && Number(declared) > max) {
      this.refuse(request, response, this.options.api.tooLarge(contentType, Number(declared), max));
      return;
    }
    const target = headers['x-amz-target'];
    const method = request.method ?? 'GET';
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    request.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > max) {
        refused = true;
        chunks.length = 0;
        this.refuse(request, response, this.options.api.tooLarge(contentType, undefined, max));
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      if (refused) return;
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      void this.options.api
        .handle({
          method,
          target: Array.isArray(target) ? target[0] : target,
          contentType,
          body,
          streaming: true,
        })
        .then((answer) => {
          if (answer.events) void this.stream(request, response, answer);
          else this.send(request, response, answer, false);
        });
    });
  }

  /** Answers a request whose body will not be read, then drops the rest of it. */
  private refuse(request: Request, response: Response, answer: ApiResponse): void {
    this.send(request, response, answer, true);
    if (request.httpVersionMajor === 1) {
      request.pause();
    } else {
      const stream = (request as http2.Http2ServerRequest).stream;
      // RST_STREAM(NO_ERROR) after the answer tells the client to stop sending the body.
      response.once('finish', () => stream.close(http2.constants.NGHTTP2_NO_ERROR));
    }
  }

  private send(request: Request, response: Response, answer: ApiResponse, close: boolean): void {
    if (response.writableEnded || response.destroyed) return;
    const body = answer.body;
    const headers: http.OutgoingHttpHeaders = {
      'content-type': answer.contentType,
      'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.length,
      'x-amzn-requestid': answer.requestId,
    };
    if (answer.errorType !== undefined) headers['x-amzn-errortype'] = answer.errorType;
    if (request.httpVersionMajor === 1 && (close || this.closing)) headers.connection = 'close';
    try {
      (response as http.ServerResponse).writeHead(answer.status, headers);
      (response as http.ServerResponse).end(body);
    } catch {
      response.destroy();
    }
  }

  /**
   * Writes a SubscribeToShard event stream: DATA frames on HTTP/2, chunks on HTTP/1.1. The next
   * message is produced (and the shard read) only once the previous one has been taken: when a
   * write is refused (the HTTP/2 flow-control window or the socket buffer is full) nothing more
   * is read until 'drain'. The client going away ends the subscription at once.
   */
  private async stream(request: Request, response: Response, answer: ApiResponse): Promise<void> {
    const events = answer.events!;
    const cancel = (): void => {
      answer.cancel?.();
      // Ends a wait for records; the generator's own cleanup runs on return.
      void events.return(undefined);
    };
    if (gone(response) || this.closing) {
      // Shutdown began while the call was answered: end after what is written (nothing).
      cancel();
      if (!gone(response)) response.destroy();
      return;
    }
    this.subscriptions.add(cancel);
    response.once('close', cancel);
    const headers: http.OutgoingHttpHeaders = {
      'content-type': answer.contentType,
      'x-amzn-requestid': answer.requestId,
    };
    if (request.httpVersionMajor === 1 && this.closing) headers.connection = 'close';
    // Whether the client has yet to take what was written last.
    let backlogged = false;
    try {
      (response as http.ServerResponse).writeHead(answer.status, headers);
      for await (const message of events) {
        if (gone(response)) break;
        backlogged = !(response as http.ServerResponse).write(message);
        // A client that reads nothing cannot hold the subscription past its end (lifetime,
        // take-over, deregistration, shutdown): the wait ends with it, and what is left (the
        // error that ended it, if any) is written without waiting.
        if (backlogged && !answer.stopped?.aborted) {
          backlogged = !(await drainedUnlessStopped(response, answer.stopped));
        }
      }
    } catch {
      response.destroy();
    } finally {
      this.subscriptions.delete(cancel);
      response.removeListener('close', cancel);
      answer.cancel?.();
      if (!gone(response)) this.endStream(response, backlogged);
    }
  }

  /**
   * Ends an event stream whose subscription is over. A client that has yet to take what was
   * written gets SUBSCRIPTION_END_FLUSH_MS to take it ('finish'), and is cut off then; once
   * shutdown has begun, it is cut off at once (shutDown does the same for the streams already
   * waiting here).
   */
  private endStream(response: Response, backlogged: boolean): void {
    if (this.closing && backlogged) {
      response.destroy();
      return;
    }
    const cutOff = setTimeout(() => response.destroy(), SUBSCRIPTION_END_FLUSH_MS);
    cutOff.unref();
    const flushed = (): void => {
      clearTimeout(cutOff);
      this.flushing.delete(response);
    };
    response.once('finish', flushed);
    response.once('close', flushed);
    this.flushing.add(response);
    response.end();
  }

  // ---- shutdown ----------------------------------------------------------------------------

  /** Stops accepting, answers what is in flight, then closes every connection. */
  close(): Promise<void> {
    this.closed ??= this.shutDown();
    return this.closed;
  }

  private async shutDown(): Promise<void> {
    this.closing = true;
    // Event streams end normally (as a subscription's lifetime ends), so their sessions can close.
    for (const cancel of this.subscriptions) cancel();
    // Shutdown waits for no client that is not reading.
    for (const response of this.flushing) response.destroy();
    const listenerClosed = new Promise<void>((resolve) => this.listener.close(() => resolve()));
    for (const socket of this.pendingSockets) socket.destroy();
    for (const socket of this.http1Sockets) {
      if (!this.busySockets.has(socket)) socket.destroy();
    }
    for (const session of this.http2Sessions) session.close();
    if (this.http1) this.http1.closeIdleConnections();
    const grace = setTimeout(() => this.destroyAll(), HTTP_SHUTDOWN_GRACE_MS);
    const reap = setInterval(() => {
      for (const [session, socket] of this.http2SocketOf) if (session.destroyed) socket.destroy();
    }, HTTP2_SHUTDOWN_REAP_MS);
    await listenerClosed;
    clearTimeout(grace);
    clearInterval(reap);
    if (this.http1) this.http1.close();
  }

  private destroyAll(): void {
    for (const socket of this.http1Sockets) socket.destroy();
    for (const session of this.http2Sessions) session.destroy();
    for (const socket of this.http2SocketOf.values()) socket.destroy();
  }
}
