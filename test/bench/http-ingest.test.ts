/**
 * Goal: the HTTP ingest benchmark's lean clients speak the protocols correctly. Both raw-socket
 * senders (HTTP/1.1, and HTTP/2 with its own framing, HPACK and flow control) run a short case
 * against a real `runnel serve` child; every request must come back 200 with FailedRecordCount 0,
 * and records must have been counted. Figures are not asserted: this machine is shared.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BENCH = fileURLToPath(new URL('../../dist/bench/http-ingest.js', import.meta.url));

describe('bench/http-ingest.ts', () => {
  it('drives the server over raw HTTP/1.1 and HTTP/2 with no failed request or record', () => {
    const run = spawnSync(
      process.execPath,
      [
        BENCH,
        '--seconds',
        '1',
        '--connections',
        '2',
        '--shards',
        '2',
        '--cases',
        '100:h1,100:h2,1024:h2',
      ],
      { encoding: 'utf8', timeout: 90_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    const rows = run.stdout.split('\n').filter((line) => /^(100 B|1 KiB) +HTTP\//.test(line));
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      // record (2 tokens), protocol, conns, requests/s, records/s, vs decode, MB/s, p50, p99, shards, errors
      const tokens = row.trim().split(/\s+/);
      expect(Number(tokens[4]), row).toBeGreaterThan(0);
      expect(Number(tokens[5]), row).toBeGreaterThan(0);
      expect(Number(tokens[11]), row).toBe(0);
    }
  }, 120_000);
});
