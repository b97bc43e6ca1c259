/**
 * Goal: the cleartext port tells HTTP/2 from HTTP/1.1 however the first bytes arrive. A proxy
 * on 127.0.0.1 cuts the client's first bytes into pieces sent apart (inside the HTTP/2 preface,
 * just after it, inside the HTTP/1.1 request line), and the real SDK, over HTTP/2 and over
 * HTTP/1.1, must be answered as if nothing happened: the sniffed bytes are handed on, in order,
 * to whichever server takes the connection.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  CreateStreamCommand,
  KinesisClient,
  ListStreamsCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startServer, type RunningServer } from '../../src/server/server.js';

const CREDENTIALS = { accessKeyId: 'x', secretAccessKey: 'x' };
const PIECE_GAP_MS = 30;

let server: RunningServer;
let dataDir: string;
const proxies: net.Server[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'runnel-preface-'));
  server = await startServer({
    port: 0,
    wsPort: null,
    dataDir,
    workers: 1,
    engineOptions: { streamTransitionMs: 0 },
  });
});

afterAll(async () => {
  for (const proxy of proxies) proxy.close();
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/**
 * A proxy to the server that sends the client's first `cuts.at(-1)` bytes in pieces ending at
 * each cut, PIECE_GAP_MS apart, then relays everything else as it comes.
 */
async function cuttingProxy(cuts: number[]): Promise<string> {
  const target = new URL(server.kinesisUrl);
  const proxy = net.createServer((client) => {
    client.setNoDelay(true);
    const upstream = net.connect({
      host: target.hostname,
      port: Number(target.port),
      noDelay: true,
    });
    upstream.on('data', (chunk) => client.write(chunk));
    upstream.on('close', () => client.destroy());
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    let held = Buffer.alloc(0);
    let released = false;
    const limit = cuts[cuts.length - 1]!;
    client.on('data', (chunk: Buffer) => {
      if (released) {
        upstream.write(chunk);
        return;
      }
      held = Buffer.concat([held, chunk]);
      if (held.length < limit) return;
      released = true;
      client.pause();
      void (async () => {
        let from = 0;
        for (const cut of cuts) {
          upstream.write(held.subarray(from, cut));
          from = cut;
          await new Promise((resolve) => setTimeout(resolve, PIECE_GAP_MS));
        }
        upstream.write(held.subarray(from));
        client.resume();
      })();
    });
  });
  proxies.push(proxy);
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
}

describe('the cleartext port, its first bytes arriving in pieces', () => {
  const cases: Array<{ name: string; http1: boolean; cuts: number[] }> = [
    { name: 'HTTP/2, cut inside the preface', http1: false, cuts: [5, 16] },
    { name: 'HTTP/2, cut right after the preface', http1: false, cuts: [24, 30] },
    { name: 'HTTP/1.1, cut inside the request line', http1: true, cuts: [2, 7] },
  ];
  for (const { name, http1, cuts } of cases) {
    it(`serves ${name}`, async () => {
      const endpoint = await cuttingProxy(cuts);
      const client = new KinesisClient({
        endpoint,
        region: 'us-east-1',
        credentials: CREDENTIALS,
        ...(http1 ? { requestHandler: new NodeHttpHandler() } : {}),
      });
      const stream = `cut-${cuts.join('-')}`;
      await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
      const listed = await client.send(new ListStreamsCommand({}));
      expect(listed.StreamNames).toContain(stream);
      const records = Array.from({ length: 200 }, (_, i) => ({
        PartitionKey: `k${i}`,
        Data: Buffer.alloc(100, i),
      }));
      const put = await client.send(
        new PutRecordsCommand({ StreamName: stream, Records: records }),
      );
      expect(put.FailedRecordCount).toBe(0);
      expect(put.Records).toHaveLength(200);
      client.destroy();
    });
  }
});
