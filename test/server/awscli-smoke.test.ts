/**
 * Goal: the AWS CLI (Debian's `awscli`, botocore over HTTP/1.1) works against `runnel serve`, by
 * running scripts/awscli-smoke.sh, which installs the Debian package when it is missing. Skipped,
 * with the reason printed, only on a machine with neither the package nor apt-get to install it.
 */

import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../../scripts/awscli-smoke.sh', import.meta.url));
const SCRIPT_TIMEOUT_MS = 180_000;

function installable(): boolean {
  try {
    execFileSync('sh', ['-c', 'test -x /usr/bin/aws || command -v apt-get'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const available = installable();
if (!available) {
  console.warn('awscli-smoke.test: skipped: no /usr/bin/aws and no apt-get to install awscli');
}

it.skipIf(!available)(
  'passes scripts/awscli-smoke.sh (create, put, iterate, get, list, reshard with the AWS CLI)',
  async () => {
    const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile('bash', [SCRIPT], { timeout: SCRIPT_TIMEOUT_MS }, (error, _stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stderr });
      });
    });
    expect(result.stderr).toContain('awscli-smoke: all checks passed');
    expect(result.code).toBe(0);
  },
  SCRIPT_TIMEOUT_MS + 10_000,
);
