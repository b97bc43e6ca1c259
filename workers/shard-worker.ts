/**
 * Entry point of a shard worker thread (loaded by piscina from dist/). Thin on purpose: the
 * work is in src/storage/shard-host.ts. One host per thread; it owns the shards routed to it.
 */
import { Piscina } from 'piscina';
import { ShardHost } from '../src/storage/shard-host.js';
import type { AppendReply, WorkerTask } from '../src/storage/worker-protocol.js';

const host = new ShardHost();

export default function run(task: WorkerTask): unknown {
  const reply = host.handle(task);
  // Put buffers an append answer carries back are moved, not copied.
  const buffers = task.kind === 'append' ? (reply as AppendReply).buffers : undefined;
  if (!buffers) return reply;
  return Piscina.move({
    [Piscina.transferableSymbol]: buffers,
    [Piscina.valueSymbol]: reply,
  } as never);
}
