/**
 * The client over `wss:`: the real server behind a TLS-terminating proxy on 127.0.0.1 (as a
 * deployment behind nginx or a load balancer has it), with a private CA given in `tls`.
 * Records put over TLS are read back over TLS byte-identical; without the CA the connection is
 * refused with an error, not left hanging.
 */
import { readFileSync } from 'node:fs';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { createServer as createTlsServer, type Server } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RunnelClient } from '../../src/client/index.js';
import type { Engine } from '../../src/engine/engine.js';
import { type ServedEngine, serveEngine } from '../helpers/ws-server.js';

const FIXTURES = new URL('../fixtures/tls/', import.meta.url);
const TLS_KEY = readFileSync(new URL('key.pem', FIXTURES));
const TLS_CERT = readFileSync(new URL('cert.pem', FIXTURES));

let served: ServedEngine;
let engine: Engine;
let proxy: Server;
let secureUrl: string;

beforeAll(async () => {
  served = await serveEngine({ workers: 1 });
  engine = served.engine;
  const port = Number(new URL(served.server.url).port);
  proxy = createTlsServer({ key: TLS_KEY, cert: TLS_CERT }, (secure) => {
    const plain = netConnect(port, '127.0.0.1');
    secure.pipe(plain).pipe(secure);
    secure.on('error', () => plain.destroy());
    plain.on('error', () => secure.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  secureUrl = `wss://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

afterAll(async () => {
  proxy?.close();
  await served?.close();
});

describe('the client over wss:', () => {
  it('puts and subscribes through TLS with a private CA', async () => {
    await engine.createStream({ StreamName: 'secure', ShardCount: 1 });
    const client = await RunnelClient.connect(secureUrl, { tls: { ca: TLS_CERT } });
    const records = Array.from({ length: 300 }, (_, i) => ({
      PartitionKey: `s${i}`,
      Data: Buffer.alloc(2000 + i, i & 0xff),
    }));
    const put = await client.putRecords('secure', records);
    expect(put.FailedRecordCount).toBe(0);
    const subscription = await client.subscribe('secure', 'shardId-000000000000', {
      type: 'TRIM_HORIZON',
    });
    let i = 0;
    for await (const record of subscription) {
      expect(record.PartitionKey).toBe(records[i]!.PartitionKey);
      expect(Buffer.from(record.Data).equals(records[i]!.Data)).toBe(true);
      if (++i === records.length) break;
    }
    expect(i).toBe(records.length);
    await client.close();
  });

  it('refuses a server certificate it cannot verify, with an error', async () => {
    await expect(
      RunnelClient.connect(secureUrl, { tls: {}, connectTimeoutMs: 5000 }),
    ).rejects.toThrow(/before WELCOME/);
  });
});
