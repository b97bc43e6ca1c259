/**
 * WebSocket protocol throughput: records/s and MB/s of ingest (PUT frames, acknowledged) and of
 * subscription delivery (RECORDS frames, credit-driven), for 100 B, 1 KiB and 64 KiB records, and
 * the end-to-end latency of a put to its subscriber (p50/p99) at about half of the measured peak
 * ingest.
 *
 * The server runs in a child process, as `runnel serve` runs it (startServer: the uWS app with
 * the protocol handler counting into /metrics, the Kinesis endpoint and its codec threads, idle
 * here, and an Engine with its shard workers); this process is the load: `--connections` RunnelClient connections on
 * 127.0.0.1 (the built-in Node WebSocket client). Load is lean on purpose: batches are encoded
 * once, before the clock starts, one batch per shard (as client-side routing sends them), and
 * sent with `putEncodedBatch` as routed puts (the server hashes one key per put and the shard's
 * worker checks the rest), many in flight per connection. Subscriptions count delivered records per batch (no object per record). MB/s is
 * record data bytes (10^6), not keys or framing.
 *
 * Latency: first the peak of the whole pipeline is measured — closed-loop puts as in the ingest
 * phase while a LATEST subscriber on every shard takes everything (ingest alone peaks higher, as
 * delivery then costs nothing). A paced producer then sends the same puts at `--load` (default
 * half) of that peak, for a warm-up of 3 s (not counted) and then the measured time (3 s, or `--latency-seconds`); each put's
 * send time (performance.now() of this process) is written into its first record, and a LATEST
 * subscriber on every shard (same process, same clock) takes the difference on arrival: one
 * sample per put. Its floor is measured right after: the same frames at the same rate, sent by
 * the same WebSocket client to a bare uWS echo route in the server process ("echo p50/p99").
 * Beside both, in the notes, with the server idle: messages of a put's size and of 64 bytes at the
 * same rate over plain loopback TCP to a node:net echo in another Node process
 * (src/harness/baselines.ts loopbackRoundTrip): no WebSocket, no load, no engine — what two
 * processes exchanging the same messages get on this machine, and its wake-ups alone.
 *
 * Baseline: the same pre-encoded batches put straight into the server's Engine
 * (`putRoutedBatch` in its process, as many in flight) — ingest without the protocol; "vs
 * engine" is WebSocket ingest as a share of it. The CPU columns are the server process (main
 * thread + shard workers) and this load process, in % of one core, to show whether the cores or
 * something else is the limit; the notes give the same for the put-to-subscriber peak and the
 * latency phase (how busy "half load" keeps the machine), and the share of CPU time the
 * hypervisor took from this machine during the latency and echo phases (Linux's steal time,
 * where there is one; NaN elsewhere). For scale: one Kinesis shard takes
 * 1 MB/s and 1,000 records/s in.
 *
 * The parts' floors, same run, in the notes, each with the CPU both processes spend per MB of
 * record data, as Runnel's ingest is: the transport ceiling (the same frames, as many in flight,
 * from the same client to a bare uWS sink route in the server process that copies each message
 * out and acks it) and one thread's pwrite of 1 MiB chunks into fresh files. Ingest runs twice
 * per record size, because on a virtual machine that reports free pages to its host a fresh
 * page-cache page costs several times more once the host has taken it back
 * (bench/micro/page-reuse.ts): first into memory back from the host ("host MB/s": after a pause,
 * beside a page-cache write whose files stay until that ingest is over), then into memory the
 * guest has just freed, as a server whose page cache is full recycles it (the table's ingest
 * columns and what the targets are read against), each with its page-cache write in the notes.
 * Loopback TCP and disk write + fdatasync are printed once, for scale.
 *
 * Targets: ≥ 800 MB/s at 64 KiB, ≥ 2,000,000 records/s at 100 B, p99 ≤ 2 ms at half load.
 * Every phase runs a fixed time; the run stops by itself and removes its data.
 *
 * Usage: node $(node dist/src/server/node-flags.js) dist/bench/ws-throughput.js
 *        [--seconds 4] [--connections 4] [--shards 4] [--workers 2] [--sizes 100,1024,65536]
 *        [--in-flight 16] [--load 0.5] [--latency-seconds 3] [--cpu-prof DIR] [--latency-log PREFIX]
 * `--latency-log PREFIX` writes each latency phase's puts to PREFIX-<record bytes>.txt (send time
 * on CLOCK_MONOTONIC and latency), for `bench/latency-stages.ts` to join with
 * `perf sched record -k CLOCK_MONOTONIC` of the same run.
 * (the flags: `--single-threaded-gc` on 2 cores or fewer, for this load process as for the server)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

import { RunnelClient, type RunnelSubscription } from '../src/client/index.js';
import {
  diskWriteMBps,
  heldPageCacheWrite,
  loopbackMBps,
  loopbackRoundTrip,
  recycledPageCacheWrite,
} from '../src/harness/baselines.js';
import { sortedPercentile } from '../src/harness/histogram.js';
import {
  freePageReporting,
  freePageReportingText,
  machineCpuTimes,
  stealPercent,
} from '../src/harness/machine.js';
import { OpenLoopSchedule } from '../src/harness/rate.js';
import { NodeWebSocket } from '../src/client/node-websocket.js';
import { evenHashRanges, hashPartitionKey } from '../src/kinesis/hash-key.js';
import {
  BATCH_HEADER_BYTES,
  encodeRecordBatch,
  newRecordFields,
  nextRecordFields,
} from '../src/protocol/batch-writer.js';
import { WS_FRAME_BYTES_MAX, WS_SEND_BUFFER_BYTES_MAX } from '../src/limits.js';
import { serverNodeFlags } from '../src/server/node-flags.js';
import { startServer } from '../src/server/server.js';

const STREAM_PREFIX = 'ws-bench';
/** The server's bare echo route, for the latency floor. */
const ECHO_PATH = '/echo';
/** The server's bare sink route, for the transport ceiling of ingest. */
const SINK_PATH = '/sink';
/** What the sink answers each message with (about a routed put's ack). */
const SINK_ACK_BYTES = 32;
const READY_TIMEOUT_MS = 30_000;
/** Distinct pre-encoded batches per shard, so keys vary between puts. */
const BATCHES_PER_SHARD = 4;
const TARGET_MB_PER_SEC_64KIB = 800;
const TARGET_RECORDS_PER_SEC_100B = 2_000_000;
const TARGET_P99_MS = 2;
/** Records per put, by record size: about 100 KB to 1 MB per PUT frame. */
const RECORDS_PER_PUT: Record<number, number> = { 100: 1000, 1024: 500, 65536: 16 };
/** Measured seconds of the latency phase and of its echo floor, unless `--latency-seconds` says. */
const LATENCY_SECONDS_MAX = 3;
/** Each raw baseline (page-cache write before every ingest phase; loopback and disk once) runs this long. */
const BASELINE_SECONDS = 2;
/** The page-cache write into memory just freed: short, so it leaves those pages to the ingest. */
const RECYCLED_BASELINE_SECONDS = 0.5;
/**
 * Before the ingest into memory back from the host: long enough for the guest to report what
 * earlier phases freed (Linux reports free pages 2 s after they gather; after 6 s the writes of
 * bench/micro/page-reuse.ts cost what memory never touched costs).
 */
