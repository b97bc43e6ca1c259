/**
 * The shard worker threads. Each worker is a piscina pool of exactly one thread, so a shard's
 * owner is fixed for the engine's life: the shard → worker map is decided here once, and a task
 * for a worker can only run on that worker's thread. (A single pool with an affinity-keyed load
 * balancer gives the same guarantee; one pool per worker is simpler to reason about and lets
 * each worker queue independently, so a slow shard set never delays another worker's tasks.)
 *
 * When a worker thread dies, piscina starts a new one in its pool; tasks in flight fail with a
 * retryable error, and the new thread reopens its shards from disk on first use (shard-host.ts).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { KinesisError } from '../errors.js';
import { WORKER_TASKS_IN_FLIGHT_MAX, WORKER_TASK_QUEUE_MAX } from '../limits.js';
import type { WorkerTask } from '../storage/worker-protocol.js';

/**
 * The compiled entry of a worker thread, dist/workers/<name>-entry.cjs (a CommonJS file that
 * imports dist/workers/<name>.js: workers/esm-entry.cts says why), whether running from source
 * or dist/.
 */
export function workerFile(name: string): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const compiled = here.includes(`${sep}dist${sep}src${sep}`);
  const root = compiled ? resolve(here, '../../..') : resolve(here, '../..');
  const file = join(root, 'dist', 'workers', `${name}-entry.cjs`);
  if (!existsSync(file)) {
    throw new Error(`runnel: ${file} is missing; run \`npm run build\` first`);
  }
  return file;
}

export class WorkerPool {
  private readonly pools: Piscina[] = [];
  /** Tasks sent to workers so far; tests use it to show reads send none. */
  tasksSent = 0;

  constructor(readonly size: number) {
    const filename = workerFile('shard-worker');
    for (let i = 0; i < size; i++) {
      this.pools.push(
        new Piscina({
          filename,
          minThreads: 1,
          maxThreads: 1,
          idleTimeout: Number.POSITIVE_INFINITY,
          // Appends are bounded by the batcher; this queue must also hold the control tasks
          // (piscina's 'auto' is threads², 1 here: a retention pass or a stream's opening then
          // failed whenever two appends were outstanding).
          maxQueue: WORKER_TASK_QUEUE_MAX,
          // No run/wait-time histograms: nothing reads them, and they cost every task.
          recordTiming: false,
          // The batcher's appends in flight are all posted to the thread at once, so it starts
          // the next the moment it finishes one. With piscina's default of one, the next waited
          // until the main thread had taken the last one's answer: in traced runs at half load
          // (100 B), a put waited 2.1-2.3 ms at the median from its post to its start, 0.4-0.6
          // ms with this. Tasks still run one at a time and in order: the host's handler is
          // synchronous, and a thread takes its messages in the order they were posted.
          concurrentTasksPerWorker: WORKER_TASKS_IN_FLIGHT_MAX,
        }),
      );
    }
  }

  async run<T>(worker: number, task: WorkerTask, transferList?: ArrayBuffer[]): Promise<T> {
    const pool = this.pools[worker]!;
    this.tasksSent++;
    try {
      return (await pool.run(task, transferList ? { transferList } : {})) as T;
    } catch (error) {
      throw new KinesisError(
        'InternalFailureException',
        `Internal Service Failure (shard worker ${worker}: ${(error as Error).message})`,
      );
    }
  }

  /** Thread ids, for tests that check which thread owns what. */
  threadIds(worker: number): number[] {
    return this.pools[worker]!.threads.map((thread) => thread.threadId);
  }

  async close(): Promise<void> {
    await Promise.all(this.pools.map((pool) => pool.destroy()));
  }
}
