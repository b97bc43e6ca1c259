/**
 * CommonJS entries for the worker threads. piscina loads a worker's file with require() first
 * and falls back to import() only when that throws. Node 20 lets require() load ES modules,
 * and on a graph with top-level await (record-batch.ts awaits its hasher) it is meant to throw;
 * now and then it aborted the whole process instead (V8: "IsGraphAsync must be used on an
 * instantiated module", seen in CI). A CommonJS file is required plainly; it imports the ES
 * module entry itself, once, and hands it every task.
 */
import { pathToFileURL } from 'node:url';

type Handler = (task: unknown) => unknown;

export function esmEntry(file: string): Handler {
  let run: Handler | undefined;
  let loading: Promise<Handler> | undefined;
  return (task) => {
    if (run) return run(task);
    loading ??= import(pathToFileURL(file).href).then(
      (module: { default: Handler }) => (run = module.default),
    );
    return loading.then((loaded) => loaded(task));
  };
}
