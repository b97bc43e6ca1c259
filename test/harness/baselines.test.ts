/**
 * The raw write baselines benchmark figures are compared with: each measures for about the time
 * it is given, reports a finite rate (and the growing one its CPU per MB), and leaves nothing
 * behind in the directory it wrote to.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { growingPageCacheWrite, pageCacheWriteMBps } from '../../src/harness/baselines.js';

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

  it('recycling page-cache write: a rate, and no file left', () => {
    const rate = pageCacheWriteMBps(dir, SECONDS);
    expect(rate).toBeGreaterThan(0);
    expect(Number.isFinite(rate)).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });
});
