// Goal: the benchmark's HTML report opens in a real browser (headless Chromium) and draws every
// chart without a script or console error. Skipped only where Chromium is not installed
// (Debian: apt-get install chromium).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import type { BenchReport, BenchResult } from '../../src/harness/bench.js';
import { LatencyHistogram } from '../../src/harness/histogram.js';
import { renderHtmlReport } from '../../src/harness/report-html.js';
import { seededRandom } from '../../src/harness/workload.js';
import { findChromium, headlessArgs } from '../helpers/chromium.js';

const chromium = findChromium();

function result(
  path: BenchResult['path'],
  op: 'put' | 'read',
  method: string,
  recordBytes: number,
  shards: number,
  seed: number,
): BenchResult {
  const random = seededRandom(seed);
  const histogram = new LatencyHistogram();
  for (let i = 0; i < 2000; i++) histogram.recordMs(1 + random() * random() * 50);
  const recordsPerSec = 1000 + random() * 300_000;
  return {
    target: 'runnel',
    path,
    op,
    method,
    recordBytes,
    shards,
    available: true,
    records: 1000,
    bytes: 1000 * recordBytes,
    elapsedSec: 1,
    recordsPerSec,
    MBps: (recordsPerSec * recordBytes) / 1e6,
    latencyMs: {
      p50: histogram.percentileMs(50),
      p99: histogram.percentileMs(99),
      p999: histogram.percentileMs(99.9),
    },
    shardEquivalents: recordsPerSec / 1000,
    recordsPerSecPerShardLimit: recordsPerSec / 1000,
    bytesPerSecPerShardLimit: 1,
    baseline: { name: 'loopback TCP', MBps: 1000, ratio: 0.1 },
    cpu: { clientSec: 1, serverSec: 1, msPerMB: 3 },
    throttled: 0,
    failed: 0,
    verified: { expected: 1000, read: 1000, ok: true },
    histogram: histogram.toJSON(),
  };
}

function sampleReport(): BenchReport {
  const results: BenchResult[] = [];
  let seed = 1;
  for (const path of ['embedded', 'http1', 'http2'] as const) {
    for (const recordBytes of [100, 1024, 65536]) {
      for (const shards of [1, 8]) {
        results.push(result(path, 'put', 'PutRecords', recordBytes, shards, seed++));
        results.push(result(path, 'read', 'GetRecords', recordBytes, shards, seed++));
      }
    }
  }
  results.push({
    ...result('ws', 'put', 'ws-put', 100, 1, 99),
    available: false,
    reason: 'client not built </script><b>',
  });
  return {
    command: 'runnel bench --quick',
    startedAt: '2026-11-25T12:00:00.000Z',
    quick: true,
    machine: {
      cpu: 'test cpu',
      cores: 2,
      memoryGiB: 24,
      node: process.version,
      platform: 'linux-x64',
      kernel: 'k',
      description: 'test machine',
    },
    baselines: {
      pageCacheWriteMBps: 500,
      pageCacheReadMBps: 9000,
      diskWriteMBps: 400,
      loopbackMBps: 1000,
    },
    limits: {
      shardWriteRecordsPerSec: 1000,
      shardWriteBytesPerSec: 1048576,
      shardReadBytesPerSec: 2097152,
    },
    results,
    peers: [
      { name: 'kinesalite', version: '3.3.3', available: false, reason: 'offline', results: [] },
    ],
    peerRatios: [],
    limitsMode: null,
    notes: ['a note'],
    elapsedSec: 10,
    ok: true,
  };
}

describe.skipIf(!chromium)('HTML report in headless Chromium', () => {
  it('draws every chart with no script or console error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'runnel-report-'));
    try {
      const file = join(dir, 'report.html');
      const html = renderHtmlReport(sampleReport());
      // Self-contained: no external script, stylesheet or image.
      expect(html).not.toMatch(
        /<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/,
      );
      writeFileSync(file, html);
      const run = spawnSync(
        chromium!,
        [...headlessArgs(join(dir, 'profile')), '--dump-dom', `file://${file}`],
        { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
      );
      expect(run.status).toBe(0);
      const body = /<body[^>]*>/.exec(run.stdout)?.[0] ?? '';
      const consoleLines = run.stderr.split('\n').filter((line) => line.includes('CONSOLE'));
      expect(consoleLines).toEqual([]);
      expect(body).toMatch(/data-errors="0"/);
      // 3 bar charts + one latency chart per record size.
      expect(Number(/data-charts-rendered="(\d+)"/.exec(body)?.[1])).toBe(6);
      expect(run.stdout).toContain('client not built &lt;/script&gt;');
      expect((run.stdout.match(/class="bar"/g) ?? []).length).toBeGreaterThanOrEqual(36);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
