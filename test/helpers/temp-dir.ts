import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh directory under the system temp dir, removed by the returned cleanup. */
export function tempDir(prefix = 'runnel-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The harness's seeded generator (mulberry32); tests print the seed they use. */
export { seededRandom } from '../../src/harness/workload.js';
