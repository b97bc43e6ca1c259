/**
 * `runnel bench`: one command that measures every path into and out of Runnel on this machine
 * and states each figure three ways — records/s and MB/s, as Kinesis shards (how many
 * provisioned shards the same load needs: 1,000 records/s and 1 MiB/s written, 2 MiB/s read,
 * per shard), and as a share of a baseline measured in the same run (page-cache writes into
 * fresh files of the data directory for the embedded path, loopback TCP for network paths;
 * baselines.ts).
 *
 * Paths: the embedded batch API (`putRecordBatch`, in this process), Runnel's WebSocket
 * protocol (when src/client exports RunnelClient), and the Kinesis JSON API over HTTP/1.1 and
 * HTTP/2 (h2c). Network paths talk to a server in a child process, so load and server never
 * share a thread; CPU is measured in both processes. For each record size (100 B, 1 KiB,
 * 64 KiB) and shard count (1 and many) it writes closed-loop for a fixed time (or byte bound),
 * then reads everything back — with GetRecords, and with subscriptions where the path has
 * them — and the count read must equal the count acknowledged: every record put is verified
 * readable. Records carry distinct partition keys routed by MD5 (workload.ts).
 *
 * `--peers` measures kinesalite and kinesis-local with the same HTTP load; `--verify-limits`
 * checks limits mode holds a 2-shard stream to 2,000 records/s and 2 MiB/s within 5 %.
 * Output: a table on stdout, `--json FILE`, `--html FILE` (report-html.ts).
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { parseArgs } from 'node:util';

import { Engine } from '../engine/engine.js';
import {
  ACCOUNT_SHARD_LIMIT,
  KIB,
  LOAD_DURATION_MS_MAX,
  MIB,
  PARTITION_KEY_BYTES_MAX,
  RECORD_SIZE_DEFAULT_KIB,
  SHARD_READ_BYTES_PER_SEC,
  SHARD_WRITE_BYTES_PER_SEC,
  SHARD_WRITE_RECORDS_PER_SEC,
} from '../limits.js';
import { measureBaselines, type Baselines } from './baselines.js';
import { startChildServer, type ChildServer } from './child-server.js';
import { LatencyHistogram, type HistogramJson } from './histogram.js';
import { KinesisHttpClient, type HttpVersion } from './kinesis-http-client.js';
import {
  runLoad,
  REQUEST_DATA_BYTES_DEFAULT,
  type LoadOptions,
  type LoadSummary,
  type LoadTarget,
} from './load.js';
import {
  describeMachine,
  machineInfo,
  ownCpuSec,
  processCpuSec,
  type MachineInfo,
} from './machine.js';
import { PEERS, installPeers, startPeer } from './peers.js';
import { readStream, type ReadStats } from './readers.js';
import { renderHtmlReport } from './report-html.js';
import { COLUMNS, fmt, formatSize, rowCells } from './result-table.js';
import { parseCommand } from './command-args.js';
import {
  EmbeddedControlPlane,
  HttpControlPlane,
  countSubscriptionItem,
  loadRunnelClient,
  type RunnelClientLike,
  type ShardReader,
} from './targets.js';
import {
  buildRecordPool,
  jsonMembers,
  parseKeyDistribution,
  parseRecordSize,
  type RecordPool,
} from './workload.js';

export type BenchPath = 'embedded' | 'ws' | 'http1' | 'http2';
const ALL_PATHS: readonly BenchPath[] = ['embedded', 'ws', 'http1', 'http2'];

/** Per-case settings of the two modes; --quick must finish within 2 minutes, the full run 15. */
const MODES = {
  quick: {
    putSeconds: 1.2,
    baselineSeconds: 0.5,
    caseBytesMax: 256 * MIB,
    caseRecordsMax: 250_000,
    limitsSeconds: 4,
    peerSeconds: 2,
  },
  full: {
    putSeconds: 6,
    baselineSeconds: 2,
    caseBytesMax: 2048 * MIB,
    caseRecordsMax: 4_000_000,
    limitsSeconds: 8,
    peerSeconds: 5,
  },
} as const;
/**
 * Largest `--sizes` entry: the streams a run creates take records (data and partition key) of
 * up to RECORD_SIZE_DEFAULT_KIB, and a record's key may take PARTITION_KEY_BYTES_MAX.
 */
const RECORD_DATA_BYTES_MAX = RECORD_SIZE_DEFAULT_KIB * KIB - PARTITION_KEY_BYTES_MAX;
/** Largest `--seconds`: the load never writes longer (load.ts). */
const PUT_SECONDS_MAX = LOAD_DURATION_MS_MAX / 1000;
/**
 * The file a run writes into its data directory: a later run empties a directory only if it has
 * this file (a run's leftovers, after --keep or a kill) or is empty.
 */
export const BENCH_DATA_MARKER = '.runnel-bench';
/** Embedded calls carry up to this many bytes of records (the engine cuts them into batches). */
const EMBEDDED_CALL_BYTES = 16 * MIB;
const EMBEDDED_CALL_RECORDS_MAX = 20_000;
const EMBEDDED_CALLS_IN_FLIGHT = 3;
/** Network paths: HTTP/1.1 sockets; HTTP/2 sessions × streams in flight; ws connections × puts. */
const HTTP1_CONNECTIONS = 8;
const HTTP2_SESSIONS = 4;
const HTTP2_IN_FLIGHT = 4;
const WS_CONNECTIONS = 4;
const WS_IN_FLIGHT = 8;
/** Records per WebSocket put (bounded by REQUEST_DATA_BYTES_DEFAULT as well). */
const WS_RECORDS_PER_PUT = 5000;
/*
 * Streams are not deleted between cases: the data directory is removed at the end, so every case
 * writes into a log that holds the earlier cases' records, as a server that retains its data does.
 */
/** Read phase: shards read at once. */
const READ_CONCURRENCY = 4;
/** A subscription drain ends when nothing arrives for this long. */
const SUBSCRIBE_IDLE_MS = 3000;
/** Limits mode is offered this multiple of the nominal limit. */
const LIMITS_OVERLOAD = 2;

/** Limits mode: seconds skipped at the start, while each shard spends its initial one-second bucket
 * (at twice the limit offered, it is empty after about one second). */
const LIMITS_WARMUP_SECONDS = 2;
const LIMITS_TOLERANCE = 0.05;
const LIMITS_SHARDS = 2;

