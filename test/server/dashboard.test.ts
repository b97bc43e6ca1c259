/**
 * Goal: the dashboard (`GET /dashboard` on the uWS port) works in a real browser against the
 * real server. Headless Chromium opens it while this process puts records with the AWS SDK, and
 * the page is read after 3.5 s of running (over the DevTools protocol): it lists the stream as
 * DescribeStreamSummary describes it, shows a positive ingest rate read from /metrics, and
 * logged no error. Skipped only where Chromium is not installed (Debian: apt-get install
 * chromium; `npm test` installs it where it can).
 */
import { join } from 'node:path';

import { CreateStreamCommand, KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startServer, type RunningServer } from '../../src/server/server.js';
import { evaluateAfter, findChromium } from '../helpers/chromium.js';
import { tempDir } from '../helpers/temp-dir.js';

const chromium = findChromium();
const STREAM = 'dash';
const SHARDS = 3;
const RECORDS_PER_PUT = 100;
const PUT_INTERVAL_MS = 50;
/** 1,000 bytes a record: about 2 MB/s in all, so the MB card shows it. */
const DATA = new Uint8Array(1000).fill(7);
/** How long the page runs before it is read: three of its 1 s metric polls. */
const PAGE_RUN_MS = 3500;
const BROWSER_TIMEOUT_MS = 60_000;
/** What the test reads from the page: the metric cards and the stream table. */
const READ_PAGE = `JSON.stringify({
  title: document.title,
  cards: Object.fromEntries([...document.querySelectorAll('.value')].map((e) => [e.id, e.textContent])),
  streams: document.getElementById('streams').innerHTML,
})`;

describe.skipIf(!chromium)('the dashboard in headless Chromium', () => {
  const data = tempDir('runnel-dashboard-');
  let server: RunningServer;
  let kinesis: KinesisClient;
  let putting: NodeJS.Timeout | undefined;
  let page: { title: string; cards: Record<string, string>; streams: string };
  let log: string;
  let errorCounters = '';

  beforeAll(async () => {
    server = await startServer({ port: 0, wsPort: 0, dataDir: join(data.dir, 'data'), workers: 1 });
    kinesis = new KinesisClient({
      endpoint: server.kinesisUrl,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    await kinesis.send(new CreateStreamCommand({ StreamName: STREAM, ShardCount: SHARDS }));
    let n = 0;
    const records = () =>
      Array.from({ length: RECORDS_PER_PUT }, () => ({ PartitionKey: `k${n++}`, Data: DATA }));
    const put = () =>
      kinesis.send(new PutRecordsCommand({ StreamName: STREAM, Records: records() }));
    putting = setInterval(() => void put().catch(() => undefined), PUT_INTERVAL_MS);
    try {
      const dashboard = `${server.wsUrl}/dashboard`;
      const read = await evaluateAfter(
        chromium!,
        dashboard,
        join(data.dir, 'profile'),
        PAGE_RUN_MS,
        READ_PAGE,
        BROWSER_TIMEOUT_MS,
      );
      page = JSON.parse(read.value as string) as typeof page;
      log = read.log;
      // The error counters by code, so an error rate the page shows says what it counted.
      const metrics = await (await fetch(`${server.wsUrl}/metrics`)).text();
      errorCounters = metrics
        .split('\n')
        .filter((line) => line.startsWith('runnel_errors_total'))
        .join('; ');
    } finally {
      clearInterval(putting);
    }
  }, BROWSER_TIMEOUT_MS + 30_000);

  afterAll(async () => {
    clearInterval(putting);
    kinesis?.destroy();
    await server?.close();
    data.cleanup();
  });

  it('rendered without a script or console error', () => {
    expect(page.title).toBe('Runnel');
    expect(log.split('\n').filter((line) => line.includes('CONSOLE'))).toEqual([]);
  });

  it('counts no error by being opened (the browser asks for no /favicon.ico)', () => {
    expect(errorCounters).toBe('');
  });

  it('lists the stream as DescribeStreamSummary describes it', () => {
    expect(page.streams).toBe(
      `<tr><td>${STREAM}</td><td>ACTIVE</td><td>${SHARDS}</td><td>24</td></tr>`,
    );
  });

  it('shows a positive ingest rate from /metrics', () => {
    expect(Object.keys(page.cards).sort()).toEqual(['bin', 'err', 'rin', 'rout', 'shards']);
    // About 2,000 records/s and 2 MB/s are put (100 records of 1,000 bytes every 50 ms): two
    // Kinesis shards' worth. A loaded machine may put less, never none.
    expect(Number(page.cards.rin!.replace(/,/g, ''))).toBeGreaterThan(0);
    expect(Number(page.cards.bin)).toBeGreaterThan(0);
    expect(Number(page.cards.shards)).toBeGreaterThanOrEqual(1);
    expect(page.cards.err, `error counters: ${errorCounters}`).toBe('0.0');
  });
});
