/**
 * Goal: the uWebSockets.js front end runs on the native uWS binary (the package's loader silently
 * falls back to a slow JS shim otherwise), serves /health and Prometheus /metrics that count
 * requests, errors and records in and out across both front ends, and leaves room for the
 * WebSocket protocol's `.ws('/v1', ...)` route.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { freePort } from '../../src/harness/peers.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { assertNativeUws, isNativeUws } from '../../src/server/uws-app.js';

const require = createRequire(import.meta.url);

let server: RunningServer;
let dataDir: string;
let wsRouteConfigured = false;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'runnel-uws-'));
  server = await startServer({
    port: 0,
    wsPort: 0,
    dataDir,
    workers: 1,
    configureUws: (app) => {
      wsRouteConfigured = true;
      app.get('/v1-probe', (res) => {
        res.end('probe');
      });
    },
  });
});

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function post(base: string, operation: string, body: unknown): Promise<Response> {
  return fetch(`${base}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `Kinesis_20131202.${operation}`,
    },
    body: JSON.stringify(body),
  });
}

describe('uWebSockets.js front end', () => {
  it('loaded the native binary, not the JS fallback', async () => {
    const uws = require('uWebSockets.js') as { App: unknown };
    expect(String(uws.App)).toContain('[native code]');
    expect(isNativeUws()).toBe(true);
    expect(() => assertNativeUws()).not.toThrow();
    // The native server stamps its responses; the fallback (built on node:http) does not.
    const response = await fetch(`${server.wsUrl}/health`);
    expect(response.headers.get('uwebsockets')).toBe('20');
  });

  it('refuses to share its port with a second server', async () => {
    // A port named explicitly, as the default 4568 is (uWS shares only such ports).
    const port = await freePort();
    const dirs = [
      mkdtempSync(join(tmpdir(), 'runnel-uws-')),
      mkdtempSync(join(tmpdir(), 'runnel-uws-')),
    ];
    const first = await startServer({ port: 0, wsPort: port, dataDir: dirs[0]!, workers: 1 });
    try {
      await expect(
        startServer({ port: 0, wsPort: port, dataDir: dirs[1]!, workers: 1 }),
      ).rejects.toThrow(`uWS could not listen on 127.0.0.1:${port}`);
      // The first server still answers, and the refused one left its data directory free.
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
      const again = await startServer({ port: 0, wsPort: 0, dataDir: dirs[1]!, workers: 1 });
      await again.close();
    } finally {
      await first.close();
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers /health', async () => {
    const response = await fetch(`${server.wsUrl}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('serves the dashboard, a self-contained page that reads /metrics and the API', async () => {
    const response = await fetch(`${server.wsUrl}/dashboard`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    const html = await response.text();
    expect(html).toContain('<title>Runnel</title>');
    expect(html).toContain("fetch('/metrics')");
    expect(html).toContain('Kinesis_20131202.');
    expect(html).not.toMatch(/<script[^>]+src=/);
  });

  it('accepts extra routes from configureUws (where the WebSocket protocol mounts)', async () => {
    expect(wsRouteConfigured).toBe(true);
    const response = await fetch(`${server.wsUrl}/v1-probe`);
    expect(await response.text()).toBe('probe');
  });

  it('exposes Prometheus metrics for both front ends', async () => {
    const created = await post(server.wsUrl!, 'CreateStream', { StreamName: 'm', ShardCount: 1 });
    expect(created.status).toBe(200);
    const records = [0, 1, 2].map((i) => ({
      PartitionKey: `k${i}`,
      Data: Buffer.from('12345').toString('base64'),
    }));
    const put = await post(server.kinesisUrl, 'PutRecords', { StreamName: 'm', Records: records });
    expect(put.status).toBe(200);
    const iterator = (await (
      await post(server.wsUrl!, 'GetShardIterator', {
        StreamName: 'm',
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'TRIM_HORIZON',
      })
    ).json()) as { ShardIterator: string };
    await post(server.wsUrl!, 'GetRecords', { ShardIterator: iterator.ShardIterator });
    const missing = await post(server.wsUrl!, 'DescribeStream', { StreamName: 'missing' });
    expect(missing.status).toBe(400);

    const response = await fetch(`${server.wsUrl}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(text).toContain('# TYPE runnel_requests_total counter');
    expect(text).toContain('runnel_requests_total{operation="PutRecords"} 1');
    expect(text).toContain('runnel_requests_total{operation="CreateStream"} 1');
    expect(text).toContain('runnel_errors_total{code="ResourceNotFoundException"} 1');
    expect(text).toMatch(/^runnel_records_in_total 3$/m);
    expect(text).toMatch(/^runnel_bytes_in_total 15$/m);
    expect(text).toMatch(/^runnel_records_out_total 3$/m);
    expect(text).toMatch(/^runnel_bytes_out_total 15$/m);
  });
});
