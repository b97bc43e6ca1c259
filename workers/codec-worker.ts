/**
 * Entry point of a codec thread (loaded by piscina from dist/; see src/server/codec-threads.ts):
 * prepares a JSON PutRecords body and moves the result back without a copy; a body it declines
 * moves back as it came, for the ordinary path.
 */
import { Piscina } from 'piscina';
import type { CodecReply, CodecTask } from '../src/server/codec-threads.js';
import { preparedBuffers, preparePutRecords } from '../src/server/put-records-prepare.js';

function moved(reply: CodecReply, buffers: ArrayBuffer[]): unknown {
  return Piscina.move({
    [Piscina.transferableSymbol]: buffers,
    [Piscina.valueSymbol]: reply,
  } as never);
}

export default function run(task: CodecTask): unknown {
  const prepared = preparePutRecords(Buffer.from(task.body));
  return prepared
    ? moved({ prepared }, preparedBuffers(prepared))
    : moved({ declined: task.body }, [task.body]);
}
