/**
 * Micro-benchmark: what handing work to another thread costs the thread that hands it over,
 * by whether the other thread is asleep. A put crosses threads four times (load → event loop →
 * shard worker → event loop → load); at low load each crossing wakes a sleeping thread.
 *
 * A worker thread waits in Atomics.wait on a counter, as piscina's idle workers do; the main
 * thread bumps the counter and calls Atomics.notify, then busy-waits a gap before the next:
 *
 * - gap 0: the worker has not gone back to sleep yet (it finds the next bump at once), so
 *   notify wakes nobody — the baseline;
 * - gaps of 50 and 200 µs: the worker is asleep at each notify, which must wake it (a futex
 *   wake and, on a virtual machine, an inter-processor interrupt through the hypervisor).
 *
 * Figure: µs of the main thread's time per notify (wall time around the call).
 * Usage: node dist/bench/micro/thread-wake.js
 */
import { Worker } from 'node:worker_threads';

const SECONDS_PER_GAP = 1.5;
const GAPS_US = [0, 50, 200];
/** The counter the worker waits on, and the value that tells it to stop. */
const COUNTER = 0;
const STOP = -1;

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const counter = new Int32Array(workerData);
for (let seen = 0; seen !== ${STOP}; ) {
  Atomics.wait(counter, ${COUNTER}, seen);
  seen = Atomics.load(counter, ${COUNTER});
}
`;

const shared = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
const counter = new Int32Array(shared);
const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: shared });
await new Promise((resolve) => worker.once('online', resolve));

console.log(
  'Atomics.notify to a thread waiting in Atomics.wait, µs of the notifying thread per call',
);
const perGap: number[] = [];
for (const gapUs of GAPS_US) {
  let nanos = 0;
  let calls = 0;
  const end = performance.now() + SECONDS_PER_GAP * 1000;
  while (performance.now() < end) {
    const started = process.hrtime.bigint();
    Atomics.add(counter, COUNTER, 1);
    Atomics.notify(counter, COUNTER, 1);
    nanos += Number(process.hrtime.bigint() - started);
    calls++;
    const until = performance.now() + gapUs / 1000;
    while (performance.now() < until);
  }
  perGap.push(nanos / calls / 1000);
  const ratio =
    gapUs === 0
      ? 'baseline'
      : `${(perGap[perGap.length - 1]! / perGap[0]!).toFixed(0)}× the baseline`;
  console.log(
    `  gap ${String(gapUs).padStart(3)} µs: ${perGap[perGap.length - 1]!.toFixed(2)} µs (${calls} calls; ${ratio})`,
  );
}
Atomics.store(counter, COUNTER, STOP);
Atomics.notify(counter, COUNTER);
await worker.terminate();
