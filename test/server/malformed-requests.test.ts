/**
 * Goal: whatever arrives on a socket — bad JSON, wrong JSON types, missing or unknown targets,
 * wrong content types, truncated bodies, oversized bodies, random garbage — each connection gets
 * the Kinesis error a real service would send (or a clean close), and the server keeps serving
 * everyone else. Requests are written byte for byte on raw sockets, against both the Kinesis
 * endpoint (node:http / node:http2) and the uWebSockets.js port.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HTTP_REQUEST_BODY_BYTES_MAX } from '../../src/limits.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { seededRandom } from '../../src/harness/workload.js';
import { parseResponseHead } from '../helpers/raw-http.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const JSON_TYPE = 'application/x-amz-json-1.1';
const EXCHANGE_TIMEOUT_MS = 10_000;

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** True when the server closed the connection. */
  closed: boolean;
}

/** Parses the first HTTP/1.1 response in `bytes`, or returns undefined if it is incomplete. */
function parseResponse(bytes: Buffer): Omit<RawResponse, 'closed'> | undefined {
  const head = parseResponseHead(bytes);
  if (!head) return undefined;
  const { status, headers, bodyStart } = head;
  const length = Number(headers['content-length'] ?? 0);
  if (bytes.length < bodyStart + length) return undefined;
  return { status, headers, body: bytes.subarray(bodyStart, bodyStart + length).toString('utf8') };
}

/**
 * Writes `chunks` (with `pauseMs` between them), optionally half-closes, and resolves with the
 * first response, or with `undefined` if the server closed without one.
 */
function exchange(
  port: number,
  chunks: (string | Buffer)[],
  options: { end?: boolean; pauseMs?: number; waitForClose?: boolean } = {},
): Promise<RawResponse | undefined> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let response: Omit<RawResponse, 'closed'> | undefined;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no response and no close within ${EXCHANGE_TIMEOUT_MS} ms`));
    }, EXCHANGE_TIMEOUT_MS);
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      response ??= parseResponse(received);
      if (response && !options.waitForClose) {
        clearTimeout(timer);
        socket.destroy();
        resolve({ ...response, closed: false });
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(response ? { ...response, closed: true } : undefined);
    });
    socket.on('connect', async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) return;
        socket.write(chunk);
        if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
      }
      if (options.end) socket.end();
    });
  });
}

function request(target: string | undefined, body: string, contentType = JSON_TYPE): string {
  const lines = ['POST / HTTP/1.1', 'Host: 127.0.0.1'];
  lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  if (contentType) lines.push(`Content-Type: ${contentType}`);
  if (target !== undefined) lines.push(`X-Amz-Target: ${target}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

const op = (name: string) => `Kinesis_20131202.${name}`;

/** Mulberry32 (the harness's): a failing garbage case can be replayed from its seed. */
const prng = seededRandom;

