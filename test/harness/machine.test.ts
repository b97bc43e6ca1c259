/**
 * The machine's CPU times from /proc/stat, and the stolen share between two readings.
 */
import { existsSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import {
  freePageReporting,
  machineCpuTimes,
  parseCpuTimes,
  reportsFreePages,
  stealPercent,
} from '../../src/harness/machine.js';

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

  it('takes steal from the eighth column and leaves the guest columns out of the total', () => {
    const stat = 'cpu  100 2 30 800 4 0 6 58 40 0\ncpu0 50 1 15 400 2 0 3 29 20 0\n';
    expect(parseCpuTimes(stat)).toEqual({ total: 1000, steal: 58 });
    expect(parseCpuTimes('intr 1 2 3\n')).toBeUndefined();
    expect(parseCpuTimes('cpu  1 2 3\n')).toBeUndefined();
  });

  it('gives the stolen share of the time between two readings, NaN without two', () => {
    expect(stealPercent({ total: 1000, steal: 10 }, { total: 1400, steal: 50 })).toBe(10);
    expect(stealPercent({ total: 1000, steal: 10 }, { total: 1000, steal: 10 })).toBeNaN();
    expect(stealPercent(undefined, { total: 1400, steal: 50 })).toBeNaN();
  });

  it('finds a balloon that reports free pages by its device id and its fifth feature bit', () => {
    const features = (bits: number[]) =>
      Array.from({ length: 64 }, (_, i) => (bits.includes(i) ? '1' : '0')).join('');
    const disk = { device: '0x0002\n', features: features([5, 9, 32]) };
    expect(
      reportsFreePages([disk, { device: '0x0005\n', features: features([1, 2, 5, 32]) }]),
    ).toBe(true);
    expect(reportsFreePages([disk, { device: '0x0005', features: features([1, 2, 32]) }])).toBe(
      false,
    );
    // Bit 5 set on another device (a block device) is not a balloon's.
    expect(reportsFreePages([disk])).toBe(false);
    expect(reportsFreePages([])).toBe(false);
  });

  it('says whether this machine reports free pages where sysfs lists virtio devices, nothing elsewhere', () => {
    const reporting = freePageReporting();
    if (existsSync('/sys/bus/virtio/devices')) expect(typeof reporting).toBe('boolean');
    else expect(reporting).toBeUndefined();
  });
});
