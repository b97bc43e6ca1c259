// Goal: the data directory's LOCK tells a running owner from a gone one by the owner's identity
// (boot, pid namespace, start time) wherever the opener shares its boot and pid namespace, not
// by how recently the LOCK was touched: an owner stopped with SIGSTOP keeps its directory
// however long it sleeps, a LOCK whose id now names another process, or whose owner is a
// zombie, is taken over at once, and another namespace's or another kernel's LOCK is left to
// the heartbeat. Real child processes holding real engines; /proc read as the lock reads it.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readlinkSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, describe, expect, it, vi } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { processStartTicks } from '../../src/engine/data-dir-lock.js';
import { DATA_DIR_LOCK_REFRESH_MS } from '../../src/limits.js';
import { eventually } from '../helpers/eventually.js';
import { tempDir } from '../helpers/temp-dir.js';

let cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

const ENGINE_MODULE = new URL('../../dist/src/index.js', import.meta.url).href;
const bootId = () => readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim();
const pidNamespace = () => readlinkSync('/proc/self/ns/pid');
const minuteAgo = () => new Date(Date.now() - 60_000);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function directory(): string {
  const temp = tempDir('runnel-lock-');
  cleanups.push(temp.cleanup);
  return temp.dir;
}

/**
 * A child process that opens an engine on `dataDir` and keeps it open until killed; `unreaped`
 * runs it under a shell that becomes `sleep`, which never reaps it (so, killed, it stays a
 * zombie). Returns the process spawned (the engine's, or its shell) and the engine's pid.
 */
async function owner(
  dataDir: string,
  unreaped = false,
): Promise<{ child: ChildProcess; pid: number }> {
  const script =
    `const { Engine } = await import(${JSON.stringify(ENGINE_MODULE)});` +
    `await Engine.open({ dataDir: ${JSON.stringify(dataDir)}, workers: 1 });` +
    `process.stdout.write('READY ' + process.pid + '\\n'); setInterval(() => {}, 1000);`;
  const node = [process.execPath, '--input-type=module', '-e'];
  const child = unreaped
    ? spawn('/bin/sh', ['-c', `"${node.join('" "')}" "$0" & exec sleep 60`, script], {
        stdio: ['ignore', 'pipe', 'pipe'],
      })
    : spawn(node[0]!, [...node.slice(1), script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
    await exited;
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const pid = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const ready = /READY (\d+)/.exec(out);
      if (ready) resolve(Number(ready[1]));
    });
    child.once('exit', (code) => reject(new Error(`owner exited with ${code}: ${stderr}`)));
  });
  return { child, pid };
}

async function openAndClose(dataDir: string): Promise<string> {
  const engine = await Engine.open({ dataDir, workers: 1 });
  const contents = readFileSync(join(dataDir, 'LOCK'), 'latin1');
  await engine.close();
  return contents;
}

/** Opens the directory at once (within a few heartbeats), and its LOCK then names this process. */
async function expectTakenOverAtOnce(dataDir: string): Promise<void> {
  const started = Date.now();
  expect((await openAndClose(dataDir)).split(' ')[0]).toBe(String(process.pid));
  expect(Date.now() - started).toBeLessThan(DATA_DIR_LOCK_REFRESH_MS * 5);
}

