/**
 * `runnel load`: a load generator for any Kinesis-compatible endpoint (Runnel, the emulators, AWS
 * itself), over the Kinesis JSON API (HTTP/1.1 or HTTP/2) or Runnel's WebSocket protocol.
 *
 * Writers either keep a target rate open-loop (`--rate`: records are due at fixed intended
 * times and latency is measured from those times, rate.ts) or go as fast as the server answers
 * (`--max`: closed loop, latency from the send). Consumers (`--consumers`) read beside the
 * writers by polling GetRecords. Every record sent is counted exactly once as acknowledged,
 * throttled (ProvisionedThroughputExceededException / LimitExceededException, per record or for
 * the whole request) or failed — so sent = acked + throttled + failed. A progress line is written
 * each second; a summary at the end.
 *
 * Bounded: the run stops at `--duration`, at `--max-records` records sent, or on SIGINT (the
 * summary is still printed and the exit code is 0); requests in flight are bounded by
 * connections × in-flight per connection, and each by REQUEST_TIMEOUT_MS.
 *
 * `runLoad` is the library form; the benchmark (bench.ts) drives every network path and the
 * embedded path through it, so all figures come from the same loop.
 */
import { parseCommand } from './command-args.js';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import type { Engine } from '../engine/engine.js';
import {
  LOAD_DURATION_MS_MAX as DURATION_MS_MAX,
  LOAD_IN_FLIGHT_MAX as IN_FLIGHT_MAX,
  LOAD_REQUEST_DATA_BYTES_DEFAULT,
  PUT_RECORDS_BYTES_MAX,
  PUT_RECORDS_ENTRIES_MAX,
} from '../limits.js';
import { LatencyHistogram, type HistogramJson, type LatencySummaryMs } from './histogram.js';
import { KinesisHttpClient, type HttpVersion } from './kinesis-http-client.js';
import { ownCpuSec, processCpuSec } from './machine.js';
import {
  OpenLoopSchedule,
  parseDurationMs,
  parseRate,
  recordsPerSecOf,
  type RateSpec,
} from './rate.js';
import { newReadStats, readShard, type ReadStats } from './readers.js';
import {
  EmbeddedControlPlane,
  EmbeddedSender,
  HttpControlPlane,
  HttpPutSender,
  WsPutSender,
  loadRunnelClient,
  type ControlPlane,
  type PutOutcome,
  type PutSender,
  type ShardReader,
} from './targets.js';
import {
  buildRecordPool,
  jsonMembers,
  parseKeyDistribution,
  parseRecordSize,
  type KeyDistribution,
  type RecordPool,
  type RecordSizeDistribution,
} from './workload.js';

/** The open-loop pacer looks at the clock this often (setTimeout's floor). */
const PACER_TICK_MS = 1;
const PROGRESS_INTERVAL_MS = 1000;
/** After the writers stop, consumers get this long to catch up before they are stopped. */
export const CONSUMER_DRAIN_MS_DEFAULT = 3000;
/** Bounds from limits.ts: run time, requests in flight, data bytes per request. */
export const LOAD_DURATION_MS_MAX = DURATION_MS_MAX;
export const LOAD_IN_FLIGHT_MAX = IN_FLIGHT_MAX;
export const REQUEST_DATA_BYTES_DEFAULT = LOAD_REQUEST_DATA_BYTES_DEFAULT;

export type LoadTarget =
  | { kind: 'kinesis'; endpoint: string; httpVersion: HttpVersion; sign?: boolean; region?: string }
  | { kind: 'ws'; endpoint: string; controlEndpoint: string }
  | { kind: 'embedded'; engine: Engine };

