/**
 * Coalesces appends bound for one worker into one message. An append is queued; if the worker
 * has no task in flight, the queue is flushed at the end of the current event-loop turn
 * (setImmediate), so every request parsed in that turn rides in the same message; while a task
 * is in flight, appends accumulate and go in one message when it returns. Under load, batches
 * therefore grow by themselves and the per-message cost (~20 µs) is paid per batch, not per
 * request.
 *
 * In-flight bytes per worker are bounded: past WORKER_IN_FLIGHT_BYTES_MAX an append is refused
 * with a retryable throttling error rather than buffered, so memory stays bounded whatever
 * clients do.
 */
import { KinesisError, reviveError } from '../errors.js';
import {
  WORKER_BATCH_BYTES_MAX,
  WORKER_IN_FLIGHT_BYTES_MAX,
  WORKER_TASKS_IN_FLIGHT_MAX,
} from '../limits.js';
import type {
  AppendOutcome,
  AppendReply,
  AppendRequest,
  RoutedBatchCheck,
  ShardDescriptor,
  WorkerTask,
} from '../storage/worker-protocol.js';
import { PutBufferPool } from './put-buffers.js';
import type { WorkerPool } from './worker-pool.js';

export interface Committed {
  baseOrdinal: number;
  arrivalMs: number;
  /** The batch's data bytes, when its worker checked it (a routed batch; AppendOutcome). */
  dataBytes?: number;
}

interface Pending {
  request: AppendRequest;
  resolve: (value: Committed) => void;
  reject: (error: KinesisError) => void;
}

class WorkerQueue {
  pending: Pending[] = [];
  pendingBytes = 0;
  inFlightBytes = 0;
  /** Tasks sent to the worker and not yet answered. */
  tasksInFlight = 0;
  scheduled = false;
}

export class Batcher {
  private readonly queues: WorkerQueue[];
  /** Buffers for batches copied out of requests, moved to the workers and back (put-buffers.ts). */
  readonly buffers = new PutBufferPool();

  constructor(
    private readonly pool: WorkerPool,
    private readonly clock: () => number,
    private readonly fsync: boolean,
  ) {
    this.queues = Array.from({ length: pool.size }, () => new WorkerQueue());
  }

  append(
    worker: number,
    shard: ShardDescriptor,
    batch: Uint8Array,
    /** The stream's encryption is in effect for this put (stored as ATTRIBUTE_KMS). */
    encrypted: boolean,
    verify?: RoutedBatchCheck,
  ): Promise<Committed> {
    const queue = this.queues[worker]!;
    if (queue.pendingBytes + queue.inFlightBytes + batch.length > WORKER_IN_FLIGHT_BYTES_MAX) {
      return Promise.reject(
        new KinesisError(
          'ProvisionedThroughputExceededException',
          'Rate exceeded for shard ' + shard.key + ': the shard worker is saturated.',
        ),
      );
    }
    const request: AppendRequest = verify ? { shard, batch, verify } : { shard, batch };
    if (this.buffers.owns(batch.buffer)) request.giveBack = true;
    if (encrypted) request.encrypted = true;
    return new Promise<Committed>((resolve, reject) => {
      queue.pending.push({ request, resolve, reject });
      queue.pendingBytes += batch.length;
      if (
        queue.pendingBytes >= WORKER_BATCH_BYTES_MAX &&
        queue.tasksInFlight < WORKER_TASKS_IN_FLIGHT_MAX
      ) {
        this.flush(worker);
      } else {
        this.schedule(worker);
      }
    });
  }

  /**
   * Runs a task on the worker after every append queued for it so far: the queue is sent now
   * (past the in-flight bound if need be: piscina queues the extra task), and a worker takes its
   * tasks in the order they were posted.
   */
  runAfterAppends<T>(worker: number, task: WorkerTask): Promise<T> {
    this.flush(worker, true);
    return this.pool.run<T>(worker, task);
  }

  private schedule(worker: number): void {
    const queue = this.queues[worker]!;
    if (queue.scheduled || queue.tasksInFlight >= WORKER_TASKS_IN_FLIGHT_MAX) return;
    queue.scheduled = true;
    setImmediate(() => {
      queue.scheduled = false;
      this.flush(worker);
    });
  }

  private flush(worker: number, now = false): void {
    const queue = this.queues[worker]!;
    if (queue.pending.length === 0 || (!now && queue.tasksInFlight >= WORKER_TASKS_IN_FLIGHT_MAX))
      return;
    const batch = queue.pending;
    const bytes = queue.pendingBytes;
    queue.pending = [];
    queue.pendingBytes = 0;
    queue.tasksInFlight++;
    queue.inFlightBytes += bytes;
    const appends = batch.map((pending) => pending.request);
    const transfer = uniqueBuffers(appends);
    const task = { kind: 'append' as const, appends, nowMs: this.clock(), fsync: this.fsync };
    this.pool
      .run<AppendReply>(worker, task, transfer)
      .then(
        (reply) => {
          if (reply.buffers) this.buffers.give(reply.buffers);
          settle(batch, reply.outcomes);
        },
        (error: unknown) => {
          const failure = reviveError(error);
          for (const pending of batch) pending.reject(failure);
        },
      )
      .finally(() => {
        queue.tasksInFlight--;
        queue.inFlightBytes -= bytes;
        if (queue.pending.length > 0) this.flush(worker);
      });
  }
}

function settle(batch: Pending[], outcomes: AppendOutcome[]): void {
  for (let i = 0; i < batch.length; i++) {
    const outcome = outcomes[i]!;
    if (outcome.ok) batch[i]!.resolve(outcome);
    else batch[i]!.reject(reviveError(outcome.error));
  }
}

/**
 * Batches that own their whole ArrayBuffer, and put buffers (which hold one batch each, at their
 * start), are moved to the worker instead of copied.
 */
function uniqueBuffers(appends: AppendRequest[]): ArrayBuffer[] {
  const buffers: ArrayBuffer[] = [];
  const seen = new Set<ArrayBufferLike>();
  for (const { batch, giveBack } of appends) {
    const buffer = batch.buffer;
    const whole =
      giveBack === true || (batch.byteOffset === 0 && batch.byteLength === buffer.byteLength);
    if (buffer instanceof ArrayBuffer && whole && !seen.has(buffer)) {
      seen.add(buffer);
      buffers.push(buffer);
    }
  }
  return buffers;
}
