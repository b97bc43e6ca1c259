// Goal: the load generator counts exactly (sent = acked + throttled + failed, and what was acked
// is what can be read back), holds an open-loop rate within 5 %, stops by itself (duration,
// --max-records, SIGINT with a summary and exit 0), and, against a server in limits mode,
// measures a 2-shard stream accepting 2,000 records/s and 2 MiB/s and throttling the excess.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { verifyLimits } from '../../src/harness/bench.js';
import { KinesisHttpClient } from '../../src/harness/kinesis-http-client.js';
import { runLoad, type LoadOptions } from '../../src/harness/load.js';
import { readStream } from '../../src/harness/readers.js';
import { HttpControlPlane } from '../../src/harness/targets.js';
import { parseKeyDistribution, parseRecordSize } from '../../src/harness/workload.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { tempDir } from '../helpers/temp-dir.js';

const SEED = 11;
const temp = tempDir('runnel-harness-');
const limitsTemp = tempDir('runnel-harness-limits-');
let server: RunningServer;
let limited: RunningServer;

beforeAll(async () => {
  server = await startServer({ dataDir: temp.dir, port: 0, wsPort: null, workers: 1 });
  limited = await startServer({
    dataDir: limitsTemp.dir,
    port: 0,
    wsPort: null,
    workers: 1,
    engineOptions: { enforceLimits: true },
  });
});

afterAll(async () => {
  await server?.close();
  await limited?.close();
  temp.cleanup();
  limitsTemp.cleanup();
});

function options(overrides: Partial<LoadOptions>): LoadOptions {
  console.log(`seed ${SEED}`);
  return {
    target: { kind: 'kinesis', endpoint: server.kinesisUrl, httpVersion: 'http1' },
    streams: ['harness'],
    shards: 2,
    recordSize: parseRecordSize('100'),
    keys: parseKeyDistribution('unique', 'test'),
    seed: SEED,
    durationMs: 10_000,
    connections: 2,
    inFlightPerConnection: 1,
    recordsPerRequest: 500,
    requestBytesMax: 4 * 1024 * 1024,
    consumers: 0,
    consumerStart: 'LATEST',
    pollMs: 100,
    drainMs: 3000,
    createStreams: true,
    cleanup: false,
    ...overrides,
  };
}

async function readBack(stream: string): Promise<number> {
  const client = new KinesisHttpClient({ endpoint: server.kinesisUrl, connections: 2 });
  const control = new HttpControlPlane(client);
  try {
    const { stats } = await readStream(control, stream, await control.shardIds(stream), {
      mode: 'drain',
      start: 'TRIM_HORIZON',
      concurrency: 2,
    });
    return stats.records;
  } finally {
    client.close();
  }
}

