/**
 * HTTP ingest: records/s and MB/s of PutRecords through the Kinesis endpoint, for 500 × 100 B and
 * 500 × 1 KiB records, over HTTP/1.1 (keep-alive) and HTTP/2 cleartext (prior knowledge), with
 * several concurrent connections. The server runs `runnel serve` in a child process so client
 * and server do not share a thread.
 *
 * Targets: ≥ 300,000 records/s at 100 B, ≥ 150 MB/s at 1 KiB. Baseline measured in the same
 * run: JSON.parse plus base64 decoding of the same bodies on one core ("vs decode"), what a
 * server that parses its bodies as JSON does per record before anything else (Runnel scans the
 * common shape as bytes instead, and uses two cores, so it can exceed 1×). For scale: one Kinesis shard takes 1,000 records/s and
 * 1 MiB/s; the "shards" column states the figure in shards.
 *
 * The client is deliberately lean — HTTP/1.1 and HTTP/2 (prior knowledge) written and read on
 * raw keep-alive sockets, not node:http, node:http2 or the AWS SDK — and sends precomputed
 * bodies (a pool of distinct bodies, every record with its own partition key, so the engine
 * hashes 500 different keys per request), so that its CPU goes into moving bytes. MB/s counts record data bytes (not base64, not keys) in
 * 10^6 bytes. Each case runs a warm-up second, then a fixed time, then stops by itself.
 *
 * Usage: node dist/bench/http-ingest.js [--seconds 10] [--connections 8] [--shards 8]
 *        [--workers N] [--cases 100:h1,100:h2,1024:h1,1024:h2] [--cpu-prof DIR]
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { SHARD_WRITE_BYTES_PER_SEC, SHARD_WRITE_RECORDS_PER_SEC } from '../src/limits.js';
import { sortedPercentile } from '../src/harness/histogram.js';
import { processCpuSec } from '../src/harness/machine.js';
import { serverNodeFlags } from '../src/server/node-flags.js';

const RECORDS_PER_REQUEST = 500;
/** Distinct request bodies per case: 64 × 500 = 32,000 distinct partition keys. */
const BODY_POOL_SIZE = 64;
const STREAM = 'http-ingest';
const READY_TIMEOUT_MS = 30_000;
/** Each case first runs this long uncounted. */
const WARMUP_MS = 1000;
const TARGET_RECORDS_PER_SEC_100B = 300_000;
const TARGET_MB_PER_SEC_1KIB = 150;

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '8' },
    shards: { type: 'string', default: '8' },
    workers: { type: 'string' },
    cases: { type: 'string', default: '100:h1,100:h2,1024:h1,1024:h2' },
    'cpu-prof': { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const shards = Number(values.shards);

type Protocol = 'h1' | 'h2';
interface Case {
  recordBytes: number;
  protocol: Protocol;
}

interface CaseResult extends Case {
  requests: number;
  records: number;
  failedRecords: number;
  errors: number;
  elapsedSec: number;
  latenciesMs: number[];
  /** CPU seconds used during the timed run, all threads: server process and this client. */
  serverCpuSec: number;
  clientCpuSec: number;
}

const HEADERS = {
  'content-type': 'application/x-amz-json-1.1',
  'x-amz-target': 'Kinesis_20131202.PutRecords',
};

// ---- the server, in its own process -----------------------------------------------------------

async function startServerProcess(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));
  const args = [
    ...(values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${values['cpu-prof']}`] : []),
    ...serverNodeFlags(),
    cli,
    'serve',
    '--port',
    '0',
    '--ws-port',
    '0',
    '--data',
    dataDir,
    ...(values.workers ? ['--workers', values.workers] : []),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!stdout.includes('\n')) {
    if (child.exitCode !== null) throw new Error('runnel serve exited before it was ready');
    if (Date.now() > deadline) throw new Error('runnel serve was not ready in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const url = /Runnel listening on (\S+)/.exec(stdout)?.[1];
  if (!url) throw new Error(`unexpected output from runnel serve: ${stdout}`);
  return { child, url };
}

function call(url: string, operation: string, body: object): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      `${url}/`,
      { method: 'POST', headers: { ...HEADERS, 'x-amz-target': `Kinesis_20131202.${operation}` } },
      (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () =>
          response.statusCode === 200 ? resolve(text) : reject(new Error(`${operation}: ${text}`)),
        );
      },
    );
    request.on('error', reject);
    request.end(JSON.stringify(body));
  });
}

// ---- request bodies ---------------------------------------------------------------------------

function buildBodies(recordBytes: number): Buffer[] {
  const bodies: Buffer[] = [];
  for (let b = 0; b < BODY_POOL_SIZE; b++) {
    const records = new Array(RECORDS_PER_REQUEST);
    for (let i = 0; i < RECORDS_PER_REQUEST; i++) {
      const data = Buffer.alloc(recordBytes, (b * RECORDS_PER_REQUEST + i) & 0xff);
      records[i] = { Data: data.toString('base64'), PartitionKey: `pk-${recordBytes}-${b}-${i}` };
    }
    bodies.push(Buffer.from(JSON.stringify({ StreamName: STREAM, Records: records })));
  }
  return bodies;
}

/** FailedRecordCount is the first member of the response: no need to parse 500 results. */
function failedRecordCount(head: string): number {
  const match = /"FailedRecordCount":(\d+)/.exec(head);
  return match ? Number(match[1]) : RECORDS_PER_REQUEST;
}

// ---- one case ---------------------------------------------------------------------------------

interface Sender {
  send(body: Buffer): Promise<{ status: number; head: string }>;
  close(): void;
}

/** A TCP connection to the server at `url` (Nagle off), for the raw senders below. */
function rawSocket(url: string): { target: URL; socket: net.Socket; connected: Promise<void> } {
  const target = new URL(url);
  const socket = net.connect({ host: target.hostname, port: Number(target.port), noDelay: true });
  socket.on('error', () => undefined);
  const connected = new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { target, socket, connected };
}

/**
 * HTTP/1.1 over one raw keep-alive socket per loop: the request head is precomputed per body
 * length and written with the body in one writev, and the response is read only as far as
 * needed (status line, Content-Length, the first bytes of the body). node:http's client cost
 * this process about twice the CPU per request, CPU the server then did not have on 2 cores.
 * Requests on one socket are sequential, as each loop awaits its answer before the next.
 */
function http1Sender(url: string): Sender {
  const { target, socket, connected } = rawSocket(url);
  const heads = new Map<number, Buffer>();
  const headOf = (length: number): Buffer => {
    let head = heads.get(length);
    if (!head) {
      head = Buffer.from(
        `POST / HTTP/1.1\r\nHost: ${target.host}\r\nContent-Type: ${HEADERS['content-type']}\r\n` +
          `X-Amz-Target: ${HEADERS['x-amz-target']}\r\nContent-Length: ${length}\r\n\r\n`,
        'latin1',
      );
      heads.set(length, head);
    }
    return head;
  };
  let waiting:
    | { resolve: (value: { status: number; head: string }) => void; reject: (error: Error) => void }
    | undefined;
  let buffered: Buffer | undefined;
  let status = 0;
  let bodyStart = -1;
  let bodyLength = 0;
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered ? Buffer.concat([buffered, chunk]) : chunk;
    if (bodyStart < 0) {
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const headers = buffered.toString('latin1', 0, end);
      status = Number(headers.slice(9, 12));
      const length = /\r\ncontent-length: *(\d+)/i.exec(headers);
      if (!length) {
        waiting?.reject(new Error('response without Content-Length'));
        socket.destroy();
        return;
      }
      bodyLength = Number(length[1]);
      bodyStart = end + 4;
    }
    if (buffered.length < bodyStart + bodyLength) return;
    const head = buffered.toString('latin1', bodyStart, bodyStart + Math.min(64, bodyLength));
    buffered =
      buffered.length > bodyStart + bodyLength
        ? buffered.subarray(bodyStart + bodyLength)
        : undefined;
    bodyStart = -1;
    const done = waiting;
    waiting = undefined;
    done?.resolve({ status, head });
  });
  socket.on('close', () => waiting?.reject(new Error('connection closed')));
  return {
    async send(body) {
      await connected;
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject };
        socket.cork();
        socket.write(headOf(body.length));
        socket.write(body);
        socket.uncork();
      });
    },
    close: () => socket.destroy(),
  };
}

// HTTP/2 frame types and flags (RFC 9113 §6) the sender uses.
const H2_DATA = 0x0;
const H2_HEADERS = 0x1;
const H2_RST_STREAM = 0x3;
const H2_SETTINGS = 0x4;
const H2_PING = 0x6;
const H2_GOAWAY = 0x7;
const H2_WINDOW_UPDATE = 0x8;
const H2_END_STREAM = 0x1;
const H2_ACK = 0x1;
const H2_END_HEADERS = 0x4;
const H2_PADDED = 0x8;
const H2_PRIORITY = 0x20;
const H2_FRAME_HEADER_BYTES = 9;
const H2_SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
/** The DATA frame size every Node HTTP/2 client (the AWS SDK's included) sends. */
const H2_DATA_FRAME_BYTES = 16_384;
const H2_DEFAULT_WINDOW = 65_535;
const H2_WINDOW_MAX = 2 ** 31 - 1;
/** :status values of HPACK's static table (RFC 7541 Appendix A), by index. */
const HPACK_STATUS: Record<number, number> = {
  8: 200,
  9: 204,
  10: 206,
  11: 304,
  12: 400,
  13: 404,
  14: 500,
};

function h2Frame(length: number, type: number, flags: number, stream: number): Buffer {
  const header = Buffer.allocUnsafe(H2_FRAME_HEADER_BYTES);
  header.writeUIntBE(length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(stream, 5);
  return header;
}

/** An HPACK integer with an `prefixBits`-bit prefix whose other bits are `flags` (RFC 7541 §5.1). */
function hpackInteger(value: number, prefixBits: number, flags: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [flags | value];
  const bytes = [flags | max];
  for (value -= max; value >= 128; value >>>= 7) bytes.push((value & 0x7f) | 0x80);
  bytes.push(value);
  return bytes;
}

/** A literal header field without indexing (no Huffman): by static-table name index, or by name. */
function hpackLiteral(name: number | string, value: string): number[] {
  const nameBytes =
    typeof name === 'number'
      ? hpackInteger(name, 4, 0)
      : [0, ...hpackInteger(name.length, 7, 0), ...Buffer.from(name, 'latin1')];
  return [...nameBytes, ...hpackInteger(value.length, 7, 0), ...Buffer.from(value, 'latin1')];
}

/**
 * HTTP/2 with prior knowledge over one raw socket per loop, as lean as the HTTP/1.1 sender: the
 * header block (HPACK static-table indexes and literals, no Huffman, no dynamic table) is
 * precomputed per body length; the body goes in 16 KiB DATA frames, as Node's HTTP/2 client
 * (the AWS SDK's transport) sends it, within the flow-control windows the server grants; of the
 * answer only :status (the first header field; 0x88 is static-table "200") and the first body
 * bytes are read. One stream at a time per connection. node:http2 sessions cost this process
 * about twice the CPU of the HTTP/1.1 sender, CPU the server then did not have on 2 cores.
 */
function http2Sender(url: string): Sender {
  const { target, socket, connected } = rawSocket(url);
  // Preface, SETTINGS (stream windows as large as allowed), and the connection window likewise.
  const settings = Buffer.alloc(6);
  settings.writeUInt16BE(H2_SETTINGS_INITIAL_WINDOW_SIZE, 0);
  settings.writeUInt32BE(H2_WINDOW_MAX, 2);
  const windowUpdate = (stream: number, increment: number) => {
    const payload = Buffer.alloc(4);
    payload.writeUInt32BE(increment, 0);
    return [h2Frame(4, H2_WINDOW_UPDATE, 0, stream), payload];
  };
  socket.cork();
  socket.write(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'));
  socket.write(h2Frame(settings.length, H2_SETTINGS, 0, 0));
  socket.write(settings);
  for (const part of windowUpdate(0, H2_WINDOW_MAX - H2_DEFAULT_WINDOW)) socket.write(part);
  socket.uncork();

  const blocks = new Map<number, Buffer>();
  const blockOf = (length: number): Buffer => {
    let block = blocks.get(length);
    if (!block) {
      block = Buffer.from([
        0x83, // :method POST
        0x86, // :scheme http
        0x84, // :path /
        ...hpackLiteral(1, target.host), // :authority
        ...hpackLiteral(31, HEADERS['content-type']),
        ...hpackLiteral('x-amz-target', HEADERS['x-amz-target']),
        ...hpackLiteral(28, String(length)), // content-length
      ]);
      blocks.set(length, block);
    }
    return block;
  };

  let sendWindow = H2_DEFAULT_WINDOW; // connection
  let streamWindowInitial = H2_DEFAULT_WINDOW;
  let streamWindow = 0;
  let receivedSinceUpdate = 0;
  let streamId = -1;
  let nextStreamId = 1;
  let pending: { body: Buffer; sent: number } | undefined;
  let waiting:
    | { resolve: (value: { status: number; head: string }) => void; reject: (error: Error) => void }
    | undefined;
  let status = 0;
  let head = '';

  const fail = (error: Error) => {
    const done = waiting;
    waiting = undefined;
    pending = undefined;
    done?.reject(error);
  };
  /** Sends as much of the pending body as the windows allow. */
  const pump = () => {
    if (!pending) return;
    socket.cork();
    while (pending.sent < pending.body.length) {
      const size = Math.min(
        H2_DATA_FRAME_BYTES,
        pending.body.length - pending.sent,
        sendWindow,
        streamWindow,
      );
      if (size <= 0) break;
      const last = pending.sent + size === pending.body.length;
      socket.write(h2Frame(size, H2_DATA, last ? H2_END_STREAM : 0, streamId));
      socket.write(pending.body.subarray(pending.sent, pending.sent + size));
      pending.sent += size;
      sendWindow -= size;
      streamWindow -= size;
    }
    socket.uncork();
    if (pending.sent === pending.body.length) pending = undefined;
  };
  /** The payload of a HEADERS or DATA frame without its padding and priority fields. */
  const content = (frame: Buffer, flags: number, type: number): Buffer => {
    let start = 0;
    let end = frame.length;
    if (flags & H2_PADDED) end -= frame[start++]!;
    if (type === H2_HEADERS && flags & H2_PRIORITY) start += 5;
    return frame.subarray(start, end);
  };
  const onFrame = (type: number, flags: number, stream: number, payload: Buffer) => {
    if (type === H2_SETTINGS) {
      if (flags & H2_ACK) return;
      for (let at = 0; at + 6 <= payload.length; at += 6) {
        if (payload.readUInt16BE(at) !== H2_SETTINGS_INITIAL_WINDOW_SIZE) continue;
        const value = payload.readUInt32BE(at + 2);
        streamWindow += value - streamWindowInitial;
        streamWindowInitial = value;
      }
      socket.write(h2Frame(0, H2_SETTINGS, H2_ACK, 0));
      pump();
    } else if (type === H2_WINDOW_UPDATE) {
      const increment = payload.readUInt32BE(0) & 0x7fffffff;
      if (stream === 0) sendWindow += increment;
      else if (stream === streamId) streamWindow += increment;
      pump();
    } else if (type === H2_PING) {
      if (!(flags & H2_ACK)) {
        socket.write(h2Frame(payload.length, H2_PING, H2_ACK, 0));
        socket.write(payload);
      }
    } else if (type === H2_GOAWAY) {
      fail(new Error('GOAWAY from the server'));
      socket.destroy();
    } else if (stream === streamId && type === H2_RST_STREAM) {
      fail(new Error(`stream reset (${payload.readUInt32BE(0)})`));
    } else if (stream === streamId && type === H2_HEADERS) {
      const block = content(payload, flags, type);
      const first = block[0] ?? 0;
      status = first & 0x80 ? (HPACK_STATUS[first & 0x7f] ?? 0) : 0;
    } else if (stream === streamId && type === H2_DATA) {
      receivedSinceUpdate += payload.length;
      if (head.length < 64)
        head += content(payload, flags, type).toString('latin1', 0, 64 - head.length);
    }
    if (stream === streamId && flags & H2_END_STREAM && (type === H2_HEADERS || type === H2_DATA)) {
      // The connection window this process grants: topped up well before it runs out.
      if (receivedSinceUpdate > H2_WINDOW_MAX / 2) {
        for (const part of windowUpdate(0, receivedSinceUpdate)) socket.write(part);
        receivedSinceUpdate = 0;
      }
      const done = waiting;
      waiting = undefined;
      streamId = -1;
      done?.resolve({ status, head });
    }
  };
  let buffered: Buffer | undefined;
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered ? Buffer.concat([buffered, chunk]) : chunk;
    let at = 0;
    while (buffered.length - at >= H2_FRAME_HEADER_BYTES) {
      const length = buffered.readUIntBE(at, 3);
      if (buffered.length - at < H2_FRAME_HEADER_BYTES + length) break;
      const payload = buffered.subarray(
        at + H2_FRAME_HEADER_BYTES,
        at + H2_FRAME_HEADER_BYTES + length,
      );
      onFrame(
        buffered[at + 3]!,
        buffered[at + 4]!,
        buffered.readUInt32BE(at + 5) & 0x7fffffff,
        payload,
      );
      at += H2_FRAME_HEADER_BYTES + length;
    }
    buffered = at === buffered.length ? undefined : buffered.subarray(at);
  });
  socket.on('close', () => fail(new Error('connection closed')));
  return {
    async send(body) {
      await connected;
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject };
        streamId = nextStreamId;
        nextStreamId += 2;
        streamWindow = streamWindowInitial;
        status = 0;
        head = '';
        const block = blockOf(body.length);
        socket.cork();
        socket.write(h2Frame(block.length, H2_HEADERS, H2_END_HEADERS, streamId));
        socket.write(block);
        pending = { body, sent: 0 };
        pump();
        socket.uncork();
      });
    },
    close: () => socket.destroy(),
  };
}

async function runCase(url: string, serverPid: number, spec: Case): Promise<CaseResult> {
  const bodies = buildBodies(spec.recordBytes);
  // One TCP connection per loop: a keep-alive socket (h1) or an h2c session (h2).
  const senders = Array.from({ length: connections }, () =>
    spec.protocol === 'h1' ? http1Sender(url) : http2Sender(url),
  );
  const result: CaseResult = {
    ...spec,
    requests: 0,
    records: 0,
    failedRecords: 0,
    errors: 0,
    elapsedSec: 0,
    latenciesMs: [],
    serverCpuSec: 0,
    clientCpuSec: 0,
  };
  // Warm-up, not counted: the server's code paths compile and its first segments open.
  const warmUntil = performance.now() + WARMUP_MS;
  await Promise.all(
    senders.map(async (sender, loop) => {
      for (let next = loop; performance.now() < warmUntil; next += connections) {
        await sender.send(bodies[next % bodies.length]!);
      }
    }),
  );
  const started = performance.now();
  const stopAt = started + seconds * 1000;
  const serverCpuStart = processCpuSec(serverPid);
  const clientCpuStart = process.cpuUsage();
  await Promise.all(
    senders.map(async (sender, loop) => {
      let next = loop;
      while (performance.now() < stopAt) {
        const body = bodies[next % bodies.length]!;
        next += connections;
        const sent = performance.now();
        try {
          const { status, head } = await sender.send(body);
          result.latenciesMs.push(performance.now() - sent);
          result.requests++;
          if (status !== 200) {
            result.errors++;
            continue;
          }
          const failed = failedRecordCount(head);
          result.failedRecords += failed;
          result.records += RECORDS_PER_REQUEST - failed;
        } catch {
          result.errors++;
        }
      }
    }),
  );
  result.elapsedSec = (performance.now() - started) / 1000;
  result.serverCpuSec = processCpuSec(serverPid) - serverCpuStart;
  const clientCpu = process.cpuUsage(clientCpuStart);
  result.clientCpuSec = (clientCpu.user + clientCpu.system) / 1e6;
  for (const sender of new Set(senders)) sender.close();
  return result;
}

// ---- baseline ---------------------------------------------------------------------------------

/** How long the same-run decode baseline runs, per record size. */
const BASELINE_MS = 1000;
const baselines = new Map<number, number>();

/**
 * The least a JSON PutRecords costs, measured in this process on one core in this run:
 * JSON.parse of the same bodies and a native base64 decode of every record's Data, nothing
 * else (no HTTP, checks, hashing or storage). Records/s. Ingest is reported as a multiple of it,
 * which says how much of the machine's speed at that moment the server turns into throughput.
 */
function decodeBaseline(recordBytes: number): number {
  const known = baselines.get(recordBytes);
  if (known !== undefined) return known;
  const bodies = buildBodies(recordBytes);
  let records = 0;
  let sink = 0;
  const started = performance.now();
  for (let b = 0; performance.now() - started < BASELINE_MS; b++) {
    const parsed = JSON.parse(bodies[b % bodies.length]!.toString('latin1')) as {
      Records: { Data: string }[];
    };
    for (const record of parsed.Records) sink += Buffer.from(record.Data, 'base64').length;
    records += parsed.Records.length;
  }
  const rate = records / ((performance.now() - started) / 1000);
  if (sink < 0) console.log(sink);
  baselines.set(recordBytes, rate);
  return rate;
}

// ---- report -----------------------------------------------------------------------------------

function report(results: CaseResult[]): void {
  const rows = results.map((r) => {
    const recordsPerSec = r.records / r.elapsedSec;
    const bytesPerSec = (r.records * r.recordBytes) / r.elapsedSec;
    const sorted = [...r.latenciesMs].sort((a, b) => a - b);
    return {
      record: r.recordBytes === 1024 ? '1 KiB' : `${r.recordBytes} B`,
      protocol: r.protocol === 'h1' ? 'HTTP/1.1' : 'HTTP/2',
      conns: String(connections),
      'requests/s': (r.requests / r.elapsedSec).toFixed(0),
      'records/s': recordsPerSec.toFixed(0),
      // Ingest as a multiple of decoding the same bodies on one core of this machine, this run.
      'vs decode': `${(recordsPerSec / decodeBaseline(r.recordBytes)).toFixed(2)}×`,
      'MB/s': (bytesPerSec / 1e6).toFixed(1),
      'p50 ms': sortedPercentile(sorted, 0.5).toFixed(1),
      'p99 ms': sortedPercentile(sorted, 0.99).toFixed(1),
      // Kinesis shards this throughput would need: each takes 1,000 records/s and 1 MiB/s.
      shards: Math.max(
        recordsPerSec / SHARD_WRITE_RECORDS_PER_SEC,
        bytesPerSec / SHARD_WRITE_BYTES_PER_SEC,
      ).toFixed(0),
      errors: String(r.errors + r.failedRecords),
      'server CPU': `${((100 * r.serverCpuSec) / r.elapsedSec).toFixed(0)}%`,
      // Server CPU (all threads) per record: unlike rates, barely moved by other load on the box.
      'server µs/rec': ((1e6 * r.serverCpuSec) / Math.max(1, r.records)).toFixed(2),
      'client CPU': `${((100 * r.clientCpuSec) / r.elapsedSec).toFixed(0)}%`,
      target:
        r.recordBytes === 100
          ? `${recordsPerSec >= TARGET_RECORDS_PER_SEC_100B ? 'met' : 'MISSED'} (≥300k rec/s)`
          : r.recordBytes === 1024
            ? `${bytesPerSec / 1e6 >= TARGET_MB_PER_SEC_1KIB ? 'met' : 'MISSED'} (≥150 MB/s)`
            : '',
    };
  });
  const columns = Object.keys(rows[0]!) as (keyof (typeof rows)[number])[];
  const widths = columns.map((column) =>
    Math.max(column.length, ...rows.map((row) => row[column].length)),
  );
  const pad = (cell: string, i: number) =>
    i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!);
  const line = (cells: string[]) => cells.map(pad).join('  ');
  console.log(line(columns));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const row of rows) console.log(line(columns.map((column) => row[column])));
  const decoded = [...baselines].map(([bytes, rate]) => `${bytes} B: ${rate.toFixed(0)} records/s`);
  console.log(
    `vs decode: JSON.parse + base64 of the same bodies on one core of this process, after the cases (${decoded.join(', ')})`,
  );
}

// ---- main -------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const cases: Case[] = values.cases!.split(',').map((item) => {
    const [bytes, protocol] = item.split(':');
    return { recordBytes: Number(bytes), protocol: protocol as Protocol };
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'runnel-http-ingest-'));
  const { child, url } = await startServerProcess(dataDir);
  try {
    await call(url, 'CreateStream', { StreamName: STREAM, ShardCount: shards });
    console.log(
      `http-ingest: ${cpus()[0]?.model ?? 'cpu'} × ${availableParallelism()}, ` +
        `node ${process.version}; server ${url} (child process, workers ` +
        `${values.workers ?? 'default'}), ${shards} shards, ${connections} connections, ` +
        `${seconds} s per case, ${RECORDS_PER_REQUEST} records/request`,
    );
    const results: CaseResult[] = [];
    for (const spec of cases) {
      const result = await runCase(url, child.pid!, spec);
      results.push(result);
      const rate = (result.records / result.elapsedSec).toFixed(0);
      console.log(`  ${spec.recordBytes} B over ${spec.protocol}: ${rate} records/s`);
    }
    console.log('');
    report(results);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error('http-ingest failed:', error);
  process.exit(1);
});