const HOST_RECLAIM_WAIT_MS = 6000;
/**
 * Paced sends before latency samples count: the stream is new (its first puts open shard files),
 * and the paced loop's code is not compiled yet. A bare echo's p99 on this load settles only
 * after 1–1.5 s: with 1 s of warm-up it measured 3.5–9.2 ms, with 3 s 1.2–1.8 ms.
 */
const LATENCY_WARMUP_MS = 3000;
/** The plain round trips send this long before they count (a new TCP window grows). */
const ROUND_TRIP_WARMUP_SECONDS = 1;
/** The small plain round trip: two wake-ups and next to no bytes. */
const ROUND_TRIP_SMALL_BYTES = 64;
/** After the closed-loop puts of the end-to-end phase, how long delivery may take to catch up. */
const END_TO_END_DRAIN_MS_MAX = 10_000;
/** After the last paced put, how long the subscribers get to receive it. */
const LATENCY_DRAIN_MS = 100;
const TIMESTAMP_BYTES = 8;
/** Every pre-encoded batch holds one shard's records: puts say so (docs/protocol.md §6.1). */
const ROUTED = { routed: true } as const;

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '4' },
    connections: { type: 'string', default: '4' },
    shards: { type: 'string', default: '4' },
    workers: { type: 'string', default: '2' },
    sizes: { type: 'string', default: '100,1024,65536' },
    'in-flight': { type: 'string', default: '16' },
    load: { type: 'string', default: '0.5' },
    'latency-seconds': { type: 'string' },
    'latency-put-records': { type: 'string' },
    'cpu-prof': { type: 'string' },
    'latency-log': { type: 'string' },
    serve: { type: 'string' },
  },
});
const inFlightPerConnection = Number(values['in-flight']);

// ---- batches --------------------------------------------------------------------------------------

interface EncodedBatch {
  bytes: Uint8Array;
  records: number;
  dataBytes: number;
}

function shardIdOf(shard: number): string {
  return `shardId-${String(shard).padStart(12, '0')}`;
}

/** BATCHES_PER_SHARD batches per shard, each holding records of that shard only. */
function encodeShardBatches(shards: number, recordBytes: number, perPut: number): EncodedBatch[][] {
  const ranges = evenHashRanges(shards);
  type Record = { PartitionKey: string; Data: Uint8Array };
  const byShard = Array.from({ length: shards }, () => [] as Record[]);
  const data = new Uint8Array(recordBytes).map((_, i) => (i * 31) & 0xff);
  const needed = perPut * BATCHES_PER_SHARD;
  for (let key = 0; byShard.some((list) => list.length < needed); key++) {
    const PartitionKey = `key-${key}`;
    const hash = hashPartitionKey(PartitionKey);
    const list = byShard[ranges.findIndex((range) => range.start <= hash && hash <= range.end)]!;
    if (list.length < needed) list.push({ PartitionKey, Data: data });
  }
  return byShard.map((records) =>
    Array.from({ length: BATCHES_PER_SHARD }, (_, b) => {
      const slice = records.slice(b * perPut, (b + 1) * perPut);
      const bytes = encodeRecordBatch(slice);
      return { bytes, records: slice.length, dataBytes: slice.length * recordBytes };
    }),
  );
}

