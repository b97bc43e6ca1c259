/**
 * Goal: no request a client can send to the Kinesis HTTP API hurts the server or anyone else on
 * it, and every one gets an answer a Kinesis SDK can read. Seeded (the seed is printed; set
 * RUNNEL_FUZZ_SEED to replay one) and bounded (RUNNEL_FUZZ_CASES, default 300). Each case is
 * drawn from a generator of its own, seeded by the run's seed and the case's number, so a
 * replay builds the same requests whatever order the parallel lanes run them in, and
 * RUNNEL_FUZZ_CASE replays one case alone.
 *
 * The requests (test/fuzz/kinesis-requests.ts) are valid JSON or CBOR inputs of every operation,
 * mutated: type confusions, members removed or added, values at and past their constraints'
 * edges, boundary and odd numbers, long and odd strings, bad base64, deep nesting, invalid
 * UTF-8, duplicate keys, forged pagination tokens, CBOR items that lie about their length; some
 * of the time also their bytes (truncated, flipped, random), headers (Content-Type, X-Amz-Target,
 * method) and framing (Content-Length too small, too large or over the body limit, chunked, a
 * request pipelined behind, the client giving up mid-body). Each is sent over HTTP/1.1 (raw
 * sockets) or HTTP/2 (node:http2) to the Kinesis port, or over HTTP/1.1 to the uWS port. Every
 * answer must:
 *  - arrive (each request has a timeout), with a body, a request id, and a status Kinesis uses:
 *    200, or the status the error catalogue binds to the error, or a refusal
 *    src/server/kinesis-api.ts documents (403 AccessDenied, 404 UnknownOperation, 413 for a body
 *    over the limit; 408 and 431 for what node:http cannot parse). A 5xx is a finding;
 *  - decode in the request's protocol (JSON for JSON, CBOR for CBOR; JSON when the content type
 *    is neither), its `__type` and `x-amzn-ErrorType` naming the same error of src/errors.ts,
 *    its message free of JavaScript renderings (`Invalid Date`, `undefined`); a SubscribeToShard
 *    event stream must open with a whole `initial-response` event in the request's protocol;
 *  - come before any close, but for the closes the front ends document (closeAllowed).
 * Meanwhile a producer (@aws-sdk/client-kinesis over HTTP/2) and a reader (over HTTP/1.1) work
 * on a stream no fuzzed request names: every record acknowledged to the producer is read back,
 * byte for byte. After the storm both ports answer a DescribeStreamSummary, and the server
 * logged no error (no internal failure) and left no unhandled rejection.
 */
import { randomBytes } from 'node:crypto';
import http2 from 'node:http2';
import net from 'node:net';
import { crc32 } from 'node:zlib';

