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
 *
 * Then the case of a loaded machine: another thread keeps every other core busy, and the woken
 * thread works WORK_PER_WAKE_US before it waits again, as a shard worker does with an append.
 * The kernel then puts the woken thread on the notifier's core, and under the default policy it
 * preempts the notifier there, which stands still until that work is done. Measured with the
 * woken thread under the default policy and under SCHED_BATCH (workers/thread-scheduling.cts,
 * what the engine's helper threads ask for), alternately.
 *
 * Usage: node dist/bench/micro/thread-wake.js
 */
import { availableParallelism } from 'node:os';
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

/** Work the woken thread does per wake in the loaded case, and the notifier's gap between. */
const WORK_PER_WAKE_US = 400;
const LOADED_GAP_US = 1500;
const LOADED_SECONDS = 2;
const LOADED_ROUNDS = 3;
const schedulingModule = new URL('../../workers/thread-scheduling.cjs', import.meta.url).href;

const BUSY_SOURCE = `
const { workerData } = require('node:worker_threads');
const flag = new Int32Array(workerData);
while (Atomics.load(flag, 0) === 0);
`;
const busyFlag = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
const busy = Array.from(
  { length: Math.max(1, availableParallelism() - 1) },
  () => new Worker(BUSY_SOURCE, { eval: true, workerData: busyFlag.buffer }),
);

async function loaded(batch: boolean): Promise<{ mean: number; p99: number }> {
  const source = `
const { workerData, parentPort } = require('node:worker_threads');
import(${JSON.stringify(schedulingModule)}).then((scheduling) => {
  const ok = ${batch} ? scheduling.scheduleThreadAsBatch() : true;
  parentPort.postMessage(ok);
  const counter = new Int32Array(workerData);
  for (let seen = 0; seen !== ${STOP}; ) {
    Atomics.wait(counter, ${COUNTER}, seen);
    seen = Atomics.load(counter, ${COUNTER});
    const until = performance.now() + ${WORK_PER_WAKE_US / 1000};
    while (performance.now() < until);
  }
});
`;
  const woken = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
  const thread = new Worker(source, { eval: true, workerData: woken.buffer });
  const ready = await new Promise<boolean>((resolve) => thread.once('message', resolve));
  if (!ready) throw new Error('thread-wake: SCHED_BATCH could not be set (no chrt?)');
  const costs: number[] = [];
  const end = performance.now() + LOADED_SECONDS * 1000;
  while (performance.now() < end) {
    const started = process.hrtime.bigint();
    Atomics.add(woken, COUNTER, 1);
    Atomics.notify(woken, COUNTER, 1);
    costs.push(Number(process.hrtime.bigint() - started) / 1000);
    const until = performance.now() + LOADED_GAP_US / 1000;
    while (performance.now() < until);
  }
  Atomics.store(woken, COUNTER, STOP);
  Atomics.notify(woken, COUNTER);
  await thread.terminate();
  costs.sort((a, b) => a - b);
  const mean = costs.reduce((sum, cost) => sum + cost, 0) / costs.length;
  return { mean, p99: costs[Math.floor(costs.length * 0.99)]! };
}

console.log(
  `Loaded: the other cores busy, the woken thread works ${WORK_PER_WAKE_US} µs per wake; ` +
    `µs of the notifying thread per call, mean / p99`,
);
for (let round = 1; round <= LOADED_ROUNDS; round++) {
  const other = await loaded(false);
  const batch = await loaded(true);
  console.log(
    `  round ${round}: default policy ${other.mean.toFixed(1)} / ${other.p99.toFixed(1)} µs, ` +
      `SCHED_BATCH ${batch.mean.toFixed(1)} / ${batch.p99.toFixed(1)} µs ` +
      `(the default's mean ${(other.mean / batch.mean).toFixed(1)}× SCHED_BATCH's)`,
  );
}
Atomics.store(busyFlag, 0, 1);
await Promise.all(busy.map((thread) => thread.terminate()));