export interface LoadOptions {
  target: LoadTarget;
  streams: string[];
  shards: number;
  recordSize: RecordSizeDistribution;
  keys: KeyDistribution;
  seed: number;
  /** Open-loop target; undefined runs closed-loop as fast as possible. */
  rate?: RateSpec | undefined;
  durationMs: number;
  maxRecords?: number | undefined;
  maxBytes?: number | undefined;
  connections: number;
  inFlightPerConnection: number;
  recordsPerRequest: number;
  requestBytesMax: number;
  consumers: number;
  consumerStart: 'TRIM_HORIZON' | 'LATEST';
  pollMs: number;
  drainMs: number;
  createStreams: boolean;
  cleanup: boolean;
  /** CPU of this process is always measured; give the server's pid to measure it too. */
  serverPid?: number | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((line: string) => void) | undefined;
  /** A pool built earlier (reused across runs of the benchmark). */
  pool?: { pool: RecordPool; members?: Buffer[] } | undefined;
}

export interface SecondCounts {
  acked: number;
  throttled: number;
  failed: number;
  /** Data bytes acknowledged. */
  bytes: number;
  /** Data + partition key bytes acknowledged (what Kinesis limits count). */
  limitBytes: number;
}

export interface ConsumerSummary {
  consumers: number;
  records: number;
  bytes: number;
  calls: number;
  throttled: number;
  errors: number;
  lastError?: string | undefined;
  recordsPerSec: number;
  MBps: number;
  callLatencyMs: LatencySummaryMs;
  arrivalLagMs: LatencySummaryMs;
}

export interface LoadSummary {
  target: string;
  streams: string[];
  shards: number;
  recordSize: string;
  keys: string;
  seed: number;
  mode: 'open-loop' | 'closed-loop';
  targetRecordsPerSec: number | null;
  stoppedBy: 'duration' | 'max-records' | 'max-bytes' | 'signal';
  elapsedSec: number;
  /** Records in requests that were sent: acked + throttled + failed. */
  sent: number;
  acked: number;
  throttled: number;
  failed: number;
  /** Records that fell due (open loop) but could not be sent before the end: in-flight was full. */
  unsent: number;
  requests: number;
  /** Requests that failed as a whole, by error name. */
  requestErrors: Record<string, number>;
  ackedBytes: number;
  ackedLimitBytes: number;
  recordsPerSec: number;
  /** Acknowledged data, 10^6 bytes per second. */
  MBps: number;
  latencyMs: LatencySummaryMs;
  histogram: HistogramJson;
  perSecond: SecondCounts[];
  cpu: { clientSec: number; serverSec: number | null };
  consumers: ConsumerSummary | null;
  createdStreams: string[];
}

interface Batch {
  first: number;
  count: number;
  bytes: number;
  limitBytes: number;
}

/** Takes consecutive records off the ring, bounded by count and data bytes (at least one). */
class RingCursor {
  private next = 0;

  constructor(
    private readonly pool: RecordPool,
    private readonly recordsMax: number,
    private readonly bytesMax: number,
  ) {}

  take(countMax: number): Batch {
    const { dataBytes, limitBytes } = this.pool;
    const size = dataBytes.length;
    const first = this.next;
    let count = 0;
    let bytes = 0;
    let limit = 0;
    const wanted = Math.min(countMax, this.recordsMax);
    while (count < wanted) {
      const at = (first + count) % size;
      if (count > 0 && bytes + dataBytes[at]! > this.bytesMax) break;
      bytes += dataBytes[at]!;
      limit += limitBytes[at]!;
      count++;
    }
    this.next = (first + count) % size;
    return { first, count, bytes, limitBytes: limit };
  }
}

function describeTarget(target: LoadTarget): string {
  if (target.kind === 'kinesis')
    return `kinesis ${target.httpVersion === 'http1' ? 'HTTP/1.1' : 'HTTP/2'} ${target.endpoint}`;
  if (target.kind === 'ws') return `ws ${target.endpoint}`;
  return 'embedded engine';
}

interface Connected {
  senders: PutSender[];
  control: ControlPlane & ShardReader;
  close(): Promise<void>;
}

