/**
 * The codec threads: a piscina pool that prepares JSON PutRecords bodies from either HTTP front
 * end — parsing, base64, checks, MD5 of every partition key, batch encoding; see
 * src/server/put-records-prepare.ts — in parallel with the event loop, which is left with the
 * network, routing and appending. Buffers are moved to the thread and back, never copied; a
 * body the thread declines comes back for the ordinary path.
 *
 * Only bodies of at least CODEC_BODY_BYTES_MIN go to a thread: below that, the two thread hops
 * cost more than preparing the body the same way on the event loop, which the API layer does.
 * Binary protocol PUT batches are not sent here: their per-record work on the event loop (key checks and MD5, no parsing or base64) is smaller than
 * the hops, and measured WebSocket ingest at 100 B fell from 1.37–1.43 M to 0.93–1.10 M
 * records/s when they were.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { workerFile } from '../engine/worker-pool.js';
import type { PreparedPutRecords } from './put-records-prepare.js';

/** Smallest PutRecords body worth a thread hop (about 50 records of 100 bytes). */
export const CODEC_BODY_BYTES_MIN = 8 * 1024;
/** Codec threads at most, whatever the core count. */
export const CODEC_THREADS_MAX = 8;

/** Default codec thread count: one per core, within CODEC_THREADS_MAX. */
export function defaultCodecThreads(): number {
  return Math.min(CODEC_THREADS_MAX, availableParallelism());
}

export interface CodecTask {
  body: ArrayBuffer;
}

export type CodecReply = { prepared: PreparedPutRecords } | { declined: ArrayBuffer };

/** `bytes` as an ArrayBuffer of its own, ready to move: itself when it already is one. */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  const { buffer } = bytes;
  return bytes.byteOffset === 0 &&
    buffer instanceof ArrayBuffer &&
    bytes.byteLength === buffer.byteLength
    ? buffer
    : (new Uint8Array(bytes).buffer as ArrayBuffer);
}

export class CodecThreads {
  private readonly pool: Piscina;

  constructor(readonly threads: number) {
    this.pool = new Piscina({
      filename: workerFile('codec-worker'),
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Number.POSITIVE_INFINITY,
      // No run/wait-time histograms: nothing reads them, and they cost every task.
      recordTiming: false,
    });
  }

  /**
   * Prepares a JSON PutRecords body, which the caller gives up (its memory moves to the thread).
   * Resolves to the prepared request, or to the body, back as a Buffer, when the ordinary path
   * must answer.
   */
  async preparePutRecords(
    body: Buffer,
  ): Promise<{ prepared: PreparedPutRecords } | { prepared?: undefined; body: Buffer }> {
    const owned = ownBuffer(body);
    const task: CodecTask = { body: owned };
    const reply = (await this.pool.run(task, { transferList: [owned] })) as CodecReply;
    if ('prepared' in reply) return { prepared: reply.prepared };
    return { body: Buffer.from((reply as { declined: ArrayBuffer }).declined) };
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
