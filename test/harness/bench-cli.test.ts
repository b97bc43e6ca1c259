/**
 * Goal: `runnel bench` refuses, as usage errors (exit 2, a pointer to --help, nothing run and
 * nothing deleted), what it cannot run: a data directory it would wipe that is not its own (it
 * exists, is not empty, and has no marker of an earlier run: `--data /`, `--data ~`), and
 * numeric arguments that are not numbers or are out of range (--seconds, --workers, --seed,
 * --sizes above the record size limit, --shards above the account shard limit). A directory a
 * run made, an empty one and a new one are taken; a run marks its directory, empties it before
 * and after, and removes it afterwards only if it made it. No benchmark runs here.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import {
  BENCH_DATA_MARKER,
  claimBenchDataDir,
  parseBenchArgs,
  releaseBenchDataDir,
} from '../../src/harness/bench.js';
import { USAGE_EXIT_CODE } from '../../src/harness/command-args.js';
import {
  ACCOUNT_SHARD_LIMIT,
  KIB,
  PARTITION_KEY_BYTES_MAX,
  RECORD_SIZE_DEFAULT_KIB,
} from '../../src/limits.js';
import { tempDir } from '../helpers/temp-dir.js';

const BENCH_CLI = fileURLToPath(new URL('../../dist/src/harness/bench-cli.js', import.meta.url));
const temp = tempDir('runnel-bench-cli-');

afterAll(() => temp.cleanup());

/** A directory with someone's files in it. */
function foreignDir(name: string): string {
  const dir = join(temp.dir, name);
  mkdirSync(join(dir, 'important'), { recursive: true });
  writeFileSync(join(dir, 'important', 'notes.txt'), 'my notes');
  return dir;
}