async function connect(
  options: LoadOptions,
  pool: RecordPool,
  members: Buffer[] | undefined,
): Promise<Connected> {
  const { target } = options;
  if (target.kind === 'embedded') {
    const control = new EmbeddedControlPlane(target.engine);
    return {
      senders: [new EmbeddedSender(target.engine, pool.records)],
      control,
      close: async () => {},
    };
  }
  if (target.kind === 'kinesis') {
    const clientOptions = {
      endpoint: target.endpoint,
      httpVersion: target.httpVersion,
      connections: options.connections,
      ...(target.sign !== undefined ? { sign: target.sign } : {}),
      ...(target.region !== undefined ? { region: target.region } : {}),
    };
    const putClient = new KinesisHttpClient(clientOptions);
    const controlClient = new KinesisHttpClient({
      ...clientOptions,
      connections: Math.max(1, options.consumers),
    });
    const sender = new HttpPutSender(putClient, members ?? jsonMembers(pool));
    return {
      senders: [sender],
      control: new HttpControlPlane(controlClient),
      close: async () => {
        await sender.close();
        controlClient.close();
      },
    };
  }
  const loaded = await loadRunnelClient();
  if (!loaded.available) throw new Error(`the WebSocket path is unavailable: ${loaded.reason}`);
  const senders: PutSender[] = [];
  for (let i = 0; i < options.connections; i++) {
    senders.push(new WsPutSender(await loaded.connect(target.endpoint), pool.records));
  }
  const controlClient = new KinesisHttpClient({
    endpoint: target.controlEndpoint,
    httpVersion: 'http1',
    connections: 2,
  });
  return {
    senders,
    control: new HttpControlPlane(controlClient),
    close: async () => {
      await Promise.all(senders.map((sender) => sender.close()));
      controlClient.close();
    },
  };
}

function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function consumerSummary(stats: ReadStats, consumers: number, elapsedSec: number): ConsumerSummary {
  return {
    consumers,
    records: stats.records,
    bytes: stats.bytes,
    calls: stats.calls,
    throttled: stats.throttled,
    errors: stats.errors,
    lastError: stats.lastError,
    recordsPerSec: stats.records / elapsedSec,
    MBps: stats.bytes / elapsedSec / 1e6,
    callLatencyMs: stats.callLatency.summary(),
    arrivalLagMs: stats.arrivalLag.summary(),
  };
}

/** Runs one load: set up streams, write (and read), stop by itself, summarise. */
export async function runLoad(options: LoadOptions): Promise<LoadSummary> {
  const pool =
    options.pool?.pool ??
    buildRecordPool({ recordSize: options.recordSize, keys: options.keys, seed: options.seed });
  const members =
    options.target.kind === 'kinesis' ? (options.pool?.members ?? jsonMembers(pool)) : undefined;
  const connected = await connect(options, pool, members);
  const createdStreams: string[] = [];
  try {
    if (options.createStreams) {
      for (const stream of options.streams) {
        if (await connected.control.ensureStream(stream, options.shards))
          createdStreams.push(stream);
      }
    }
    return await drive(options, pool, connected, createdStreams);
  } finally {
    if (options.cleanup) {
      for (const stream of options.streams)
        await connected.control.deleteStream(stream).catch(() => undefined);
    }
    await connected.close();
  }
}