interface Throughput {
  records: number;
  dataBytes: number;
  seconds: number;
  /** CPU used during the phase, % of one core: the server process and this load process. */
  serverCpu?: number;
  loadCpu?: number;
}

/** Runs `lanes` loops of `put` over the batches, round-robin over shards, for `seconds`. */
async function runLanes(
  lanes: number,
  batches: EncodedBatch[][],
  seconds: number,
  put: (lane: number, batch: EncodedBatch) => Promise<void>,
): Promise<Throughput> {
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let records = 0;
  let dataBytes = 0;
  let turn = 0;
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      for (let shard = lane % batches.length; performance.now() < deadline;) {
        const batch = batches[shard]![turn++ % BATCHES_PER_SHARD]!;
        await put(lane, batch);
        records += batch.records;
        dataBytes += batch.dataBytes;
        shard = (shard + 1) % batches.length;
      }
    }),
  );
  return { records, dataBytes, seconds: (performance.now() - started) / 1000 };
}

// ---- the server, in its own process -------------------------------------------------------------

/**
 * The child: serves the protocol and takes commands on stdin, one per line, answering `OK ...`
 * or `ERR ...`: `create <stream> <shards>`, `delete <stream>`, `cpu` (CPU µs so far), `gc` (the
 * event loop's GC ms and collections so far, and its longest pause since the last `gc`),
 * `direct <stream> <recordBytes> <perPut> <shards> <seconds> <lanes>` (the engine baseline).
 */
async function serve(dataDir: string, workers: number): Promise<void> {
  // The server `runnel serve` runs (startServer: both front ends, the binary protocol counting
  // into /metrics, the codec threads), with two bare routes beside the protocol for the floors.
  const server = await startServer({
    dataDir,
    workers,
    port: 0,
    wsPort: 0,
    configureUws: (app) => {
      app.ws(ECHO_PATH, {
        maxPayloadLength: WS_FRAME_BYTES_MAX,
        maxBackpressure: WS_SEND_BUFFER_BYTES_MAX,
        message: (ws, message) => void ws.send(message, true),
      });
      // Takes each message as the protocol handler takes a put (one copy out of it) and answers
      // with an ack; nothing is stored.
      const sinkAck = new Uint8Array(SINK_ACK_BYTES);
      app.ws(SINK_PATH, {
        maxPayloadLength: WS_FRAME_BYTES_MAX,
        maxBackpressure: WS_SEND_BUFFER_BYTES_MAX,
        message: (ws, message) => {
          const copy = Buffer.allocUnsafeSlow(message.byteLength);
          copy.set(new Uint8Array(message));
          ws.send(sinkAck, true);
        },
      });
    },
  });
  const engine = server.engine;
  // The event loop's collections (this thread's; the workers' are their own).
  const gc = { ms: 0, count: 0, longestMs: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gc.ms += entry.duration;
      gc.count++;
      gc.longestMs = Math.max(gc.longestMs, entry.duration);
    }
  }).observe({ entryTypes: ['gc'] });
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const [command, name = '', ...rest] = line.split(' ');
    const numbers = rest.map(Number);
    const answer = (work: Promise<unknown>) =>
      work.then(
        (result) => console.log(`OK ${command} ${name} ${result ?? ''}`),
        (error: unknown) => console.log(`ERR ${String(error)}`),
      );
    if (command === 'create') {
      const created = engine.createStream({ StreamName: name, ShardCount: numbers[0]! });
      void answer(created.then(() => ''));
    } else if (command === 'delete') {
      void answer(engine.deleteStream({ StreamName: name }).then(() => ''));
    } else if (command === 'cpu') {
      const usage = process.cpuUsage();
      void answer(Promise.resolve(usage.user + usage.system));
    } else if (command === 'gc') {
      void answer(Promise.resolve(`${gc.ms} ${gc.count} ${gc.longestMs}`));
      gc.longestMs = 0;
    } else if (command === 'direct') {
      const [recordBytes, perPut, shards, seconds, lanes] = numbers as number[] as [
        number,
        number,
        number,
        number,
        number,
      ];
      const batches = encodeShardBatches(shards, recordBytes, perPut);
      // A copy per put, as the protocol handler makes one out of the message.
      const run = runLanes(lanes, batches, seconds, async (_lane, batch) => {
        const copy = engine.putBuffer(batch.bytes.length);
        copy.set(batch.bytes);
        await engine.putRoutedBatch(name, copy);
      });
      void answer(run.then((result) => `${result.records} ${result.seconds}`));
    }
  });
  lines.on('close', () => void server.close().then(() => process.exit(0)));
  console.log(`READY ${new URL(server.wsUrl!).port}`);
}

