/**
 * One engine per data directory: two processes appending to the same segments would corrupt
 * them. `<data>/LOCK` holds the owning process: its id and, where Linux says, when it started
 * (`/proc/<pid>/stat`'s start time and the boot's id), created exclusively. A lock left by a
 * process that no longer exists (a crash, `kill -9`) is taken over — including when its id now
 * belongs to another process, as after a container's entry process (always pid 1) was killed
 * and started again: the start time tells the two apart.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const LOCK_FILE = 'LOCK';
/** The field of /proc/<pid>/stat, counted after the command's closing parenthesis, that holds the start time. */
const STAT_START_TIME_FIELD = 19;
const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** When process `pid` started, as `<clock ticks since boot>@<boot id>`; undefined where unknown. */
function startOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = fields[STAT_START_TIME_FIELD];
    const boot = readFileSync(BOOT_ID_FILE, 'utf8').trim();
    return ticks === undefined || boot === '' ? undefined : `${ticks}@${boot}`;
  } catch {
    return undefined;
  }
}

/** Whether the process a LOCK names (its id, and its start if recorded) is still running. */
function ownerRuns(pid: number, start: string | undefined): boolean {
  if (!processExists(pid)) return false;
  if (start === undefined) return true;
  const now = startOf(pid);
  return now === undefined || now === start;
}

export class DataDirLock {
  private constructor(private readonly path: string) {}

  static acquire(dataDir: string): DataDirLock {
    const path = join(dataDir, LOCK_FILE);
    const self = startOf(process.pid);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, 'wx');
        writeSync(fd, self === undefined ? String(process.pid) : `${process.pid} ${self}`);
        closeSync(fd);
        return new DataDirLock(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const [pidText, start] = readFileSync(path, 'utf8').trim().split(/\s+/);
        const owner = Number(pidText);
        if (Number.isInteger(owner) && owner > 0 && ownerRuns(owner, start)) {
          if (owner === process.pid) {
            throw new Error(`runnel: data directory ${dataDir} is already open in this process`);
          }
          throw new Error(`runnel: data directory ${dataDir} is in use by process ${owner}`);
        }
        rmSync(path, { force: true });
      }
    }
    throw new Error(`runnel: could not lock data directory ${dataDir}`);
  }

  release(): void {
    rmSync(this.path, { force: true });
  }
}