async function drive(
  options: LoadOptions,
  pool: RecordPool,
  connected: Connected,
  createdStreams: string[],
): Promise<LoadSummary> {
  const durationMs = Math.min(options.durationMs, LOAD_DURATION_MS_MAX);
  const inFlightMax = Math.min(
    LOAD_IN_FLIGHT_MAX,
    options.connections * options.inFlightPerConnection,
  );
  // PutRecords carries at most 500 records; the batch API and the WebSocket protocol are bounded
  // by bytes only (requestBytesMax).
  const recordsPerRequest = Math.max(
    1,
    Math.min(
      options.recordsPerRequest,
      options.target.kind === 'kinesis' ? PUT_RECORDS_ENTRIES_MAX : Infinity,
    ),
  );
  const cursor = new RingCursor(pool, recordsPerRequest, options.requestBytesMax);
  const maxRecords = options.maxRecords ?? Infinity;
  const maxBytes = options.maxBytes ?? Infinity;
  const histogram = new LatencyHistogram();
  const intervalHistogram = new LatencyHistogram();
  const perSecond: SecondCounts[] = [];
  const requestErrors: Record<string, number> = {};
  const totals = {
    sent: 0,
    acked: 0,
    throttled: 0,
    failed: 0,
    requests: 0,
    bytes: 0,
    limitBytes: 0,
    sentBytes: 0,
  };
  let inFlight = 0;
  let streamTurn = 0;
  let senderTurn = 0;

  // Consumers start first, at LATEST by default, so they see what this run writes.
  const consumerAbort = new AbortController();
  const consumerStats = newReadStats();
  const consumerTasks: Array<Promise<void>> = [];
  if (options.consumers > 0) {
    const assignments: Array<Array<[string, string]>> = Array.from(
      { length: options.consumers },
      () => [],
    );
    let slot = 0;
    for (const stream of options.streams) {
      for (const shardId of await connected.control.shardIds(stream))
        assignments[slot++ % options.consumers]!.push([stream, shardId]);
    }
    // Every consumer's iterator is taken before the first write, so LATEST starts before this
    // run's records; one that cannot be taken now is taken by its reader, which retries.
    const shards = assignments.flat();
    const iterators = await Promise.all(
      shards.map(([stream, shardId]) =>
        connected.control.iterator(stream, shardId, options.consumerStart).catch(() => undefined),
      ),
    );
    shards.forEach(([stream, shardId], i) => {
      consumerTasks.push(
        readShard(
          connected.control,
          stream,
          shardId,
          {
            mode: 'follow',
            start: options.consumerStart,
            ...(iterators[i] !== undefined ? { iterator: iterators[i] } : {}),
            signal: consumerAbort.signal,
            pollMs: options.pollMs,
          },
          consumerStats,
        ),
      );
    });
  }

  const clientCpuStart = ownCpuSec();
  const serverCpuStart = options.serverPid ? processCpuSec(options.serverPid) : NaN;
  const startMs = performance.now();
  const endMs = startMs + durationMs;
  let stoppedBy: LoadSummary['stoppedBy'] = 'duration';
  let stopped = false;
  const stop = (why: LoadSummary['stoppedBy']): void => {
    if (stopped) return;
    stopped = true;
    stoppedBy = why;
  };
  const onAbort = (): void => stop('signal');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) stop('signal');

  const settled = (batch: Batch, outcome: PutOutcome, latencyMs: number): void => {
    inFlight--;
    totals.requests++;
    totals.acked += outcome.acked;
    totals.throttled += outcome.throttled;
    totals.failed += outcome.failed;
    const ackedShare = batch.count === 0 ? 0 : outcome.acked / batch.count;
    totals.bytes += batch.bytes * ackedShare;
    totals.limitBytes += batch.limitBytes * ackedShare;
    if (outcome.error) requestErrors[outcome.error] = (requestErrors[outcome.error] ?? 0) + 1;
    // Latency counts once per record: a request of 500 records is 500 acknowledgements.
    histogram.recordMs(latencyMs, batch.count);
    intervalHistogram.recordMs(latencyMs, batch.count);
    const second = Math.max(0, Math.floor((performance.now() - startMs) / 1000));
    while (perSecond.length <= second)
      perSecond.push({ acked: 0, throttled: 0, failed: 0, bytes: 0, limitBytes: 0 });
    const bucket = perSecond[second]!;
    bucket.acked += outcome.acked;
    bucket.throttled += outcome.throttled;
    bucket.failed += outcome.failed;
    bucket.bytes += batch.bytes * ackedShare;
    bucket.limitBytes += batch.limitBytes * ackedShare;
  };

  const dispatch = (batch: Batch, fromMs: number): Promise<void> => {
    inFlight++;
    totals.sent += batch.count;
    totals.sentBytes += batch.bytes;
    const stream = options.streams[streamTurn++ % options.streams.length]!;
    const sender = connected.senders[senderTurn++ % connected.senders.length]!;
    return sender
      .put(stream, batch.first, batch.count)
      .then((outcome) => settled(batch, outcome, performance.now() - fromMs));
  };

  const bounded = (): boolean => {
    if (totals.sent >= maxRecords) stop('max-records');
    else if (totals.sentBytes >= maxBytes) stop('max-bytes');
    else if (performance.now() >= endMs) stop('duration');
    return stopped;
  };

  // Progress, once a second, from counters only.
  let last = { acked: 0, bytes: 0, throttled: 0, failed: 0, consumed: 0, at: startMs };
  const progress = setInterval(() => {
    const now = performance.now();
    const seconds = (now - last.at) / 1000;
    const line =
      `[${((now - startMs) / 1000).toFixed(0).padStart(4)}s] ` +
      `${formatCount((totals.acked - last.acked) / seconds).padStart(9)} rec/s ` +
      `${((totals.bytes - last.bytes) / seconds / 1e6).toFixed(2).padStart(8)} MB/s  ` +
      `acked ${formatCount(totals.acked)} throttled ${formatCount(totals.throttled)} failed ${formatCount(totals.failed)}  ` +
      `p50 ${intervalHistogram.percentileMs(50).toFixed(2)} p99 ${intervalHistogram.percentileMs(99).toFixed(2)} ` +
      `p99.9 ${intervalHistogram.percentileMs(99.9).toFixed(2)} ms  in-flight ${inFlight}` +
      (options.consumers > 0
        ? `  read ${formatCount((consumerStats.records - last.consumed) / seconds)} rec/s`
        : '');
    intervalHistogram.reset();
    last = {
      acked: totals.acked,
      bytes: totals.bytes,
      throttled: totals.throttled,
      failed: totals.failed,
      consumed: consumerStats.records,
      at: now,
    };
    options.onProgress?.(line);
  }, PROGRESS_INTERVAL_MS);

  const pending = new Set<Promise<void>>();
  const track = (promise: Promise<void>): void => {
    pending.add(promise);
    void promise.finally(() => pending.delete(promise));
  };
  let unsent = 0;
  let targetRecordsPerSec: number | null = null;

  try {
    if (options.rate) {
      targetRecordsPerSec = recordsPerSecOf(options.rate, pool.meanDataBytes);
      const schedule = new OpenLoopSchedule(targetRecordsPerSec, startMs, maxRecords);
      let issued = 0;
      await new Promise<void>((resolve) => {
        const pump = (): void => {
          if (stopped || bounded()) return;
          const due = schedule.dueBy(performance.now());
          while (issued < due && inFlight < inFlightMax && !bounded()) {
            const batch = cursor.take(due - issued);
            const intended = schedule.intendedMs(issued);
            issued += batch.count;
            track(dispatch(batch, intended).then(pump));
          }
        };
        const tick = (): void => {
          pump();
          if (stopped) {
            unsent = Math.max(
              0,
              Math.min(schedule.dueBy(Math.min(performance.now(), endMs)), maxRecords) - issued,
            );
            resolve();
          } else setTimeout(tick, PACER_TICK_MS);
        };
        tick();
      });
    } else {
      const lane = async (): Promise<void> => {
        while (!bounded()) {
          const batch = cursor.take(Math.min(recordsPerRequest, maxRecords - totals.sent));
          await dispatch(batch, performance.now());
        }
      };
      const lanes = Array.from({ length: inFlightMax }, lane);
      await Promise.all(lanes);
    }
    await Promise.all(pending);
  } catch (error) {
    consumerAbort.abort();
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    clearInterval(progress);
  }
  const elapsedSec = (performance.now() - startMs) / 1000;
  const clientCpuSec = ownCpuSec() - clientCpuStart;
  const serverCpuSec = options.serverPid ? processCpuSec(options.serverPid) - serverCpuStart : NaN;

  let consumers: ConsumerSummary | null = null;
  if (options.consumers > 0) {
    // Let consumers catch up with what was acknowledged, within drainMs.
    const drainUntil = performance.now() + options.drainMs;
    while (
      consumerStats.records < totals.acked &&
      performance.now() < drainUntil &&
      !options.signal?.aborted
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    consumerAbort.abort();
    await Promise.all(consumerTasks);
    consumers = consumerSummary(
      consumerStats,
      options.consumers,
      (performance.now() - startMs) / 1000,
    );
  }

  return {
    target: describeTarget(options.target),
    streams: options.streams,
    shards: options.shards,
    recordSize: options.recordSize.text,
    keys: options.keys.text,
    seed: options.seed,
    mode: options.rate ? 'open-loop' : 'closed-loop',
    targetRecordsPerSec,
    stoppedBy,
    elapsedSec,
    sent: totals.sent,
    acked: totals.acked,
    throttled: totals.throttled,
    failed: totals.failed,
    unsent,
    requests: totals.requests,
    requestErrors,
    ackedBytes: totals.bytes,
    ackedLimitBytes: totals.limitBytes,
    recordsPerSec: totals.acked / elapsedSec,
    MBps: totals.bytes / elapsedSec / 1e6,
    latencyMs: histogram.summary(),
    histogram: histogram.toJSON(),
    perSecond,
    cpu: { clientSec: clientCpuSec, serverSec: Number.isNaN(serverCpuSec) ? null : serverCpuSec },
    consumers,
    createdStreams,
  };
}