export interface BenchResult {
  target: string;
  path: BenchPath;
  op: 'put' | 'read';
  method: string;
  recordBytes: number;
  shards: number;
  available: boolean;
  reason?: string;
  records: number;
  bytes: number;
  elapsedSec: number;
  recordsPerSec: number;
  MBps: number;
  latencyMs: { p50: number; p99: number; p999: number } | null;
  /** Kinesis shards that would carry this load (write: max of the record and byte limits). */
  shardEquivalents: number;
  recordsPerSecPerShardLimit: number | null;
  bytesPerSecPerShardLimit: number;
  baseline: { name: string; MBps: number; ratio: number };
  cpu: { clientSec: number; serverSec: number | null; msPerMB: number };
  throttled: number;
  failed: number;
  verified?: { expected: number; read: number; ok: boolean };
  histogram?: HistogramJson;
}

export interface PeerReport {
  name: string;
  version: string;
  available: boolean;
  reason?: string;
  results: BenchResult[];
}

export interface LimitsCheck {
  kind: 'records' | 'bytes';
  recordBytes: number;
  offeredPerSec: number;
  acceptedPerSec: number;
  nominalPerSec: number;
  unit: 'records/s' | 'bytes/s';
  ratio: number;
  withinTolerance: boolean;
  throttled: number;
  windowSeconds: number;
}

export interface BenchReport {
  command: string;
  startedAt: string;
  quick: boolean;
  machine: MachineInfo & { description: string };
  baselines: Baselines;
  limits: {
    shardWriteRecordsPerSec: number;
    shardWriteBytesPerSec: number;
    shardReadBytesPerSec: number;
  };
  results: BenchResult[];
  peers: PeerReport[];
  peerRatios: Array<{
    peer: string;
    op: string;
    recordBytes: number;
    shards: number;
    runnel: number;
    peerValue: number;
    ratio: number;
  }>;
  limitsMode: LimitsCheck[] | null;
  notes: string[];
  elapsedSec: number;
  ok: boolean;
}

interface BenchSettings {
  quick: boolean;
  dataDir: string;
  paths: BenchPath[];
  sizes: number[];
  shards: number[];
  putSeconds: number;
  baselineSeconds: number;
  caseBytesMax: number;
  caseRecordsMax: number;
  workers: number | undefined;
  peers: boolean;
  verifyLimits: boolean;
  seed: number;
  json: string | undefined;
  html: string | undefined;
  keep: boolean;
}

export const BENCH_HELP = `Usage: runnel bench [options]

Measures every path (embedded batch API, WebSocket protocol, Kinesis API over HTTP/1.1 and
HTTP/2) for 100 B, 1 KiB and 64 KiB records on 1 and many shards, writes and reads, beside
baselines measured in the same run; every record put is read back and counted.

  --quick              about 1.2 s per case: finishes within 2 minutes (full run: within 15)
  --json <file>        write the report as JSON
  --html <file>        write a self-contained HTML report with charts
  --peers              also measure kinesalite and kinesis-local (installed from npm into <data>/peers)
  --verify-limits      check limits mode: a 2-shard stream accepts 2,000 records/s and 2 MiB/s (±5 %)
  --paths <list>       embedded,ws,http1,http2 (default all)
  --sizes <list>       record sizes in bytes (default 100,1024,65536; at most ${RECORD_DATA_BYTES_MAX})
  --shards <list>      shard counts (default 1,8; the streams of one server at most ${ACCOUNT_SHARD_LIMIT} in all)
  --seconds <s>        write time per case (default 6, or 1.2 with --quick); cases also stop
                       at 4,000,000 records or 2 GiB (--quick: 250,000 records or 256 MiB)
  --workers <n>        shard worker threads (default: cores)
  --data <dir>         scratch data directory, emptied before and after (default ./data/bench);
                       it must be new, empty, or one a run made (it has a ${BENCH_DATA_MARKER} file)
  --keep               keep the data directory afterwards
  --seed <n>           seed of the record generator (default 1)
  -h, --help           this help
`;

function parseList(text: string, name: string, max: number, maxMeaning: string): number[] {
  const values = text.split(',').map((item) => Number(item.trim()));
  if (values.some((value) => !Number.isSafeInteger(value) || value < 1))
    throw new Error(`${name}: bad list '${text}'`);
  const over = values.find((value) => value > max);
  if (over !== undefined) throw new Error(`${name}: ${over} is above ${max} (${maxMeaning})`);
  return values;
}

/** A whole number of at least `min`. */
function parseInteger(text: string, name: string, min: number): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isSafeInteger(value) || value < min)
    throw new Error(`${name} must be a whole number >= ${min}, got '${text}'`);
  return value;
}

function parseSeconds(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !(value > 0 && value <= PUT_SECONDS_MAX))
    throw new Error(
      `--seconds must be a number above 0 and at most ${PUT_SECONDS_MAX}, got '${text}'`,
    );
  return value;
}

/**
 * Refuses a data directory a run must not empty: one that exists and is not empty, unless a run
 * made it (it has BENCH_DATA_MARKER). `--data /` or `--data ~` would otherwise be deleted.
 */
export function checkBenchDataDir(dir: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw new Error(`--data: '${dir}' is not a directory`);
    throw new Error(`--data: cannot read '${dir}': ${(error as Error).message}`);
  }
  if (entries.length === 0 || entries.includes(BENCH_DATA_MARKER)) return;
  throw new Error(
    `--data: '${dir}' is not empty and was not made by runnel bench (it has no ${BENCH_DATA_MARKER} ` +
      'file), and a run deletes what its data directory holds; give a new or empty directory',
  );
}

/**
 * Streams of each server a run starts: one per size and shard count for each of its paths (the
 * child server serves every network path), never deleted before the run ends.
 */
function checkShardTotal(paths: readonly BenchPath[], sizes: number[], shards: number[]): void {
  const sizeCount = new Set(sizes).size;
  const shardSum = [...new Set(shards)].reduce((sum, count) => sum + count, 0);
  const network = paths.filter((path) => path !== 'embedded').length;
  const pathsPerServer = Math.max(network, paths.includes('embedded') ? 1 : 0);
  const total = sizeCount * shardSum * pathsPerServer;
  if (total > ACCOUNT_SHARD_LIMIT) {
    throw new Error(
      `--shards: the run would open ${total} shards on one server (${sizeCount} sizes × ` +
        `${shardSum} shards × ${pathsPerServer} paths), above the account shard limit of ${ACCOUNT_SHARD_LIMIT}`,
    );
  }
}

