/**
 * Starts a Runnel server in a child process (server-process.ts) and waits for its URLs; `stop()`
 * sends SIGTERM and waits for the exit (SIGKILL after CHILD_STOP_TIMEOUT_MS). Used by the
 * benchmark and the tests, so load and server never share a thread.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { serverNodeFlags } from '../server/node-flags.js';

/** How long a child server may take to print its URLs. */
export const CHILD_READY_TIMEOUT_MS = 30_000;
/** How long a child server may take to close after SIGTERM before it is killed. */
export const CHILD_STOP_TIMEOUT_MS = 15_000;

export interface ChildServer {
  kinesisUrl: string;
  wsUrl: string | undefined;
  pid: number;
  child: ChildProcess;
  stop(): Promise<number | null>;
}

export interface ChildServerOptions {
  dataDir: string;
  workers?: number | undefined;
  enforceLimits?: boolean | undefined;
}

/** Waits for a child to exit, killing it if it takes longer than `timeoutMs`. */
export function stopChild(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  timeoutMs = CHILD_STOP_TIMEOUT_MS,
): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.kill(signal);
  });
}

/** Resolves with the first stdout line of `child` (rejects if it exits or times out first). */
export function firstLine(child: ChildProcess, timeoutMs: number, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(
      () => fail(new Error(`${what} was not ready in ${timeoutMs} ms`)),
      timeoutMs,
    );
    function fail(error: Error): void {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      reject(error);
    }
    function onData(chunk: Buffer): void {
      text += chunk.toString();
      const newline = text.indexOf('\n');
      if (newline === -1) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      resolve(text.slice(0, newline));
    }
    function onExit(code: number | null): void {
      fail(new Error(`${what} exited (${code}) before it was ready`));
    }
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
}

export async function startChildServer(options: ChildServerOptions): Promise<ChildServer> {
  const script = fileURLToPath(new URL('./server-process.js', import.meta.url));
  const args = [...serverNodeFlags(), script, '--data', options.dataDir];
  if (options.workers !== undefined) args.push('--workers', String(options.workers));
  if (options.enforceLimits) args.push('--enforce-limits');
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let line: string;
  try {
    line = await firstLine(child, CHILD_READY_TIMEOUT_MS, 'the Runnel server');
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const ready = JSON.parse(line) as { kinesisUrl: string; wsUrl?: string };
  return {
    kinesisUrl: ready.kinesisUrl,
    wsUrl: ready.wsUrl,
    pid: child.pid!,
    child,
    stop: () => stopChild(child),
  };
}