import {
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { cbor } from '@smithy/core/cbor';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { ERROR_CATALOG, isErrorCode } from '../../src/errors.js';
import { SEGMENT_BYTES_MIN } from '../../src/limits.js';
import {
  createActive,
  registerActive,
  sdkClient,
  serverForBlock,
  sleep,
  streamArn,
} from '../helpers/sdk.js';
import { seededRandom } from '../helpers/temp-dir.js';
import { parseResponseHead } from '../helpers/raw-http.js';
import {
  buildRequest,
  caseRandom,
  CBOR_TYPE,
  CONSUMER_NAMES,
  corpus,
  fixturesOf,
  FUZZ_STREAM,
  hasControlCharacter,
  int,
  JSON_TYPE,
  SECOND_STREAM,
  TARGET_PREFIX,
  type Fixtures,
  type FuzzRequest,
  type Random,
  type Seed,
  type Transport,
} from './kinesis-requests.js';

const SEED = Number(process.env.RUNNEL_FUZZ_SEED ?? Date.now() >>> 0);
const CASES = Number(process.env.RUNNEL_FUZZ_CASES ?? 300);
/** One case's number, to replay that case of the seed's run alone. */
const ONLY_CASE =
  process.env.RUNNEL_FUZZ_CASE === undefined ? undefined : Number(process.env.RUNNEL_FUZZ_CASE);
/** Fuzzed requests in flight at once. */
const PARALLEL = 4;
const ANSWER_TIMEOUT_MS = 15_000;
/** How long the reader may take, after the storm, to see the producer's last records. */
const CATCH_UP_MS = 15_000;
/** The run stops starting cases once it has this many findings (those in flight still end). */
const FINDINGS_MAX = 10;
/** How long a client that gives up waits before it does (long enough to be mid-request). */
const ABORT_AFTER_MS = 5;

const EVENT_STREAM_TYPE = 'application/vnd.amazon.eventstream';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** The bystanders' stream: no fuzzed request names it. */
const BYSTANDER_STREAM = 'bystander';

// ---- transports ------------------------------------------------------------------------------

interface Answer {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: Buffer;
}

/** What became of a request: an answer (and the next one, pipelined), or none. */
type Outcome =
  | { kind: 'answer'; answer: Answer; closedAfter: boolean; next?: Answer }
  | { kind: 'closed' }
  | { kind: 'reset'; code: number }
  | { kind: 'aborted' };

/** The length of the first event-stream message in `bytes`, once all of it has arrived. */
function firstMessageBytes(bytes: Buffer): number | undefined {
  if (bytes.length < 4) return undefined;
  const total = bytes.readUInt32BE(0);
  return bytes.length >= total ? total : undefined;
}

/** The data of the complete chunks of a chunked body received so far. */
function dechunk(chunked: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = chunked.indexOf('\r\n', at);
    if (lineEnd === -1) break;
    const size = Number.parseInt(chunked.subarray(at, lineEnd).toString('latin1'), 16);
    if (!(size > 0) || chunked.length < lineEnd + 2 + size) break;
    parts.push(chunked.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/**
 * The first HTTP/1.1 response in `received` and where it ends, or undefined while it is
 * incomplete. An event stream (chunked) lasts minutes: it counts as complete with its first
 * message, all a case looks at.
 */
function parseHttp1(received: Buffer): { answer: Answer; end: number } | undefined {
  const head = parseResponseHead(received);
  if (!head) return undefined;
  const { status, headers, bodyStart: start } = head;
  if (headers['transfer-encoding'] === 'chunked') {
    const body = dechunk(received.subarray(start));
    if (firstMessageBytes(body) === undefined) return undefined;
    return { answer: { status, headers, body }, end: received.length };
  }
  const end = start + Number(headers['content-length'] ?? 0);
  if (received.length < end) return undefined;
  return { answer: { status, headers, body: received.subarray(start, end) }, end };
}

function http1Head(request: FuzzRequest, length: number | undefined): Buffer {
  const lines = [`${request.method} / HTTP/1.1`, 'Host: 127.0.0.1'];
  if (request.contentType !== undefined) lines.push(`Content-Type: ${request.contentType}`);
  if (request.target !== undefined) lines.push(`X-Amz-Target: ${request.target}`);
  if (length === undefined) lines.push('Transfer-Encoding: chunked');
  else lines.push(`Content-Length: ${length}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

function chunked(body: Buffer, random: Random): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < body.length;) {
    const size = Math.min(body.length - at, 1 + int(random, 4096));
    parts.push(Buffer.from(`${size.toString(16)}\r\n`), body.subarray(at, at + size));
    parts.push(Buffer.from('\r\n'));
    at += size;
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

/** A request every server answers alike: sent after a fuzzed one on the same connection. */
const FOLLOWER = Buffer.from(
  `POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${JSON_TYPE}\r\n` +
    `X-Amz-Target: ${TARGET_PREFIX}DescribeLimits\r\nContent-Length: 2\r\n\r\n{}`,
  'latin1',
);

/** The request as HTTP/1.1 bytes, as its framing has it. */
function http1Bytes(request: FuzzRequest, random: Random): Buffer {
  const { body, declaredLength } = request;
  switch (request.framing) {
    case 'short':
    case 'long':
      return Buffer.concat([http1Head(request, declaredLength), body]);
    case 'over-limit':
      return http1Head(request, declaredLength);
    case 'chunked':
      return Buffer.concat([http1Head(request, undefined), chunked(body, random)]);
    case 'pipelined':
      return Buffer.concat([http1Head(request, body.length), body, FOLLOWER]);
    case 'abort-mid-body':
      return Buffer.concat([
        http1Head(request, body.length),
        body.subarray(0, int(random, body.length)),
      ]);
    default:
      return Buffer.concat([http1Head(request, body.length), body]);
  }
}

/** Sends a request on a new TCP connection and reads its answer (and the next, pipelined). */
function sendHttp1(port: number, request: FuzzRequest, random: Random): Promise<Outcome> {
  const { framing } = request;
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let first: { answer: Answer; end: number } | undefined;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer and no close within ${ANSWER_TIMEOUT_MS} ms`));
    }, ANSWER_TIMEOUT_MS);
    const settle = (outcome: Outcome) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      first ??= parseHttp1(received);
      // A refused body's answer is followed by a close, which the case waits for.
      if (!first || framing === 'over-limit') return;
      if (framing !== 'pipelined' || first.answer.headers.connection === 'close') {
        settle({ kind: 'answer', answer: first.answer, closedAfter: false });
        return;
      }
      const next = parseHttp1(received.subarray(first.end))?.answer;
      if (next) settle({ kind: 'answer', answer: first.answer, closedAfter: false, next });
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (first) settle({ kind: 'answer', answer: first.answer, closedAfter: true });
      else settle({ kind: 'closed' });
    });
    socket.on('connect', () => {
      socket.write(http1Bytes(request, random));
      // A body longer than it came: the server waits for the rest until the client half-closes.
      if (framing === 'long') socket.end();
      if (framing === 'abort-mid-body' || framing === 'abort-after-body') {
        setTimeout(() => settle({ kind: 'aborted' }), ABORT_AFTER_MS);
      }
    });
  });
}

