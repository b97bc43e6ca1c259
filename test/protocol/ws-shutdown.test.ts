/**
 * Goal: a server shutting down (what SIGTERM and SIGINT do: RunningServer.close) answers the
 * WebSocket puts it already took before it closes their connections, so a client never has to
 * guess about a put the server stored. Every put ends one of three ways: acknowledged (and then
 * stored), refused as not stored (ServiceUnavailableException, and then not stored), or cut off
 * by the close before the server read it (then not stored either).
 */
import { afterEach, describe, expect, it } from 'vitest';

import { RunnelClient } from '../../src/client/index.js';
import { Engine } from '../../src/engine/engine.js';
import { KinesisError } from '../../src/errors.js';
import { startServer } from '../../src/server/server.js';
import { readShard } from '../helpers/read-all.js';
import { tempDir } from '../helpers/temp-dir.js';

let cleanup: () => void = () => undefined;
afterEach(() => cleanup());

const PUTS = 48;
const RECORDS_PER_PUT = 200;
const STREAM = 'draining';

/** A server on a fresh directory with the stream, and a client connected to it. */
async function serving() {
  const temp = tempDir('runnel-ws-shutdown-');
  cleanup = temp.cleanup;
  const server = await startServer({ dataDir: temp.dir, port: 0, wsPort: 0, workers: 1 });
  await server.engine.createStream({ StreamName: STREAM, ShardCount: 1 });
  return { dir: temp.dir, server, client: await RunnelClient.connect(server.wsUrl!) };
}

/** The partition keys stored in the stream, read by an engine opened on the directory again. */
async function storedKeys(dir: string): Promise<string[]> {
  const reopened = await Engine.open({ dataDir: dir, workers: 1 });
  try {
    return (await readShard(reopened, STREAM, 'shardId-000000000000')).map(
      (record) => record.PartitionKey!,
    );
  } finally {
    await reopened.close();
  }
}

describe('WebSocket puts across a server shutdown', () => {
  it('acknowledges the puts in flight before closing, and stores exactly what it acknowledged', async () => {
    const { dir, server, client } = await serving();
    let closeStarted = false;
    let ackedAfterClose = 0;
    const outcomes = await new Promise<Array<PromiseSettledResult<number>>>((resolve) => {
      const puts = Array.from({ length: PUTS }, (_, p) =>
        client
          .putRecords(
            STREAM,
            Array.from({ length: RECORDS_PER_PUT }, (_, i) => ({
              PartitionKey: `p${p}-${i}`,
              Data: Buffer.alloc(2000, p),
            })),
          )
          .then((output) => {
            expect(output.FailedRecordCount).toBe(0);
            if (closeStarted) ackedAfterClose++;
            // Shut down while the rest are in flight: the first ack says the server is taking them.
            if (!closeStarted) {
              closeStarted = true;
              void server.close();
            }
            return p;
          }),
      );
      void Promise.allSettled(puts).then(resolve);
    });
    await server.close();
    await client.close();

    const acked = new Set<number>();
    const refused = new Set<number>();
    outcomes.forEach((outcome, p) => {
      if (outcome.status === 'fulfilled') {
        acked.add(p);
        return;
      }
      expect(outcome.reason).toBeInstanceOf(KinesisError);
      expect((outcome.reason as KinesisError).code).toBe('ServiceUnavailableException');
      if (/was not carried out/.test((outcome.reason as Error).message)) refused.add(p);
    });
    // Puts the server had taken when the shutdown began were answered, not dropped.
    expect(ackedAfterClose).toBeGreaterThan(0);

    const storedPuts = new Map<number, number>();
    for (const key of await storedKeys(dir)) {
      const put = Number(/^p(\d+)-/.exec(key)![1]);
      storedPuts.set(put, (storedPuts.get(put) ?? 0) + 1);
    }
    // Every acknowledged put is stored whole; nothing else is stored at all.
    for (const put of acked) expect(storedPuts.get(put)).toBe(RECORDS_PER_PUT);
    for (const put of storedPuts.keys()) expect(acked.has(put)).toBe(true);
    for (const put of refused) expect(storedPuts.has(put)).toBe(false);
  });

  it('refuses, as not stored, a put that arrives while the puts in flight are being answered', async () => {
    const { dir, server, client } = await serving();
    const record = (key: string) => [{ PartitionKey: key, Data: Buffer.from(key) }];
    // The shard's worker is held up, so the first put stays in flight through the shutdown.
    const stall = server.engine.stallWorker(0, 800);
    const first = client.putRecords(STREAM, record('before'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closed = server.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = client.putRecords(STREAM, record('after'));
    await expect(second).rejects.toMatchObject({
      code: 'ServiceUnavailableException',
      message: /was not carried out/,
    });
    // While it drains, the port takes no new connection.
    await expect(fetch(`${server.wsUrl!.replace('ws:', 'http:')}/health`)).rejects.toThrow();
    expect((await first).FailedRecordCount).toBe(0);
    await stall;
    await closed;
    await client.close();
    expect(await storedKeys(dir)).toEqual(['before']);
  });
});
