import { spawn, spawnSync } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

/** The installed Chromium (Debian: apt-get install chromium), or undefined where there is none. */
export function findChromium(): string | undefined {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (found.status === 0 && found.stdout.trim()) return found.stdout.trim();
  }
  return undefined;
}

/** Flags for a headless run with a throwaway profile and no traffic of the browser's own. */
export function headlessArgs(profileDir: string): string[] {
  return [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--no-first-run',
    `--user-data-dir=${profileDir}`,
    '--enable-logging=stderr',
    '--v=0',
  ];
}

/** How long a browser gets to close by itself before it is killed. */
const BROWSER_CLOSE_MS = 5000;

/**
 * Opens `url` in headless Chromium, lets the page run for `runMs` of real time, then evaluates
 * `expression` in it and returns the value (JSON-serialisable) with the browser's log (console
 * lines included). Talks the DevTools protocol over `--remote-debugging-pipe` (fds 3 and 4,
 * messages ended by NUL), so no port is opened. Never blocks the caller's event loop.
 */
export async function evaluateAfter(
  chromium: string,
  url: string,
  profileDir: string,
  runMs: number,
  expression: string,
  timeoutMs = 60_000,
): Promise<{ value: unknown; log: string }> {
  const browser = spawn(chromium, [...headlessArgs(profileDir), '--remote-debugging-pipe', url], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
  });
  let log = '';
  browser.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
  const toBrowser = browser.stdio[3] as Writable;
  const fromBrowser = browser.stdio[4] as Readable;
  const waiting = new Map<
    number,
    (message: { result?: Record<string, unknown>; error?: unknown }) => void
  >();
  let pending = '';
  fromBrowser.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    for (let end = pending.indexOf('\0'); end >= 0; end = pending.indexOf('\0')) {
      const message = JSON.parse(pending.slice(0, end)) as {
        id?: number;
        result?: Record<string, unknown>;
        error?: unknown;
      };
      pending = pending.slice(end + 1);
      if (message.id !== undefined) waiting.get(message.id)?.(message);
    }
  });
  let nextId = 1;
  const send = (method: string, params: object = {}, sessionId?: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, (message) =>
        message.error
          ? reject(new Error(JSON.stringify(message.error)))
          : resolve(message.result ?? {}),
      );
      toBrowser.write(
        JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0',
      );
    });
  const exited = new Promise<never>((_, reject) =>
    browser.once('exit', (code) => reject(new Error(`chromium exited (${code}):\n${log}`))),
  );
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`chromium did not answer in ${timeoutMs} ms:\n${log}`)),
      timeoutMs,
    );
  });
  const run = async () => {
    await new Promise((resolve) => setTimeout(resolve, runMs));
    const { targetInfos } = (await send('Target.getTargets')) as {
      targetInfos: { targetId: string; type: string }[];
    };
    const page = targetInfos.find((target) => target.type === 'page');
    if (!page) throw new Error(`no page among ${JSON.stringify(targetInfos)}`);
    const { sessionId } = (await send('Target.attachToTarget', {
      targetId: page.targetId,
      flatten: true,
    })) as { sessionId: string };
    const evaluated = (await send(
      'Runtime.evaluate',
      { expression, returnByValue: true },
      sessionId,
    )) as {
      result: { value?: unknown };
      exceptionDetails?: unknown;
    };
    if (evaluated.exceptionDetails)
      throw new Error(`evaluation failed: ${JSON.stringify(evaluated.exceptionDetails)}`);
    return evaluated.result.value;
  };
  try {
    const value = await Promise.race([run(), exited, timedOut]);
    return { value, log };
  } finally {
    clearTimeout(timer);
    exited.catch(() => undefined);
    if (browser.exitCode === null && browser.signalCode === null) {
      // Closed as a user would close it, so its helper processes end with it; killed if it hangs.
      const gone = new Promise((resolve) => browser.once('exit', resolve));
      send('Browser.close').catch(() => undefined);
      const killer = setTimeout(() => browser.kill('SIGKILL'), BROWSER_CLOSE_MS);
      await gone;
      clearTimeout(killer);
    }
  }
}
