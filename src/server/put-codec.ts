/**
 * The codec threads: a piscina pool that prepares JSON PutRecords bodies (parse, base64, checks,
 * MD5, batch encoding; src/server/put-records-prepare.ts) in parallel with the event loop, which
 * is left with HTTP, routing and appending. A body is moved to the thread, not copied, and the
 * prepared batch is moved back; a body the thread declines comes back for the ordinary path.
 *
 * Only bodies of at least CODEC_BODY_BYTES_MIN go to a thread: below that, the two thread hops
 * cost more than decoding in place.
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

export type CodecReply = { prepared: PreparedPutRecords; body?: undefined } | { prepared?: undefined; body: ArrayBuffer };

export class PutRecordsCodec {
  private readonly pool: Piscina;

  constructor(readonly threads: number) {
    this.pool = new Piscina({
      filename: workerFile('codec-worker'),
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Number.POSITIVE_INFINITY,
    });
  }

  /**
   * Prepares `body`, which the caller gives up (its memory moves to the thread). Resolves to the
   * prepared request, or to the body (as a Buffer) when the ordinary path must answer.
   */
  async prepare(body: Buffer): Promise<{ prepared: PreparedPutRecords } | { prepared?: undefined; body: Buffer }> {
    const owned =
      body.byteOffset === 0 && body.buffer instanceof ArrayBuffer && body.byteLength === body.buffer.byteLength
        ? body.buffer
        : new Uint8Array(body).buffer;
    const task: CodecTask = { body: owned };
    const reply = (await this.pool.run(task, { transferList: [owned] })) as CodecReply;
    if (reply.prepared) return { prepared: reply.prepared };
    return { body: Buffer.from(reply.body) };
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