/** One HTTP/2 session per lane, replaced when it dies. */
class Http2Lane {
  private session: http2.ClientHttp2Session | undefined;

  constructor(private readonly url: string) {}

  private open(): http2.ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const session = http2.connect(this.url);
    session.on('error', () => undefined);
    this.session = session;
    return session;
  }

  /**
   * Sends a request on the lane's session. A stream the server refused unprocessed
   * (REFUSED_STREAM, as when an earlier stream's header block was over nghttp2's limit and the
   * session is ending) is retried once on a new session, as RFC 9113 §8.7 allows.
   */
  async send(request: FuzzRequest, random: Random): Promise<Outcome> {
    const outcome = await this.sendOnce(request, random);
    if (outcome.kind !== 'reset' || outcome.code !== http2.constants.NGHTTP2_REFUSED_STREAM) {
      return outcome;
    }
    this.session?.destroy();
    return this.sendOnce(request, random);
  }

  private sendOnce(request: FuzzRequest, random: Random): Promise<Outcome> {
    const { body, framing } = request;
    const headers: http2.OutgoingHttpHeaders = { ':method': request.method, ':path': '/' };
    if (request.contentType !== undefined) headers['content-type'] = request.contentType;
    if (request.target !== undefined) headers['x-amz-target'] = request.target;
    if (framing === 'short' || framing === 'long' || framing === 'over-limit') {
      headers['content-length'] = String(request.declaredLength);
    }
    const aborting = framing === 'abort-mid-body' || framing === 'abort-after-body';
    return new Promise((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      try {
        // endStream: node:http2 would otherwise end a GET or DELETE with its headers.
        stream = this.open().request(headers, { endStream: false });
      } catch {
        // node:http2 refused to send a header value: the client's own check, not the server's.
        resolve({ kind: 'reset', code: -1 });
        return;
      }
      const chunks: Buffer[] = [];
      let answer: Answer | undefined;
      const timer = setTimeout(() => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        reject(new Error(`no answer and no reset within ${ANSWER_TIMEOUT_MS} ms`));
      }, ANSWER_TIMEOUT_MS);
      stream.on('response', (responseHeaders) => {
        const flat: Record<string, string> = {};
        for (const [name, value] of Object.entries(responseHeaders)) flat[name] = String(value);
        answer = { status: Number(flat[':status']), headers: flat, body: Buffer.alloc(0) };
      });
      stream.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        // An event stream lasts minutes: its first message is all a case looks at.
        const eventStream = answer?.headers['content-type'] === EVENT_STREAM_TYPE;
        if (eventStream && firstMessageBytes(Buffer.concat(chunks)) !== undefined) {
          stream.close(http2.constants.NGHTTP2_CANCEL);
        }
      });
      stream.on('error', () => undefined);
      stream.on('close', () => {
        clearTimeout(timer);
        if (aborting) return;
        if (!answer) {
          resolve({ kind: 'reset', code: stream.rstCode ?? -1 });
          return;
        }
        answer.body = Buffer.concat(chunks);
        resolve({ kind: 'answer', answer, closedAfter: false });
      });
      if (aborting) {
        if (framing === 'abort-mid-body') stream.write(body.subarray(0, int(random, body.length)));
        else stream.end(body);
        setTimeout(() => {
          stream.close(http2.constants.NGHTTP2_CANCEL);
          resolve({ kind: 'aborted' });
        }, ABORT_AFTER_MS);
      } else if (framing !== 'over-limit') {
        // A body declared over the limit is never sent: the answer must come from the header.
        stream.end(body);
      }
    });
  }

  close(): void {
    this.session?.close();
  }
}

