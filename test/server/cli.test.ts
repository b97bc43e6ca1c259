/**
 * Goal: `runnel serve` (the compiled dist/src/cli.js, as `npm start` and the `bin` run it) reads
 * its options from flags and RUNNEL_* environment variables, documents every option in --help,
 * prints exactly one line when ready, and on SIGTERM/SIGINT stops accepting, answers the request
 * in flight, closes the engine and exits 0. Needs `npm run build` first.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  PutRecordCommand,
} from '@aws-sdk/client-kinesis';
import { afterEach, describe, expect, it } from 'vitest';

import { RunnelClient } from '../../src/client/index.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));
const READY_TIMEOUT_MS = 20_000;
const PIPES: ['ignore', 'pipe', 'pipe'] = ['ignore', 'pipe', 'pipe'];

const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'runnel-cli-'));
  dirs.push(dir);
  return dir;
}

interface Started {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

async function serve(args: string[], env: Record<string, string> = {}): Promise<Started> {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!stdout.includes('\n')) {
    if (child.exitCode !== null) throw new Error(`runnel exited early: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`runnel not ready: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const match = /^Runnel listening on (http:\/\/[^\s]+)\n$/.exec(stdout);
  if (!match) throw new Error(`unexpected first output: ${JSON.stringify(stdout)}`);
  return { child, url: match[1]!, stdout: () => stdout, stderr: () => stderr, exited };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function listStreams(url: string): Promise<Response> {
  return fetch(`${url}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'Kinesis_20131202.ListStreams',
    },
    body: '{}',
  });
}

describe.skipIf(!existsSync(CLI))('runnel serve', () => {
  it('documents every option in --help', async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '--help'], { stdio: PIPES });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    const options = ['--host', '--port', '--ws-port', '--data', '--workers'];
    options.push(
      '--tls-cert',
      '--tls-key',
      '--segment-mib',
      '--fsync',
      '--enforce-limits',
      '--codec-threads',
    );
    options.push('--stream-transition-ms', '--region', '--account-id');
    for (const option of options) {
      expect(out).toContain(option);
    }
    const variables = ['RUNNEL_HOST', 'RUNNEL_PORT', 'RUNNEL_WS_PORT', 'RUNNEL_DATA'];
    variables.push(
      'RUNNEL_WORKERS',
      'RUNNEL_SEGMENT_MIB',
      'RUNNEL_FSYNC',
      'RUNNEL_ENFORCE_LIMITS',
      'RUNNEL_CODEC_THREADS',
    );
    variables.push('RUNNEL_STREAM_TRANSITION_MS', 'RUNNEL_REGION', 'RUNNEL_ACCOUNT_ID');
    for (const variable of variables) {
      expect(out).toContain(variable);
    }
    expect(out).toContain('127.0.0.1');
    expect(out).toContain('4567');
    expect(out).toContain('4568');
  });

  it('rejects bad options with a usage error', async () => {
    const refused = async (args: string[], env: Record<string, string> = {}) => {
      const child = spawn(process.execPath, [CLI, 'serve', ...args], {
        env: { ...process.env, ...env },
        stdio: PIPES,
      });
      children.push(child);
      let err = '';
      child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
      expect(await new Promise((resolve) => child.once('exit', resolve))).toBe(2);
      return err;
    };
    expect(await refused(['--port', 'abc'])).toContain('--port must be an integer');
    expect(await refused(['--stream-transition-ms', '600001'])).toContain(
      "--stream-transition-ms must be an integer from 0 to 600000, got '600001'",
    );
    expect(await refused([], { RUNNEL_STREAM_TRANSITION_MS: '-1' })).toContain(
      "--stream-transition-ms must be an integer from 0 to 600000, got '-1'",
    );
    // Ports beyond 65535 would wrap, segments beyond 1 GiB cannot be mapped, and each worker is a thread.
    expect(await refused(['--ws-port', '70000'])).toContain(
      "--ws-port must be an integer from 0 to 65535, got '70000'",
    );
    expect(await refused([], { RUNNEL_PORT: '99999' })).toContain(
      "--port must be an integer from 0 to 65535, got '99999'",
    );
    expect(await refused(['--segment-mib', '2048'])).toContain(
      "--segment-mib must be an integer from 1 to 1024, got '2048'",
    );
    expect(await refused(['--workers', '100000'])).toContain(
      "--workers must be an integer from 1 to 256, got '100000'",
    );
    expect(await refused(['--region', 'EU-WEST'])).toContain(
      "--region must be an AWS region name such as eu-west-1, got 'EU-WEST'",
    );
    expect(await refused([], { RUNNEL_ACCOUNT_ID: '12345' })).toContain(
      "--account-id must be 12 digits, got '12345'",
    );
  });

  it('--region and --account-id make the ARNs a client of that region and account builds', async () => {
    const started = await serve(
      ['--port', '0', '--ws-port', '0', '--data', tempDir(), '--region', 'eu-west-1'],
      { RUNNEL_ACCOUNT_ID: '123456789012' },
    );
    const client = new KinesisClient({
      endpoint: started.url,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    try {
      await client.send(new CreateStreamCommand({ StreamName: 'regional', ShardCount: 1 }));
      const arn = 'arn:aws:kinesis:eu-west-1:123456789012:stream/regional';
      const byName = await client.send(
        new DescribeStreamSummaryCommand({ StreamName: 'regional' }),
      );
      expect(byName.StreamDescriptionSummary!.StreamARN).toBe(arn);
      const byArn = await client.send(new DescribeStreamSummaryCommand({ StreamARN: arn }));
      expect(byArn.StreamDescriptionSummary!.StreamName).toBe('regional');
      // The default region's ARN names no stream here.
      await expect(
        client.send(
          new DescribeStreamSummaryCommand({
            StreamARN: 'arn:aws:kinesis:us-east-1:123456789012:stream/regional',
          }),
        ),
      ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    } finally {
      client.destroy();
    }
    started.child.kill('SIGTERM');
    expect(await started.exited).toBe(0);
  });

  it('reads RUNNEL_* variables, prints one line, and exits 0 on SIGINT', async () => {
    const data = join(tempDir(), 'from-env');
    const started = await serve([], {
      RUNNEL_HOST: '127.0.0.1',
      RUNNEL_PORT: '0',
      RUNNEL_WS_PORT: '0',
      RUNNEL_DATA: data,
      RUNNEL_WORKERS: '1',
      RUNNEL_CODEC_THREADS: '1',
    });
    expect((await listStreams(started.url)).status).toBe(200);
    expect(existsSync(join(data, 'catalog.json'))).toBe(true);
    started.child.kill('SIGINT');
    expect(await started.exited).toBe(0);
    expect(started.stdout().split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('says on stderr where the WebSocket protocol listens, and a client connects there', async () => {
    const started = await serve(['--port', '0', '--ws-port', '0', '--data', tempDir()]);
    const match =
      /binary WebSocket protocol on (ws:\/\/127\.0\.0\.1:(\d+))\/v1;.* on http:\/\/127\.0\.0\.1:(\d+)\n/.exec(
        started.stderr(),
      );
    expect(match, started.stderr()).not.toBeNull();
    expect(match![2]).toBe(match![3]);
    expect(match![2]).not.toBe(new URL(started.url).port);
    const client = await RunnelClient.connect(match![1]!);
    expect(await client.listStreams()).toEqual([]);
    await client.close();
    expect((await fetch(`http://127.0.0.1:${match![2]}/health`)).status).toBe(200);
    started.child.kill('SIGTERM');
    expect(await started.exited).toBe(0);
  });

  it('answers the in-flight request on SIGTERM, refuses new connections, exits 0', async () => {
    const started = await serve(['--port', '0', '--ws-port', '0', '--data', tempDir()]);
    const port = Number(new URL(started.url).port);
    const body = '{"Limit":5}';
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString()));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    await new Promise((resolve) => socket.once('connect', resolve));
    // Headers and half the body now; the rest only after the signal.
    socket.write(
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n' +
        `X-Amz-Target: Kinesis_20131202.ListStreams\r\nContent-Length: ${body.length}\r\n\r\n` +
        body.slice(0, 5),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    started.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const refused = await new Promise<boolean>((resolve) => {
      const probe = net.connect(port, '127.0.0.1');
      probe.once('connect', () => {
        probe.destroy();
        resolve(false);
      });
      probe.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
    socket.write(body.slice(5));
    await closed;
    expect(received).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(received.toLowerCase()).toContain('connection: close');
    expect(received).toContain('"StreamNames":[]');
    expect(await started.exited).toBe(0);
  });

  it('--stream-transition-ms keeps a new stream CREATING and a deleted one DELETING that long', async () => {
    const transitionMs = 600;
    const started = await serve([
      '--port',
      '0',
      '--ws-port',
      '0',
      '--workers',
      '1',
      '--data',
      tempDir(),
      '--stream-transition-ms',
      String(transitionMs),
    ]);
    const client = new KinesisClient({
      endpoint: started.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    const status = async (StreamName: string) =>
      (await client.send(new DescribeStreamSummaryCommand({ StreamName })))
        .StreamDescriptionSummary!.StreamStatus;
    /** Polls until the status changes; returns the new status (undefined once the stream is gone). */
    const nextStatus = async (StreamName: string, from: string) => {
      for (;;) {
        const now = await status(StreamName).catch((error: Error) => {
          expect(error.name).toBe('ResourceNotFoundException');
          return undefined;
        });
        if (now !== from) return now;
        await sleep(25);
      }
    };
    const put = (StreamName: string) =>
      client.send(new PutRecordCommand({ StreamName, PartitionKey: 'k', Data: Buffer.from('x') }));
    try {
      let since = Date.now();
      await client.send(new CreateStreamCommand({ StreamName: 'slow', ShardCount: 1 }));
      expect(await status('slow')).toBe('CREATING');
      await expect(put('slow')).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
      expect(await nextStatus('slow', 'CREATING')).toBe('ACTIVE');
      expect(Date.now() - since).toBeGreaterThanOrEqual(transitionMs);
      expect((await put('slow')).ShardId).toBe('shardId-000000000000');

      since = Date.now();
      await client.send(new DeleteStreamCommand({ StreamName: 'slow' }));
      expect(await status('slow')).toBe('DELETING');
      expect(await nextStatus('slow', 'DELETING')).toBeUndefined();
      expect(Date.now() - since).toBeGreaterThanOrEqual(transitionMs);

      // Kinesis lets a stream be deleted while it is being created (kinesalite's tests, recorded
      // against the service): it goes from CREATING to DELETING, never ACTIVE, then is gone.
      await client.send(new CreateStreamCommand({ StreamName: 'brief', ShardCount: 1 }));
      expect(await status('brief')).toBe('CREATING');
      await client.send(new DeleteStreamCommand({ StreamName: 'brief' }));
      expect(await status('brief')).toBe('DELETING');
      expect(await nextStatus('brief', 'DELETING')).toBeUndefined();
    } finally {
      client.destroy();
    }
    started.child.kill('SIGTERM');
    expect(await started.exited).toBe(0);
  });

  it('--enforce-limits throttles a 2-shard stream to 2,000 records per second', async () => {
    const started = await serve([
      '--port',
      '0',
      '--ws-port',
      '0',
      '--enforce-limits',
      '--data',
      tempDir(),
    ]);
    const call = async (target: string, body: object) => {
      const response = await fetch(`${started.url}/`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': `Kinesis_20131202.${target}`,
        },
        body: JSON.stringify(body),
      });
      return (await response.json()) as { Records?: Array<{ ErrorCode?: string }> };
    };
    await call('CreateStream', { StreamName: 'limited', ShardCount: 2 });
    let accepted = 0;
    let throttled = 0;
    const putsStarted = performance.now();
    for (let batch = 0; batch < 6; batch++) {
      const Records = Array.from({ length: 500 }, (_, i) => ({
        PartitionKey: `k-${batch}-${i}`,
        Data: Buffer.from('x').toString('base64'),
      }));
      const output = await call('PutRecords', { StreamName: 'limited', Records });
      for (const record of output.Records!) {
        if (record.ErrorCode === 'ProvisionedThroughputExceededException') throttled++;
        else if (!record.ErrorCode) accepted++;
      }
    }
    const seconds = (performance.now() - putsStarted) / 1000;
    // 3,000 records at once: the two shards' full buckets (2,000) fit, plus what refills at
    // 2,000 records/s while the calls run (on a loaded machine they take longer), no more.
    expect(accepted + throttled).toBe(3000);
    expect(accepted).toBeGreaterThanOrEqual(2000);
    expect(accepted).toBeLessThanOrEqual(2000 + Math.ceil(2000 * seconds));
    // Unless the calls took so long that refills alone covered the rest, some were refused.
    if (2000 + 2000 * seconds < 3000) expect(throttled).toBeGreaterThan(0);
    started.child.kill('SIGTERM');
    expect(await started.exited).toBe(0);
  });
});
