/**
 * Entry point of a shard worker thread (loaded by piscina from dist/). Thin on purpose: the
 * work is in src/storage/shard-host.ts. One host per thread; it owns the shards routed to it.
 */
import { ShardHost } from '../src/storage/shard-host.js';
import type { WorkerTask } from '../src/storage/worker-protocol.js';

const host = new ShardHost();

export default function run(task: WorkerTask): unknown {
  return host.handle(task);
}