// ---- checking an answer ----------------------------------------------------------------------

/** The protocol an answer must be in: CBOR for a CBOR request, else JSON (kinesis-api.ts). */
function answerFormat(contentType: string | undefined): 'json' | 'cbor' {
  const bare = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  return bare === CBOR_TYPE ? 'cbor' : 'json';
}

function decodeIn(format: 'json' | 'cbor', body: Buffer): Record<string, unknown> {
  const value: unknown =
    format === 'cbor' ? cbor.deserialize(new Uint8Array(body)) : JSON.parse(body.toString('utf8'));
  expect(typeof value === 'object' && value !== null && !Array.isArray(value), 'a map').toBe(true);
  return value as Record<string, unknown>;
}

/**
 * The first message of a SubscribeToShard event stream: whole (both CRCs hold), an
 * `initial-response` event whose payload is in the request's protocol, as `:content-type` says.
 */
function checkInitialResponse(stream: Buffer, format: 'json' | 'cbor'): void {
  const total = firstMessageBytes(stream)!;
  const message = stream.subarray(0, total);
  const headersEnd = 12 + message.readUInt32BE(4);
  expect(message.readUInt32BE(8), 'prelude CRC').toBe(crc32(message.subarray(0, 8)));
  const messageCrc = crc32(message.subarray(0, total - 4));
  expect(message.readUInt32BE(total - 4), 'message CRC').toBe(messageCrc);
  const headers: Record<string, string> = {};
  for (let at = 12; at < headersEnd;) {
    const name = message.toString('utf8', at + 1, at + 1 + message[at]!);
    at += 1 + message[at]!;
    expect(message[at], `header ${name} is a string`).toBe(7);
    const length = message.readUInt16BE(at + 1);
    headers[name] = message.toString('utf8', at + 3, at + 3 + length);
    at += 3 + length;
  }
  expect(headers[':event-type']).toBe('initial-response');
  expect(headers[':content-type']).toBe(format === 'cbor' ? CBOR_TYPE : JSON_TYPE);
  decodeIn(format, message.subarray(headersEnd, total - 4));
}

/** Statuses the front ends answer errors with besides the catalogue's, and the error of each. */
const REFUSALS: Readonly<Record<number, string>> = {
  403: 'AccessDeniedException',
  404: 'UnknownOperationException',
  408: 'SerializationException',
  413: 'SerializationException',
  431: 'SerializationException',
};

/**
 * Words a message holds only when a value escaped its type on the way: a JavaScript rendering of
 * a missing or mistyped value. NaN and Infinity are not here: a CBOR float can be either.
 */
const LEAKED_WORDS = /Invalid Date|\bundefined\b|\[object Object\]/g;

/**
 * What any answer to `request` must be: a status Kinesis uses, a body in the request's protocol,
 * an error of the catalogue. What node:http cannot parse is answered in JSON whatever the
 * request, as the answer comes before its headers are read. Returns the verdict for the tally.
 */
