#!/usr/bin/env node
/**
 * The `runnel` command. `runnel serve` starts the Kinesis endpoint and the uWebSockets.js app
 * over one engine, prints exactly one line — `Runnel listening on http://HOST:PORT` — when both
 * are ready (and, just before it, where the uWS app listens, on stderr), and on SIGINT/SIGTERM
 * stops accepting, answers in-flight requests, closes the engine and exits 0. Every option also
 * reads an environment variable; a flag wins over it.
 */

import { parseArgs } from 'node:util';
import { CODEC_THREADS_MAX } from './server/codec-threads.js';
import { DEFAULT_ACCOUNT, DEFAULT_REGION } from './engine/engine-context.js';
import {
  MIB,
  PORT_MAX,
  SEGMENT_BYTES_MAX,
  STREAM_TRANSITION_MS_MAX,
  WORKERS_MAX,
} from './limits.js';

import {
  DEFAULT_DATA_DIR,
  DEFAULT_HOST,
  DEFAULT_PORT,
  DEFAULT_WS_PORT,
  startServer,
  type ServerOptions,
} from './server/server.js';

const HELP = `Usage: runnel serve [options]
       runnel bench [--quick] [--json FILE] [--html FILE] [--peers] [--verify-limits]   (bench --help)
       runnel load --endpoint URL [--protocol kinesis|ws] (--rate R | --max) ...       (load --help)

Runs the Kinesis Data Streams API (JSON 1.1 and CBOR 1.1, over HTTP/1.1 and HTTP/2) on one
port, and the uWebSockets.js app (the same API over HTTP/1.1, /health, /metrics) on another.

Options (each also read from the environment variable shown; a flag wins):
  --host <address>   interface to bind both ports to          RUNNEL_HOST     (${DEFAULT_HOST})
  --port <n>         Kinesis endpoint port, 0 = any free one  RUNNEL_PORT     (${DEFAULT_PORT})
  --ws-port <n>      uWebSockets.js port, 0 = any free one    RUNNEL_WS_PORT  (${DEFAULT_WS_PORT})
  --data <dir>       data directory, created if missing       RUNNEL_DATA     (${DEFAULT_DATA_DIR})
  --workers <n>      shard worker threads                     RUNNEL_WORKERS  (CPU cores)
  --codec-threads <n> threads that decode large JSON PutRecords bodies off the event loop;
                     0 = decode on it                        RUNNEL_CODEC_THREADS (CPU cores, max 8)
  --segment-mib <n>  size of each preallocated segment file   RUNNEL_SEGMENT_MIB (64)
  --fsync            fdatasync before acknowledging writes (survives power loss; default survives
                     kill -9 only)                            RUNNEL_FSYNC=1
  --enforce-limits   throttle every shard as a provisioned Kinesis shard does: 1 MiB/s and
                     1,000 records/s written; 2 MiB/s, 5 GetRecords/s and 5 GetShardIterator/s
                     read; enhanced fan-out: 1 SubscribeToShard/s and 2 MiB/s per consumer
                     and shard, 5 consumers CREATING at once; and 5 streams CREATING at once
                                                              RUNNEL_ENFORCE_LIMITS=1
  --stream-transition-ms <n>  how long a new stream stays CREATING, a deleted one DELETING and a
                     resharded one UPDATING (Kinesis: seconds); 0 = at once, at most ${STREAM_TRANSITION_MS_MAX}
                                                              RUNNEL_STREAM_TRANSITION_MS (0)
  --region <name>    the AWS region (and its partition) in stream and consumer ARNs; set it to
                     the client's, so ARNs it builds name Runnel's streams
                                                              RUNNEL_REGION   (${DEFAULT_REGION})
  --account-id <n>   the 12-digit account in ARNs and messages RUNNEL_ACCOUNT_ID (${DEFAULT_ACCOUNT})
  --tls-cert <file>  PEM certificate: the Kinesis port then speaks HTTPS (ALPN h2, http/1.1)
  --tls-key <file>   PEM private key for --tls-cert
  -h, --help         show this help

Point clients at the printed URL, e.g.
  new KinesisClient({ endpoint: 'http://127.0.0.1:${DEFAULT_PORT}', region: 'us-east-1' })
  aws --endpoint-url http://127.0.0.1:${DEFAULT_PORT} kinesis list-streams
SIGINT or SIGTERM shuts down cleanly: in-flight requests are answered and data is synced.
`;

class UsageError extends Error {}

/**
 * An AWS region name: an area, a direction, a number (us-east-1, us-gov-west-1, eusc-de-east-1);
 * its ARNs name its partition (partitionOf).
 */
const REGION_PATTERN = /^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/;
/** An AWS account id. */
const ACCOUNT_ID_PATTERN = /^\d{12}$/;

function integerOption(
  name: string,
  value: string | undefined,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (value === undefined || value === '') return undefined;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`${name} must be an integer ${range}, got '${value}'`);
  }
  return parsed;
}

