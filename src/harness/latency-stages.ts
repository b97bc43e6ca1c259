/**
 * Where a put's latency goes, from two records of the same run on the same clock
 * (CLOCK_MONOTONIC): the bench's per-put log (`ws-throughput --latency-log`: send time and
 * latency) and the kernel's thread wake-ups (`perf sched record -k CLOCK_MONOTONIC`, printed by
 * `perf sched timehist -w`). After each put's send it follows the wake-ups its path makes: the
 * load process wakes the server's event loop, the event loop wakes a shard worker, the worker
 * wakes the event loop, the event loop wakes the load process; the rest, to the put's arrival at
 * its subscriber, is the load's own. A thread that was already running when it was sent work
 * logs no wake-up, so only the puts whose whole chain was found are counted (and said so).
 */
import { sortedPercentile } from './histogram.js';

export interface LoggedPut {
  /** CLOCK_MONOTONIC ms at the send. */
  sentMs: number;
  latencyMs: number;
  measured: boolean;
}

export interface LatencyLog {
  loadPid: number;
  serverPid: number;
  puts: LoggedPut[];
}

/** Parses the bench's log: a `# load <pid> server <pid>` line, then `sent latency measured`. */
export function parseLatencyLog(text: string): LatencyLog {
  const header = /^# load (\d+) server (\d+)/m.exec(text);
  if (!header) throw new Error('latency log: no "# load <pid> server <pid>" line');
  const puts: LoggedPut[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const [sent, latency, measured] = line.trim().split(/\s+/);
    puts.push({ sentMs: Number(sent), latencyMs: Number(latency), measured: measured === '1' });
  }
  return { loadPid: Number(header[1]), serverPid: Number(header[2]), puts };
}

type Role = 'load' | 'server' | 'worker';
/** Wake-up times (ms) by who woke whom, each list ascending. */
export type Wakeups = Map<string, number[]>;

/**
 * Reads `perf sched timehist -w` lines such as
 * `54133.637252 [0001]  node[31758]   awakened: node[31777]` (seconds; a thread of another's
 * process is written `node[tid/pid]`). Keeps wake-ups between the load's main thread, the
 * server's main thread and the server's other threads (its shard workers).
 */
export function parseWakeups(text: string, loadPid: number, serverPid: number): Wakeups {
  const role = (name: string): Role | undefined => {
    const match = /\[(\d+)(?:\/(\d+))?\]$/.exec(name);
    if (!match) return undefined;
    const tid = Number(match[1]);
    const pid = match[2] === undefined ? tid : Number(match[2]);
    if (tid === loadPid) return 'load';
    if (tid === serverPid) return 'server';
    return pid === serverPid ? 'worker' : undefined;
  };
  const wakeups: Wakeups = new Map();
  for (const line of text.split('\n')) {
    const at = line.indexOf(' awakened: ');
    if (at < 0) continue;
    const fields = line.slice(0, at).trim().split(/\s+/);
    const waker = role(fields[fields.length - 1]!);
    const woken = role(
      line
        .slice(at + ' awakened: '.length)
        .trim()
        .split(/\s+/)[0]!,
    );
    if (!waker || !woken) continue;
    const key = `${waker}>${woken}`;
    let list = wakeups.get(key);
    if (!list) wakeups.set(key, (list = []));
    list.push(Number(fields[0]) * 1000);
  }
  for (const list of wakeups.values()) list.sort((a, b) => a - b);
  return wakeups;
}

/** The first time in an ascending list at or after `from`. */
function firstFrom(list: number[] | undefined, from: number): number | undefined {
  if (!list) return undefined;
  let low = 0;
  let high = list.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (list[mid]! < from) low = mid + 1;
    else high = mid;
  }
  return list[low];
}

export const STAGES = [
  'send → server woken',
  'server → worker woken (receive, copy, post)',
  'worker → server woken (check, append)',
  'server → load woken (ack, records sent)',
  'load woken → delivered',
] as const;

export interface StageTable {
  /** Measured puts, and those whose whole chain of wake-ups was found. */
  puts: number;
  traced: number;
  /** Per stage, then the total: p50, p90 and p99 in ms. */
  rows: Array<{ stage: string; p50: number; p90: number; p99: number }>;
}

export function latencyStages(log: LatencyLog, wakeups: Wakeups): StageTable {
  const chain: Array<[Role, Role]> = [
    ['load', 'server'],
    ['server', 'worker'],
    ['worker', 'server'],
    ['server', 'load'],
  ];
  const columns: number[][] = [...STAGES, 'total'].map(() => []);
  const measured = log.puts.filter((put) => put.measured);
  let traced = 0;
  for (const put of measured) {
    const arrival = put.sentMs + put.latencyMs;
    const times = [put.sentMs];
    for (const [from, to] of chain) {
      const next = firstFrom(wakeups.get(`${from}>${to}`), times[times.length - 1]!);
      if (next === undefined || next > arrival) break;
      times.push(next);
    }
    if (times.length !== chain.length + 1) continue;
    traced++;
    times.push(arrival);
    for (let i = 0; i < STAGES.length; i++) columns[i]!.push(times[i + 1]! - times[i]!);
    columns[STAGES.length]!.push(put.latencyMs);
  }
  const rows = [...STAGES, 'total'].map((stage, i) => {
    const sorted = columns[i]!.sort((a, b) => a - b);
    return {
      stage,
      p50: sortedPercentile(sorted, 0.5),
      p90: sortedPercentile(sorted, 0.9),
      p99: sortedPercentile(sorted, 0.99),
    };
  });
  return { puts: measured.length, traced, rows };
}
