/**
 * The columns of a bench result and each result's cells, as text: the terminal table, the
 * Markdown table (bench.ts) and the HTML report's table (report-html.ts) all show these.
 */
import type { BenchResult } from './bench.js';

/** A figure with thousands separators and `digits` decimals; '–' when there is none. */
export function fmt(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

export function formatSize(bytes: number): string {
  return bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

export const COLUMNS = [
  'target',
  'path',
  'op',
  'method',
  'record',
  'shards',
  'records/s',
  'MB/s',
  'p50 ms',
  'p99 ms',
  'p99.9 ms',
  '= Kinesis shards',
  'vs baseline',
  'CPU ms/MB',
  'verified',
] as const;

export function rowCells(r: BenchResult): string[] {
  const identity = [r.target, r.path, r.op, r.method, formatSize(r.recordBytes), String(r.shards)];
  if (!r.available) {
    return [...identity, 'unavailable', '', '', '', '', '', '', '', r.reason ?? ''];
  }
  return [
    ...identity,
    fmt(r.recordsPerSec),
    fmt(r.MBps, 1),
    fmt(r.latencyMs?.p50, 2),
    fmt(r.latencyMs?.p99, 2),
    fmt(r.latencyMs?.p999, 2),
    fmt(r.shardEquivalents),
    `${fmt(r.baseline.ratio * 100, 1)} % ${r.path !== 'embedded' ? 'loopback' : r.method.includes('fsync') ? 'disk' : r.op === 'put' ? 'page-cache write' : 'page-cache read'}`,
    fmt(r.cpu.msPerMB, 1),
    r.verified ? (r.verified.ok ? 'yes' : `NO ${r.verified.read}/${r.verified.expected}`) : '',
  ];
}
