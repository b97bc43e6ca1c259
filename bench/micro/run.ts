/**
 * Shared runner of the tinybench micro-benchmarks: runs a Bench for a bounded time per task
 * and prints one table row per task with ops/s and the per-item rate the question asks about.
 */
import { Bench } from 'tinybench';

export interface MicroTask {
  name: string;
  /** Items (records, keys, lookups) one call handles; the table reports items/s. */
  items: number;
  fn: () => void;
}

export async function runMicro(
  title: string,
  baseline: string,
  tasks: MicroTask[],
  timeMs = 800,
): Promise<void> {
  const bench = new Bench({ time: timeMs, warmupTime: 200 });
  for (const task of tasks) bench.add(task.name, task.fn);
  await bench.run();
  console.log(`${title}\nbaseline: ${baseline}`);
  for (const [i, task] of bench.tasks.entries()) {
    const result = task.result as
      { throughput?: { mean: number }; latency?: { mean: number }; hz?: number } | undefined;
    const hz = result?.throughput?.mean ?? result?.hz ?? NaN;
    const itemsPerSec = hz * tasks[i]!.items;
    console.log(
      `  ${task.name.padEnd(44)} ${Math.round(hz).toLocaleString('en-US').padStart(12)} calls/s ` +
        `${Math.round(itemsPerSec).toLocaleString('en-US').padStart(14)} items/s`,
    );
  }
}
