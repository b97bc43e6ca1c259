// Goal: the engine's helper threads (shard workers, codec threads) run under SCHED_BATCH, so a
// thread the event loop wakes does not preempt it (src/engine/thread-scheduling.ts); the event
// loop's own thread keeps the default policy; without `chrt` a thread keeps its policy and
// nothing fails. Read from /proc, as the kernel reports each thread's policy.
import { readFileSync, readdirSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

import { CreateStreamCommand, KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { SCHED_BATCH, currentThreadId } from '../../src/engine/thread-scheduling.js';
import { CODEC_BODY_BYTES_MIN } from '../../src/server/codec-threads.js';
import { startServer } from '../../src/server/server.js';
import { tempDir } from '../helpers/temp-dir.js';

let cleanup: () => void = () => undefined;
afterEach(() => cleanup());

/** The scheduling policy of one of this process's threads (field 41 of its stat). */
function policyOf(tid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[41 - 3]);
  } catch {
    return undefined; // the thread ended meanwhile
  }
}

function threadsUnderBatch(): number {
  return readdirSync('/proc/self/task').filter((tid) => policyOf(Number(tid)) === SCHED_BATCH)
    .length;
}

/** Waits until `count()` equals `expected` (threads start asynchronously), then returns it. */
async function settle(count: () => number, expected: number): Promise<number> {
  const deadline = Date.now() + 10_000;
  while (count() !== expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return count();
}

describe.runIf(process.platform === 'linux')('thread scheduling', () => {
  it('runs every shard worker under SCHED_BATCH and leaves the event loop as it was', async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const before = threadsUnderBatch();
    const engine = await Engine.open({ dataDir: temp.dir, workers: 3, streamTransitionMs: 0 });
    try {
      // A thread sets itself up as it loads its module, with its first task: here the opening
      // of the stream's shards, one on each worker.
      await engine.createStream({ StreamName: 's', ShardCount: 3 });
      expect(await settle(threadsUnderBatch, before + 3)).toBe(before + 3);
      expect(policyOf(currentThreadId()!)).toBe(0);
    } finally {
      await engine.close();
    }
    expect(await settle(threadsUnderBatch, before)).toBe(before);
  });

  it('runs the codec threads under SCHED_BATCH too, from their first request', async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const before = threadsUnderBatch();
    const server = await startServer({
      port: 0,
      wsPort: 0,
      dataDir: temp.dir,
      workers: 1,
      codecThreads: 2,
      engineOptions: { streamTransitionMs: 0 },
    });
    const client = new KinesisClient({
      endpoint: server.kinesisUrl,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    try {
      await client.send(new CreateStreamCommand({ StreamName: 's', ShardCount: 1 }));
      // Bodies large enough for the codec threads, several at once so that both take some.
      const records = Array.from({ length: 100 }, (_, i) => ({
        PartitionKey: `k${i}`,
        Data: Buffer.alloc(100, i),
      }));
      expect(JSON.stringify(records).length).toBeGreaterThan(CODEC_BODY_BYTES_MIN);
      const deadline = Date.now() + 10_000;
      while (threadsUnderBatch() < before + 3 && Date.now() < deadline) {
        const puts = Array.from({ length: 8 }, () =>
          client.send(new PutRecordsCommand({ StreamName: 's', Records: records })),
        );
        for (const output of await Promise.all(puts)) expect(output.FailedRecordCount).toBe(0);
      }
      // One shard worker and two codec threads; the server's event loop as it was.
      expect(threadsUnderBatch()).toBe(before + 3);
      expect(policyOf(currentThreadId()!)).toBe(0);
    } finally {
      client.destroy();
      await server.close();
    }
  });

  it('keeps the default policy, and fails nothing, where chrt cannot be found', async () => {
    // A thread of its own, with no PATH to find chrt on (running the built module, as the
    // engine's threads do).
    const module = new URL('../../dist/src/engine/thread-scheduling.js', import.meta.url).href;
    const worker = new Worker(
      `import(${JSON.stringify(module)}).then((m) => {
        const done = m.scheduleThreadAsBatch();
        const { parentPort } = require('node:worker_threads');
        parentPort.postMessage({ done, tid: m.currentThreadId() });
        parentPort.on('message', () => undefined); // alive until terminated
      });`,
      { eval: true, env: { ...process.env, PATH: '' } },
    );
    try {
      const answer = await new Promise<{ done: boolean; tid: number }>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      expect(answer.done).toBe(false);
      expect(policyOf(answer.tid)).toBe(0);
    } finally {
      await worker.terminate();
    }
  });
});