describe('data directory lock, by the owner identity', () => {
  it('writes the owner id, boot, pid namespace and start time', async () => {
    const dataDir = directory();
    const engine = await Engine.open({ dataDir, workers: 1 });
    try {
      expect(readFileSync(join(dataDir, 'LOCK'), 'latin1')).toBe(
        `${process.pid} ${bootId()} ${pidNamespace()} ${processStartTicks(process.pid)}`,
      );
    } finally {
      await engine.close();
    }
  });

  it('refuses a running owner stopped with SIGSTOP, however long its LOCK went untouched, and takes over once it is killed', async () => {
    const dataDir = directory();
    const lock = join(dataDir, 'LOCK');
    const { child } = await owner(dataDir);
    expect(readFileSync(lock, 'latin1').split(' ')[0]).toBe(String(child.pid));
    child.kill('SIGSTOP');
    // As if it had been stopped for a minute: past DATA_DIR_LOCK_STALE_MS, the heartbeat's
    // bound, which alone would hand its directory to a second engine.
    utimesSync(lock, minuteAgo(), minuteAgo());
    await expect(Engine.open({ dataDir, workers: 1 })).rejects.toThrow(
      `in use by process ${child.pid} (running, though it has not touched its LOCK for 60 s`,
    );
    expect(readFileSync(lock, 'latin1').split(' ')[0]).toBe(String(child.pid));
    // Woken, it touches its LOCK again.
    child.kill('SIGCONT');
    await eventually(() =>
      expect(Date.now() - statSync(lock).mtimeMs).toBeLessThan(2 * DATA_DIR_LOCK_REFRESH_MS),
    );
    // Killed, its LOCK (fresh) is taken over at once.
    const died = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await died;
    await expectTakenOverAtOnce(dataDir);
  });

  it('takes over at once a fresh LOCK whose id now names another process', async () => {
    const dataDir = directory();
    const lock = join(dataDir, 'LOCK');
    const parent = process.ppid;
    const start = processStartTicks(parent)!;
    // The parent runs, but it is not the process that wrote this LOCK: that one started later.
    writeFileSync(lock, `${parent} ${bootId()} ${pidNamespace()} ${BigInt(start) + 1n}`);
    expect((await openAndClose(dataDir)).split(' ')[0]).toBe(String(process.pid));
    // The parent itself: refused, fresh or not.
    writeFileSync(lock, `${parent} ${bootId()} ${pidNamespace()} ${start}`);
    await expect(Engine.open({ dataDir, workers: 1 })).rejects.toThrow(
      `in use by process ${parent}`,
    );
    utimesSync(lock, minuteAgo(), minuteAgo());
    await expect(Engine.open({ dataDir, workers: 1 })).rejects.toThrow(
      `in use by process ${parent} (running`,
    );
  });

  it("leaves another pid namespace's LOCK, and another kernel's, to the heartbeat", async () => {
    const dataDir = directory();
    const lock = join(dataDir, 'LOCK');
    const parent = process.ppid;
    const start = processStartTicks(parent)!;
    // An id no process here has (above pid_max).
    const absent = Number(readFileSync('/proc/sys/kernel/pid_max', 'latin1')) + 1;
    // Ids of another namespace, or of another kernel (a host sharing the volume, or an earlier
    // boot), name nothing here, whether or not some process here has the same id: a fresh LOCK
    // is refused, a stale one taken.
    for (const owner of [parent, absent]) {
      for (const contents of [
        `${owner} ${bootId()} pid:[1] ${start}1`,
        `${owner} 00000000-0000-0000-0000-000000000000 ${pidNamespace()} ${start}1`,
      ]) {
        writeFileSync(lock, contents);
        await expect(Engine.open({ dataDir, workers: 1 }), contents).rejects.toThrow(
          `in use by process ${owner}`,
        );
        utimesSync(lock, minuteAgo(), minuteAgo());
        expect((await openAndClose(dataDir)).split(' ')[0]).toBe(String(process.pid));
      }
    }
  });

  it('takes over at once the LOCK of an owner killed and left unreaped (a zombie)', async () => {
    const dataDir = directory();
    const { pid } = await owner(dataDir, true);
    expect(readFileSync(join(dataDir, 'LOCK'), 'latin1').split(' ')[0]).toBe(String(pid));
    process.kill(pid, 'SIGKILL');
    await eventually(() => expect(readFileSync(`/proc/${pid}/stat`, 'latin1')).toMatch(/\) Z /));
    // Still in the process table, with its start time, but it will never run again.
    await expectTakenOverAtOnce(dataDir);
  });

  it('says once that another engine took its LOCK, touches that LOCK no more, and leaves it at close', async () => {
    const dataDir = directory();
    const lock = join(dataDir, 'LOCK');
    const logged: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      logged.push(args.map(String).join(' '));
    });
    cleanups.push(() => spy.mockRestore());
    const engine = await Engine.open({ dataDir, workers: 1 });
    // Another engine took the directory over meanwhile (another namespace, the heartbeat lapsed).
    const other = `${process.ppid} ${bootId()} pid:[1] 1`;
    writeFileSync(lock, other);
    utimesSync(lock, minuteAgo(), minuteAgo());
    await sleep(3 * DATA_DIR_LOCK_REFRESH_MS);
    const taken = logged.filter((line) => line.includes('now names another engine'));
    expect(taken).toEqual([
      `runnel: the LOCK of ${dataDir} now names another engine (${other}), which took the data ` +
        'directory over while this one was not refreshing it: stop one of them.',
    ]);
    expect(Date.now() - statSync(lock).mtimeMs).toBeGreaterThan(50_000);
    await engine.close();
    expect(readFileSync(lock, 'latin1')).toBe(other);
  });
});
