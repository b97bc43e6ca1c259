/**
 * The machine's CPU times from /proc/stat, and the stolen share between two readings.
 */
import { describe, expect, it } from 'vitest';

import { machineCpuTimes, stealPercent } from '../../src/harness/machine.js';

describe('machine CPU times', () => {
  it('reads /proc/stat on Linux, and the times only grow', async () => {
    const before = machineCpuTimes();
    if (process.platform !== 'linux') {
      expect(before).toBeUndefined();
      return;
    }
    expect(before).toBeDefined();
    expect(before!.total).toBeGreaterThan(0);
    expect(before!.steal).toBeGreaterThanOrEqual(0);
    expect(before!.steal).toBeLessThanOrEqual(before!.total);
    const spinUntil = Date.now() + 50;
    while (Date.now() < spinUntil);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const after = machineCpuTimes()!;
    expect(after.total).toBeGreaterThan(before!.total);
    const stolen = stealPercent(before, after);
    expect(stolen).toBeGreaterThanOrEqual(0);
    expect(stolen).toBeLessThanOrEqual(100);
  });

  it('gives the stolen share of the time between two readings, NaN without two', () => {
    expect(stealPercent({ total: 1000, steal: 10 }, { total: 1400, steal: 50 })).toBe(10);
    expect(stealPercent({ total: 1000, steal: 10 }, { total: 1000, steal: 10 })).toBeNaN();
    expect(stealPercent(undefined, { total: 1400, steal: 50 })).toBeNaN();
  });
});
