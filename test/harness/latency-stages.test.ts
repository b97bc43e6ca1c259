/**
 * The stage split of a put's latency (src/harness/latency-stages.ts) on a hand-made log and
 * `perf sched timehist -w` output whose stages are known.
 */
import { describe, expect, it } from 'vitest';
import {
  STAGES,
  latencyStages,
  parseLatencyLog,
  parseWakeups,
} from '../../src/harness/latency-stages.js';

const LOAD = 31758;
const SERVER = 31777;

/** A timehist wake-up line (time in seconds). */
function woke(seconds: number, waker: string, woken: string): string {
  return `   ${seconds.toFixed(6)} [0001]  ${waker}                                      awakened: ${woken}`;
}

const load = `node[${LOAD}]`;
const server = `node[${SERVER}]`;
const worker = `node[31789/${SERVER}]`;

describe('latency stages', () => {
  it('splits each put at the wake-ups its path makes, and counts only puts traced whole', () => {
    // Put 1, sent at 100.000 ms: server woken +0.2, worker +0.5, server +0.4, load +0.3; arrives at 101.8.
    // Put 2, sent at 200.000 ms: the same shape, twice as slow; arrives at 203.6.
    // Put 3, sent at 300.000 ms: the worker was running already (no wake-up): not traced.
    // Put 4: the warm-up, not measured.
    const timehist = [
      '           time    cpu  task name                       wait time  sch delay   run time',
      woke(0.1002, load, server),
      woke(0.1007, server, worker),
      woke(0.1011, worker, server),
      woke(0.1014, server, load),
      woke(0.15, 'swapper', load), // a timer: not between the three threads
      woke(0.2004, load, server),
      woke(0.2014, server, worker),
      woke(0.2022, worker, server),
      woke(0.2028, server, load),
      woke(0.3001, load, server),
      woke(0.3009, `node[1/2]`, load), // another process
    ].join('\n');
    const text = [
      `# load ${LOAD} server ${SERVER}`,
      '50.000 1.000 0',
      '100.000 1.800 1',
      '200.000 3.600 1',
      '300.000 1.500 1',
    ].join('\n');
    const log = parseLatencyLog(text);
    expect(log).toMatchObject({ loadPid: LOAD, serverPid: SERVER });
    const table = latencyStages(log, parseWakeups(timehist, LOAD, SERVER));
    expect(table.puts).toBe(3);
    expect(table.traced).toBe(2);
    expect(table.rows.map((row) => row.stage)).toEqual([...STAGES, 'total']);
    const p50 = table.rows.map((row) => Number(row.p50.toFixed(3)));
    const p99 = table.rows.map((row) => Number(row.p99.toFixed(3)));
    // Two samples: the median is the larger one here (floor(0.5 × 2) = index 1), as is the p99.
    expect(p50).toEqual([0.4, 1.0, 0.8, 0.6, 0.8, 3.6]);
    expect(p99).toEqual(p50);
  });

  it('refuses a log without the line naming its processes', () => {
    expect(() => parseLatencyLog('100.000 1.800 1\n')).toThrow(/load <pid> server <pid>/);
  });
});
