/** The file piscina loads for a codec thread: see esm-entry.cts. */
import { join } from 'node:path';
import { esmEntry } from './esm-entry.cjs';
import { scheduleThreadAsBatch } from './thread-scheduling.cjs';

// Woken by the event loop for every task: under SCHED_BATCH it does not preempt the event loop.
scheduleThreadAsBatch();

export = esmEntry(join(__dirname, 'codec-worker.js'));
