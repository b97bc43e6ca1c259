/**
 * Goal: peers-cli.js (which installs and starts kinesalite and kinesis-local) answers --help
 * with its usage, and a bad argument (an unknown option, a positional, a --seconds that is not
 * a number of seconds in range) with a usage error and the usage exit code, as `runnel bench`
 * and `runnel load` do — before it installs or starts anything.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { USAGE_EXIT_CODE } from '../../src/harness/command-args.js';
import { PEERS_INVOCATION, parsePeersArgs } from '../../src/harness/peers.js';
import { PEERS_RUN_SECONDS_MAX } from '../../src/limits.js';
import { tempDir } from '../helpers/temp-dir.js';

const PEERS_CLI = fileURLToPath(new URL('../../dist/src/harness/peers-cli.js', import.meta.url));
const temp = tempDir('runnel-peers-cli-');

afterAll(() => temp.cleanup());

function peers(args: string[]) {
  return spawnSync(process.execPath, [PEERS_CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
}

describe('peers-cli.js', () => {
  it('prints its usage for --help and -h, and exits 0 without installing anything', () => {
    const dir = join(temp.dir, 'help');
    for (const flag of ['--help', '-h']) {
      const run = peers([flag, '--dir', dir]);
      expect(run.status).toBe(0);
      expect(run.stderr).toBe('');
      expect(run.stdout).toMatch(
        new RegExp(`^Usage: ${PEERS_INVOCATION} \\[--dir <dir>\\] \\[--seconds <s>\\]\\n`),
      );
      expect(run.stdout).toContain('--seconds <s>');
      expect(run.stdout).toContain('-h, --help');
    }
    expect(existsSync(dir)).toBe(false);
  });

  it('answers a bad argument with a usage error and the usage exit code, before installing', () => {
    const dir = join(temp.dir, 'bad');
    const cases: Array<[string[], string]> = [
      [['--bogus'], "Unknown option '--bogus'"],
      [['extra'], "Unexpected argument 'extra'"],
      [
        ['--seconds', 'abc'],
        `--seconds must be a number above 0 and at most ${PEERS_RUN_SECONDS_MAX}, got 'abc'`,
      ],
      [
        ['--seconds=-5'],
        `--seconds must be a number above 0 and at most ${PEERS_RUN_SECONDS_MAX}, got '-5'`,
      ],
      [['--dir'], "Option '--dir <value>' argument missing"],
    ];
    for (const [args, message] of cases) {
      const run = peers([...args, ...(args.includes('--dir') ? [] : ['--dir', dir])]);
      expect(run.status, args.join(' ')).toBe(USAGE_EXIT_CODE);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain(`${PEERS_INVOCATION}: ${message}`);
      expect(run.stderr).toMatch(
        new RegExp(`\\nRun '${PEERS_INVOCATION} --help' for usage\\.\\n$`),
      );
      expect(run.stderr).not.toContain('ERR_PARSE_ARGS');
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
    expect(existsSync(dir)).toBe(false);
  });

  it('reads --seconds as a number of seconds within PEERS_RUN_SECONDS_MAX', () => {
    expect(parsePeersArgs([])).toEqual({ dir: resolve('./data/peers'), seconds: 3600 });
    expect(parsePeersArgs(['--seconds', '2.5', '--dir', 'x'])).toEqual({
      dir: resolve('x'),
      seconds: 2.5,
    });
    expect(parsePeersArgs(['--seconds', `${PEERS_RUN_SECONDS_MAX}`])).toMatchObject({
      seconds: PEERS_RUN_SECONDS_MAX,
    });
    for (const seconds of ['0', '', 'NaN', 'Infinity', `${PEERS_RUN_SECONDS_MAX + 1}`]) {
      expect(() => parsePeersArgs([`--seconds=${seconds}`])).toThrow(
        `--seconds must be a number above 0 and at most ${PEERS_RUN_SECONDS_MAX}, got '${seconds}'`,
      );
    }
  });
});