let server: RunningServer;
let dataDir: string;
const ports: Record<'kinesis' | 'uws', number> = { kinesis: 0, uws: 0 };

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'runnel-malformed-'));
  server = await startServer({ port: 0, wsPort: 0, dataDir, workers: 1 });
  ports.kinesis = Number(new URL(server.kinesisUrl).port);
  ports.uws = Number(new URL(server.wsUrl!).port);
  const created = await exchange(ports.kinesis, [
    request(op('CreateStream'), '{"StreamName":"alive","ShardCount":1}'),
  ]);
  expect(created?.status).toBe(200);
});

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe.each(['kinesis', 'uws'] as const)('malformed requests on the %s port', (front) => {
  const port = () => ports[front];

  /** A valid request on a fresh connection: the server is still serving. */
  async function expectStillServing(): Promise<void> {
    const valid = request(op('DescribeStreamSummary'), '{"StreamName":"alive"}');
    const answer = await exchange(port(), [valid]);
    expect(answer?.status).toBe(200);
    expect(JSON.parse(answer!.body).StreamDescriptionSummary.StreamName).toBe('alive');
  }

  async function expectError(
    raw: string | Buffer,
    status: number,
    type: string,
    message?: string | RegExp,
  ): Promise<void> {
    const answer = await exchange(port(), [raw]);
    expect(answer, 'a response').toBeDefined();
    expect(answer!.status).toBe(status);
    expect(answer!.headers['x-amzn-requestid']).toMatch(UUID);
    expect(answer!.headers['content-type']).toBe(JSON_TYPE);
    const body = JSON.parse(answer!.body) as { __type: string; message: string };
    expect(body.__type).toBe(type);
    if (typeof message === 'string') expect(body.message).toBe(message);
    else if (message) expect(body.message).toMatch(message);
    await expectStillServing();
  }

  it('answers bad JSON with SerializationException', async () => {
    await expectError(request(op('CreateStream'), '{"StreamName":'), 400, 'SerializationException');
    await expectError(request(op('ListStreams'), 'not json at all'), 400, 'SerializationException');
    await expectError(request(op('ListStreams'), '"a string"'), 400, 'SerializationException');
  });

  it('answers wrong JSON types with Kinesis-worded SerializationException', async () => {
    const cases: [string, string, string][] = [
      [
        'CreateStream',
        '{"StreamName":"s","ShardCount":"x"}',
        'class java.lang.String can not be converted to an Integer',
      ],
      [
        'CreateStream',
        '{"StreamName":"s","ShardCount":true}',
        'class java.lang.Boolean can not be converted to an Integer',
      ],
      [
        'CreateStream',
        '{"StreamName":{"a":1},"ShardCount":1}',
        'Start of structure or map found where not expected.',
      ],
      [
        'CreateStream',
        '{"StreamName":["a"],"ShardCount":1}',
        'Start of list found where not expected',
      ],
      [
        'CreateStream',
        '{"StreamName":12,"ShardCount":1}',
        'class java.math.BigDecimal can not be converted to an String',
      ],
      ['CreateStream', '{"StreamName":"s","Tags":"x"}', 'Expected map or null'],
      ['ListStreams', '{"Limit":3000000000}', 'Numeric value (3000000000) out of range of int'],
      ['CreateStream', '{"StreamName":"s","StreamModeDetails":"x"}', 'Expected null'],
      [
        'PutRecords',
        '{"StreamName":"s","Records":{"a":1}}',
        'Start of structure or map found where not expected.',
      ],
      ['PutRecords', '{"StreamName":"s","Records":"x"}', 'Expected list or null'],
      [
        'PutRecord',
        '{"StreamName":"alive","PartitionKey":"k","Data":"not base64!"}',
        "'not base64!' can not be converted to a Blob: Base64 encoded length is expected a " +
          'multiple of 4 bytes but found: 11',
      ],
      [
        'PutRecord',
        '{"StreamName":"alive","PartitionKey":"k","Data":"ab$d"}',
        "'ab$d' can not be converted to a Blob: Invalid Base64 character: '$'",
      ],
      [
        'PutRecord',
        '{"StreamName":"alive","PartitionKey":"k","Data":1}',
        'class java.math.BigDecimal can not be converted to a Blob',
      ],
      [
        'PutRecords',
        '{"StreamName":"alive","Records":[{"PartitionKey":"k","Data":"QR=="}]}',
        "'QR==' can not be converted to a Blob: Invalid last non-pad Base64 character dectected",
      ],
      [
        'DeleteStream',
        '{"StreamName":"s","EnforceConsumerDeletion":"maybe"}',
        "'MAYBE' can not be converted to an Boolean",
      ],
      [
        'GetShardIterator',
        '{"StreamName":"s","ShardId":"x","ShardIteratorType":"AT_TIMESTAMP","Timestamp":"soon"}',
        "'soon' can not be converted to a Timestamp",
      ],
    ];
    for (const [operation, body, message] of cases) {
      await expectError(request(op(operation), body), 400, 'SerializationException', message);
    }
  });

  it('ignores unknown members, as the service does', async () => {
    const answer = await exchange(port(), [
      request(
        op('DescribeStreamSummary'),
        '{"StreamName":"alive","Bogus":{"deep":[1,2]},"x":null}',
      ),
    ]);
    expect(answer?.status).toBe(200);
  });

  it('answers a missing, unknown or foreign X-Amz-Target: UnknownOperationException', async () => {
    const unknown = 'UnknownOperationException';
    await expectError(request(undefined, '{}'), 400, unknown, 'Missing X-Amz-Target header');
    await expectError(request(op('NoSuchOperation'), '{}'), 400, 'UnknownOperationException');
    await expectError(request('DynamoDB_20120810.ListTables', '{}'), 400, unknown);
    await expectError(request(op(''), '{}'), 400, 'UnknownOperationException');
    // Names inherited from Object.prototype are not operations.
    for (const inherited of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      await expectError(request(op(inherited), '{}'), 400, unknown);
    }
  });

  it('answers an empty body with UnknownOperationException', async () => {
    await expectError(request(op('ListStreams'), ''), 400, 'UnknownOperationException');
  });

  it('answers a wrong content type as Kinesis does (404, or 403 without a target)', async () => {
    await expectError(
      request(op('ListStreams'), '{}', 'text/plain'),
      404,
      'UnknownOperationException',
      /^Content-Type text\/plain is not supported/,
    );
    await expectError(request(undefined, '{}', 'text/plain'), 403, 'AccessDeniedException');
    // application/json is accepted as JSON 1.1.
    const answer = await exchange(port(), [request(op('ListStreams'), '{}', 'application/json')]);
    expect(answer?.status).toBe(200);
  });

  it('answers a GET with AccessDeniedException', async () => {
    await expectError('GET / HTTP/1.1\r\nHost: x\r\n\r\n', 403, 'AccessDeniedException');
  });

  it('survives a truncated body followed by a close', async () => {
    const head =
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n' +
      'X-Amz-Target: Kinesis_20131202.ListStreams\r\nContent-Length: 100\r\n\r\n{"Lim';
    const answer = await exchange(port(), [head], { end: true, waitForClose: true });
    // node:http answers the incomplete request with 400 and closes; uWS just closes.
    if (answer) {
      expect(answer.status).toBe(400);
      expect(answer.closed).toBe(true);
      expect(answer.headers['x-amzn-requestid']).toMatch(UUID);
    }
    await expectStillServing();
  });

  it('survives a truncated body left hanging while others are served', async () => {
    const socket = net.connect(port(), '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n' +
        'X-Amz-Target: Kinesis_20131202.ListStreams\r\nContent-Length: 100\r\n\r\n{',
    );
    await expectStillServing();
    socket.destroy();
    await expectStillServing();
  });

  it('survives random garbage bytes (seeded)', async () => {
    const seed = 0x5eed;
    const random = prng(seed);
    for (let round = 0; round < 8; round++) {
      const garbage = Buffer.alloc(64 + Math.floor(random() * 4096));
      for (let i = 0; i < garbage.length; i++) garbage[i] = Math.floor(random() * 256);
      const answer = await exchange(port(), [garbage], { end: true, waitForClose: true });
      if (answer) expect(answer.status, `seed ${seed} round ${round}`).toBeGreaterThanOrEqual(400);
    }
    // Garbage after a valid request line and after a (fake) HTTP/2 preface.
    await exchange(port(), ['POST / HTTP/1.1\r\n\x00\x01\x02garbage\r\n\r\n'], {
      end: true,
      waitForClose: true,
    });
    const fakePreface = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' + '\xff'.repeat(9);
    await exchange(port(), [fakePreface], {
      end: true,
      waitForClose: true,
    });
    await exchange(port(), ['P'], { end: true, waitForClose: true });
    await expectStillServing();
  });

  it('refuses a 20 MB Content-Length before the body is sent', async () => {
    const twentyMB = 20 * 1000 * 1000;
    const head =
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n' +
      `X-Amz-Target: Kinesis_20131202.PutRecords\r\nContent-Length: ${twentyMB}\r\n\r\n`;
    // Only the head is written: an answer can only come from the declared length.
    const answer = await exchange(port(), [head], { waitForClose: true });
    expect(answer).toBeDefined();
    expect(answer!.status).toBe(413);
    expect(answer!.closed).toBe(true);
    expect(answer!.headers['x-amzn-requestid']).toMatch(UUID);
    const body = JSON.parse(answer!.body) as { __type: string; message: string };
    expect(body.__type).toBe('SerializationException');
    expect(body.message).toBe(
      `Request body of ${twentyMB} bytes, more than the maximum of ` +
        `${HTTP_REQUEST_BODY_BYTES_MAX} bytes`,
    );
    await expectStillServing();
  });

  it('cuts off a chunked body once it passes the maximum', async () => {
    const head =
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n' +
      'X-Amz-Target: Kinesis_20131202.PutRecords\r\nTransfer-Encoding: chunked\r\n\r\n';
    const chunkBytes = 1024 * 1024;
    const chunk = Buffer.concat([
      Buffer.from(`${chunkBytes.toString(16)}\r\n`),
      Buffer.alloc(chunkBytes, 0x41),
      Buffer.from('\r\n'),
    ]);
    const count = Math.ceil(HTTP_REQUEST_BODY_BYTES_MAX / chunkBytes) + 2;
    const answer = await exchange(port(), [head, ...Array.from({ length: count }, () => chunk)], {
      waitForClose: true,
    });
    expect(answer?.status).toBe(413);
    expect(JSON.parse(answer!.body).__type).toBe('SerializationException');
    await expectStillServing();
  });
});

