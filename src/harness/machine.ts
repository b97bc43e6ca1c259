/**
 * What the figures were measured on, and CPU time of processes (this one and the server's).
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';

/** USER_HZ on Linux: /proc/<pid>/stat times are in these ticks. */
const CLOCK_TICKS_PER_SEC = 100;

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
