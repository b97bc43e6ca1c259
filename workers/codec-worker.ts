/**
 * Entry point of a codec thread (loaded by piscina from dist/): prepares JSON PutRecords bodies
 * off the event loop (src/server/put-records-prepare.ts) and moves the result back without a
 * copy. When a body cannot be prepared, the body itself is moved back for the ordinary path.
 */
import { Piscina } from 'piscina';
import { preparedBuffers, preparePutRecords } from '../src/server/put-records-prepare.js';
import type { CodecReply, CodecTask } from '../src/server/put-codec.js';

export default function run(task: CodecTask): unknown {
  const body = Buffer.from(task.body);
  const prepared = preparePutRecords(body);
  const reply: CodecReply = prepared ? { prepared } : { body: task.body };
  return Piscina.move({
    [Piscina.transferableSymbol]: prepared ? preparedBuffers(prepared) : [task.body],
    [Piscina.valueSymbol]: reply,
  } as never);
}
