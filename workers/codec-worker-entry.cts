/** The file piscina loads for a codec thread: see esm-entry.cts. */
import { join } from 'node:path';
import { esmEntry } from './esm-entry.cjs';

export = esmEntry(join(__dirname, 'codec-worker.js'));