describe('HTTP/2 on the Kinesis port', () => {
  function h2Request(
    headers: http2.OutgoingHttpHeaders,
    body?: Buffer | string,
  ): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string }> {
    return new Promise((resolve, reject) => {
      const session = http2.connect(server.kinesisUrl);
      session.on('error', reject);
      const stream = session.request({ ':method': 'POST', ':path': '/', ...headers });
      const chunks: Buffer[] = [];
      let responseHeaders: http2.IncomingHttpHeaders = {};
      stream.on('response', (h) => (responseHeaders = h));
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', () => undefined);
      stream.on('close', () => {
        session.close();
        resolve({
          status: Number(responseHeaders[':status']),
          headers: responseHeaders,
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
      if (body !== undefined) stream.end(body);
    });
  }

  it('answers h2c prior-knowledge requests and errors', async () => {
    const ok = await h2Request(
      { 'content-type': JSON_TYPE, 'x-amz-target': op('ListStreams') },
      '{}',
    );
    expect(ok.status).toBe(200);
    expect(ok.headers['x-amzn-requestid']).toMatch(UUID);
    expect(JSON.parse(ok.body).StreamNames).toContain('alive');
    const list = { 'content-type': JSON_TYPE, 'x-amz-target': op('ListStreams') };
    const bad = await h2Request(list, '{');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).__type).toBe('SerializationException');
  });

  it('refuses a 20 MB content-length stream before its body; others still work', async () => {
    const refused = await h2Request({
      'content-type': JSON_TYPE,
      'x-amz-target': op('PutRecords'),
      'content-length': String(20 * 1000 * 1000),
    });
    expect(refused.status).toBe(413);
    expect(JSON.parse(refused.body).__type).toBe('SerializationException');
    const list = { 'content-type': JSON_TYPE, 'x-amz-target': op('ListStreams') };
    const ok = await h2Request(list, '{}');
    expect(ok.status).toBe(200);
  });
});