function checkAnswer(request: FuzzRequest, answer: Answer): string {
  expect(answer.headers['x-amzn-requestid'], 'request id').toMatch(UUID);
  expect(answer.status, 'a 5xx answer to client input').toBeLessThan(500);
  const contentType = answer.headers['content-type'];
  if (answer.status === 200 && contentType === EVENT_STREAM_TYPE) {
    checkInitialResponse(answer.body, answerFormat(request.contentType));
    return 'event stream';
  }
  expect(answer.body.length, 'an answer with an empty body').toBeGreaterThan(0);
  const parserError =
    request.transport !== 'h2' &&
    contentType === JSON_TYPE &&
    answer.body.includes('Malformed HTTP request');
  const format = parserError ? 'json' : answerFormat(request.contentType);
  expect(contentType, 'content type').toBe(format === 'cbor' ? CBOR_TYPE : JSON_TYPE);
  const decoded = decodeIn(format, answer.body);
  if (answer.status === 200) return 'OK';
  const type = decoded.__type;
  expect(isErrorCode(type), `__type ${String(type)} is in the catalogue`).toBe(true);
  expect(typeof decoded.message, 'an error message').toBe('string');
  expect(answer.headers['x-amzn-errortype'], 'x-amzn-ErrorType').toBe(type);
  const quoted = new Set(request.body.toString('latin1').match(LEAKED_WORDS));
  const leaked = (decoded.message as string).match(LEAKED_WORDS) ?? [];
  const unquoted = leaked.filter((word) => !quoted.has(word));
  expect(unquoted, 'JavaScript renderings in the message').toEqual([]);
  if (answer.status !== ERROR_CATALOG[type as keyof typeof ERROR_CATALOG].status) {
    expect(REFUSALS[answer.status], `status ${answer.status} for ${String(type)}`).toBe(type);
  }
  return String(type);
}

/** A header value every front end refuses to parse: one with a control character. */
function unparseableHead(request: FuzzRequest): boolean {
  return hasControlCharacter(request.contentType) || hasControlCharacter(request.target);
}

/** nghttp2 refuses a stream whose header block is larger than this, unanswered. */
const HTTP2_HEADER_BLOCK_BYTES_REFUSED = 64 * 1024;

/** node:http refuses headers larger than this (its default maxHeaderSize) with 431. */
const HTTP1_HEADER_BYTES_REFUSED = 16 * 1024;

