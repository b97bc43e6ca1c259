#!/usr/bin/env node
/**
 * A Runnel server for the benchmark, in its own process so that load and server never share a
 * thread: starts `startServer` with both front ends on free ports and prints one JSON line,
 * `{"kinesisUrl":...,"wsUrl":...,"pid":...}`, when ready. SIGTERM or SIGINT closes it cleanly
 * (in-flight requests answered, engine closed) and exits 0.
 *
 * Usage: node dist/src/harness/server-process.js --data DIR [--workers N] [--enforce-limits]
 *
 * (`runnel serve` prints only the Kinesis URL; the benchmark needs the uWS URL too.)
 */
import { parseArgs } from 'node:util';

import { startServer } from '../server/server.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    workers: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    'ws-port': { type: 'string', default: '0' },
    'enforce-limits': { type: 'boolean', default: false },
  },
});
if (!values.data) {
  process.stderr.write('server-process: --data is required\n');
  process.exit(2);
}
const server = await startServer({
  host: values.host!,
  port: Number(values.port),
  wsPort: Number(values['ws-port']),
  dataDir: values.data,
  ...(values.workers ? { workers: Number(values.workers) } : {}),
  engineOptions: { enforceLimits: values['enforce-limits']! },
});
let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  server.close().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`server-process: error while closing: ${String(error)}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write(
  `${JSON.stringify({ kinesisUrl: server.kinesisUrl, wsUrl: server.wsUrl, pid: process.pid })}\n`,
);