class ServerProcess {
  private readonly replies: Array<(line: string) => void> = [];

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    lines: Interface,
  ) {
    lines.on('line', (line) => this.replies.shift()?.(line));
  }

  static async start(dataDir: string, workers: number): Promise<ServerProcess> {
    const self = fileURLToPath(import.meta.url);
    const profileDir = values['cpu-prof'];
    const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
    const args = [
      ...profile,
      ...serverNodeFlags(),
      self,
      '--serve',
      dataDir,
      '--workers',
      String(workers),
    ];
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout! });
    const port = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('server did not start')), READY_TIMEOUT_MS);
      const onLine = (line: string) => {
        const ready = /^READY (\d+)$/.exec(line);
        if (!ready) return;
        clearTimeout(timer);
        lines.off('line', onLine);
        resolve(ready[1]!);
      };
      lines.on('line', onLine);
      child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    return new ServerProcess(child, `ws://127.0.0.1:${port}`, lines);
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Sends a command; resolves with the words of its OK answer after the command and name. */
  command(line: string): Promise<string[]> {
    return new Promise((resolve, reject) => {
      this.replies.push((reply) => {
        if (reply.startsWith('OK')) resolve(reply.split(' ').slice(3).filter(Boolean));
        else reject(new Error(reply));
      });
      this.child.stdin!.write(`${line}\n`);
    });
  }

  async cpuMicros(): Promise<number> {
    return Number((await this.command('cpu'))[0]);
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.stdin!.end();
    await exited;
  }
}

/** Runs a phase and adds the CPU both processes spent on it. */
async function measured<T extends Throughput>(server: ServerProcess, phase: () => Promise<T>) {
  const serverBefore = await server.cpuMicros();
  const loadBefore = process.cpuUsage();
  const result = await phase();
  const load = process.cpuUsage(loadBefore);
  const serverMicros = (await server.cpuMicros()) - serverBefore;
  const wallMicros = result.seconds * 1e6;
  return {
    ...result,
    serverCpu: (100 * serverMicros) / wallMicros,
    loadCpu: (100 * (load.user + load.system)) / wallMicros,
  };
}

// ---- load ---------------------------------------------------------------------------------------

function ingest(
  clients: RunnelClient[],
  stream: string,
  batches: EncodedBatch[][],
  seconds: number,
) {
  const lanes = clients.length * inFlightPerConnection;
  return runLanes(lanes, batches, seconds, async (lane, batch) => {
    const client = clients[lane % clients.length]!;
    const result = await client.putEncodedBatch(stream, batch.bytes, batch.records, ROUTED);
    if (result.FailedRecordCount > 0) throw new Error('a put failed');
  });
}

async function subscribeAll(
  clients: RunnelClient[],
  stream: string,
  shards: number,
  type: 'TRIM_HORIZON' | 'LATEST',
) {
  const subscriptions: RunnelSubscription[] = [];
  for (let shard = 0; shard < shards; shard++) {
    const client = clients[shard % clients.length]!;
    subscriptions.push(await client.subscribe(stream, shardIdOf(shard), { type }));
  }
  return subscriptions;
}