function parseServeOptions(args: string[], env: NodeJS.ProcessEnv): ServerOptions | 'help' {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'ws-port': { type: 'string' },
      data: { type: 'string' },
      workers: { type: 'string' },
      'codec-threads': { type: 'string' },
      'segment-mib': { type: 'string' },
      fsync: { type: 'boolean' },
      'enforce-limits': { type: 'boolean' },
      'stream-transition-ms': { type: 'string' },
      region: { type: 'string' },
      'account-id': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const certFile = values['tls-cert'];
  const keyFile = values['tls-key'];
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together');
  }
  const port = integerOption('--port', values.port ?? env.RUNNEL_PORT, 0, PORT_MAX);
  const wsPort = integerOption('--ws-port', values['ws-port'] ?? env.RUNNEL_WS_PORT, 0, PORT_MAX);
  const workers = integerOption('--workers', values.workers ?? env.RUNNEL_WORKERS, 1, WORKERS_MAX);
  const codecThreads = integerOption(
    '--codec-threads',
    values['codec-threads'] ?? env.RUNNEL_CODEC_THREADS,
    0,
  );
  const segmentMib = integerOption(
    '--segment-mib',
    values['segment-mib'] ?? env.RUNNEL_SEGMENT_MIB,
    1,
    SEGMENT_BYTES_MAX / MIB,
  );
  const transitionMs = integerOption(
    '--stream-transition-ms',
    values['stream-transition-ms'] ?? env.RUNNEL_STREAM_TRANSITION_MS,
    0,
    STREAM_TRANSITION_MS_MAX,
  );
  const region = values.region ?? (env.RUNNEL_REGION || undefined);
  if (region !== undefined && !REGION_PATTERN.test(region)) {
    throw new UsageError(`--region must be an AWS region name such as eu-west-1, got '${region}'`);
  }
  const accountId = values['account-id'] ?? (env.RUNNEL_ACCOUNT_ID || undefined);
  if (accountId !== undefined && !ACCOUNT_ID_PATTERN.test(accountId)) {
    throw new UsageError(`--account-id must be 12 digits, got '${accountId}'`);
  }
  const flag = (value: boolean | undefined, variable: string | undefined) =>
    value ?? variable === '1';
  const engineOptions = {
    fsync: flag(values.fsync, env.RUNNEL_FSYNC),
    enforceLimits: flag(values['enforce-limits'], env.RUNNEL_ENFORCE_LIMITS),
    ...(region !== undefined ? { region } : {}),
    ...(accountId !== undefined ? { accountId } : {}),
    ...(segmentMib !== undefined ? { segmentBytes: segmentMib * MIB } : {}),
    ...(transitionMs !== undefined ? { streamTransitionMs: transitionMs } : {}),
  };
  return {
    engineOptions,
    host: values.host ?? (env.RUNNEL_HOST || DEFAULT_HOST),
    port: port ?? DEFAULT_PORT,
    wsPort: wsPort ?? DEFAULT_WS_PORT,
    dataDir: values.data ?? (env.RUNNEL_DATA || DEFAULT_DATA_DIR),
    ...(workers !== undefined ? { workers } : {}),
    ...(codecThreads !== undefined
      ? { codecThreads: Math.min(codecThreads, CODEC_THREADS_MAX) }
      : {}),
    ...(certFile !== undefined && keyFile !== undefined ? { tls: { certFile, keyFile } } : {}),
  };
}

async function serve(options: ServerOptions): Promise<void> {
  const server = await startServer(options);
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`runnel: error while shutting down after ${signal}:`, error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  if (server.wsUrl) {
    // On stderr, before the one stdout line, so that line's contract stays as it is.
    const ws = server.wsUrl.replace(/^http/, 'ws');
    process.stderr.write(
      `runnel: binary WebSocket protocol on ${ws}/v1; /dashboard, /metrics and the Kinesis API over ` +
        `HTTP/1.1 on ${server.wsUrl}\n`,
    );
  }
  process.stdout.write(`Runnel listening on ${server.kinesisUrl}\n`);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(HELP);
    if (command === undefined) process.exitCode = 1;
    return;
  }
  if (command === 'bench' || command === 'load') {
    const module =
      command === 'bench' ? await import('./harness/bench.js') : await import('./harness/load.js');
    process.exitCode = await module.main(rest);
    return;
  }
  if (command !== 'serve') throw new UsageError(`unknown command '${command}'`);
  const options = parseServeOptions(rest, process.env);
  if (options === 'help') {
    process.stdout.write(HELP);
    return;
  }
  await serve(options);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const code = (error as { code?: string }).code;
  if (error instanceof UsageError || code?.startsWith('ERR_PARSE_ARGS')) {
    console.error(`runnel: ${(error as Error).message}\nRun 'runnel --help' for usage.`);
    process.exit(2);
  }
  console.error('runnel: failed to start:', error);
  process.exit(1);
});
