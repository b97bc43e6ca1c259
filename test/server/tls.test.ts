/**
 * Goal: given a certificate and key, the Kinesis port speaks TLS and ALPN picks h2 or http/1.1,
 * with the same API behind both. The self-signed certificate is made with `openssl` at test time
 * (skipped, with the reason printed, when openssl is missing).
 */

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions, TLSSocket } from 'node:tls';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startServer, type RunningServer } from '../../src/server/server.js';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const available = hasOpenssl();
if (!available) console.warn('tls.test: skipped: openssl is not installed');

const HEADERS = {
  'content-type': 'application/x-amz-json-1.1',
  'x-amz-target': 'Kinesis_20131202.ListStreams',
};

/** An HTTPS request that offers only http/1.1 in ALPN. */
const HTTP1_OPTIONS = (ca: Buffer): https.RequestOptions & ConnectionOptions => ({
  method: 'POST',
  headers: HEADERS,
  ca,
  ALPNProtocols: ['http/1.1'],
});

describe.skipIf(!available)('TLS on the Kinesis port', () => {
  let server: RunningServer;
  let dir: string;
  let cert: Buffer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'runnel-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    cert = readFileSync(join(dir, 'cert.pem'));
    server = await startServer({
      port: 0,
      wsPort: null,
      dataDir: join(dir, 'data'),
      workers: 1,
      tls: { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') },
    });
  });

  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('advertises an https URL', () => {
    expect(server.kinesisUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(server.wsUrl).toBeUndefined();
  });

  it('serves HTTP/2 negotiated by ALPN', async () => {
    const session = http2.connect(server.kinesisUrl, { ca: cert });
    const answer = await new Promise<{ status: number; body: string; alpn: string | false | null }>(
      (resolve, reject) => {
        session.on('error', reject);
        const stream = session.request({ ':method': 'POST', ':path': '/', ...HEADERS });
        let status = 0;
        let body = '';
        stream.on('response', (headers) => (status = Number(headers[':status'])));
        stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
        stream.on('end', () =>
          resolve({ status, body, alpn: (session.socket as TLSSocket).alpnProtocol }),
        );
        stream.end('{}');
      },
    );
    session.close();
    expect(answer.alpn).toBe('h2');
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ StreamNames: [], HasMoreStreams: false });
  });

  it('serves HTTP/1.1 negotiated by ALPN', async () => {
    const answer = await new Promise<{ status: number; body: string; alpn: string | false | null }>(
      (resolve, reject) => {
        const request = https.request(`${server.kinesisUrl}/`, HTTP1_OPTIONS(cert), (response) => {
          const alpn = (response.socket as TLSSocket).alpnProtocol;
          let body = '';
          response.on('data', (chunk: Buffer) => (body += chunk.toString()));
          response.on('end', () => resolve({ status: response.statusCode!, body, alpn }));
        });
        request.on('error', reject);
        request.end('{}');
      },
    );
    expect(answer.alpn).toBe('http/1.1');
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).StreamNames).toEqual([]);
  });
});