export function parseBenchArgs(argv: string[]): BenchSettings | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'string' },
      html: { type: 'string' },
      peers: { type: 'boolean', default: false },
      'verify-limits': { type: 'boolean', default: false },
      paths: { type: 'string', default: ALL_PATHS.join(',') },
      sizes: { type: 'string', default: '100,1024,65536' },
      shards: { type: 'string', default: '1,8' },
      seconds: { type: 'string' },
      workers: { type: 'string' },
      data: { type: 'string', default: './data/bench' },
      keep: { type: 'boolean', default: false },
      seed: { type: 'string', default: '1' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const mode = values.quick ? MODES.quick : MODES.full;
  const paths = values.paths!.split(',').map((item) => item.trim()) as BenchPath[];
  for (const path of paths)
    if (!ALL_PATHS.includes(path)) throw new Error(`--paths: unknown path '${path}'`);
  const sizes = parseList(
    values.sizes!,
    '--sizes',
    RECORD_DATA_BYTES_MAX,
    'a record of the ' +
      `bench's streams, data and partition key, is at most ${RECORD_SIZE_DEFAULT_KIB} KiB`,
  );
  const shards = parseList(
    values.shards!,
    '--shards',
    ACCOUNT_SHARD_LIMIT,
    'the account shard limit',
  );
  checkShardTotal(paths, sizes, shards);
  const dataDir = resolve(values.data!);
  checkBenchDataDir(dataDir);
  return {
    quick: values.quick!,
    dataDir,
    paths,
    sizes,
    shards,
    putSeconds: values.seconds !== undefined ? parseSeconds(values.seconds) : mode.putSeconds,
    baselineSeconds: mode.baselineSeconds,
    caseBytesMax: mode.caseBytesMax,
    caseRecordsMax: mode.caseRecordsMax,
    workers:
      values.workers !== undefined ? parseInteger(values.workers, '--workers', 1) : undefined,
    peers: values.peers!,
    verifyLimits: values['verify-limits']!,
    seed: parseInteger(values.seed!, '--seed', 0),
    json: values.json,
    html: values.html,
    keep: values.keep!,
  };
}

// ---- figures -------------------------------------------------------------------------------

function writeShardEquivalents(recordsPerSec: number, limitBytesPerSec: number) {
  const records = recordsPerSec / SHARD_WRITE_RECORDS_PER_SEC;
  const bytes = limitBytesPerSec / SHARD_WRITE_BYTES_PER_SEC;
  return {
    shardEquivalents: Math.max(records, bytes),
    recordsPerSecPerShardLimit: records,
    bytesPerSecPerShardLimit: bytes,
  };
}

function baselineFor(
  path: BenchPath,
  baselines: Baselines,
  op: 'put' | 'read' = 'put',
): { name: string; MBps: number } {
  if (path === 'embedded' && op === 'read')
    return { name: 'page-cache read (64 KiB preads)', MBps: baselines.pageCacheReadMBps };
  if (path === 'embedded')
    return { name: 'page-cache write (1 MiB pwrite)', MBps: baselines.pageCacheWriteMBps };
  return { name: 'loopback TCP', MBps: baselines.loopbackMBps };
}

function putResult(
  target: string,
  path: BenchPath,
  method: string,
  recordBytes: number,
  shards: number,
  summary: LoadSummary,
  baselines: Baselines,
): BenchResult {
  const baseline = baselineFor(path, baselines);
  const cpuSec = summary.cpu.clientSec + (summary.cpu.serverSec ?? 0);
  const MB = summary.ackedBytes / 1e6;
  return {
    target,
    path,
    op: 'put',
    method,
    recordBytes,
    shards,
    available: true,
    records: summary.acked,
    bytes: summary.ackedBytes,
    elapsedSec: summary.elapsedSec,
    recordsPerSec: summary.recordsPerSec,
    MBps: summary.MBps,
    latencyMs: {
      p50: summary.latencyMs.p50,
      p99: summary.latencyMs.p99,
      p999: summary.latencyMs.p999,
    },
    ...writeShardEquivalents(summary.recordsPerSec, summary.ackedLimitBytes / summary.elapsedSec),
    baseline: { ...baseline, ratio: summary.MBps / baseline.MBps },
    cpu: {
      clientSec: summary.cpu.clientSec,
      serverSec: summary.cpu.serverSec,
      msPerMB: MB > 0 ? (1000 * cpuSec) / MB : NaN,
    },
    throttled: summary.throttled,
    failed: summary.failed,
    histogram: summary.histogram,
  };
}

function readResult(
  target: string,
  path: BenchPath,
  method: string,
  recordBytes: number,
  shards: number,
  read: {
    records: number;
    bytes: number;
    elapsedSec: number;
    latency: LatencyHistogram | null;
    throttled: number;
    errors: number;
  },
  cpu: { clientSec: number; serverSec: number | null },
  baselines: Baselines,
): BenchResult {
  const baseline = baselineFor(path, baselines, 'read');
  const MBps = read.bytes / read.elapsedSec / 1e6;
  const cpuSec = cpu.clientSec + (cpu.serverSec ?? 0);
  const latency = read.latency && read.latency.count > 0 ? read.latency.summary() : null;
  return {
    target,
    path,
    op: 'read',
    method,
    recordBytes,
    shards,
    available: true,
    records: read.records,
    bytes: read.bytes,
    elapsedSec: read.elapsedSec,
    recordsPerSec: read.records / read.elapsedSec,
    MBps,
    latencyMs: latency ? { p50: latency.p50, p99: latency.p99, p999: latency.p999 } : null,
    shardEquivalents: read.bytes / read.elapsedSec / SHARD_READ_BYTES_PER_SEC,
    recordsPerSecPerShardLimit: null,
    bytesPerSecPerShardLimit: read.bytes / read.elapsedSec / SHARD_READ_BYTES_PER_SEC,
    baseline: { ...baseline, ratio: MBps / baseline.MBps },
    cpu: { ...cpu, msPerMB: read.bytes > 0 ? (1000 * cpuSec) / (read.bytes / 1e6) : NaN },
    throttled: read.throttled,
    failed: read.errors,
    ...(read.latency && read.latency.count > 0 ? { histogram: read.latency.toJSON() } : {}),
  };
}

