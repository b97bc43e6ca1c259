/**
 * How the engine's helper threads (shard workers, codec threads) are scheduled on Linux.
 *
 * The event loop hands a helper thread its work and wakes it (piscina's Atomics.notify, a futex
 * wake). When every core is busy, the kernel puts the woken thread on the waker's core, and a
 * thread that has slept (as a helper mostly has) preempts the one that woke it: the event loop
 * then stands still until the helper has done its task or used its slice. Measured in the
 * WebSocket bench (2 cores, load on the same machine): the event loop spent 230–420 µs per
 * task in that notify, 0.5–2 ms for a quarter of them (bench/RESULTS.md, session 14).
 *
 * So each helper thread asks for SCHED_BATCH: the same share of CPU as any other thread of the
 * process (unlike a higher nice value), but it does not preempt a running thread when woken;
 * it runs on the next free core or when the waker's slice ends. With it the notify cost 17–22
 * µs on average. Linux offers no other way to preempt less from Node (no scheduling call in its
 * API), so the thread asks util-linux's `chrt` to set its own policy, once, when it starts.
 *
 * Elsewhere, or without `chrt`, the thread keeps the default policy: this is a matter of speed,
 * not of correctness.
 */
import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';

/** `chrt` answers in a few milliseconds; past this the thread gives up and keeps its policy. */
export const SCHEDULING_COMMAND_TIMEOUT_MS = 2_000;

/** The Linux scheduling policy SCHED_BATCH, as /proc/<pid>/task/<tid>/stat reports it. */
export const SCHED_BATCH = 3;

/**
 * The calling thread's own id (Linux), from /proc/thread-self, or undefined where there is none.
 */
export function currentThreadId(): number | undefined {
  try {
    const link = readlinkSync('/proc/thread-self');
    const tid = Number(link.slice(link.lastIndexOf('/') + 1));
    return Number.isSafeInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Puts the calling thread under SCHED_BATCH (see above). Returns whether it now is; never
 * throws.
 */
export function scheduleThreadAsBatch(): boolean {
  if (process.platform !== 'linux') return false;
  const tid = currentThreadId();
  if (tid === undefined) return false;
  try {
    execFileSync('chrt', ['--batch', '--pid', '0', String(tid)], {
      stdio: 'ignore',
      timeout: SCHEDULING_COMMAND_TIMEOUT_MS,
    });
    return true;
  } catch {
    return false;
  }
}