/** The answers some requests must get, whatever else is wrong with them. */
function expectedRefusal(request: FuzzRequest): { status: number; type: string } | undefined {
  if (unparseableHead(request)) return undefined;
  if (request.transport === 'h1' && (request.target?.length ?? 0) > HTTP1_HEADER_BYTES_REFUSED) {
    return { status: 431, type: 'SerializationException' };
  }
  if (request.framing === 'over-limit') return { status: 413, type: 'SerializationException' };
  if (!['exact', 'chunked', 'pipelined'].includes(request.framing)) return undefined;
  if (request.method !== 'POST') return { status: 403, type: 'AccessDeniedException' };
  if (request.body.length === 0) return { status: 400, type: 'UnknownOperationException' };
  const bare = (request.contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (![JSON_TYPE, 'application/json', CBOR_TYPE].includes(bare)) {
    return request.target === undefined || request.target === ''
      ? { status: 403, type: 'AccessDeniedException' }
      : { status: 404, type: 'UnknownOperationException' };
  }
  return undefined;
}

/** uWS closes, unanswered, a connection whose Content-Length has ten digits or more. */
const UWS_CONTENT_LENGTH_REFUSED = 1e9;

/**
 * The closes without an answer the front ends document: nghttp2 resets a stream whose body
 * disagrees with its content-length, whose header holds a control character (RFC 9113 §8.1.1,
 * §8.2.1) or whose header block is over its limit (src/server/kinesis-endpoint.ts); node:http2
 * refuses to send a header value (the client's own check); uWS closes a connection whose HTTP
 * it cannot parse (a body shorter or longer than its Content-Length, a control character in a
 * header, a Content-Length of ten digits or more) or that pipelines a request behind an answer
 * still pending (src/server/uws-app.ts).
 */
function closeAllowed(request: FuzzRequest, outcome: Outcome): boolean {
  if (outcome.kind === 'reset') {
    if (outcome.code === -1) return true;
    const lengthMismatch = request.framing === 'short' || request.framing === 'long';
    const hugeHead = (request.target?.length ?? 0) > HTTP2_HEADER_BLOCK_BYTES_REFUSED;
    return request.transport === 'h2' && (lengthMismatch || hugeHead || unparseableHead(request));
  }
  if (request.transport !== 'uws') return false;
  return (
    ['short', 'long', 'pipelined'].includes(request.framing) ||
    unparseableHead(request) ||
    request.declaredLength >= UWS_CONTENT_LENGTH_REFUSED
  );
}

/** The request as a finding shows it: what was done to it, and the start of its body. */
function describeRequest(request: FuzzRequest): string {
  const shown = request.body.subarray(0, 120);
  const printable = !/[^\x20-\x7e]/.test(shown.toString('latin1'));
  const text = printable ? shown.toString('latin1') : `0x${shown.toString('hex')}`;
  return `${request.notes.join(', ')}; body (${request.body.length} bytes): ${text}`;
}

interface Ports {
  h1: number;
  uws: number;
}

/**
 * Sends case `index` and checks its answer. Returns how it was answered (`400
 * ValidationException`, ...) and over what, or throws the finding, worded to be replayed.
 */
async function runCase(
  index: number,
  seeds: Seed[],
  ports: Ports,
  lane: Http2Lane,
): Promise<{ verdict: string; transport: Transport }> {
  const request = buildRequest(SEED, index, seeds, fixtures);
  // Chunk sizes and where a body is cut come from a generator of their own.
  const random = caseRandom(SEED, index, 1);
  const finding = (problem: string, answer?: string) =>
    new Error(
      `seed ${SEED} case ${index}: ${problem}\n  request: ${describeRequest(request)}` +
        (answer === undefined ? '' : `\n  answer: ${answer}`),
    );
  let outcome: Outcome;
  try {
    outcome =
      request.transport === 'h2'
        ? await lane.send(request, random)
        : await sendHttp1(request.transport === 'h1' ? ports.h1 : ports.uws, request, random);
  } catch (error) {
    throw finding((error as Error).message);
  }
  const { transport } = request;
  if (outcome.kind === 'aborted') return { verdict: 'aborted by the client', transport };
  if (outcome.kind !== 'answer') {
    if (!closeAllowed(request, outcome)) throw finding(`no answer: ${JSON.stringify(outcome)}`);
    return { verdict: `${transport} ${outcome.kind}`, transport };
  }
  try {
    const verdict = checkAnswer(request, outcome.answer);
    const refusal = expectedRefusal(request);
    if (refusal) expect([outcome.answer.status, verdict]).toEqual([refusal.status, refusal.type]);
    if (request.framing === 'over-limit' && request.transport !== 'h2') {
      expect(outcome.closedAfter, 'the connection closed after a refused body').toBe(true);
    }
    if (request.framing === 'pipelined' && outcome.answer.headers.connection !== 'close') {
      // The connection goes on: the request after a fuzzed one is answered as ever.
      expect(outcome.next?.status, 'the next request on the connection').toBe(200);
      expect(JSON.parse(outcome.next!.body.toString('utf8'))).toHaveProperty('ShardLimit');
    }
    return { verdict: `${outcome.answer.status} ${verdict}`, transport };
  } catch (error) {
    const body = outcome.answer.body.subarray(0, 300).toString('utf8');
    throw finding((error as Error).message, `${outcome.answer.status} ${body}`);
  }
}

// ---- the bystanders --------------------------------------------------------------------------

interface Bystanders {
  /** Sequence number → data of every record acknowledged to the producer, and read back. */
  readonly acknowledged: Map<string, Buffer>;
  readonly read: Map<string, Buffer>;
  readonly refusedRecords: number;
  /** Stops producing, lets the reader catch up, and throws what either of them failed with. */
  stop(): Promise<void>;
}

/** A producer over HTTP/2 and a reader over HTTP/1.1, on the bystanders' stream. */
function startBystanders(url: string): Bystanders {
  const producer = sdkClient(url);
  const reader = sdkClient(url, { requestHandler: new NodeHttpHandler() });
  const acknowledged = new Map<string, Buffer>();
  const read = new Map<string, Buffer>();
  const state = { producing: true, reading: true, refusedRecords: 0 };
  const production = (async () => {
    for (let batch = 0; state.producing; batch++) {
      const records = Array.from({ length: 10 }, (_, i) => ({
        PartitionKey: `p${batch}-${i}`,
        Data: randomBytes(1 + ((batch * 7 + i) % 200)),
      }));
      const command = new PutRecordsCommand({ StreamName: BYSTANDER_STREAM, Records: records });
      const output = await producer.send(command);
      output.Records!.forEach((entry, i) => {
        if (entry.SequenceNumber) acknowledged.set(entry.SequenceNumber, records[i]!.Data);
        else state.refusedRecords++;
      });
      await sleep(5);
    }
  })();
  const readShard = async (shardId: string) => {
    const start = new GetShardIteratorCommand({
      StreamName: BYSTANDER_STREAM,
      ShardId: shardId,
      ShardIteratorType: 'TRIM_HORIZON',
    });
    let iterator = (await reader.send(start)).ShardIterator;
    while (iterator && state.reading) {
      const page = await reader.send(new GetRecordsCommand({ ShardIterator: iterator }));
      for (const record of page.Records!) {
        read.set(record.SequenceNumber!, Buffer.from(record.Data!));
      }
      iterator = page.NextShardIterator;
      if (page.Records!.length === 0) await sleep(20);
    }
  };
  const reading = Promise.all(['shardId-000000000000', 'shardId-000000000001'].map(readShard));
  // Settled at once, so that a run that fails first leaves no unhandled rejection behind.
  const done = Promise.allSettled([production, reading]);
  return {
    acknowledged,
    read,
    get refusedRecords() {
      return state.refusedRecords;
    },
    async stop() {
      state.producing = false;
      // The last batch is acknowledged first: the reader must then see it too.
      await Promise.allSettled([production]);
      const caughtUp = () => [...acknowledged.keys()].every((sequence) => read.has(sequence));
      for (let waited = 0; waited < CATCH_UP_MS && !caughtUp(); waited += 50) await sleep(50);
      state.reading = false;
      const results = await done;
      producer.destroy();
      reader.destroy();
      for (const result of results) if (result.status === 'rejected') throw result.reason;
    },
  };
}

// ---- the run -----------------------------------------------------------------------------------

const block = serverForBlock({
  dataDirPrefix: 'runnel-http-fuzz-',
  wsPort: 0,
  workers: 2,
  engineOptions: { segmentBytes: SEGMENT_BYTES_MIN },
});

let fixtures: Fixtures;
const logged: unknown[][] = [];
const unhandled: unknown[] = [];
const onUnhandled = (error: unknown) => unhandled.push(error);

/** A JSON request the tests make to set the run up, and its answer. */
async function call(operation: string, input: object): Promise<{ NextToken?: string }> {
  const response = await fetch(`${block.server.kinesisUrl}/`, {
    method: 'POST',
    headers: { 'content-type': JSON_TYPE, 'x-amz-target': TARGET_PREFIX + operation },
    body: JSON.stringify(input),
  });
  expect(response.status, operation).toBe(200);
  return (await response.json()) as { NextToken?: string };
}

/**
 * The tokens as issued (first, in their order: the corpus of valid requests uses them), then
 * each with each field changed: a NextToken is base64 JSON followed by a 16-byte MAC. The changed
 * ones are sent both without a MAC and with the issued token's, and the engine must refuse all
 * of them (the fuzz's checks of every answer apply).
 */
function forgedTokens(tokens: string[]): string[] {
  const changes: [string, unknown][] = [
    ['after', 5],
    ['after', null],
    ['stream', 5],
    ['stream', 'no-such-stream'],
    ['filter', 'x'],
    ['filter', null],
    ['filter', { Type: 'AT_TIMESTAMP', ms: 'x' }],
    ['filter', { Type: 'AT_TIMESTAMP', ms: 1e300 }],
    ['filter', { Type: 'NO_SUCH_TYPE' }],
    ['filter', { Type: 'AFTER_SHARD_ID', ShardId: 5 }],
    ['s', [FUZZ_STREAM]],
    ['q', 'x'],
    ['c', null],
    ['t', 1e300],
  ];
  const forged = tokens.flatMap((token) => {
    const signed = Buffer.from(token, 'base64');
    const mac = signed.subarray(signed.length - 16);
    const fields = JSON.parse(signed.subarray(0, signed.length - 16).toString('utf8')) as object;
    return changes.flatMap(([field, value]) => {
      const bytes = Buffer.from(JSON.stringify({ ...fields, [field]: value }));
      return [bytes, Buffer.concat([bytes, mac])].map((text) => text.toString('base64'));
    });
  });
  return [...tokens, ...forged];
}

beforeAll(async () => {
  const { client } = block;
  await createActive(client, FUZZ_STREAM, 2);
  await createActive(client, SECOND_STREAM, 1);
  await createActive(client, BYSTANDER_STREAM, 2);
  const consumer = await registerActive(client, FUZZ_STREAM, CONSUMER_NAMES[0]!);
  await registerActive(client, FUZZ_STREAM, CONSUMER_NAMES[1]!);
  const records = [{ PartitionKey: 'a', Data: new Uint8Array([1]) }];
  const put = await client.send(
    new PutRecordsCommand({ StreamName: FUZZ_STREAM, Records: records }),
  );
  const { ShardId, SequenceNumber } = put.Records![0]!;
  const { ShardIterator } = await client.send(
    new GetShardIteratorCommand({
      StreamName: FUZZ_STREAM,
      ShardId,
      ShardIteratorType: 'TRIM_HORIZON',
    }),
  );
  // One item per page, so that each list has a next page and a NextToken.
  const pages = [
    await call('ListShards', { StreamName: FUZZ_STREAM, MaxResults: 1 }),
    await call('ListStreams', { Limit: 1 }),
    await call('ListStreamConsumers', { StreamARN: streamArn(FUZZ_STREAM), MaxResults: 1 }),
  ];
  const tokens = pages.map((page) => page.NextToken!);
  fixtures = fixturesOf({
    consumerArn: consumer.ConsumerARN!,
    iterator: ShardIterator!,
    sequenceNumber: SequenceNumber!,
    tokens: forgedTokens(tokens),
  });
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    logged.push(args);
  });
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
});

