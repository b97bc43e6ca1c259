/**
 * Goal: `runnel/client` runs in a real browser on the browser's own WebSocket, against the real
 * server. Headless Chromium loads the compiled client as ES modules from a static route on
 * 127.0.0.1 and, on a stream with 4 shards:
 *  - lists streams and shards;
 *  - subscribes from LATEST on every shard, then sends three pipelined putRecords of 400 records
 *    each (data of 1–300 bytes, some records placed by ExplicitHashKey);
 *  - reads every shard back from TRIM_HORIZON;
 *  - gets a put to a missing stream refused as ResourceNotFoundException.
 * The page reports what it saw; the test checks it against its own read of the engine, record
 * by record: acks, order, keys and bytes. Also checked: the page loaded no module that is not
 * there and never the Node WebSocket client. Skipped only where Chromium is not installed
 * (Debian: apt-get install chromium; `npm test` installs it where it can).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { findChromium, headlessArgs } from '../helpers/chromium.js';
import { readShard } from '../helpers/read-all.js';
import { tempDir } from '../helpers/temp-dir.js';
import { type ServedEngine, serveEngine } from '../helpers/ws-server.js';

const chromium = findChromium();
/** The compiled client (`npm test` builds it first), served to the page as ES modules. */
const COMPILED_SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'src');
const STREAM = 'browser';
const SHARDS = 4;
const PUTS = 3;
const RECORDS_PER_PUT = 400;
/** Every EXPLICIT_EVERY-th record is placed by ExplicitHashKey on the last shard. */
const EXPLICIT_EVERY = 50;
const PAGE_TIMEOUT_MS = 60_000;

/**
 * The page, as a browser application would use the client. Its record data is a function of
 * the record's index, written the same in `dataOf` below.
 */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>runnel client in a browser</title>
