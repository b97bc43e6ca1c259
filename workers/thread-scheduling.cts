/**
 * How the engine's helper threads (shard workers, codec threads) are scheduled on Linux: each
 * puts itself under SCHED_BATCH as it starts (the entries shard-worker-entry.cts and
 * codec-worker-entry.cts, which piscina loads when it starts the thread).
 *
 * The event loop hands a helper thread its work and wakes it (piscina's Atomics.notify, a futex
 * wake). When every core is busy, the kernel puts the woken thread on the waker's core, and a
 * thread that has slept (as a helper mostly has) preempts the one that woke it: the event loop
 * then stands still until the helper has done its task or used its slice. Measured in the
 * WebSocket bench (2 cores, load on the same machine): the event loop spent 230–420 µs per
 * task in that notify on average; a quarter of the notifies took 0.5 ms or more, 5 % 2 ms or more
 * (bench/RESULTS.md, session 14).
 *
 * SCHED_BATCH gives the thread the same share of CPU as any other thread of the process (unlike
 * a higher nice value), but it does not preempt a running thread when woken: it runs on the next
 * free core, or when the scheduler next switches on the waker's (its slice or a tick). With it
 * the notify cost 17–22 µs on average.
 *
 * Node has no scheduling call, so the thread runs util-linux's `chrt` on its own thread id,
 * once, from a fixed path (never one found through PATH, where a package's bin could stand in
 * for it). Starting a process forks this one: cheap while it is small, as it is when the engine
 * opens; a thread that replaces one that died later pays it in a grown process (~40 ms of the
 * event loop was measured with a 1 GB heap), which is rare. Elsewhere, or without `chrt`, the
 * thread keeps its policy: this is a matter of speed, not of correctness.
 *
 * A policy set this way is inherited by threads and processes the thread itself starts; the
 * helpers start none.
 *
 * CommonJS, as the entries that call it are (esm-entry.cts says why).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readlinkSync } from 'node:fs';

/** Where util-linux installs `chrt`; tried in order. */
export const CHRT_PATHS: readonly string[] = ['/usr/bin/chrt', '/bin/chrt'];

/** `chrt` answers in a few milliseconds; past this the thread gives up and keeps its policy. */
export const SCHEDULING_COMMAND_TIMEOUT_MS = 2_000;

/** The Linux scheduling policy SCHED_BATCH, as /proc/<pid>/task/<tid>/stat reports it. */
export const SCHED_BATCH = 3;

/** The calling thread's own id (Linux), from /proc/thread-self; undefined where there is none. */
export function currentThreadId(): number | undefined {
  try {
    const link = readlinkSync('/proc/thread-self');
    const tid = Number(link.slice(link.lastIndexOf('/') + 1));
    return Number.isSafeInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/** The first of `paths` that exists, or undefined. */
export function chrtPath(paths: readonly string[] = CHRT_PATHS): string | undefined {
  return paths.find((path) => existsSync(path));
}

/**
 * Puts the calling thread under SCHED_BATCH (see above), with the first `chrt` of `paths`.
 * Returns whether it now is; never throws.
 */
export function scheduleThreadAsBatch(paths: readonly string[] = CHRT_PATHS): boolean {
  if (process.platform !== 'linux') return false;
  const chrt = chrtPath(paths);
  const tid = currentThreadId();
  if (chrt === undefined || tid === undefined) return false;
  try {
    execFileSync(chrt, ['--batch', '--pid', '0', String(tid)], {
      stdio: 'ignore',
      timeout: SCHEDULING_COMMAND_TIMEOUT_MS,
    });
    return true;
  } catch {
    return false;
  }
}
