/**
 * One engine per data directory: two processes appending to the same segments would corrupt
 * them. `<data>/LOCK` holds the owning process id, created exclusively, and its owner touches it
 * every DATA_DIR_LOCK_REFRESH_MS. A lock is taken over when its owner is gone: when no process
 * has its id, or when nobody has touched it for DATA_DIR_LOCK_STALE_MS — which also covers an id
 * that now names another process (after a reboot, or a container's entry process, always pid 1,
 * killed and started again). A LOCK naming this process's own id that this process does not hold
 * is an earlier process with the same id, or one in another pid namespace sharing the directory:
 * the opener waits until it has gone unrefreshed that long, and otherwise refuses.
 */
import {
  closeSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DATA_DIR_LOCK_REFRESH_MS, DATA_DIR_LOCK_STALE_MS } from '../limits.js';

const LOCK_FILE = 'LOCK';
/** How often an opener waiting on an unrefreshed-looking LOCK of its own id looks again. */
const LOCK_POLL_MS = 250;

/** Locks this process holds, by path: a second open here is refused at once. */
const held = new Set<string>();

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The LOCK's owner id (0 when unreadable or still being written) and how long since it was touched. */
function inspect(path: string): { owner: number; idleMs: number } | undefined {
  try {
    const idleMs = Date.now() - statSync(path).mtimeMs;
    const owner = Number(readFileSync(path, 'utf8'));
    return { owner: Number.isSafeInteger(owner) && owner > 0 ? owner : 0, idleMs };
  } catch {
    return undefined;
  }
}

/**
 * Removes a LOCK found stale. It is moved aside first, so that of two openers taking it over,
 * only one removes it; if what was moved is fresher than what was found (another opener took
 * over meanwhile and wrote its own), it is put back, where it cannot replace a newer one.
 */
function takeOver(path: string, idleMs: number): void {
  const aside = `${path}.stale-${process.pid}`;
  try {
    renameSync(path, aside);
  } catch {
    return; // another opener moved it first
  }
  const moved = inspect(aside);
  if (moved !== undefined && moved.idleMs < idleMs && moved.idleMs <= DATA_DIR_LOCK_STALE_MS) {
    try {
      linkSync(aside, path);
    } catch {
      // A LOCK is there again: that one stands.
    }
  }
  rmSync(aside, { force: true });
}

export class DataDirLock {
  private readonly refresh: ReturnType<typeof setInterval>;

  private constructor(private readonly path: string) {
    held.add(path);
    this.refresh = setInterval(() => {
      try {
        const now = new Date();
        utimesSync(path, now, now);
      } catch {
        // Removed under us (the directory deleted): nothing left to keep fresh.
      }
    }, DATA_DIR_LOCK_REFRESH_MS);
    this.refresh.unref();
  }

  static async acquire(dataDir: string): Promise<DataDirLock> {
    const path = join(dataDir, LOCK_FILE);
    if (held.has(path))
      throw new Error(`runnel: data directory ${dataDir} is already open in this process`);
    const deadline = Date.now() + DATA_DIR_LOCK_STALE_MS + DATA_DIR_LOCK_REFRESH_MS;
    for (;;) {
      try {
        const fd = openSync(path, 'wx');
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return new DataDirLock(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const lock = inspect(path);
      if (lock === undefined) continue; // removed meanwhile: try again
      const gone =
        lock.idleMs > DATA_DIR_LOCK_STALE_MS ||
        (lock.owner !== 0 && lock.owner !== process.pid && !processExists(lock.owner));
      if (gone) {
        takeOver(path, lock.idleMs);
        continue;
      }
      if (lock.owner !== 0 && lock.owner !== process.pid) {
        throw new Error(`runnel: data directory ${dataDir} is in use by process ${lock.owner}`);
      }
      // This process's own id (or a LOCK still being written): wait for it to go stale.
      if (Date.now() > deadline) {
        throw new Error(
          `runnel: data directory ${dataDir} is in use by a process with id ${lock.owner} ` +
            `(not this one: another pid namespace), which refreshed its LOCK ${Math.round(lock.idleMs)} ms ago`,
        );
      }
      await sleep(LOCK_POLL_MS);
    }
  }

  release(): void {
    clearInterval(this.refresh);
    held.delete(this.path);
    rmSync(this.path, { force: true });
  }
}
