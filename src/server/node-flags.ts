/**
 * The Node flags `runnel serve` runs with, which must be given on the command line: V8 cannot
 * change how it runs its GC once started (setting the flag at run time aborts the process).
 *
 * On a machine of SINGLE_THREADED_GC_CORES_MAX cores or fewer, V8's parallel and concurrent GC
 * helper threads compete for the same cores as the event loop, the codec threads and the shard
 * workers; under JSON ingest they took about a quarter of a core. With `--single-threaded-gc`
 * the collection runs on the thread that allocated, where the event loop has slack: on 2 cores,
 * `bench/http-ingest.ts` measured 8–16 % less server CPU per record and as much more ingest
 * (WebSocket ingest unchanged). With more cores the helpers have cores of their own, and the
 * flag is not used.
 *
 * `npm start` asks this module for the flags (run as a script, it prints them on one line), and
 * so do the benchmarks that start a server. `npm run bench:ws` runs its load process with them
 * too: on 2 cores, the client's GC helpers competing with its event loop showed in the measured
 * latency (p99 at 100 B 9–15 ms with the flag against 18–38 ms without, four alternating pairs).
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SINGLE_THREADED_GC_CORES_MAX = 2;

export function serverNodeFlags(cores = availableParallelism()): string[] {
  return cores <= SINGLE_THREADED_GC_CORES_MAX ? ['--single-threaded-gc'] : [];
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(serverNodeFlags().join(' '));
}
