/**
 * The raw baselines benchmark figures are compared with: each write baseline measures for about
 * the time it is given, reports a finite rate (and the growing one its CPU per MB), and leaves
 * nothing behind in the directory it wrote to; the loopback round trip sends at the rate it is
 * given and times every message it sends back.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  growingPageCacheWrite,
  heldPageCacheWrite,
  loopbackRoundTrip,
  pageCacheWriteMBps,
  recycledPageCacheWrite,
} from '../../src/harness/baselines.js';

const dir = mkdtempSync(join(tmpdir(), 'runnel-baselines-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SECONDS = 0.3;

describe('write baselines', () => {
  it('growing page-cache write: a rate, its CPU per MB, and no file left', () => {
    const started = performance.now();
    const rate = growingPageCacheWrite(dir, SECONDS);
    const elapsed = (performance.now() - started) / 1000;
    expect(rate.MBps).toBeGreaterThan(0);
    expect(Number.isFinite(rate.MBps)).toBe(true);
    expect(rate.cpuMsPerMB).toBeGreaterThan(0);
    expect(Number.isFinite(rate.cpuMsPerMB)).toBe(true);
    // The writer checks its deadline between 1 MiB writes; removing the files is after it.
    expect(elapsed).toBeLessThan(SECONDS + 5);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('held page-cache write: its files stay until released, and a recycling write beside them leaves them be', () => {
    const held = heldPageCacheWrite(dir, SECONDS);
    expect(held.MBps).toBeGreaterThan(0);
    expect(held.cpuMsPerMB).toBeGreaterThan(0);
    const files = readdirSync(dir);
    expect(files.length).toBeGreaterThan(0);
    const recycled = recycledPageCacheWrite(dir, SECONDS);
    expect(recycled.MBps).toBeGreaterThan(0);
    expect(Number.isFinite(recycled.cpuMsPerMB)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(files.sort());
    held.release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('recycling page-cache write: a rate, and no file left', () => {
    const rate = pageCacheWriteMBps(dir, SECONDS);
    expect(rate).toBeGreaterThan(0);
    expect(Number.isFinite(rate)).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('loopback round trip', () => {
  it('sends at the rate it is given and times every message back from the echo process', async () => {
    const trips = await loopbackRoundTrip(256 * 1024, 100, SECONDS, SECONDS);
    // Paced at 100/s, 0.3 s counted after 0.3 s of warm-up: 30 slots (one more if the last one
    // is hit). A stall of this process near the end can cost a few; none can add any.
    expect(trips.sent).toBeGreaterThanOrEqual(20);
    expect(trips.sent).toBeLessThanOrEqual(31);
    expect(trips.samples).toBe(trips.sent);
    expect(trips.p50Ms).toBeGreaterThan(0);
    expect(trips.p99Ms).toBeGreaterThanOrEqual(trips.p50Ms);
    expect(Number.isFinite(trips.p99Ms)).toBe(true);
  });
});