function bench(args: string[]) {
  return spawnSync(process.execPath, [BENCH_CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
}

/** parseBenchArgs's usage error for `args`, with a data directory of its own unless given. */
function refusal(args: string[]): string {
  const withData = args.includes('--data') ? args : [...args, '--data', join(temp.dir, 'fresh')];
  try {
    parseBenchArgs(withData);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`accepted: ${args.join(' ')}`);
}

describe('runnel bench: the data directory', () => {
  it('refuses a directory that is not empty and was not made by a run, and deletes nothing', () => {
    const dir = foreignDir('victim');
    const run = bench([
      '--quick',
      '--paths',
      'embedded',
      '--sizes',
      '100',
      '--shards',
      '1',
      '--data',
      dir,
    ]);
    expect(run.status).toBe(USAGE_EXIT_CODE);
    expect(run.stderr).toContain(
      `runnel bench: --data: '${dir}' is not empty and was not made by runnel bench`,
    );
    expect(run.stderr).toContain("Run 'runnel bench --help' for usage.");
    expect(run.stdout).toBe('');
    expect(readdirSync(dir)).toEqual(['important']);
    expect(readdirSync(join(dir, 'important'))).toEqual(['notes.txt']);
  });

  it('refuses / and the home directory', () => {
    expect(refusal(['--data', '/'])).toContain(
      "--data: '/' is not empty and was not made by runnel bench",
    );
    if (readdirSync(homedir()).length > 0) {
      expect(refusal(['--data', homedir()])).toContain(`--data: '${homedir()}' is not empty`);
    }
  });

  it('refuses a file', () => {
    const file = join(temp.dir, 'a-file');
    writeFileSync(file, 'x');
    expect(refusal(['--data', file])).toBe(`--data: '${file}' is not a directory`);
  });

  it('takes a new or empty directory, marks it, and removes it afterwards only if it made it', () => {
    const fresh = join(temp.dir, 'new', 'bench');
    const settings = parseBenchArgs(['--data', fresh]);
    expect(settings).toMatchObject({ dataDir: fresh });
    expect(claimBenchDataDir(fresh)).toBe(true);
    expect(readdirSync(fresh)).toEqual([BENCH_DATA_MARKER]);
    releaseBenchDataDir(fresh, true);
    expect(existsSync(fresh)).toBe(false);

    const empty = join(temp.dir, 'empty');
    mkdirSync(empty);
    expect(parseBenchArgs(['--data', empty])).toMatchObject({ dataDir: empty });
    expect(claimBenchDataDir(empty)).toBe(false);
    writeFileSync(join(empty, 'segment'), 'bench data');
    releaseBenchDataDir(empty, false);
    expect(readdirSync(empty)).toEqual([]);
  });

  it('takes, and empties, a directory an earlier run left (--keep, or killed)', () => {
    const left = join(temp.dir, 'left');
    claimBenchDataDir(left);
    mkdirSync(join(left, 'embedded'));
    writeFileSync(join(left, 'embedded', 'segment'), 'old bench data');
    expect(parseBenchArgs(['--data', left])).toMatchObject({ dataDir: left });
    expect(claimBenchDataDir(left)).toBe(false);
    expect(readdirSync(left)).toEqual([BENCH_DATA_MARKER]);
  });

  it('never empties a foreign directory, even when called directly', () => {
    const dir = foreignDir('direct');
    expect(() => claimBenchDataDir(dir)).toThrow(/is not empty and was not made by runnel bench/);
    expect(readdirSync(dir)).toEqual(['important']);
  });
});

describe('runnel bench: numeric arguments', () => {
  it('refuses --seconds that is not a positive number', () => {
    for (const seconds of ['abc', '-5', '0', '', 'Infinity', '1e400']) {
      expect(refusal([`--seconds=${seconds}`])).toBe(
        `--seconds must be a number above 0 and at most 86400, got '${seconds}'`,
      );
    }
    expect(parseBenchArgs(['--seconds', '1.5', '--data', join(temp.dir, 'fresh')])).toMatchObject({
      putSeconds: 1.5,
    });
  });

  it('refuses --workers that is not a whole number of at least 1', () => {
    for (const workers of ['abc', '0', '1.5', '-1', '']) {
      expect(refusal([`--workers=${workers}`])).toBe(
        `--workers must be a whole number >= 1, got '${workers}'`,
      );
    }
    expect(parseBenchArgs(['--workers', '3', '--data', join(temp.dir, 'fresh')])).toMatchObject({
      workers: 3,
    });
  });

  it('refuses --seed that is not a whole number', () => {
    for (const seed of ['abc', '1.5', '-1', '']) {
      expect(refusal([`--seed=${seed}`])).toBe(`--seed must be a whole number >= 0, got '${seed}'`);
    }
    expect(parseBenchArgs(['--seed', '7', '--data', join(temp.dir, 'fresh')])).toMatchObject({
      seed: 7,
    });
  });

  it('refuses --sizes above the record size limit of the streams a run creates', () => {
    const max = RECORD_SIZE_DEFAULT_KIB * KIB - PARTITION_KEY_BYTES_MAX;
    expect(refusal(['--sizes', `100,${max + 1}`])).toBe(
      `--sizes: ${max + 1} is above ${max} (a record of the bench's streams, data and partition key, ` +
        `is at most ${RECORD_SIZE_DEFAULT_KIB} KiB)`,
    );
    expect(refusal(['--sizes', '5000000'])).toContain('--sizes: 5000000 is above');
    expect(parseBenchArgs(['--sizes', `${max}`, '--data', join(temp.dir, 'fresh')])).toMatchObject({
      sizes: [max],
    });
  });

  it('refuses --shards above the account shard limit, per entry and over the streams of one server', () => {
    expect(refusal(['--shards', `${ACCOUNT_SHARD_LIMIT + 1}`])).toBe(
      `--shards: ${ACCOUNT_SHARD_LIMIT + 1} is above ${ACCOUNT_SHARD_LIMIT} (the account shard limit)`,
    );
    // Every size and shard count is a stream of its own on the one server of the network paths.
    expect(refusal(['--shards', '4000', '--sizes', '100,1024', '--paths', 'ws,http1,http2'])).toBe(
      `--shards: the run would open 24000 shards on one server (2 sizes × 4000 shards × 3 paths), ` +
        `above the account shard limit of ${ACCOUNT_SHARD_LIMIT}`,
    );
    const fits = ['--shards', `${ACCOUNT_SHARD_LIMIT}`, '--sizes', '100', '--paths', 'embedded'];
    expect(parseBenchArgs([...fits, '--data', join(temp.dir, 'fresh')])).toMatchObject({
      shards: [ACCOUNT_SHARD_LIMIT],
    });
  });

  it('gives the CLI usage exit code for a bad number, and runs nothing', () => {
    const dir = join(temp.dir, 'not-made');
    const run = bench(['--workers', 'abc', '--data', dir]);
    expect(run.status).toBe(USAGE_EXIT_CODE);
    expect(run.stderr).toBe(
      "runnel bench: --workers must be a whole number >= 1, got 'abc'\nRun 'runnel bench --help' for usage.\n",
    );
    expect(existsSync(dir)).toBe(false);
  });
});