function unavailable(
  target: string,
  path: BenchPath,
  op: 'put' | 'read',
  method: string,
  recordBytes: number,
  shards: number,
  reason: string,
): BenchResult {
  return {
    target,
    path,
    op,
    method,
    recordBytes,
    shards,
    available: false,
    reason,
    records: 0,
    bytes: 0,
    elapsedSec: 0,
    recordsPerSec: NaN,
    MBps: NaN,
    latencyMs: null,
    shardEquivalents: NaN,
    recordsPerSecPerShardLimit: null,
    bytesPerSecPerShardLimit: NaN,
    baseline: { name: '', MBps: NaN, ratio: NaN },
    cpu: { clientSec: NaN, serverSec: null, msPerMB: NaN },
    throttled: 0,
    failed: 0,
  };
}

// ---- cases ---------------------------------------------------------------------------------

interface CaseContext {
  settings: BenchSettings;
  baselines: Baselines;
  pools: Map<number, { pool: RecordPool; members?: Buffer[] }>;
  log: (line: string) => void;
}

function poolFor(
  context: CaseContext,
  recordBytes: number,
  withMembers: boolean,
): { pool: RecordPool; members?: Buffer[] } {
  let entry = context.pools.get(recordBytes);
  if (!entry) {
    const pool = buildRecordPool({
      recordSize: parseRecordSize(String(recordBytes)),
      keys: parseKeyDistribution('unique', `bench-${context.settings.seed}-${recordBytes}`),
      seed: context.settings.seed,
    });
    entry = { pool };
    context.pools.set(recordBytes, entry);
  }
  if (withMembers && !entry.members) entry.members = jsonMembers(entry.pool);
  return entry;
}

/** Load options every bench case shares: writers only, one request in flight per connection,
 * PutRecords-sized requests, streams created by the run. */
const WRITERS_ONLY = {
  inFlightPerConnection: 1,
  recordsPerRequest: 500,
  requestBytesMax: REQUEST_DATA_BYTES_DEFAULT,
  consumers: 0,
  consumerStart: 'LATEST',
  pollMs: 200,
  drainMs: 0,
  createStreams: true,
} as const satisfies Partial<LoadOptions>;

function baseLoadOptions(
  context: CaseContext,
  recordBytes: number,
  shards: number,
  stream: string,
  target: LoadTarget,
): LoadOptions {
  return {
    target,
    streams: [stream],
    shards,
    recordSize: parseRecordSize(String(recordBytes)),
    keys: parseKeyDistribution('unique'),
    seed: context.settings.seed,
    durationMs: context.settings.putSeconds * 1000,
    maxBytes: context.settings.caseBytesMax,
    maxRecords: context.settings.caseRecordsMax,
    connections: 1,
    ...WRITERS_ONLY,
    cleanup: false,
  };
}

/** Load through the embedded batch call: calls of up to EMBEDDED_CALL_BYTES, several in flight. */
function embeddedLoadOptions(
  context: Parameters<typeof baseLoadOptions>[0],
  recordBytes: number,
  shards: number,
  stream: string,
  engine: Engine,
): LoadOptions {
  const options = baseLoadOptions(context, recordBytes, shards, stream, {
    kind: 'embedded',
    engine,
  });
  options.pool = poolFor(context, recordBytes, false);
  options.recordsPerRequest = Math.max(
    1,
    Math.min(EMBEDDED_CALL_RECORDS_MAX, Math.floor(EMBEDDED_CALL_BYTES / recordBytes)),
  );
  options.requestBytesMax = EMBEDDED_CALL_BYTES;
  options.inFlightPerConnection = EMBEDDED_CALLS_IN_FLIGHT;
  return options;
}

function verification(put: BenchResult, read: number): BenchResult['verified'] {
  return { expected: put.records, read, ok: read === put.records };
}

function caseLabel(result: BenchResult): string {
  return `${result.target} ${result.path} ${result.op} ${result.method} ${result.recordBytes} B × ${result.shards} shard(s)`;
}

/** Reads every shard through `reader`, measuring the reading and the server's CPU. */
async function drainRead(
  reader: ShardReader,
  stream: string,
  shardIds: string[],
  serverPid: number | undefined,
) {
  const client0 = ownCpuSec();
  const server0 = serverPid ? processCpuSec(serverPid) : NaN;
  const { stats, elapsedSec } = await readStream(reader, stream, shardIds, {
    mode: 'drain',
    start: 'TRIM_HORIZON',
    concurrency: READ_CONCURRENCY,
  });
  return {
    stats,
    elapsedSec,
    cpu: {
      clientSec: ownCpuSec() - client0,
      serverSec: serverPid ? processCpuSec(serverPid) - server0 : null,
    },
  };
}

function readFigures(stats: ReadStats, elapsedSec: number) {
  return {
    records: stats.records,
    bytes: stats.bytes,
    elapsedSec,
    latency: stats.callLatency,
    throttled: stats.throttled,
    errors: stats.errors,
  };
}

