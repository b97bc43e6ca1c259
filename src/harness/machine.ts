/**
 * What the figures were measured on, and CPU time of processes (this one and the server's).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism, cpus, totalmem } from 'node:os';

/** USER_HZ on Linux: /proc/<pid>/stat times are in these ticks. */
const CLOCK_TICKS_PER_SEC = 100;
/** Where Linux lists virtio devices, each with its device id and negotiated feature bits. */
const VIRTIO_DEVICES_DIR = '/sys/bus/virtio/devices';
/** The virtio device id of a memory balloon. */
const VIRTIO_ID_BALLOON = 5;
/** The balloon's feature bit for free page reporting (VIRTIO_BALLOON_F_REPORTING). */
const VIRTIO_BALLOON_F_REPORTING = 5;

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
  kernel: string;
}

export function machineInfo(): MachineInfo {
  let kernel = '';
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    kernel = 'unknown';
  }
  return {
    cpu: cpus()[0]?.model ?? 'unknown cpu',
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    kernel,
  };
}

export function describeMachine(info: MachineInfo = machineInfo()): string {
  return `${info.cpu} × ${info.cores} cores, ${info.memoryGiB} GiB, ${info.platform} ${info.kernel}, node ${info.node}`;
}

/** user + system CPU seconds of a process (all its threads), from /proc; NaN if unreadable. */
export function processCpuSec(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SEC;
  } catch {
    return NaN;
  }
}

/** user + system CPU seconds of this process (all threads, workers included). */
export function ownCpuSec(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

/** The machine's CPU time, summed over its CPUs, from the first line of /proc/stat (in ticks). */
export interface CpuTimes {
  /** Every state: user, nice, system, idle, iowait, irq, softirq, steal. */
  total: number;
  /** Time the hypervisor ran something else while this machine's CPUs wanted to run. */
  steal: number;
}

/** The machine's CPU times now, or undefined where /proc/stat is not there (not Linux). */
export function machineCpuTimes(): CpuTimes | undefined {
  try {
    return parseCpuTimes(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The summed `cpu` line of /proc/stat's text: user nice system idle iowait irq softirq steal,
 * then guest and guest_nice, which are already counted in user and nice. Undefined if the text
 * does not start with that line.
 */
export function parseCpuTimes(stat: string): CpuTimes | undefined {
  const line = stat.split('\n', 1)[0]!;
  if (!line.startsWith('cpu ')) return undefined;
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (ticks.length < 8 || ticks.some((value) => !Number.isFinite(value))) return undefined;
  return { total: ticks.reduce((sum, value) => sum + value, 0), steal: ticks[7]! };
}

/** The share of the machine's CPU time stolen by the hypervisor between two readings, in %. */
export function stealPercent(before: CpuTimes | undefined, after: CpuTimes | undefined): number {
  if (!before || !after || after.total <= before.total) return NaN;
  return (100 * (after.steal - before.steal)) / (after.total - before.total);
}

/** A virtio device as sysfs gives it: `device` (e.g. `0x0005`) and `features` (one 0/1 per bit). */
export interface VirtioDevice {
  device: string;
  features: string;
}

/**
 * Whether one of these devices is a balloon that reports free pages to the host: memory the
 * guest frees is then given back after a few seconds, and the next touch of it costs the
 * hypervisor's page supply (bench/micro/page-reuse.ts measures it).
 */
export function reportsFreePages(devices: VirtioDevice[]): boolean {
  return devices.some(
    (device) =>
      Number.parseInt(device.device.trim(), 16) === VIRTIO_ID_BALLOON &&
      device.features.trim()[VIRTIO_BALLOON_F_REPORTING] === '1',
  );
}

/** Whether this machine reports free pages to its host; undefined where sysfs does not say. */
export function freePageReporting(): boolean | undefined {
  let names: string[];
  try {
    names = readdirSync(VIRTIO_DEVICES_DIR);
  } catch {
    return undefined;
  }
  const devices: VirtioDevice[] = [];
  for (const name of names) {
    try {
      const read = (file: string) => readFileSync(join(VIRTIO_DEVICES_DIR, name, file), 'utf8');
      devices.push({ device: read('device'), features: read('features') });
    } catch {
      // A device without these files is not a balloon.
    }
  }
  return reportsFreePages(devices);
}

/** freePageReporting() in words, for a benchmark's header: `on`, `off` or `unknown`. */
export function freePageReportingText(): 'on' | 'off' | 'unknown' {
  const reporting = freePageReporting();
  return reporting === undefined ? 'unknown' : reporting ? 'on' : 'off';
}
