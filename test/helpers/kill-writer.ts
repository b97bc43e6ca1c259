/**
 * Runs a writer script in a child Node process on a data directory, hands each line it prints
 * to `onLine`, and kills the child with SIGKILL as soon as `onLine` says to (after `delayMs`,
 * so the kill can land a few turns later). Settles when the child has died of that SIGKILL;
 * a child that exits any other way fails, with what it printed on stderr.
 */
import { spawn } from 'node:child_process';

export function runWriterUntilKilled(
  writer: string,
  dataDir: string,
  onLine: (line: string) => { killAfterMs: number } | undefined,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buffered = '';
    let stderr = '';
    let killed = false;
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const kill = onLine(line);
        if (kill && !killed) {
          killed = true;
          setTimeout(() => child.kill('SIGKILL'), kill.killAfterMs);
        }
      }
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`writer exited with ${code}: ${stderr}`));
    });
  });
}