/** Reads every shard from TRIM_HORIZON to the watermark it had when reading began. */
async function readBack(
  clients: RunnelClient[],
  stream: string,
  shards: number,
  recordBytes: number,
) {
  const subscriptions = await subscribeAll(clients, stream, shards, 'TRIM_HORIZON');
  let records = 0;
  const started = performance.now();
  await Promise.all(
    subscriptions.map(async (subscription) => {
      const end = subscription.watermark;
      if (end === 0) return subscription.unsubscribe();
      for await (const batch of subscription.batches()) {
        records += batch.deliveredCount;
        if (batch.fields.baseOrdinal + batch.fields.recordCount >= end) break;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { records, dataBytes: records * recordBytes, seconds };
}

/**
 * Closed-loop puts, as in the ingest phase, with a LATEST subscriber on every shard taking
 * everything: the peak of the whole put-to-subscriber pipeline, of which the latency phase paces
 * a share. Ingest alone peaks higher (on 2 shared cores delivery takes CPU from it), so pacing at
 * half of the ingest peak can be more than the pipeline carries, and queues then grow for as
 * long as the phase runs.
 */
async function endToEnd(
  clients: RunnelClient[],
  stream: string,
  batches: EncodedBatch[][],
  seconds: number,
) {
  const subscriptions = await subscribeAll(clients, stream, batches.length, 'LATEST');
  const recordBytes = batches[0]![0]!.dataBytes / batches[0]![0]!.records;
  let delivered = 0;
  let lastDelivery = performance.now();
  const reading = subscriptions.map(async (subscription) => {
    for await (const batch of subscription.batches()) {
      delivered += batch.deliveredCount;
      lastDelivery = performance.now();
    }
  });
  const started = performance.now();
  const put = await ingest(clients, stream, batches, seconds);
  const deadline = performance.now() + END_TO_END_DRAIN_MS_MAX;
  while (delivered < put.records && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  for (const subscription of subscriptions) subscription.unsubscribe();
  await Promise.all(reading);
  if (delivered < put.records)
    throw new Error(`end to end: ${put.records} put, ${delivered} delivered`);
  return {
    records: delivered,
    dataBytes: delivered * recordBytes,
    seconds: (lastDelivery - started) / 1000,
  };
}

interface Latency {
  p50: number;
  p99: number;
  samples: number;
  recordsPerSec: number;
}

/** The send time of a put, in the data of its first record. */
function timestampAt(batch: Uint8Array, write?: number): number {
  const fields = newRecordFields(BATCH_HEADER_BYTES);
  nextRecordFields(batch, fields, batch.length);
  const view = new DataView(batch.buffer, batch.byteOffset + fields.dataStart, TIMESTAMP_BYTES);
  if (write !== undefined) view.setFloat64(0, write, true);
  return view.getFloat64(0, true);
}

/**
 * Latency samples: each arrival's age, from the send time written in its first record. Every
 * arrival is kept and the warm-up's are dropped at the end: a test at arrival would change
 * course at the warm-up's end, and V8 would then deoptimize the receiving loop mid-measurement.
 */
class Arrivals {
  /** Sends before this (the warm-up) are not counted. */
  measuredFrom = Infinity;
  private readonly sentAt: number[] = [];
  private readonly ages: number[] = [];

  arrived(batch: Uint8Array): void {
    const sentAt = timestampAt(batch);
    this.sentAt.push(sentAt);
    this.ages.push(performance.now() - sentAt);
  }

  latency(recordsPerSec: number): Latency {
    const samples = this.ages
      .filter((_, i) => this.sentAt[i]! >= this.measuredFrom)
      .sort((a, b) => a - b);
    return {
      p50: sortedPercentile(samples, 0.5),
      p99: sortedPercentile(samples, 0.99),
      samples: samples.length,
      recordsPerSec,
    };
  }

  /**
   * One line per arrival: send time on CLOCK_MONOTONIC (ms, as `perf sched record -k
   * CLOCK_MONOTONIC` stamps events), latency (ms), and 1 if measured (0 in the warm-up); after a
   * header naming the two processes (src/harness/latency-stages.ts).
   */
  log(file: string, serverPid: number): void {
    // performance.now() runs on the same monotonic clock from its own origin.
    const offsetMs = Number(process.hrtime.bigint()) / 1e6 - performance.now();
    const lines = [`# load ${process.pid} server ${serverPid}`];
    this.sentAt.forEach((sentAt, i) => {
      const measured = sentAt >= this.measuredFrom ? 1 : 0;
      lines.push(`${(sentAt + offsetMs).toFixed(3)} ${this.ages[i]!.toFixed(3)} ${measured}`);
    });
    writeFileSync(file, `${lines.join('\n')}\n`);
  }
}

/**
 * Sends the batches round-robin over shards at `recordsPerSec`, each stamped with its send time,
 * for the warm-up (LATENCY_WARMUP_MS) and then `seconds`. `send` resolves once the bytes it was
 * given may be reused (stamped copies are pooled: a fresh 100 KB–1 MB buffer per put would make
 * this process collect its external memory far more often, and its pauses would count as
 * latency). Returns the records/s sent.
 */
async function paced(
  batches: EncodedBatch[][],
  recordsPerSec: number,
  seconds: number,
  arrivals: Arrivals,
  send: (index: number, bytes: Uint8Array, records: number) => Promise<unknown>,
): Promise<number> {
  const shards = batches.length;
  const perPut = batches[0]![0]!.records;
  const free = new Map<EncodedBatch, Uint8Array[]>();
  const schedule = new OpenLoopSchedule(recordsPerSec / perPut, performance.now());
  const started = schedule.startMs;
  arrivals.measuredFrom = started + LATENCY_WARMUP_MS;
  const pending = new Set<Promise<unknown>>();
  let sent = 0;
  while (performance.now() < arrivals.measuredFrom + seconds * 1000) {
    // Catch up with the schedule, then sleep to the next put.
    for (let due = schedule.dueBy(performance.now()); sent < due;) {
      const template = batches[sent % shards]![sent % BATCHES_PER_SHARD]!;
      let pool = free.get(template);
      if (!pool) free.set(template, (pool = []));
      const bytes = pool.pop() ?? template.bytes.slice();
      timestampAt(bytes, performance.now());
      const done = send(sent, bytes, template.records).then(() => pool.push(bytes));
      pending.add(done);
      void done.finally(() => pending.delete(done));
      sent++;
    }
    const wait = schedule.intendedMs(sent) - performance.now();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
  }
  const sendingSeconds = (performance.now() - started) / 1000;
  await Promise.all(pending);
  await new Promise((resolve) => setTimeout(resolve, LATENCY_DRAIN_MS));
  return (sent * perPut) / sendingSeconds;
}

/** Paced puts at `recordsPerSec`; the latency of each to the LATEST subscriber that gets it. */
async function latency(
  clients: RunnelClient[],
  stream: string,
  batches: EncodedBatch[][],
  recordsPerSec: number,
  seconds: number,
  log?: { file: string; serverPid: number },
): Promise<Latency> {
  const subscriptions = await subscribeAll(clients, stream, batches.length, 'LATEST');
  const arrivals = new Arrivals();
  const reading = subscriptions.map(async (subscription) => {
    for await (const batch of subscription.batches()) arrivals.arrived(batch.bytes);
  });
  const rate = await paced(batches, recordsPerSec, seconds, arrivals, (index, bytes, records) =>
    clients[index % clients.length]!.putEncodedBatch(stream, bytes, records, ROUTED),
  );
  for (const subscription of subscriptions) subscription.unsubscribe();
  await Promise.all(reading);
  if (log) arrivals.log(log.file, log.serverPid);
  return arrivals.latency(rate);
}

/**
 * The floor under the latency phase: the same frames at the same rate over as many
 * connections of the same WebSocket client, to a bare uWS echo route in the server process (no
 * engine, no worker thread, no disk). What is left of a put's latency above this is Runnel's own.
 */
async function echoFloor(
  url: string,
  connections: number,
  batches: EncodedBatch[][],
  recordsPerSec: number,
  seconds: number,
): Promise<Latency> {
  const arrivals = new Arrivals();
  const sockets = await Promise.all(
    Array.from({ length: connections }, async () => {
      const socket = new NodeWebSocket(`${url}${ECHO_PATH}`, undefined, {
        messageBytesMax: WS_FRAME_BYTES_MAX,
      });
      socket.binaryType = 'uint8array';
      socket.onmessage = (event) => arrivals.arrived(event.data as Uint8Array);
      await new Promise((resolve, reject) => {
        socket.onopen = resolve;
        socket.onerror = (event) => reject(event.error);
      });
      return socket;
    }),
  );
  // The client frames (and so copies) what it is given before send returns.
  const rate = await paced(batches, recordsPerSec, seconds, arrivals, async (index, bytes) => {
    sockets[index % sockets.length]!.send(bytes);
  });
  for (const socket of sockets) socket.close();
  return arrivals.latency(rate);
}

/**
 * The transport ceiling of ingest: the same frames from as many connections of the same
 * WebSocket client, as many in flight, to a bare uWS route in the server process that copies
 * each message out (as the protocol handler does) and acks it, with no engine, worker or disk
 * behind it. Runnel's ingest does all of this and more (checks, the hand-off to a worker, the
 * write), so the gap to it is Runnel's own.
 */
async function sinkCeiling(
  url: string,
  connections: number,
  batches: EncodedBatch[][],
  seconds: number,
) {
  const sockets = await Promise.all(
    Array.from({ length: connections }, async () => {
      const socket = new NodeWebSocket(`${url}${SINK_PATH}`, undefined, {
        messageBytesMax: WS_FRAME_BYTES_MAX,
      });
      const acks: Array<() => void> = [];
      socket.binaryType = 'uint8array';
      socket.onmessage = () => acks.shift()?.();
      await new Promise((resolve, reject) => {
        socket.onopen = resolve;
        socket.onerror = (event) => reject(event.error);
      });
      return { socket, acks };
    }),
  );
  const result = await runLanes(
    connections * inFlightPerConnection,
    batches,
    seconds,
    (lane, batch) => {
      const { socket, acks } = sockets[lane % sockets.length]!;
      return new Promise<void>((resolve) => {
        acks.push(resolve);
        socket.send(batch.bytes);
      });
    },
  );
  for (const { socket } of sockets) socket.close();
  return result;
}

// ---- report -------------------------------------------------------------------------------------

const pad = (text: string, width: number) => text.padStart(width);
const count = (value: number) => Math.round(value).toLocaleString('en-US');
const megabytes = (t: Throughput) => (t.dataBytes / t.seconds / 1e6).toFixed(0);
const cpu = (t: Throughput) => `${Math.round(t.serverCpu ?? 0)}/${Math.round(t.loadCpu ?? 0)}`;
const sizeName = (bytes: number) => (bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`);

const HEADER =
  `${pad('record', 7)} | ${pad('host MB/s', 9)} | ${pad('ingest rec/s', 12)} ${pad('MB/s', 5)} ${pad('vs engine', 9)} ` +
  `${pad('cpu s/l %', 9)} | ${pad('subscribe rec/s', 15)} ${pad('MB/s', 5)} ${pad('cpu s/l %', 9)} | ` +
  `${pad('latency at rec/s', 16)} ${pad('p50 ms', 7)} ${pad('p99 ms', 7)} | ${pad('echo p50/p99 ms', 15)}`;

async function measureSize(
  server: ServerProcess,
  clients: RunnelClient[],
  recordBytes: number,
  seconds: number,
  shards: number,
  dataDir: string,
): Promise<{ row: string; notes: string[] }> {
  const stream = `${STREAM_PREFIX}-${recordBytes}`;
  const perPut = RECORDS_PER_PUT[recordBytes] ?? Math.max(1, Math.floor(1e6 / recordBytes));
  const batches = encodeShardBatches(shards, recordBytes, perPut);
  const baselineDir = join(dataDir, 'baseline');
  // Ingest twice, each beside a page-cache write into the same kind of memory: a log that
  // retains what it takes writes fresh pages for every byte, and on a machine that reports free
  // pages to its host, what a fresh page costs depends on whether the host took it back
  // (bench/micro/page-reuse.ts). First into memory the host has taken back: after a pause, and
  // behind a baseline whose files stay (so the ingest gets none of the pages it frees).
  if (freePageReporting() === true) await sleep(HOST_RECLAIM_WAIT_MS);
  const hostPages = heldPageCacheWrite(baselineDir, BASELINE_SECONDS);
  const cold = `${stream}-cold`;
  await server.command(`create ${cold} ${shards}`);
  const putCold = await measured(server, () => ingest(clients, cold, batches, seconds));
  // Then into memory the guest has just freed (those files and that stream), as a server whose
  // page cache is full recycles its oldest pages.
  hostPages.release();
  await server.command(`delete ${cold}`);
  const recycledPages = recycledPageCacheWrite(baselineDir, RECYCLED_BASELINE_SECONDS);
  await server.command(`create ${stream} ${shards}`);
  const put = await measured(server, () => ingest(clients, stream, batches, seconds));
  const sink = await measured(server, () =>
    sinkCeiling(server.url, clients.length, batches, seconds),
  );
  const read = await measured(server, () => readBack(clients, stream, shards, recordBytes));
  await server.command(`delete ${stream}`);

  const direct = `${stream}-engine`;
  await server.command(`create ${direct} ${shards}`);
  const lanes = clients.length * inFlightPerConnection;
  const args = `${recordBytes} ${perPut} ${shards} ${seconds} ${lanes}`;
  const answer = await server.command(`direct ${direct} ${args}`);
  const directRate = Number(answer[0]) / Number(answer[1]);
  await server.command(`delete ${direct}`);

  const putRate = put.records / put.seconds;
  const pipeline = `${stream}-e2e`;
  await server.command(`create ${pipeline} ${shards}`);
  const e2e = await measured(server, () =>
    endToEnd(clients, pipeline, batches, Math.min(seconds, LATENCY_SECONDS_MAX)),
  );
  await server.command(`delete ${pipeline}`);
  const e2eRate = e2e.records / e2e.seconds;

  const quiet = `${stream}-latency`;
  await server.command(`create ${quiet} ${shards}`);
  const latencySeconds = Number(
    values['latency-seconds'] ?? Math.min(seconds, LATENCY_SECONDS_MAX),
  );
  const rate = e2eRate * Number(values.load);
  // The latency phase's puts: as the ingest's, unless `--latency-put-records` sends the same
  // rate in smaller puts (what a producer that wants latency would do).
  const latencyPerPut = values['latency-put-records']
    ? Number(values['latency-put-records'])
    : perPut;
  const latencyBatches =
    latencyPerPut === perPut ? batches : encodeShardBatches(shards, recordBytes, latencyPerPut);
  const gcBefore = (await server.command('gc')).map(Number);
  const cpuTimesBefore = machineCpuTimes();
  const lat = await measured(server, async () => {
    const started = performance.now();
    const prefix = values['latency-log'];
    const log = prefix
      ? { file: `${prefix}-${recordBytes}.txt`, serverPid: server.pid }
      : undefined;
    const result = await latency(clients, quiet, latencyBatches, rate, latencySeconds, log);
    return { ...result, records: 0, dataBytes: 0, seconds: (performance.now() - started) / 1000 };
  });
  const gcAfter = (await server.command('gc')).map(Number);
  const latencyWallSeconds = lat.seconds;
  const latencySteal = stealPercent(cpuTimesBefore, machineCpuTimes());
  await server.command(`delete ${quiet}`);
  const floorTimesBefore = machineCpuTimes();
  const floor = await echoFloor(server.url, clients.length, latencyBatches, rate, latencySeconds);
  const floorSteal = stealPercent(floorTimesBefore, machineCpuTimes());
  const template = latencyBatches[0]![0]!;
  const putsPerSec = rate / template.records;
  const idle = await loopbackRoundTrip(
    template.bytes.length,
    putsPerSec,
    latencySeconds,
    ROUND_TRIP_WARMUP_SECONDS,
  );
  const wake = await loopbackRoundTrip(
    ROUND_TRIP_SMALL_BYTES,
    putsPerSec,
    latencySeconds,
    ROUND_TRIP_WARMUP_SECONDS,
  );

  const row =
    `${pad(sizeName(recordBytes), 7)} | ${pad(megabytes(putCold), 9)} | ${pad(count(putRate), 12)} ${pad(megabytes(put), 5)} ` +
    `${pad(`${Math.round((100 * putRate) / directRate)}%`, 9)} ${pad(cpu(put), 9)} | ` +
    `${pad(count(read.records / read.seconds), 15)} ${pad(megabytes(read), 5)} ${pad(cpu(read), 9)} | ` +
    `${pad(count(lat.recordsPerSec), 16)} ${pad(lat.p50.toFixed(2), 7)} ${pad(lat.p99.toFixed(2), 7)} | ` +
    pad(`${floor.p50.toFixed(2)}/${floor.p99.toFixed(2)}`, 15);
  // CPU (both processes) per MB of record data: Runnel's ingest against its parts' floors, the
  // transport alone and one thread writing fresh pages.
  const msPerMB = (t: Throughput) =>
    ((t.serverCpu! + t.loadCpu!) / 100) * (1000 / (t.dataBytes / t.seconds / 1e6));
  const notes = [
    `${sizeName(recordBytes)} ingest: ${megabytes(put)} MB/s of record data at ${msPerMB(put).toFixed(2)} ms of CPU ` +
      `per MB (server and load) into memory just freed, beside a page-cache write into such pages at ` +
      `${recycledPages.cpuMsPerMB.toFixed(2)} ms/MB (${recycledPages.MBps.toFixed(0)} MB/s on one thread); ` +
      `${megabytes(putCold)} MB/s at ${msPerMB(putCold).toFixed(2)} ms/MB into memory back from the host ("host MB/s"), ` +
      `beside a page-cache write into such pages at ${hostPages.cpuMsPerMB.toFixed(2)} ms/MB ` +
      `(${hostPages.MBps.toFixed(0)} MB/s); transport ceiling ${megabytes(sink)} MB/s at ${msPerMB(sink).toFixed(2)} ` +
      `ms/MB, cpu s/l ${cpu(sink)} % (the same frames, as many in flight, to a bare uWS route that copies each ` +
      `out and acks it)`,
    `${sizeName(recordBytes)}: engine baseline ${count(directRate)} records/s ` +
      `(${((directRate * recordBytes) / 1e6).toFixed(0)} MB/s); put-to-subscriber peak ${count(e2eRate)} ` +
      `records/s (cpu s/l ${cpu(e2e)} %); p99 ${lat.p99.toFixed(2)} ms at ${values.load} of it ` +
      `(cpu s/l ${cpu(lat)} %, warm-up included) vs target ${TARGET_P99_MS} ms ` +
      `(${lat.samples} puts of ${latencyPerPut}); bare echo of the same frames at that rate: ` +
      `p99 ${floor.p99.toFixed(2)} ms (${floor.samples} samples), Runnel ${(lat.p99 / floor.p99).toPrecision(2)}× it`,
    `${sizeName(recordBytes)}: the server's event loop in GC during the latency phase: ` +
      `${((gcAfter[0]! - gcBefore[0]!) / latencyWallSeconds).toFixed(1)} ms per s, ` +
      `${gcAfter[1]! - gcBefore[1]!} collections, the longest ${gcAfter[2]!.toFixed(1)} ms; CPU time stolen ` +
      `by the hypervisor: ${latencySteal.toFixed(1)} % during the latency phase, ${floorSteal.toFixed(1)} % ` +
      `during the echo`,
    `${sizeName(recordBytes)}: plain Node round trips, the server idle: at the same rate over loopback TCP ` +
      `to a node:net echo in another process (no WebSocket, no load), ${(template.bytes.length / 1000).toFixed(0)} KB ` +
      `messages p50/p99 ${idle.p50Ms.toFixed(2)}/${idle.p99Ms.toFixed(2)} ms, ${ROUND_TRIP_SMALL_BYTES} B messages ` +
      `${wake.p50Ms.toFixed(2)}/${wake.p99Ms.toFixed(2)} ms (${wake.samples} samples each)`,
  ];
  if (recordBytes === 100) {
    const target = count(TARGET_RECORDS_PER_SEC_100B);
    notes.push(`100 B ingest: ${count(putRate)} records/s vs target ${target}`);
  }
  if (recordBytes === 65536) {
    notes.push(
      `64 KiB ingest: ${megabytes(put)} MB/s into memory just freed, ${megabytes(putCold)} MB/s into memory back ` +
        `from the host, vs target ${TARGET_MB_PER_SEC_64KIB}`,
    );
  }
  return { row, notes };
}

async function main(): Promise<void> {
  if (values.serve) return serve(values.serve, Number(values.workers));
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  const shards = Number(values.shards);
  const dataDir = mkdtempSync(join(tmpdir(), 'runnel-ws-bench-'));
  console.log(
    `ws-throughput: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}; ` +
      `server in a child process with ${values.workers} shard workers; load: ${connections} ` +
      `connections × ${inFlightPerConnection} puts in flight, ${shards} shards, ${seconds} s per phase`,
  );
  const loopback = await loopbackMBps(BASELINE_SECONDS);
  const disk = diskWriteMBps(join(dataDir, 'baseline'), BASELINE_SECONDS);
  console.log(
    `baselines: loopback TCP ${loopback.toFixed(0)} MB/s (one connection, 64 KiB writes), ` +
      `disk write + fdatasync ${disk.toFixed(0)} MB/s; page-cache write before each ingest phase (notes); ` +
      `free page reporting to the host: ${freePageReportingText()}`,
  );
  const server = await ServerProcess.start(dataDir, Number(values.workers));
  const clients = await Promise.all(
    Array.from({ length: connections }, () => RunnelClient.connect(server.url)),
  );
  const rows: string[] = [];
  const notes: string[] = [];
  try {
    for (const recordBytes of values.sizes!.split(',').map(Number)) {
      const result = await measureSize(server, clients, recordBytes, seconds, shards, dataDir);
      console.log(result.row);
      rows.push(result.row);
      notes.push(...result.notes);
    }
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  console.log(`\n${HEADER}\n${'-'.repeat(HEADER.length)}\n${rows.join('\n')}\n`);
  for (const note of notes) console.log(note);
}

await main();
