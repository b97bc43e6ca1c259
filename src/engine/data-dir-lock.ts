/**
 * One engine per data directory: two processes appending to the same segments would corrupt
 * them. `<data>/LOCK` holds the owning process id, created exclusively. A lock left by a process
 * that no longer exists (a crash, `kill -9`) is taken over.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const LOCK_FILE = 'LOCK';

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class DataDirLock {
  private constructor(private readonly path: string) {}

  static acquire(dataDir: string): DataDirLock {
    const path = join(dataDir, LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, 'wx');
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return new DataDirLock(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const owner = Number(readFileSync(path, 'utf8'));
        if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && processExists(owner)) {
          throw new Error(`runnel: data directory ${dataDir} is in use by process ${owner}`);
        }
        if (owner === process.pid) {
          throw new Error(`runnel: data directory ${dataDir} is already open in this process`);
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
