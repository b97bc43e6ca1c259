/**
 * Readers: GetRecords loops over the shards of a stream, in two modes.
 *
 * - `drain`: from TRIM_HORIZON to the end, as fast as the server answers; the benchmark's read
 *   figure and its proof that every acknowledged record is readable (the count read must equal
 *   the count acked).
 * - `follow`: consumers running beside the writers, polling each shard (an empty answer waits
 *   `pollMs` before the next call, as a KCL worker idles) until told to stop.
 *
 * Throttled calls (ProvisionedThroughputExceededException) are counted and retried after a
 * back-off; any other error is counted and the shard's reader gives up (drain) or retries
 * (follow). Every loop is bounded: by its stop signal, and drain also by READ_CALLS_MAX.
 */
import { GET_RECORDS_LIMIT_MAX } from '../limits.js';
import { LatencyHistogram } from './histogram.js';
import { THROTTLING_ERRORS } from './kinesis-http-client.js';
import { sleep } from './rate.js';
import type { ShardReader } from './targets.js';

/** Back-off after a throttled read (Kinesis allows 5 calls/s per shard). */
export const READ_THROTTLE_BACKOFF_MS = 250;
/** Drain ends after this many consecutive empty answers that say they are caught up. */
const DRAIN_EMPTY_PAGES = 2;
/** A drain retries a failed call (not a throttled one) this many times before giving up. */
export const DRAIN_ERROR_RETRIES = 3;
const DRAIN_RETRY_MS = 200;
/** Upper bound on calls per shard per drain (bounded loop; 10^6 calls is 10^10 records). */
export const READ_CALLS_MAX = 1_000_000;

export interface ReadStats {
  records: number;
  bytes: number;
  calls: number;
  throttled: number;
  errors: number;
  lastError?: string;
  /** Latency of each GetRecords call. */
  callLatency: LatencyHistogram;
  /** Now − ApproximateArrivalTimestamp of the newest record of each non-empty page (ms clock). */
  arrivalLag: LatencyHistogram;
  millisBehindLatestMax: number;
}

export function newReadStats(): ReadStats {
  return {
    records: 0,
    bytes: 0,
    calls: 0,
    throttled: 0,
    errors: 0,
    callLatency: new LatencyHistogram(),
    arrivalLag: new LatencyHistogram(),
    millisBehindLatestMax: 0,
  };
}

export function mergeReadStats(into: ReadStats, from: ReadStats): ReadStats {
  into.records += from.records;
  into.bytes += from.bytes;
  into.calls += from.calls;
  into.throttled += from.throttled;
  into.errors += from.errors;
  into.lastError = from.lastError ?? into.lastError;
  into.callLatency.merge(from.callLatency);
  into.arrivalLag.merge(from.arrivalLag);
  into.millisBehindLatestMax = Math.max(into.millisBehindLatestMax, from.millisBehindLatestMax);
  return into;
}

export interface ShardLoopOptions {
  mode: 'drain' | 'follow';
  start: 'TRIM_HORIZON' | 'LATEST';
  /** An iterator already taken at `start` (so a LATEST reader's position is fixed before writes begin). */
  iterator?: string;
  signal?: AbortSignal;
  pollMs?: number;
  limit?: number;
}

function errorName(error: unknown): string {
  const code = (error as { code?: unknown }).code ?? (error as { name?: unknown }).name;
  return typeof code === 'string' ? code : String(error);
}

/** Reads one shard in `drain` or `follow` mode, adding to `stats`. */
export async function readShard(
  reader: ShardReader,
  stream: string,
  shardId: string,
  options: ShardLoopOptions,
  stats: ReadStats,
): Promise<void> {
  const limit = options.limit ?? GET_RECORDS_LIMIT_MAX;
  let iterator = options.iterator;
  let emptyCaughtUp = 0;
  let retries = 0;
  for (let call = 0; call < READ_CALLS_MAX && !options.signal?.aborted; call++) {
    try {
      iterator ??= await reader.iterator(stream, shardId, options.start);
      const started = performance.now();
      const page = await reader.getRecords(iterator, limit);
      stats.callLatency.recordMs(performance.now() - started);
      stats.calls++;
      stats.records += page.records;
      stats.bytes += page.bytes;
      if (page.records > 0 && Number.isFinite(page.newestArrivalMs)) {
        stats.arrivalLag.recordMs(Date.now() - page.newestArrivalMs);
      }
      stats.millisBehindLatestMax = Math.max(stats.millisBehindLatestMax, page.millisBehindLatest);
      if (page.next === undefined) return; // the shard is closed and read to its end
      iterator = page.next;
      if (page.records === 0 && page.millisBehindLatest === 0) {
        if (options.mode === 'drain' && ++emptyCaughtUp >= DRAIN_EMPTY_PAGES) return;
        if (options.mode === 'follow') await sleep(options.pollMs ?? 200, options.signal);
      } else emptyCaughtUp = 0;
      retries = 0;
    } catch (error) {
      const name = errorName(error);
      if (THROTTLING_ERRORS.has(name)) {
        stats.throttled++;
        await sleep(READ_THROTTLE_BACKOFF_MS, options.signal);
        continue;
      }
      stats.errors++;
      stats.lastError = `${name}: ${(error as Error).message ?? ''}`.slice(0, 300);
      if (name === 'ExpiredIteratorException') iterator = undefined;
      if (options.mode === 'drain' && ++retries > DRAIN_ERROR_RETRIES) return;
      await sleep(
        options.mode === 'drain' ? DRAIN_RETRY_MS : (options.pollMs ?? 200),
        options.signal,
      );
    }
  }
}

/**
 * Reads every shard of `stream` with at most `concurrency` shards at a time. Resolves with the
 * stats and the elapsed seconds.
 */
export async function readStream(
  reader: ShardReader,
  stream: string,
  shardIds: readonly string[],
  options: ShardLoopOptions & { concurrency: number },
): Promise<{ stats: ReadStats; elapsedSec: number }> {
  const stats = newReadStats();
  const started = performance.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < shardIds.length && !options.signal?.aborted) {
      await readShard(reader, stream, shardIds[next++]!, options, stats);
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(options.concurrency, shardIds.length)) }, lane),
  );
  return { stats, elapsedSec: (performance.now() - started) / 1000 };
}
