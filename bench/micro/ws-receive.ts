/**
 * Micro-benchmark: what the Node client (src/client/node-websocket.ts) spends receiving
 * messages shaped as a subscription's RECORDS: a 20-byte head fragment, then the stored batches
 * as continuation frames. A uWS server in a child process sends them as fast as the client
 * takes them (it keeps a few MB buffered); the client counts them for SECONDS after a warm-up.
 * Baseline, same run: the same number of bytes per message as one unfragmented frame, which
 * the client reads into one exactly sized buffer — the least a message can cost it. Figure: MB/s
 * and the client's CPU per MB (its whole process, GC included), and the ratio to the baseline.
 * Usage: node dist/bench/micro/ws-receive.js [--seconds 3] (also run by `npm run bench:micro`)
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import uWS from 'uWebSockets.js';

import { NodeWebSocket } from '../../src/client/node-websocket.js';
import { MIB, WS_FRAME_BYTES_MAX } from '../../src/limits.js';
import { RECORDS_OVERHEAD_BYTES, encodeRecordsHead } from '../../src/protocol/frames.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    serve: { type: 'string' },
  },
});
/** The sender keeps this much queued in uWS, so the client never waits for it. */
const SEND_AHEAD_BYTES = 4 * MIB;
const WARMUP_MS = 1000;

/** Message shapes: pieces after the head, and their size. */
const SHAPES: Array<{ name: string; pieces: number; pieceBytes: number }> = [
  { name: 'one 100 B put (1,000 records)', pieces: 1, pieceBytes: 111_000 },
  { name: 'eight such puts', pieces: 8, pieceBytes: 111_000 },
  { name: 'sixteen 64 KiB batches', pieces: 16, pieceBytes: 65_536 },
];

/** The sender: on connection, sends messages of the shape `spec` names, for as long as it lives. */
function serve(spec: string): void {
  const [pieces, pieceBytes, whole] = spec.split(',').map(Number) as [number, number, number];
  const head = encodeRecordsHead(1, 0, pieces * pieceBytes);
  const piece = new Uint8Array(pieceBytes).fill(7);
  const message = new Uint8Array(RECORDS_OVERHEAD_BYTES + pieces * pieceBytes).fill(7);
  message.set(head);
  const pump = (ws: uWS.WebSocket<unknown>) => {
    while (ws.getBufferedAmount() < SEND_AHEAD_BYTES) {
      if (whole) {
        ws.send(message, true);
        continue;
      }
      ws.cork(() => {
        ws.sendFirstFragment(head, true);
        for (let i = 0; i < pieces - 1; i++) ws.sendFragment(piece);
        ws.sendLastFragment(piece);
      });
    }
  };
  const app = uWS.App().ws('/*', {
    maxBackpressure: 2 * SEND_AHEAD_BYTES,
    maxPayloadLength: 1024,
    open: pump,
    drain: pump,
  });
  app.listen('127.0.0.1', 0, (token) => {
    if (!token) throw new Error('listen failed');
    process.send!(uWS.us_socket_local_port(token as unknown as uWS.us_socket));
  });
}

async function measure(pieces: number, pieceBytes: number, whole: boolean, seconds: number) {
  const self = fileURLToPath(import.meta.url);
  const child = fork(self, ['--serve', `${pieces},${pieceBytes},${whole ? 1 : 0}`], {
    execArgv: process.execArgv,
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (message) => resolve(Number(message)));
      child.once('exit', (code) => reject(new Error(`sender exited with ${code}`)));
    });
    const ws = new NodeWebSocket(`ws://127.0.0.1:${port}/`, undefined, {
      messageBytesMax: WS_FRAME_BYTES_MAX,
    });
    ws.binaryType = 'uint8array';
    const expected = RECORDS_OVERHEAD_BYTES + pieces * pieceBytes;
    let bytes = 0;
    let counting = false;
    ws.onmessage = (event) => {
      const length = (event.data as Uint8Array).length;
      if (length !== expected)
        throw new Error(`a message of ${length} bytes, expected ${expected}`);
      if (counting) bytes += length;
    };
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = (event) => reject(event.error);
    });
    await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
    counting = true;
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const cpu = process.cpuUsage(cpuBefore);
    const elapsed = (performance.now() - started) / 1000;
    counting = false;
    ws.close();
    const mb = bytes / 1e6;
    return { mbPerSec: mb / elapsed, cpuMsPerMb: (cpu.user + cpu.system) / 1000 / mb };
  } finally {
    child.kill();
  }
}

if (values.serve) {
  serve(values.serve);
} else {
  const seconds = Number(values.seconds);
  console.log(
    `Node client receiving RECORDS-shaped messages from a uWS sender in another process, ${seconds} s each`,
  );
  for (const shape of SHAPES) {
    const baseline = await measure(shape.pieces, shape.pieceBytes, true, seconds);
    const fragmented = await measure(shape.pieces, shape.pieceBytes, false, seconds);
    const size = RECORDS_OVERHEAD_BYTES + shape.pieces * shape.pieceBytes;
    console.log(
      `${shape.name} (${size} B): fragmented ${fragmented.mbPerSec.toFixed(0)} MB/s at ` +
        `${fragmented.cpuMsPerMb.toFixed(3)} ms CPU/MB; one frame (baseline) ${baseline.mbPerSec.toFixed(0)} MB/s at ` +
        `${baseline.cpuMsPerMb.toFixed(3)} ms/MB; fragmented costs ${(fragmented.cpuMsPerMb / baseline.cpuMsPerMb).toFixed(2)}× the baseline per MB`,
    );
  }
}
