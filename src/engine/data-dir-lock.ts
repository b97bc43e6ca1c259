/**
 * One engine per data directory: two processes appending to the same segments would corrupt
 * them. `<data>/LOCK` names its owner, created exclusively, and its owner touches it every
 * DATA_DIR_LOCK_REFRESH_MS.
 *
 * The LOCK holds the owner's process id and, where Linux's /proc tells them, the boot it runs
 * in, its pid namespace and its start time (`<pid> <boot id> <pid namespace> <start ticks>`).
 * An opener in the same boot and pid namespace knows for certain whether the owner runs: a
 * process with that id and that start time. If it runs, the directory is refused, however long
 * the LOCK has gone untouched (an owner stopped with SIGSTOP or Ctrl-Z, or paused in a debugger,
 * keeps its directory, and cannot wake up to find a second writer in its files); if not, the
 * LOCK is taken over at once (after `kill -9`, a zombie included, and when its id now names
 * another process).
 *
 * Otherwise (another pid namespace, as two containers sharing a volume, where an id names
 * nothing; another kernel: another host or VM sharing the volume, or an earlier boot; a LOCK of
 * the older form, the id alone; no /proc, or one hiding the owner) the heartbeat decides: a LOCK is
 * taken over when no process has its id, or when nobody has touched it for
 * DATA_DIR_LOCK_STALE_MS, which also covers an id that now names another process (a container's
 * entry process, always pid 1, killed and started again). A LOCK naming this process's own id
 * that this process does not hold is then an earlier process with the same id, or one in
 * another pid namespace sharing the directory: the opener waits until it has gone unrefreshed
 * that long, and otherwise refuses.
 */
import {
  closeSync,
  linkSync,
  openSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
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

/**
 * Where a process runs and since when, as far as /proc shows it: two processes with the same
 * boot id and pid namespace see the same process ids, and a process id with the same start time
 * is the same process.
 */
interface ProcessIdentity {
  bootId: string;
  pidNamespace: string;
  startTicks: string;
}

/**
 * Process `pid` as /proc/<pid>/stat shows it: its state letter (field 3) and its start time in
 * clock ticks since boot (field 22); undefined when no such process is visible.
 */
function processStat(pid: number | 'self'): { state: string; startTicks: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The command name (field 2) is in parentheses and may hold spaces and parentheses itself.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = fields[3 - 3];
    const start = fields[22 - 3];
    if (state === undefined || start === undefined || !/^\d+$/.test(start)) return undefined;
    return { state, startTicks: start };
  } catch {
    return undefined;
  }
}

/** The start time of process `pid` in clock ticks since boot, or undefined if none is visible. */
export function processStartTicks(pid: number | 'self'): string | undefined {
  return processStat(pid)?.startTicks;
}

/**
 * This process's identity, or undefined where /proc does not tell it: not Linux, or a /proc
 * mounted for another pid namespace than this process's (its ids would name other processes).
 */
function ownIdentity(): ProcessIdentity | undefined {
  try {
    if (readlinkSync('/proc/self') !== String(process.pid)) return undefined;
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim();
    const pidNamespace = readlinkSync('/proc/self/ns/pid');
    const startTicks = processStartTicks('self');
    if (startTicks === undefined || !/^\S+$/.test(bootId) || !/^\S+$/.test(pidNamespace)) {
      return undefined;
    }
    return { bootId, pidNamespace, startTicks };
  } catch {
    return undefined;
  }
}

interface LockContents {
  /** The owner's process id; 0 when unreadable or still being written. */
  owner: number;
  /** Where the owner ran, when it wrote it. */
  identity?: ProcessIdentity;
  /** The LOCK as read, and when it was last touched: what a take-over compares against. */
  text: string;
  mtimeMs: number;
}

function inspect(path: string): LockContents | undefined {
  try {
    const mtimeMs = statSync(path).mtimeMs;
    const text = readFileSync(path, 'latin1');
    const [pid = '', bootId, pidNamespace, startTicks, ...rest] = text.trim().split(' ');
    const owner = /^\d{1,10}$/.test(pid) ? Number(pid) : 0;
    const found = { owner, text, mtimeMs };
    if (owner === 0) return found;
    if (bootId === undefined || pidNamespace === undefined || startTicks === undefined) {
      return found;
    }
    if (rest.length > 0) return { ...found, owner: 0 };
    return { ...found, identity: { bootId, pidNamespace, startTicks } };
  } catch {
    return undefined;
  }
}

/**
 * Whether the LOCK's owner runs, where this process can tell for certain: the same boot (the
 * same kernel) and the same pid namespace, where its id and start time name one process.
 * Undefined where it cannot, and the heartbeat decides: another pid namespace (a container),
 * another kernel (another host or VM sharing the volume, or an earlier boot, whose LOCK has long
 * gone untouched), a LOCK of the older form, a process /proc hides (`hidepid`).
 */
