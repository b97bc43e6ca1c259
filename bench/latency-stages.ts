/**
 * Where a put's latency goes, stage by stage (src/harness/latency-stages.ts): joins the bench's
 * per-put log with the kernel's thread wake-ups of the same run.
 *
 *   perf sched record -k CLOCK_MONOTONIC -o sched.data -- \
 *     node $(node dist/src/server/node-flags.js) dist/bench/ws-throughput.js --sizes 100 --load 0.1 --latency-log /tmp/latency
 *   perf sched timehist -i sched.data -w > timehist.txt
 *   node dist/bench/latency-stages.js --log /tmp/latency-100.txt --timehist timehist.txt
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { latencyStages, parseLatencyLog, parseWakeups } from '../src/harness/latency-stages.js';

const { values } = parseArgs({
  options: { log: { type: 'string' }, timehist: { type: 'string' } },
});
if (!values.log || !values.timehist) {
  console.error('usage: latency-stages --log PREFIX-<bytes>.txt --timehist TIMEHIST.txt');
  process.exit(2);
}
const log = parseLatencyLog(readFileSync(values.log, 'utf8'));
const wakeups = parseWakeups(readFileSync(values.timehist, 'utf8'), log.loadPid, log.serverPid);
const table = latencyStages(log, wakeups);
console.log(`${table.traced} of ${table.puts} measured puts traced through every wake-up (ms):`);
console.log(`${'stage'.padEnd(46)} ${'p50'.padStart(7)} ${'p90'.padStart(7)} ${'p99'.padStart(7)}`);
for (const row of table.rows) {
  console.log(
    `${row.stage.padEnd(46)} ${row.p50.toFixed(3).padStart(7)} ${row.p90.toFixed(3).padStart(7)} ${row.p99.toFixed(3).padStart(7)}`,
  );
}