async function embeddedCases(context: CaseContext): Promise<BenchResult[]> {
  const { settings, baselines } = context;
  const results: BenchResult[] = [];
  const dir = join(settings.dataDir, 'embedded');
  rmSync(dir, { recursive: true, force: true });
  const engine = await Engine.open({
    dataDir: dir,
    ...(settings.workers ? { workers: settings.workers } : {}),
  });
  const control = new EmbeddedControlPlane(engine);
  try {
    for (const recordBytes of settings.sizes) {
      for (const shards of settings.shards) {
        const stream = `bench-embedded-${recordBytes}-${shards}`;
        const summary = await runLoad(
          embeddedLoadOptions(context, recordBytes, shards, stream, engine),
        );
        const put = putResult(
          'runnel',
          'embedded',
          'putRecordBatch',
          recordBytes,
          shards,
          summary,
          baselines,
        );
        const shardIds = await control.shardIds(stream);
        // GetRecords, every shard from TRIM_HORIZON.
        const read = await drainRead(control, stream, shardIds, undefined);
        const getRecords = readResult(
          'runnel',
          'embedded',
          'getRecords',
          recordBytes,
          shards,
          readFigures(read.stats, read.elapsedSec),
          read.cpu,
          baselines,
        );
        getRecords.verified = verification(put, read.stats.records);
        // Subscriptions (async iterator), every shard at once, up to its commit watermark.
        const subscribed = await embeddedSubscribeDrain(engine, stream, shardIds);
        const subscribe = readResult(
          'runnel',
          'embedded',
          'subscribe',
          recordBytes,
          shards,
          subscribed,
          subscribed.cpu,
          baselines,
        );
        subscribe.verified = verification(put, subscribed.records);
        put.verified = verification(put, Math.min(read.stats.records, subscribed.records));
        results.push(put, getRecords, subscribe);
        for (const result of [put, getRecords, subscribe]) context.log(formatRow(result));
      }
    }
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
  results.push(...(await embeddedFsyncCase(context)));
  return results;
}

/**
 * The durable mode (`fsync: true`: fdatasync before acknowledging, survives power loss) for 1 KiB
 * records on the most shards, beside the disk write + fdatasync baseline.
 */
async function embeddedFsyncCase(context: CaseContext): Promise<BenchResult[]> {
  const { settings, baselines } = context;
  const recordBytes = settings.sizes.includes(1024) ? 1024 : settings.sizes[0]!;
  const shards = Math.max(...settings.shards);
  const dir = join(settings.dataDir, 'embedded-fsync');
  rmSync(dir, { recursive: true, force: true });
  const engine = await Engine.open({
    dataDir: dir,
    fsync: true,
    ...(settings.workers ? { workers: settings.workers } : {}),
  });
  try {
    const stream = `bench-fsync-${recordBytes}-${shards}`;
    const summary = await runLoad(
      embeddedLoadOptions(context, recordBytes, shards, stream, engine),
    );
    const put = putResult(
      'runnel',
      'embedded',
      'putRecordBatch fsync',
      recordBytes,
      shards,
      summary,
      baselines,
    );
    put.baseline = {
      name: 'disk write + fdatasync',
      MBps: baselines.diskWriteMBps,
      ratio: put.MBps / baselines.diskWriteMBps,
    };
    let committed = 0;
    for (const shardId of await new EmbeddedControlPlane(engine).shardIds(stream)) {
      committed += engine.shardInternals(stream, shardId).index.nextOrdinal();
    }
    put.verified = verification(put, committed);
    context.log(formatRow(put));
    return [put];
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function embeddedSubscribeDrain(engine: Engine, stream: string, shardIds: string[]) {
  const cpu0 = ownCpuSec();
  const started = performance.now();
  let records = 0;
  let bytes = 0;
  await Promise.all(
    shardIds.map(async (shardId) => {
      const watermark = engine.shardInternals(stream, shardId).index.nextOrdinal();
      if (watermark === 0) return;
      const abort = new AbortController();
      let seen = 0;
      for await (const record of engine.subscribe(
        { StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' },
        { signal: abort.signal },
      )) {
        records++;
        bytes += record.Data.length;
        if (++seen >= watermark) break;
      }
      abort.abort();
    }),
  );
  return {
    records,
    bytes,
    elapsedSec: (performance.now() - started) / 1000,
    latency: null,
    throttled: 0,
    errors: 0,
    cpu: { clientSec: ownCpuSec() - cpu0, serverSec: null },
  };
}

async function httpCases(
  context: CaseContext,
  server: ChildServer,
  path: 'http1' | 'http2',
): Promise<BenchResult[]> {
  const { settings } = context;
  const httpVersion: HttpVersion = path;
  const results: BenchResult[] = [];
  for (const recordBytes of settings.sizes) {
    for (const shards of settings.shards) {
      const stream = `bench-${path}-${recordBytes}-${shards}`;
      const target: LoadTarget = { kind: 'kinesis', endpoint: server.kinesisUrl, httpVersion };
      const options = baseLoadOptions(context, recordBytes, shards, stream, target);
      options.pool = poolFor(context, recordBytes, true);
      options.connections = path === 'http1' ? HTTP1_CONNECTIONS : HTTP2_SESSIONS;
      options.inFlightPerConnection = path === 'http1' ? 1 : HTTP2_IN_FLIGHT;
      options.serverPid = server.pid;
      const [put, read] = await networkCase(
        context,
        'runnel',
        path,
        'PutRecords',
        options,
        server.kinesisUrl,
        httpVersion,
        server.pid,
      );
      results.push(put, read);
    }
  }
  return results;
}

/** One put case through runLoad, then a GetRecords drain that verifies the count. */
async function networkCase(
  context: CaseContext,
  targetName: string,
  path: BenchPath,
  method: string,
  options: LoadOptions,
  endpoint: string,
  httpVersion: HttpVersion,
  serverPid: number | undefined,
): Promise<[BenchResult, BenchResult]> {
  const stream = options.streams[0]!;
  const recordBytes = Number(options.recordSize.text);
  const summary = await runLoad(options);
  const put = putResult(
    targetName,
    path,
    method,
    recordBytes,
    options.shards,
    summary,
    context.baselines,
  );
  const client = new KinesisHttpClient({ endpoint, httpVersion, connections: READ_CONCURRENCY });
  const control = new HttpControlPlane(client);
  try {
    const shardIds = await control.shardIds(stream);
    const read = await drainRead(control, stream, shardIds, serverPid);
    const getRecords = readResult(
      targetName,
      path,
      'GetRecords',
      recordBytes,
      options.shards,
      readFigures(read.stats, read.elapsedSec),
      read.cpu,
      context.baselines,
    );
    getRecords.verified = verification(put, read.stats.records);
    put.verified = getRecords.verified;
    if (read.stats.lastError) put.reason = `read error: ${read.stats.lastError}`;
    context.log(formatRow(put));
    context.log(formatRow(getRecords));
    return [put, getRecords];
  } finally {
    client.close();
  }
}

/** ws://host:port/v1 for the uWS app at http://host:port. */
function wsEndpointOf(wsUrl: string): string {
  return `${wsUrl.replace(/^http/, 'ws').replace(/\/$/, '')}/v1`;
}

async function wsCases(context: CaseContext, server: ChildServer): Promise<BenchResult[]> {
  const { settings } = context;
  const loaded = await loadRunnelClient();
  const reason = !loaded.available
    ? loaded.reason
    : server.wsUrl === undefined
      ? 'the server has no uWS front end'
      : undefined;
  const results: BenchResult[] = [];
  if (reason !== undefined || !loaded.available) {
    for (const recordBytes of settings.sizes) {
      for (const shards of settings.shards) {
        results.push(unavailable('runnel', 'ws', 'put', 'ws-put', recordBytes, shards, reason!));
        results.push(
          unavailable('runnel', 'ws', 'read', 'ws-subscribe', recordBytes, shards, reason!),
        );
      }
    }
    context.log(`ws path unavailable: ${reason}`);
    return results;
  }
  for (const recordBytes of settings.sizes) {
    for (const shards of settings.shards) {
      const stream = `bench-ws-${recordBytes}-${shards}`;
      const endpoint = wsEndpointOf(server.wsUrl!);
      const options = baseLoadOptions(context, recordBytes, shards, stream, {
        kind: 'ws',
        endpoint,
        controlEndpoint: server.wsUrl!,
      });
      options.pool = poolFor(context, recordBytes, false);
      options.connections = WS_CONNECTIONS;
      options.recordsPerRequest = WS_RECORDS_PER_PUT;
      options.inFlightPerConnection = WS_IN_FLIGHT;
      options.serverPid = server.pid;
      let put: BenchResult;
      try {
        const summary = await runLoad(options);
        put = putResult('runnel', 'ws', 'ws-put', recordBytes, shards, summary, context.baselines);
      } catch (error) {
        const why = `ws put failed: ${(error as Error).message}`;
        results.push(unavailable('runnel', 'ws', 'put', 'ws-put', recordBytes, shards, why));
        results.push(unavailable('runnel', 'ws', 'read', 'ws-subscribe', recordBytes, shards, why));
        context.log(why);
        continue;
      }
      results.push(put);
      context.log(formatRow(put));
      // The put figure stands even when reading it back fails; the failure shows as unverified.
      const control = new HttpControlPlane(
        new KinesisHttpClient({ endpoint: server.wsUrl!, connections: 2 }),
      );
      try {
        const shardIds = await control.shardIds(stream);
        const client = await loaded.connect(endpoint);
        try {
          const subscribed = await wsSubscribeDrain(
            client,
            stream,
            shardIds,
            put.records,
            server.pid,
          );
          const read = readResult(
            'runnel',
            'ws',
            'ws-subscribe',
            recordBytes,
            shards,
            subscribed,
            subscribed.cpu,
            context.baselines,
          );
          read.verified = verification(put, subscribed.records);
          put.verified = read.verified;
          results.push(read);
          context.log(formatRow(read));
        } finally {
          await client.close();
        }
      } catch (error) {
        const why = `ws subscription failed: ${(error as Error).message}`;
        put.verified = { expected: put.records, read: 0, ok: false };
        put.reason = why;
        results.push(unavailable('runnel', 'ws', 'read', 'ws-subscribe', recordBytes, shards, why));
        context.log(why);
      } finally {
        control.client.close();
      }
    }
  }
  return results;
}

/** Subscribes to every shard at TRIM_HORIZON and counts until `expected` records or idle. */
async function wsSubscribeDrain(
  client: RunnelClientLike,
  stream: string,
  shardIds: string[],
  expected: number,
  serverPid: number,
) {
  const client0 = ownCpuSec();
  const server0 = processCpuSec(serverPid);
  const started = performance.now();
  let records = 0;
  let bytes = 0;
  let lastProgress = performance.now();
  const idle = (): Promise<'idle'> =>
    new Promise((resolve) => {
      const timer = setTimeout(
        () => resolve('idle'),
        Math.max(0, SUBSCRIBE_IDLE_MS - (performance.now() - lastProgress)),
      );
      timer.unref();
    });
  // Once every record is in, shards still waiting for more stop at once instead of idling out:
  // the time counted ends with the last record delivered.
  let finish = (): void => undefined;
  const finished = new Promise<'done'>((resolve) => (finish = () => resolve('done')));
  await Promise.all(
    shardIds.map(async (shardId) => {
      const subscription = (await client.subscribe(stream, shardId, {
        type: 'TRIM_HORIZON',
      })) as SubscriptionLike;
      try {
        while (records < expected) {
          if (typeof subscription.nextBatch === 'function') {
            // Whole batches, records visited as byte ranges: no object per record.
            const batch = await Promise.race([subscription.nextBatch(), idle(), finished]);
            if (batch === 'idle' || batch === 'done' || batch === undefined) break;
            batch.forEachRecord((_index, _keyStart, _keyEnd, dataStart, dataEnd) => {
              records++;
              bytes += dataEnd - dataStart;
            });
          } else {
            const next = await Promise.race([subscription.next(), idle(), finished]);
            if (next === 'idle' || next === 'done' || next.done) break;
            const counted = countSubscriptionItem(next.value);
            records += counted.records;
            bytes += counted.bytes;
          }
          lastProgress = performance.now();
          if (records >= expected) finish();
        }
      } finally {
        if (typeof subscription.unsubscribe === 'function') subscription.unsubscribe();
        else await subscription.return?.();
      }
    }),
  );
  return {
    records,
    bytes,
    elapsedSec: (lastProgress - started) / 1000,
    latency: null,
    throttled: 0,
    errors: 0,
    cpu: { clientSec: ownCpuSec() - client0, serverSec: processCpuSec(serverPid) - server0 },
  };
}

/** What the harness needs of a RunnelSubscription (src/client/runnel-client.ts). */
interface SubscriptionLike {
  next(): Promise<IteratorResult<unknown>>;
  return?(): Promise<unknown>;
  unsubscribe?(): void;
  nextBatch?(): Promise<
    | {
        forEachRecord(
          visit: (
            index: number,
            keyStart: number,
            keyEnd: number,
            dataStart: number,
            dataEnd: number,
          ) => void,
        ): void;
      }
    | undefined
  >;
}

// ---- limits mode ---------------------------------------------------------------------------

/**
 * Offers LIMITS_OVERLOAD × the nominal limit of a 2-shard stream open-loop, and measures what
 * was accepted per second after the warm-up (each shard starts with a full one-second bucket,
 * so the first second accepts up to twice the rate).
 */
export async function verifyLimits(
  endpoint: string,
  seconds: number,
  log: (line: string) => void,
  serverPid?: number,
): Promise<LimitsCheck[]> {
  const checks: LimitsCheck[] = [];
  const cases = [
    {
      kind: 'records' as const,
      recordBytes: 100,
      nominal: LIMITS_SHARDS * SHARD_WRITE_RECORDS_PER_SEC,
    },
    {
      kind: 'bytes' as const,
      recordBytes: 16 * 1024,
      nominal: LIMITS_SHARDS * SHARD_WRITE_BYTES_PER_SEC,
    },
  ];
  for (const spec of cases) {
    const stream = `limits-${spec.kind}`;
    const keys = parseKeyDistribution('unique', `limits-${spec.kind}`);
    const recordSize = parseRecordSize(String(spec.recordBytes));
    const summary = await runLoad({
      target: { kind: 'kinesis', endpoint, httpVersion: 'http1' },
      streams: [stream],
      shards: LIMITS_SHARDS,
      recordSize,
      keys,
      seed: 7,
      rate:
        spec.kind === 'records'
          ? { recordsPerSec: spec.nominal * LIMITS_OVERLOAD }
          : { bytesPerSec: spec.nominal * LIMITS_OVERLOAD },
      durationMs: seconds * 1000,
      connections: 4,
      ...WRITERS_ONLY,
      cleanup: true,
      serverPid,
    });
    // Whole seconds after the warm-up, before the last (partial) second.
    const window = summary.perSecond.slice(LIMITS_WARMUP_SECONDS, Math.floor(summary.elapsedSec));
    const acceptedPerSec =
      window.reduce(
        (sum, second) => sum + (spec.kind === 'records' ? second.acked : second.limitBytes),
        0,
      ) / Math.max(1, window.length);
    const ratio = acceptedPerSec / spec.nominal;
    const check: LimitsCheck = {
      kind: spec.kind,
      recordBytes: spec.recordBytes,
      offeredPerSec: spec.nominal * LIMITS_OVERLOAD,
      acceptedPerSec,
      nominalPerSec: spec.nominal,
      unit: spec.kind === 'records' ? 'records/s' : 'bytes/s',
      ratio,
      withinTolerance: Math.abs(ratio - 1) <= LIMITS_TOLERANCE,
      throttled: summary.throttled,
      windowSeconds: window.length,
    };
    checks.push(check);
    log(
      `limits mode, ${spec.kind}: offered ${Math.round(check.offeredPerSec)} ${check.unit}, accepted ` +
        `${Math.round(acceptedPerSec)} ${check.unit} over ${window.length} s = ${(ratio * 100).toFixed(1)} % of ` +
        `${spec.nominal} ${check.unit} (${check.withinTolerance ? 'within' : 'OUTSIDE'} ±5 %), throttled ${summary.throttled}`,
    );
  }
  return checks;
}

// ---- peers ---------------------------------------------------------------------------------

async function peerCases(context: CaseContext, seconds: number): Promise<PeerReport[]> {
  const { settings } = context;
  const dir = join(settings.dataDir, '..', 'bench-peers');
  const reports: PeerReport[] = [];
  context.log(
    `peers: installing ${PEERS.map((peer) => `${peer.name}@${peer.version}`).join(', ')} into ${dir}`,
  );
  const installs = await installPeers(dir);
  const shards = Math.max(...settings.shards);
  for (const peer of PEERS) {
    const install = installs.get(peer.name)!;
    if (!install.ok) {
      reports.push({
        name: peer.name,
        version: peer.version,
        available: false,
        reason: install.reason,
        results: [],
      });
      context.log(`${peer.name} unavailable: ${install.reason}`);
      continue;
    }
    let running;
    try {
      running = await startPeer(dir, peer);
    } catch (error) {
      reports.push({
        name: peer.name,
        version: peer.version,
        available: false,
        reason: (error as Error).message,
        results: [],
      });
      context.log(`${peer.name} unavailable: ${(error as Error).message}`);
      continue;
    }
    const report: PeerReport = {
      name: peer.name,
      version: peer.version,
      available: true,
      results: [],
    };
    try {
      for (const recordBytes of settings.sizes) {
        const stream = `bench-peer-${recordBytes}-${shards}`;
        const options = baseLoadOptions(context, recordBytes, shards, stream, {
          kind: 'kinesis',
          endpoint: running.url,
          httpVersion: 'http1',
        });
        options.pool = poolFor(context, recordBytes, true);
        options.connections = HTTP1_CONNECTIONS;
        options.durationMs = seconds * 1000;
        options.serverPid = running.pid;
        try {
          const [put, read] = await networkCase(
            context,
            peer.name,
            'http1',
            'PutRecords',
            options,
            running.url,
            'http1',
            running.pid,
          );
          report.results.push(put, read);
        } catch (error) {
          const why = (error as Error).message;
          report.results.push(
            unavailable(peer.name, 'http1', 'put', 'PutRecords', recordBytes, shards, why),
          );
          context.log(`${peer.name} ${recordBytes} B failed: ${why}`);
        }
      }
    } finally {
      await running.stop();
    }
    reports.push(report);
  }
  return reports;
}

function peerRatios(results: BenchResult[], peers: PeerReport[]): BenchReport['peerRatios'] {
  const ratios: BenchReport['peerRatios'] = [];
  for (const peer of peers) {
    for (const theirs of peer.results) {
      if (!theirs.available) continue;
      const ours = results.find(
        (r) =>
          r.path === 'http1' &&
          r.op === theirs.op &&
          r.recordBytes === theirs.recordBytes &&
          r.shards === theirs.shards &&
          r.available,
      );
      if (!ours) continue;
      ratios.push({
        peer: peer.name,
        op: theirs.op,
        recordBytes: theirs.recordBytes,
        shards: theirs.shards,
        runnel: ours.recordsPerSec,
        peerValue: theirs.recordsPerSec,
        ratio: ours.recordsPerSec / theirs.recordsPerSec,
      });
    }
  }
  return ratios;
}

// ---- output --------------------------------------------------------------------------------

function formatRow(r: BenchResult): string {
  return `  ${caseLabel(r)}: ${rowCells(r).slice(6).filter(Boolean).join(' | ')}`;
}

export function formatTable(results: BenchResult[]): string {
  const rows = results.map(rowCells);
  const widths = COLUMNS.map((column, i) =>
    Math.max(column.length, ...rows.map((row) => row[i]!.length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) =>
        i < 6 || i === cells.length - 1 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!),
      )
      .join(' | ');
  return [
    line(COLUMNS),
    widths.map((width) => '-'.repeat(width)).join('-|-'),
    ...rows.map(line),
  ].join('\n');
}

/** Markdown table of the same figures (for RESULTS files). */
export function formatMarkdown(results: BenchResult[]): string {
  const rows = results.map(rowCells);
  return [
    `| ${COLUMNS.join(' | ')} |`,
    `|${COLUMNS.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}

// ---- the command ---------------------------------------------------------------------------

export async function runBench(
  settings: BenchSettings,
  log: (line: string) => void,
  argv: string[] = [],
): Promise<BenchReport> {
  const started = performance.now();
  const info = machineInfo();
  const madeDataDir = claimBenchDataDir(settings.dataDir);
  log(
    `runnel bench${settings.quick ? ' --quick' : ''}: ${describeMachine(info)}; data ${settings.dataDir}`,
  );
  const baselines = await measureBaselines(
    join(settings.dataDir, 'baseline'),
    settings.baselineSeconds,
  );
  log(
    `baselines: page-cache write ${fmt(baselines.pageCacheWriteMBps)} MB/s (1 MiB pwrite into fresh files), ` +
      `page-cache read ${fmt(baselines.pageCacheReadMBps)} MB/s, disk write+fdatasync ${fmt(baselines.diskWriteMBps)} MB/s, loopback TCP ${fmt(baselines.loopbackMBps)} MB/s`,
  );
  const context: CaseContext = { settings, baselines, pools: new Map(), log };
  const results: BenchResult[] = [];
  const notes: string[] = [];
  try {
    if (settings.paths.includes('embedded')) results.push(...(await embeddedCases(context)));
    const network = settings.paths.filter(
      (path): path is 'ws' | 'http1' | 'http2' => path !== 'embedded',
    );
    if (network.length > 0) {
      const server = await startChildServer({
        dataDir: join(settings.dataDir, 'server'),
        workers: settings.workers,
      });
      log(
        `server: child process ${server.pid}, Kinesis ${server.kinesisUrl}, uWS ${server.wsUrl ?? 'none'}`,
      );
      try {
        for (const path of network) {
          if (path === 'ws') results.push(...(await wsCases(context, server)));
          else results.push(...(await httpCases(context, server, path)));
        }
      } finally {
        await server.stop();
      }
    }
    let limitsMode: LimitsCheck[] | null = null;
    let limitsFailure: string | undefined;
    if (settings.verifyLimits) {
      // A failure here is reported, not thrown: the figures measured so far still count.
      try {
        const server = await startChildServer({
          dataDir: join(settings.dataDir, 'limits'),
          workers: settings.workers,
          enforceLimits: true,
        });
        try {
          limitsMode = await verifyLimits(
            server.kinesisUrl,
            (settings.quick ? MODES.quick : MODES.full).limitsSeconds,
            log,
            server.pid,
          );
        } finally {
          await server.stop();
        }
      } catch (error) {
        limitsFailure = `limits mode could not be checked: ${(error as Error).message}`;
        notes.push(limitsFailure);
        log(limitsFailure);
      }
    }
    const peers = settings.peers
      ? await peerCases(context, (settings.quick ? MODES.quick : MODES.full).peerSeconds)
      : [];
    const ratios = peerRatios(results, peers);
    for (const ratio of ratios) {
      log(
        `Runnel HTTP/1.1 vs ${ratio.peer}, ${ratio.op} ${formatSize(ratio.recordBytes)} × ${ratio.shards} shards: ` +
          `${fmt(ratio.runnel)} vs ${fmt(ratio.peerValue)} records/s = ${fmt(ratio.ratio, 1)}×`,
      );
    }
    notes.push(
      'MB/s counts record data in 10^6 bytes; Kinesis shard equivalents use 1 MiB/s (data + partition key) and 1,000 records/s per shard written, 2 MiB/s per shard read.',
      'Put latency is per record: the acknowledgement time of the request that carried it (closed loop: from its send).',
      'Read latency is per GetRecords call; subscriptions are drained and have no per-call latency.',
      'Verification: the read-back count must equal the acknowledged count (fsync row: the committed count).',
    );
    const verifiedOk =
      results.every((r) => !r.available || !r.verified || r.verified.ok) &&
      peers.every((peer) =>
        peer.results.every(
          (r) => !r.available || !r.verified || r.verified.ok || r.target !== 'runnel',
        ),
      );
    const limitsOk =
      limitsFailure === undefined &&
      (limitsMode === null || limitsMode.every((check) => check.withinTolerance));
    return {
      command: ['runnel bench', ...argv].join(' '),
      startedAt: new Date(Date.now() - (performance.now() - started)).toISOString(),
      quick: settings.quick,
      machine: { ...info, description: describeMachine(info) },
      baselines,
      limits: {
        shardWriteRecordsPerSec: SHARD_WRITE_RECORDS_PER_SEC,
        shardWriteBytesPerSec: SHARD_WRITE_BYTES_PER_SEC,
        shardReadBytesPerSec: SHARD_READ_BYTES_PER_SEC,
      },
      results,
      peers,
      peerRatios: ratios,
      limitsMode,
      notes,
      elapsedSec: (performance.now() - started) / 1000,
      ok: verifiedOk && limitsOk,
    };
  } finally {
    if (!settings.keep) releaseBenchDataDir(settings.dataDir, madeDataDir);
  }
}

/** Deletes what a directory holds, and keeps the directory. */
function emptyDir(dir: string): void {
  for (const entry of readdirSync(dir)) rmSync(join(dir, entry), { recursive: true, force: true });
}

/**
 * Makes the data directory, or empties it (after checkBenchDataDir allows it), and marks it as
 * the bench's. Returns whether it made the directory.
 */
export function claimBenchDataDir(dir: string): boolean {
  checkBenchDataDir(dir);
  const existed = existsSync(dir);
  if (existed) emptyDir(dir);
  else mkdirSync(dir, { recursive: true });
  const note = 'Scratch data of runnel bench: a later run deletes what this directory holds.\n';
  writeFileSync(join(dir, BENCH_DATA_MARKER), note);
  return !existed;
}

/** Removes the data directory a run made; empties one it was given. */
export function releaseBenchDataDir(dir: string, made: boolean): void {
  if (made) rmSync(dir, { recursive: true, force: true });
  else emptyDir(dir);
}

/** `runnel bench`: returns the process exit code (1 when a verification failed). */
export async function main(argv: string[]): Promise<number> {
  const command = parseCommand('bench', argv, parseBenchArgs, BENCH_HELP);
  if ('exitCode' in command) return command.exitCode;
  const { settings } = command;
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  let report: BenchReport;
  try {
    report = await runBench(settings, log, argv);
  } catch (error) {
    process.stderr.write(`runnel bench: failed: ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  }
  process.stdout.write(`\n${formatTable(report.results)}\n`);
  for (const peer of report.peers) {
    if (peer.available) process.stdout.write(`\n${formatTable(peer.results)}\n`);
    else process.stdout.write(`\n${peer.name}@${peer.version}: unavailable (${peer.reason})\n`);
  }
  for (const ratio of report.peerRatios) {
    process.stdout.write(
      `Runnel/${ratio.peer} ${ratio.op} ${formatSize(ratio.recordBytes)} × ${ratio.shards}: ${fmt(ratio.ratio, 1)}×\n`,
    );
  }
  process.stdout.write(
    `\n${report.ok ? 'all records verified readable' : 'VERIFICATION FAILED'}; ${fmt(report.elapsedSec, 1)} s\n`,
  );
  if (settings.json) writeFileSync(settings.json, JSON.stringify(report, null, 2));
  if (settings.html) writeFileSync(settings.html, renderHtmlReport(report));
  return report.ok ? 0 : 1;
}
