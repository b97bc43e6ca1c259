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
  if (task.kind !== 'append') return reply;
  // The engine's put buffers go back with the answer, moved, for its next puts.
  const buffers: ArrayBuffer[] = [];
  for (const append of task.appends) {
    const buffer = append.batch.buffer;
    if (append.giveBack && buffer instanceof ArrayBuffer && !buffers.includes(buffer)) buffers.push(buffer);
  }
  if (buffers.length === 0) return reply;
  const value: AppendReply = { ...(reply as AppendReply), buffers };
  return Piscina.move({ [Piscina.transferableSymbol]: buffers, [Piscina.valueSymbol]: value } as never);
}
