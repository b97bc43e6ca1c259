/**
 * Open-loop rate control. Unit `i` (a record) is *intended* to be sent at
 * `startMs + i · 1000 / ratePerSec`, whatever happened to the units before it; a sender asks how
 * many units are due by now and sends them, and latency is measured from each unit's intended
 * time, not from when the sender got round to it. A closed-loop sender (send, wait, send) slows
 * down exactly when the server stalls and so never measures the stall — coordinated omission;
 * measuring from the intended time puts the waiting a stalled server causes into the figures.
 *
 * Also here: the parsers for the `--rate` and `--duration` options.
 */
import { KIB, MIB } from '../limits.js';

const MS_PER_SEC = 1000;

export class OpenLoopSchedule {
  private readonly intervalMs: number;

  /** `maxUnits` bounds the schedule: no more than that many units ever fall due. */
  constructor(
    readonly ratePerSec: number,
    readonly startMs: number,
    readonly maxUnits = Infinity,
  ) {
    if (!(ratePerSec > 0) || !Number.isFinite(ratePerSec))
      throw new Error(`rate must be > 0, got ${ratePerSec}`);
    this.intervalMs = MS_PER_SEC / ratePerSec;
  }

  /** Units whose intended time is at or before `nowMs` (unit 0 is due at the start). */
  dueBy(nowMs: number): number {
    if (nowMs < this.startMs) return 0;
    return Math.min(this.maxUnits, Math.floor((nowMs - this.startMs) / this.intervalMs) + 1);
  }

  /** When unit `i` is intended to be sent. */
  intendedMs(i: number): number {
    return this.startMs + i * this.intervalMs;
  }
}

/** A target rate: records per second, or bytes per second (turned into records by size). */
export type RateSpec = { recordsPerSec: number } | { bytesPerSec: number };

const BYTE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: KIB,
  mib: MIB,
  gib: 1024 * MIB,
};
const COUNT_SUFFIXES: Record<string, number> = { '': 1, k: 1e3, m: 1e6 };

/**
 * Parses `--rate`: `2000`, `2000/s`, `2k` (records/s) or `5MB/s`, `5MiB/s`, `512KB/s` (bytes/s;
 * MB = 10^6 bytes, MiB = 2^20).
 */
export function parseRate(text: string): RateSpec {
  const match = /^\s*([0-9]*\.?[0-9]+)\s*([a-z]*)\s*(\/s)?\s*$/i.exec(text);
  if (!match) throw new Error(`--rate: cannot read '${text}' (examples: 2000, 2k, 5MB/s, 8MiB/s)`);
  const value = Number(match[1]);
  const unit = match[2]!.toLowerCase();
  let spec: RateSpec;
  if (unit in BYTE_UNITS) spec = { bytesPerSec: value * BYTE_UNITS[unit]! };
  else if (unit in COUNT_SUFFIXES || unit === 'rec' || unit === 'records') {
    spec = { recordsPerSec: value * (COUNT_SUFFIXES[unit] ?? 1) };
  } else throw new Error(`--rate: unknown unit '${match[2]}' in '${text}'`);
  const amount = 'recordsPerSec' in spec ? spec.recordsPerSec : spec.bytesPerSec;
  if (!(amount > 0)) throw new Error(`--rate must be above 0, got '${text}'`);
  return spec;
}

/** Records per second for a rate, given the mean record size in bytes. */
export function recordsPerSecOf(rate: RateSpec, meanRecordBytes: number): number {
  return 'recordsPerSec' in rate
    ? rate.recordsPerSec
    : rate.bytesPerSec / Math.max(1, meanRecordBytes);
}

const DURATION_UNITS_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  '': 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Parses `--duration`: `10` or `10s` (seconds), `500ms`, `2m`, `1h`. Returns ms. */
export function parseDurationMs(text: string): number {
  const match = /^\s*([0-9]*\.?[0-9]+)\s*(ms|s|m|h)?\s*$/i.exec(text);
  if (!match) throw new Error(`cannot read duration '${text}' (examples: 10, 10s, 500ms, 2m)`);
  const ms = Number(match[1]) * DURATION_UNITS_MS[(match[2] ?? '').toLowerCase()]!;
  if (!(ms > 0)) throw new Error(`duration must be above 0, got '${text}'`);
  return ms;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, Math.max(0, ms));
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
