// Goal: the latency histogram reports percentiles of known data within its stated precision
// (exact below 128 µs, within 1/128 above), merges, and survives a JSON round trip; the exact
// percentile of kept samples picks the documented index.
import { describe, expect, it } from 'vitest';

import {
  LatencyHistogram,
  SUB_BUCKET_BITS,
  bucketIndexOf,
  bucketRangeUs,
  sortedPercentile,
} from '../../src/harness/histogram.js';
import { seededRandom } from '../../src/harness/workload.js';

const RELATIVE_ERROR = 1 / 2 ** SUB_BUCKET_BITS;

function exactPercentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

describe('LatencyHistogram', () => {
  it('is exact for small values', () => {
    const histogram = new LatencyHistogram();
    for (let us = 1; us <= 100; us++) histogram.recordUs(us);
    expect(histogram.count).toBe(100);
    expect(histogram.percentileMs(50)).toBe(0.05);
    expect(histogram.percentileMs(99)).toBe(0.099);
    expect(histogram.percentileMs(100)).toBe(0.1);
    expect(histogram.minMs).toBe(0.001);
    expect(histogram.meanMs).toBeCloseTo(0.0505, 6);
  });

  it('matches exact percentiles of 1..100,000 µs within its precision', () => {
    const histogram = new LatencyHistogram();
    const values: number[] = [];
    for (let us = 1; us <= 100_000; us++) {
      histogram.recordUs(us);
      values.push(us);
    }
    for (const p of [50, 90, 99, 99.9]) {
      const exact = exactPercentile(values, p) / 1000;
      expect(Math.abs(histogram.percentileMs(p) - exact) / exact).toBeLessThanOrEqual(
        RELATIVE_ERROR,
      );
    }
    expect(histogram.maxMs).toBe(100);
  });

  it('matches exact percentiles of a skewed random sample (seed 42)', () => {
    const random = seededRandom(42);
    const histogram = new LatencyHistogram();
    const values: number[] = [];
    for (let i = 0; i < 50_000; i++) {
      // Log-normal-ish latencies from 0.1 ms to seconds.
      const ms = Math.exp(random() * 4 + random() * 4) / 10;
      histogram.recordMs(ms);
      values.push(Math.round(ms * 1000) / 1000);
    }
    values.sort((a, b) => a - b);
    for (const p of [50, 99, 99.9]) {
      const exact = exactPercentile(values, p);
      expect(Math.abs(histogram.percentileMs(p) - exact) / exact).toBeLessThanOrEqual(
        RELATIVE_ERROR,
      );
    }
  });

  it('weights a value recorded with a count', () => {
    const histogram = new LatencyHistogram();
    histogram.recordMs(1, 990);
    histogram.recordMs(100, 10);
    expect(histogram.count).toBe(1000);
    expect(histogram.percentileMs(99)).toBeCloseTo(1, 1);
    expect(histogram.percentileMs(99.9)).toBeCloseTo(100, 0);
  });

  it('buckets cover every value exactly once', () => {
    for (const us of [0, 1, 127, 128, 129, 255, 256, 1000, 65_535, 1e6, 2 ** 33 + 5]) {
      const [low, high] = bucketRangeUs(bucketIndexOf(us));
      expect(us).toBeGreaterThanOrEqual(low);
      expect(us).toBeLessThanOrEqual(high);
    }
    expect(bucketIndexOf(128)).toBe(bucketIndexOf(127) + 1);
  });

  it('merges and round-trips through JSON', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) (i % 2 ? a : b).recordMs(i / 10);
    const merged = LatencyHistogram.fromJSON(JSON.parse(JSON.stringify(a.toJSON()))).merge(b);
    const whole = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) whole.recordMs(i / 10);
    expect(merged.summary()).toEqual(whole.summary());
    expect(merged.chartBuckets().reduce((sum, bucket) => sum + bucket.count, 0)).toBe(1000);
  });

  it('is empty until something is recorded', () => {
    const histogram = new LatencyHistogram();
    expect(histogram.percentileMs(50)).toBeNaN();
    expect(histogram.chartBuckets()).toEqual([]);
  });
});

describe('sortedPercentile', () => {
  it('takes the value at index floor(q · n) of the sorted samples, the last for q = 1', () => {
    const sorted = Array.from({ length: 200 }, (_, i) => i + 1); // 1..200
    expect(sortedPercentile(sorted, 0.5)).toBe(101);
    expect(sortedPercentile(sorted, 0.99)).toBe(199);
    expect(sortedPercentile(sorted, 0)).toBe(1);
    expect(sortedPercentile(sorted, 1)).toBe(200);
    expect(sortedPercentile([7], 0.99)).toBe(7);
    expect(sortedPercentile([], 0.5)).toBeNaN();
  });
});