<link rel="icon" href="data:,">
<script type="module">
const report = (body) => fetch('/result', { method: 'POST', body: JSON.stringify(body) });
// Whatever throws outside the awaited chain (a client callback, say) ends the run at once.
addEventListener('error', (event) => report({ ok: false, error: 'uncaught: ' + event.message }));
addEventListener('unhandledrejection', (event) => report({ ok: false, error: 'unhandled: ' + String(event.reason) }));
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const dataOf = (i) => {
  const data = new Uint8Array(1 + ((i * 37) % 300));
  for (let j = 0; j < data.length; j++) data[j] = (i * 31 + j * 7) & 0xff;
  return data;
};
async function take(subscription, count) {
  const records = [];
  while (records.length < count) {
    const next = await subscription.next();
    if (next.done) break;
    const r = next.value;
    records.push({
      seq: r.SequenceNumber,
      key: r.PartitionKey,
      data: hex(r.Data),
      view: r.Data instanceof Uint8Array,
      arrival: r.ApproximateArrivalTimestamp instanceof Date ? r.ApproximateArrivalTimestamp.getTime() : null,
    });
  }
  return records;
}
try {
  const { RunnelClient } = await import('/dist/src/client/index.js');
  const params = new URLSearchParams(location.search);
  const stream = params.get('stream');
  const puts = Number(params.get('puts'));
  const perPut = Number(params.get('perPut'));
  const explicitEvery = Number(params.get('explicitEvery'));
  const client = await RunnelClient.connect(params.get('ws'));
  const streams = await client.listStreams();
  const shards = await client.listShards(stream);
  const lastShard = shards[shards.length - 1];
  const latest = await Promise.all(shards.map((s) => client.subscribe(stream, s.shardId, { type: 'LATEST' })));
  const outputs = await Promise.all(
    Array.from({ length: puts }, (_, p) =>
      client.putRecords(
        stream,
        Array.from({ length: perPut }, (_, k) => {
          const i = p * perPut + k;
          const record = { PartitionKey: 'browser-' + i, Data: dataOf(i) };
          if (i % explicitEvery === 0) record.ExplicitHashKey = lastShard.startingHashKey;
          return record;
        }),
      ),
    ),
  );
  const acks = outputs.flatMap((output) => output.Records);
  const perShard = shards.map((s) => acks.filter((ack) => ack.ShardId === s.shardId).length);
  const fromLatest = await Promise.all(latest.map((subscription, s) => take(subscription, perShard[s])));
  const fromTrimHorizon = [];
  for (const [s, shard] of shards.entries()) {
    const subscription = await client.subscribe(stream, shard.shardId, { type: 'TRIM_HORIZON' });
    fromTrimHorizon.push(await take(subscription, perShard[s]));
    subscription.unsubscribe();
  }
  for (const subscription of latest) subscription.unsubscribe();
  let missing;
  try {
    await client.putRecords(stream + '-missing', [{ PartitionKey: 'k', Data: new Uint8Array([1]) }]);
    missing = 'resolved';
  } catch (error) {
    missing = error.name;
  }
  await client.close();
  await report({
    ok: true,
    streams,
    shardIds: shards.map((s) => s.shardId),
    failed: outputs.map((output) => output.FailedRecordCount),
    acks,
    fromLatest,
    fromTrimHorizon,
    missing,
    userAgent: navigator.userAgent,
  });
} catch (error) {
  await report({ ok: false, error: String((error && error.stack) || error) });
}
</script>
`;

function dataOf(i: number): Uint8Array {
  const data = new Uint8Array(1 + ((i * 37) % 300));
  for (let j = 0; j < data.length; j++) data[j] = (i * 31 + j * 7) & 0xff;
  return data;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

interface SeenRecord {
  seq: string;
  key: string;
  data: string;
  view: boolean;
  arrival: number | null;
}

interface PageReport {
  ok: boolean;
  error?: string;
  streams: string[];
  shardIds: string[];
  failed: number[];
  acks: { SequenceNumber?: string; ShardId?: string; ErrorCode?: string }[];
  fromLatest: SeenRecord[][];
  fromTrimHorizon: SeenRecord[][];
  missing: string;
  userAgent: string;
}

/** Serves the page, the compiled sources under /dist/src/, and takes the page's report. */
class PageServer {
  readonly requested: string[] = [];
  readonly notFound: string[] = [];
  readonly report: Promise<PageReport>;
  private server!: Server;
  private resolveReport!: (report: PageReport) => void;

  constructor() {
    this.report = new Promise((resolve) => (this.resolveReport = resolve));
  }

  async listen(): Promise<string> {
    this.server = createServer((request, response) => this.handle(request, response));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const path = new URL(request.url ?? '/', 'http://page').pathname;
    this.requested.push(path);
    if (request.method === 'POST' && path === '/result') {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        response.end();
        this.resolveReport(JSON.parse(Buffer.concat(chunks).toString('utf8')) as PageReport);
      });
      return;
    }
    if (path === '/page.html') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end(PAGE);
      return;
    }
    const file = normalize(join(COMPILED_SRC, path.replace(/^\/dist\/src\//, '')));
    if (
      path.startsWith('/dist/src/') &&
      file.startsWith(COMPILED_SRC + sep) &&
      file.endsWith('.js')
    ) {
      try {
        const body = readFileSync(file);
        response.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
        response.end(body);
        return;
      } catch {
        // Falls through to 404.
      }
    }
    this.notFound.push(path);
    response.writeHead(404);
    response.end();
  }
}

describe.skipIf(!chromium)('the client in headless Chromium', () => {
  let served: ServedEngine;
  let page: PageServer;
  let browser: ChildProcess | undefined;
  let report: PageReport;
  const profile = tempDir('runnel-browser-');

  beforeAll(async () => {
    served = await serveEngine({ workers: 2 });
    await served.engine.createStream({ StreamName: STREAM, ShardCount: SHARDS });
    page = new PageServer();
    const origin = await page.listen();
    const query = new URLSearchParams({
      ws: served.server.url,
      stream: STREAM,
      puts: String(PUTS),
      perPut: String(RECORDS_PER_PUT),
      explicitEvery: String(EXPLICIT_EVERY),
    });
    let stderr = '';
    browser = spawn(
      chromium!,
      [...headlessArgs(join(profile.dir, 'profile')), `${origin}/page.html?${query}`],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    browser.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const exited = new Promise<never>((_, reject) =>
      browser!.once('exit', (code) =>
        reject(new Error(`chromium exited (${code}) before the page reported:\n${stderr}`)),
      ),
    );
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no report from the page in ${PAGE_TIMEOUT_MS} ms:\n${stderr}`)),
        PAGE_TIMEOUT_MS,
      );
    });
    try {
      report = await Promise.race([page.report, exited, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }, PAGE_TIMEOUT_MS + 30_000);

  afterAll(async () => {
    if (browser && browser.exitCode === null && browser.signalCode === null) {
      const gone = new Promise((resolve) => browser!.once('exit', resolve));
      browser.kill('SIGKILL');
      await gone;
    }
    await page?.close();
    await served?.close();
    profile.cleanup();
  });

  it('ran the whole page in a browser, on modules that are all there', () => {
    expect(report.error).toBeUndefined();
    expect(report.ok).toBe(true);
    expect(report.userAgent).toMatch(/Chrome\//);
    expect(page.notFound).toEqual([]);
    expect(page.requested).toContain('/dist/src/client/runnel-client.js');
    // The browser's own WebSocket, never the Node client.
    expect(page.requested.filter((path) => path.includes('node-websocket'))).toEqual([]);
  });

  it('lists the stream and its shards', async () => {
    expect(report.streams).toContain(STREAM);
    const { Shards } = await served.engine.listShards({ StreamName: STREAM });
    expect(report.shardIds).toEqual(Shards!.map((shard) => shard.ShardId));
    expect(report.shardIds).toHaveLength(SHARDS);
  });

  it('gets an ack for every record of the pipelined puts, agreeing with the engine', async () => {
    expect(report.failed).toEqual(new Array(PUTS).fill(0));
    expect(report.acks).toHaveLength(PUTS * RECORDS_PER_PUT);
    const stored = new Map<string, { shardId: string; key: string; data: string }>();
    for (const shardId of report.shardIds) {
      for (const record of await readShard(served.engine, STREAM, shardId)) {
        stored.set(record.SequenceNumber, {
          shardId,
          key: record.PartitionKey!,
          data: hex(record.Data),
        });
      }
    }
    expect(stored.size).toBe(PUTS * RECORDS_PER_PUT);
    report.acks.forEach((ack, i) => {
      expect(ack.ErrorCode).toBeUndefined();
      expect(stored.get(ack.SequenceNumber!)).toEqual({
        shardId: ack.ShardId,
        key: `browser-${i}`,
        data: hex(dataOf(i)),
      });
      if (i % EXPLICIT_EVERY === 0) expect(ack.ShardId).toBe(report.shardIds[SHARDS - 1]);
    });
  });

  it('reads every shard back from TRIM_HORIZON and from LATEST as the engine stores it, byte for byte', async () => {
    let total = 0;
    for (const [s, shardId] of report.shardIds.entries()) {
      const stored = (await readShard(served.engine, STREAM, shardId)).map((record) => ({
        seq: record.SequenceNumber,
        key: record.PartitionKey,
        data: hex(record.Data),
        arrival: record.ApproximateArrivalTimestamp!.getTime(),
      }));
      expect(stored.length).toBeGreaterThan(0);
      for (const seen of [report.fromTrimHorizon[s]!, report.fromLatest[s]!]) {
        expect(seen.every((record) => record.view)).toBe(true);
        expect(seen.map(({ seq, key, data, arrival }) => ({ seq, key, data, arrival }))).toEqual(
          stored,
        );
      }
      total += stored.length;
    }
    expect(total).toBe(PUTS * RECORDS_PER_PUT);
  });

  it('names a missing stream as Kinesis does', () => {
    expect(report.missing).toBe('ResourceNotFoundException');
  });
});