describe('runnel load', () => {
  it('counts every record once and what it acked is readable (closed loop, --max-records)', async () => {
    const summary = await runLoad(
      options({
        streams: ['count-check'],
        maxRecords: 20_000,
        recordSize: parseRecordSize('uniform:10-300'),
      }),
    );
    expect(summary.stoppedBy).toBe('max-records');
    expect(summary.sent).toBe(20_000);
    expect(summary.acked + summary.throttled + summary.failed).toBe(summary.sent);
    expect(summary.acked).toBe(20_000);
    expect(summary.latencyMs.count).toBe(20_000);
    expect(await readBack('count-check')).toBe(summary.acked);
  });

  it('counts failures when the stream does not exist', async () => {
    const summary = await runLoad(
      options({ streams: ['no-such-stream'], createStreams: false, maxRecords: 1000 }),
    );
    expect(summary.sent).toBe(1000);
    expect(summary.failed).toBe(1000);
    expect(summary.acked + summary.throttled).toBe(0);
    expect(summary.requestErrors.ResourceNotFoundException).toBeGreaterThan(0);
  });

  it('holds an open-loop rate of 2,000 records/s for 3 s within 5 %, with consumers reading beside', async () => {
    const summary = await runLoad(
      options({
        streams: ['rate-check'],
        rate: { recordsPerSec: 2000 },
        durationMs: 3000,
        consumers: 1,
      }),
    );
    expect(summary.stoppedBy).toBe('duration');
    expect(summary.acked + summary.throttled + summary.failed).toBe(summary.sent);
    expect(Math.abs(summary.sent - 6000) / 6000).toBeLessThan(0.05);
    expect(Math.abs(summary.recordsPerSec - 2000) / 2000).toBeLessThan(0.05);
    expect(summary.failed).toBe(0);
    expect(summary.consumers!.records).toBe(summary.acked);
    expect(await readBack('rate-check')).toBe(summary.acked);
  });

  it('stops by itself at --duration in closed loop', async () => {
    const started = performance.now();
    const summary = await runLoad(
      options({ streams: ['duration-check'], durationMs: 1000, cleanup: true }),
    );
    expect(summary.stoppedBy).toBe('duration');
    expect(summary.elapsedSec).toBeGreaterThanOrEqual(1);
    expect(performance.now() - started).toBeLessThan(15_000);
    expect(summary.acked).toBeGreaterThan(0);
  });

  it('stops on SIGINT in a child process, prints its summary and exits 0', async () => {
    const cli = fileURLToPath(new URL('../../dist/src/harness/load-cli.js', import.meta.url));
    const child = spawn(
      process.execPath,
      [
        cli,
        '--endpoint',
        server.kinesisUrl,
        '--rate',
        '500',
        '--duration',
        '60s',
        '--streams',
        'sigint-check',
        '--seed',
        String(SEED),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // Wait for the first progress line, then interrupt.
    const deadline = Date.now() + 30_000;
    while (!stderr.includes('rec/s') && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.once('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    expect(code).toBe(0);
    expect(stdout).toMatch(/stopped by signal/);
    const match = /sent ([\d,]+) = acked ([\d,]+) \+ throttled ([\d,]+) \+ failed ([\d,]+)/.exec(
      stdout,
    );
    expect(match).not.toBeNull();
    const [sent, acked, throttled, failed] = match!
      .slice(1)
      .map((text) => Number(text.replace(/,/g, '')));
    expect(sent).toBe(acked! + throttled! + failed!);
    expect(acked).toBeGreaterThan(0);
  });
});

describe('limits mode through the harness', () => {
  it('a 2-shard stream accepts 2,000 records/s and 2 MiB/s (±5 %) and throttles the excess', async () => {
    const lines: string[] = [];
    const checks = await verifyLimits(limited.kinesisUrl, 5, (line) => lines.push(line));
    console.log(lines.join('\n'));
    expect(checks.map((check) => check.kind)).toEqual(['records', 'bytes']);
    for (const check of checks) {
      expect(check.withinTolerance).toBe(true);
      expect(Math.abs(check.ratio - 1)).toBeLessThanOrEqual(0.05);
      expect(check.throttled).toBeGreaterThan(0);
    }
  });
});

describe('the WebSocket path through the harness', () => {
  it('counts puts over RunnelClient and reads them back', async (context) => {
    const { loadRunnelClient } = await import('../../src/harness/targets.js');
    const loaded = await loadRunnelClient();
    if (!loaded.available) {
      context.skip(loaded.reason);
      return;
    }
    const { Engine } = await import('../../src/engine/engine.js');
    const wsTemp = tempDir('runnel-harness-ws-');
    const engine = await Engine.open({ dataDir: wsTemp.dir, workers: 1 });
    // startServer mounts the WebSocket protocol on the uWS app.
    const wsServer = await startServer({ engine, port: 0, wsPort: 0 });
    try {
      const summary = await runLoad(
        options({
          target: {
            kind: 'ws',
            endpoint: wsServer.wsUrl!.replace(/^http/, 'ws'),
            controlEndpoint: wsServer.wsUrl!,
          },
          streams: ['ws-count'],
          maxRecords: 10_000,
          recordsPerRequest: 1000,
        }),
      );
      expect(summary.sent).toBe(10_000);
      expect(summary.acked).toBe(10_000);
      expect(summary.acked + summary.throttled + summary.failed).toBe(summary.sent);
      let committed = 0;
      for (const { ShardId } of (await engine.listShards({ StreamName: 'ws-count' })).Shards) {
        committed += engine.shardInternals('ws-count', ShardId).index.nextOrdinal();
      }
      expect(committed).toBe(summary.acked);
    } finally {
      await wsServer.close();
      await engine.close();
      wsTemp.cleanup();
    }
  });
});