afterAll(() => {
  vi.restoreAllMocks();
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUnhandled);
});

describe('Kinesis HTTP API fuzzing', () => {
  it(`answers every mutated request as Kinesis would, hurting no one (seed ${SEED})`, async () => {
    console.log(`kinesis http fuzz: seed ${SEED}, ${CASES} cases (RUNNEL_FUZZ_SEED replays)`);
    const { server } = block;
    const ports = {
      h1: Number(new URL(server.kinesisUrl).port),
      uws: Number(new URL(server.wsUrl!).port),
    };
    const seeds = corpus(fixtures, seededRandom(SEED));
    const bystanders = startBystanders(server.kinesisUrl);
    const outcomes = new Map<string, number>();
    const answeredOver = new Set<Transport>();
    const findings: string[] = [];

    let next = ONLY_CASE ?? 0;
    const end = ONLY_CASE === undefined ? CASES : ONLY_CASE + 1;
    const lanes = Array.from({ length: PARALLEL }, () => new Http2Lane(server.kinesisUrl));
    await Promise.all(
      lanes.map(async (lane) => {
        while (next < end && findings.length < FINDINGS_MAX) {
          try {
            const { verdict, transport } = await runCase(next++, seeds, ports, lane);
            outcomes.set(verdict, (outcomes.get(verdict) ?? 0) + 1);
            if (/^\d{3} /.test(verdict)) answeredOver.add(transport);
          } catch (error) {
            findings.push((error as Error).message);
          }
        }
      }),
    );
    for (const lane of lanes) lane.close();
    console.log('kinesis http fuzz outcomes:', Object.fromEntries([...outcomes].sort()));
    if (findings.length > 0) {
      await bystanders.stop().catch(() => undefined);
      expect.fail(`${findings.length} finding(s):\n${findings.join('\n\n')}`);
    }

    await bystanders.stop();
    expect(bystanders.refusedRecords, 'bystander records refused').toBe(0);
    expect(bystanders.acknowledged.size).toBeGreaterThan(0);
    for (const [sequence, data] of bystanders.acknowledged) {
      expect(bystanders.read.get(sequence), `record ${sequence} read back`).toEqual(data);
    }

    // The server is still up on both ports, and logged nothing.
    for (const url of [server.kinesisUrl, server.wsUrl!]) {
      const client = sdkClient(url, { requestHandler: new NodeHttpHandler() });
      const command = new DescribeStreamSummaryCommand({ StreamName: BYSTANDER_STREAM });
      const summary = await client.send(command);
      expect(summary.StreamDescriptionSummary!.StreamStatus).toBe('ACTIVE');
      client.destroy();
    }
    expect(logged, 'server-side errors logged during the storm').toEqual([]);
    expect(unhandled, 'unhandled errors during the storm').toEqual([]);
    // Every transport was used, and enough cases got past the codecs into the operations.
    if (ONLY_CASE === undefined) {
      expect([...answeredOver].sort()).toEqual(['h1', 'h2', 'uws']);
      expect(outcomes.get('200 OK') ?? 0, 'successful cases').toBeGreaterThan(CASES / 50);
    }
  }, 180_000);
});