function ownerRuns(lock: LockContents, self: ProcessIdentity | undefined): boolean | undefined {
  const owner = lock.identity;
  if (owner === undefined || self === undefined) return undefined;
  if (owner.bootId !== self.bootId || owner.pidNamespace !== self.pidNamespace) return undefined;
  const stat = processStat(lock.owner);
  if (stat === undefined) return processExists(lock.owner) ? undefined : false;
  // A zombie (killed, not yet reaped by its parent) has stopped for good.
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return stat.startTicks === owner.startTicks;
}

/**
 * Removes a LOCK found stale. It is moved aside first, so that of two openers taking it over,
 * only one removes it; if what was moved is not what was found (another opener took over
 * meanwhile and wrote its own: each LOCK's text names its process), or its owner touched it
 * since, it is put back, where it cannot replace a newer one.
 */
function takeOver(path: string, found: LockContents): void {
  const aside = `${path}.stale-${process.pid}`;
  try {
    renameSync(path, aside);
  } catch {
    return; // another opener moved it first
  }
  const moved = inspect(aside);
  if (moved !== undefined && (moved.text !== found.text || moved.mtimeMs > found.mtimeMs)) {
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
  /** The LOCK was found naming another engine (said once). */
  private lost = false;

  private constructor(
    private readonly path: string,
    /** What this engine wrote in its LOCK. */
    private readonly contents: string,
  ) {
    held.add(path);
    this.refresh = setInterval(() => this.touch(), DATA_DIR_LOCK_REFRESH_MS);
    this.refresh.unref();
  }

  /**
   * Keeps the LOCK fresh, and says once, loudly, if it no longer names this engine: another
   * took the directory over (this one was stopped past the heartbeat, seen from another
   * namespace or host), and two engines may now write the same files.
   */
  private touch(): void {
    let text: string;
    try {
      text = readFileSync(this.path, 'latin1');
    } catch {
      return; // removed under us (the directory deleted): nothing left to keep fresh
    }
    if (text !== this.contents) {
      if (!this.lost) {
        this.lost = true;
        console.error(
          `runnel: the LOCK of ${dirname(this.path)} now names another engine (${text.trim()}), ` +
            'which took the data directory over while this one was not refreshing it: stop one of them.',
        );
      }
      return;
    }
    const now = new Date();
    try {
      utimesSync(this.path, now, now);
    } catch {
      // Moved aside by an opener between the read and now: the next tick sees what came of it.
    }
  }

  static async acquire(dataDir: string): Promise<DataDirLock> {
    const path = join(dataDir, LOCK_FILE);
    if (held.has(path))
      throw new Error(`runnel: data directory ${dataDir} is already open in this process`);
    const deadline = Date.now() + DATA_DIR_LOCK_STALE_MS + DATA_DIR_LOCK_REFRESH_MS;
    const self = ownIdentity();
    const contents = self
      ? `${process.pid} ${self.bootId} ${self.pidNamespace} ${self.startTicks}`
      : String(process.pid);
    for (;;) {
      try {
        const fd = openSync(path, 'wx');
        writeSync(fd, contents);
        closeSync(fd);
        return new DataDirLock(path, contents);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const lock = inspect(path);
      if (lock === undefined) continue; // removed meanwhile: try again
      const idleMs = Date.now() - lock.mtimeMs;
      const runs = ownerRuns(lock, self);
      if (runs === true) {
        throw new Error(
          `runnel: data directory ${dataDir} is in use by process ${lock.owner}` +
            (idleMs > DATA_DIR_LOCK_STALE_MS
              ? ` (running, though it has not touched its LOCK for ${Math.round(idleMs / 1000)} s: stopped or paused?)`
              : ''),
        );
      }
      // "No such process" tells something only of an id of this pid namespace: a LOCK of the
      // older form, the id alone, is taken to be one. An identity of another namespace or
      // kernel names nothing here, and its LOCK waits out the heartbeat.
      const gone =
        runs === false ||
        idleMs > DATA_DIR_LOCK_STALE_MS ||
        (lock.identity === undefined &&
          lock.owner !== 0 &&
          lock.owner !== process.pid &&
          !processExists(lock.owner));
      if (gone) {
        takeOver(path, lock);
        continue;
      }
      if (lock.owner !== 0 && lock.owner !== process.pid) {
        throw new Error(`runnel: data directory ${dataDir} is in use by process ${lock.owner}`);
      }
      // This process's own id (or a LOCK still being written): wait for it to go stale.
      if (Date.now() > deadline) {
        throw new Error(
          `runnel: data directory ${dataDir} is in use by a process with id ${lock.owner} ` +
            `(not this one: another pid namespace), which refreshed its LOCK ${Math.round(idleMs)} ms ago`,
        );
      }
      await sleep(LOCK_POLL_MS);
    }
  }

  release(): void {
    clearInterval(this.refresh);
    held.delete(this.path);
    // Only this engine's own LOCK: one that another engine took over stays its own.
    try {
      if (readFileSync(this.path, 'latin1') !== this.contents) return;
    } catch {
      return;
    }
    rmSync(this.path, { force: true });
  }
}
