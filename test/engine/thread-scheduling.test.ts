// Goal: the engine's helper threads (shard workers, codec threads) run under SCHED_BATCH from
// the moment they start, so a thread the event loop wakes does not preempt it
// (workers/thread-scheduling.cts); the event loop's own thread keeps its policy; without `chrt`
// a thread keeps its policy and nothing fails. Read from /proc, as the kernel reports each
// thread's policy.
import { readFileSync, readdirSync } from 'node:fs';

import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import {
  SCHED_BATCH,
  chrtPath,
  currentThreadId,
  scheduleThreadAsBatch,
} from '../../dist/workers/thread-scheduling.cjs';
import { startServer } from '../../src/server/server.js';
import { eventually } from '../helpers/eventually.js';
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

/** The test thread's own policy before any test: what a helper thread would have without. */
const ownPolicy = policyOf(currentThreadId() ?? -1);

// Linux with util-linux's chrt, as on the machines Runnel is tested on; elsewhere the threads
// keep their policy by design (the last test).
describe.runIf(process.platform === 'linux' && chrtPath() !== undefined)(
  'thread scheduling',
  () => {
    it('puts every shard worker under SCHED_BATCH as it starts, and the event loop not', async () => {
      const temp = tempDir();
      cleanup = temp.cleanup;
      const before = threadsUnderBatch();
      const engine = await Engine.open({ dataDir: temp.dir, workers: 3 });
      try {
        // No stream, no task: the threads set themselves up as they start.
        await eventually(() => expect(threadsUnderBatch()).toBe(before + 3));
        expect(policyOf(currentThreadId()!)).toBe(ownPolicy);
      } finally {
        await engine.close();
      }
      await eventually(() => expect(threadsUnderBatch()).toBe(before));
    });

    it('puts the codec threads under SCHED_BATCH too', async () => {
      const temp = tempDir();
      cleanup = temp.cleanup;
      const before = threadsUnderBatch();
      const server = await startServer({
        port: 0,
        wsPort: 0,
        dataDir: temp.dir,
        workers: 1,
        codecThreads: 2,
      });
      try {
        // One shard worker and two codec threads; the server's event loop as it was.
        await eventually(() => expect(threadsUnderBatch()).toBe(before + 3));
        expect(policyOf(currentThreadId()!)).toBe(ownPolicy);
      } finally {
        await server.close();
      }
    });
  },
);

describe.runIf(process.platform === 'linux')('thread scheduling without chrt', () => {
  it('keeps the thread as it was and fails nothing', () => {
    const missing = ['/nonexistent/bin/chrt'];
    expect(chrtPath(missing)).toBeUndefined();
    expect(scheduleThreadAsBatch(missing)).toBe(false);
    expect(policyOf(currentThreadId()!)).toBe(ownPolicy);
  });
});
