/** The file piscina loads for a shard worker thread: see esm-entry.cts. */
import { join } from 'node:path';
import { esmEntry } from './esm-entry.cjs';

export = esmEntry(join(__dirname, 'shard-worker.js'));