// ---- the command ---------------------------------------------------------------------------

export const LOAD_HELP = `Usage: runnel load --endpoint URL (--rate R | --max) [options]

Drives a Kinesis-compatible endpoint (Runnel, kinesalite, kinesis-local, AWS) with PutRecords
and, optionally, GetRecords consumers; prints a progress line each second on stderr and a
summary at the end. Stops at --duration, at --max-records, or on Ctrl-C (summary, exit 0).

  --endpoint <url>          Kinesis endpoint (http[s]://host:port), or the uWS URL with --protocol ws
  --protocol kinesis|ws     Kinesis JSON API (default) or Runnel's binary WebSocket protocol
  --http 1|2                HTTP version for --protocol kinesis (default 1; 2 = h2c or ALPN h2)
  --control-endpoint <url>  Kinesis HTTP URL for creating streams with --protocol ws (default: --endpoint as http)
  --streams <n|a,b,c>       number of streams (named <prefix>-<i>) or their names (default 1)
  --stream-prefix <name>    prefix of generated stream names (default runnel-load)
  --shards <n>              shards of each stream it creates (default 2)
  --record-size <spec>      bytes of data per record: 1024, 64KiB, uniform:100-2000 (default 1024)
  --keys <spec>             partition keys: unique, uniform:N, zipf:1.1, zipf:1.1:N (default unique)
  --rate <r>                open-loop target: records/s (2000, 2k) or bytes/s (5MB/s, 8MiB/s)
  --max                     closed loop: as fast as the endpoint answers
  --duration <d>            how long to write: 10, 10s, 500ms, 2m (default 10s)
  --max-records <n>         stop after sending this many records
  --connections <n>         HTTP connections / HTTP/2 sessions / WebSocket connections (default 4)
  --in-flight <n>           requests in flight per connection (default 1 for HTTP/1.1, 8 otherwise)
  --records-per-request <n> records per PutRecords, at most 500 (default 500)
  --consumers <n>           GetRecords consumers beside the writers, shards shared among them (default 0)
  --consumer-start latest|trim_horizon   where consumers start (default latest)
  --poll-ms <n>             consumer idle poll interval (default 200)
  --no-create               do not create missing streams
  --cleanup                 delete the streams at the end
  --seed <n>                seed of the record and key generator (default: random, printed)
  --region <r>, --sign      SigV4-sign requests (automatic for *.amazonaws.com; credentials from env)
  --json <file>             write the summary as JSON
  --quiet                   no progress line
  -h, --help                this help
`;

export class UsageError extends Error {}

function positiveInteger(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 0)
    throw new UsageError(`${name} must be a whole number, got '${value}'`);
  return parsed;
}

export function parseLoadArgs(
  argv: string[],
): (LoadOptions & { json?: string | undefined; quiet: boolean }) | 'help' {
  const { values } = parseArgs({
    args: argv,
    allowPositionals: false,
    options: {
      endpoint: { type: 'string' },
      protocol: { type: 'string', default: 'kinesis' },
      http: { type: 'string', default: '1' },
      'control-endpoint': { type: 'string' },
      streams: { type: 'string', default: '1' },
      'stream-prefix': { type: 'string', default: 'runnel-load' },
      shards: { type: 'string', default: '2' },
      'record-size': { type: 'string', default: '1024' },
      keys: { type: 'string', default: 'unique' },
      rate: { type: 'string' },
      max: { type: 'boolean', default: false },
      duration: { type: 'string', default: '10s' },
      'max-records': { type: 'string' },
      connections: { type: 'string', default: '4' },
      'in-flight': { type: 'string' },
      'records-per-request': { type: 'string', default: String(PUT_RECORDS_ENTRIES_MAX) },
      consumers: { type: 'string', default: '0' },
      'consumer-start': { type: 'string', default: 'latest' },
      'poll-ms': { type: 'string', default: '200' },
      'no-create': { type: 'boolean', default: false },
      cleanup: { type: 'boolean', default: false },
      seed: { type: 'string' },
      region: { type: 'string' },
      sign: { type: 'boolean' },
      json: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  if (!values.endpoint) throw new UsageError('--endpoint is required');
  if (values.rate !== undefined && values.max)
    throw new UsageError('give --rate or --max, not both');
  if (values.rate === undefined && !values.max)
    throw new UsageError('give --rate R (open loop) or --max (closed loop)');
  const protocol = values.protocol;
  if (protocol !== 'kinesis' && protocol !== 'ws')
    throw new UsageError(`--protocol must be kinesis or ws`);
  if (values.http !== '1' && values.http !== '2') throw new UsageError('--http must be 1 or 2');
  const httpVersion: HttpVersion = values.http === '2' ? 'http2' : 'http1';
  const streamCount = Number(values.streams);
  const streams =
    Number.isSafeInteger(streamCount) && streamCount > 0
      ? Array.from({ length: streamCount }, (_, i) =>
          streamCount === 1 ? values['stream-prefix']! : `${values['stream-prefix']}-${i}`,
        )
      : values
          .streams!.split(',')
          .map((name) => name.trim())
          .filter(Boolean);
  if (streams.length === 0) throw new UsageError('--streams names no stream');
  const start = values['consumer-start']!.toUpperCase();
  if (start !== 'LATEST' && start !== 'TRIM_HORIZON')
    throw new UsageError('--consumer-start must be latest or trim_horizon');
  const seed =
    values.seed !== undefined
      ? positiveInteger('--seed', values.seed, 0)
      : Math.floor(Math.random() * 2 ** 31);
  const wsEndpoint = values.endpoint;
  let target: LoadTarget;
  try {
    target =
      protocol === 'kinesis'
        ? {
            kind: 'kinesis',
            endpoint: values.endpoint,
            httpVersion,
            ...(values.sign !== undefined ? { sign: values.sign } : {}),
            ...(values.region !== undefined ? { region: values.region } : {}),
          }
        : {
            kind: 'ws',
            endpoint: wsEndpoint,
            controlEndpoint:
              values['control-endpoint'] ??
              wsEndpoint.replace(/^ws(s?):/, 'http$1:').replace(/\/v1\/?$/, ''),
          };
    return {
      target,
      streams,
      shards: Math.max(1, positiveInteger('--shards', values.shards, 2)),
      recordSize: parseRecordSize(values['record-size']!),
      keys: parseKeyDistribution(values.keys!, `pk-${seed}`),
      seed,
      rate: values.rate !== undefined ? parseRate(values.rate) : undefined,
      durationMs: parseDurationMs(values.duration!),
      maxRecords:
        values['max-records'] !== undefined
          ? positiveInteger('--max-records', values['max-records'], 0)
          : undefined,
      connections: Math.max(1, positiveInteger('--connections', values.connections, 4)),
      inFlightPerConnection: Math.max(
        1,
        positiveInteger(
          '--in-flight',
          values['in-flight'],
          protocol === 'kinesis' && httpVersion === 'http1' ? 1 : 8,
        ),
      ),
      recordsPerRequest: Math.min(
        PUT_RECORDS_ENTRIES_MAX,
        Math.max(1, positiveInteger('--records-per-request', values['records-per-request'], 500)),
      ),
      requestBytesMax: Math.min(REQUEST_DATA_BYTES_DEFAULT, PUT_RECORDS_BYTES_MAX),
      consumers: positiveInteger('--consumers', values.consumers, 0),
      consumerStart: start,
      pollMs: positiveInteger('--poll-ms', values['poll-ms'], 200),
      drainMs: CONSUMER_DRAIN_MS_DEFAULT,
      createStreams: !values['no-create'],
      cleanup: values.cleanup!,
      json: values.json,
      quiet: values.quiet!,
    };
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError((error as Error).message);
  }
}

function formatLatency(latency: LatencySummaryMs): string {
  return `p50 ${latency.p50.toFixed(2)} ms, p99 ${latency.p99.toFixed(2)} ms, p99.9 ${latency.p999.toFixed(2)} ms, max ${latency.max.toFixed(2)} ms`;
}

/** The end-of-run summary, as printed. */
export function formatSummary(summary: LoadSummary): string {
  const lines = [
    `runnel load: ${summary.target}, ${summary.streams.length} stream(s) × ${summary.shards} shard(s), ` +
      `record size ${summary.recordSize}, keys ${summary.keys}, seed ${summary.seed}, ${summary.mode}` +
      (summary.targetRecordsPerSec !== null
        ? ` at ${formatCount(summary.targetRecordsPerSec)} records/s`
        : ''),
    `  stopped by ${summary.stoppedBy} after ${summary.elapsedSec.toFixed(2)} s`,
    `  sent ${formatCount(summary.sent)} = acked ${formatCount(summary.acked)} + throttled ${formatCount(summary.throttled)} ` +
      `+ failed ${formatCount(summary.failed)}; unsent (due, in-flight full) ${formatCount(summary.unsent)}`,
    `  ${formatCount(summary.recordsPerSec)} records/s, ${summary.MBps.toFixed(2)} MB/s acknowledged, ` +
      `${formatCount(summary.requests)} requests` +
      (Object.keys(summary.requestErrors).length > 0
        ? `, request errors ${JSON.stringify(summary.requestErrors)}`
        : ''),
    `  ack latency ${formatLatency(summary.latencyMs)}${summary.mode === 'open-loop' ? ' (from intended send times)' : ''}`,
    `  client CPU ${summary.cpu.clientSec.toFixed(2)} s` +
      (summary.cpu.serverSec !== null ? `, server CPU ${summary.cpu.serverSec.toFixed(2)} s` : ''),
  ];
  if (summary.consumers) {
    const c = summary.consumers;
    lines.push(
      `  consumers ×${c.consumers}: read ${formatCount(c.records)} records (${formatCount(c.recordsPerSec)} records/s, ` +
        `${c.MBps.toFixed(2)} MB/s), ${formatCount(c.calls)} GetRecords, throttled ${c.throttled}, errors ${c.errors}` +
        (c.lastError ? ` (last: ${c.lastError})` : ''),
      `  GetRecords latency ${formatLatency(c.callLatencyMs)}`,
    );
  }
  return lines.join('\n');
}

/** `runnel load`: returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const command = parseCommand('load', argv, parseLoadArgs, LOAD_HELP);
  if ('exitCode' in command) return command.exitCode;
  const parsed = command.settings;
  const abort = new AbortController();
  let interrupts = 0;
  const onSignal = (): void => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write('\nrunnel load: stopping (Ctrl-C again to quit at once)\n');
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const summary = await runLoad({
      ...parsed,
      signal: abort.signal,
      onProgress: parsed.quiet ? undefined : (line) => process.stderr.write(`${line}\n`),
    });
    process.stdout.write(`${formatSummary(summary)}\n`);
    if (parsed.json) writeFileSync(parsed.json, JSON.stringify(summary, null, 2));
    return 0;
  } catch (error) {
    process.stderr.write(`runnel load: ${(error as Error).message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
