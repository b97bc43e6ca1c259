/**
 * Dumps a segment file for humans: every batch header (offset, ordinals, arrival time, record
 * count, whether its checksum verifies, KMS if it was put while its stream was encrypted) and, with --records, each record's partition key, data
 * length and the first bytes of its data. Stops at the end of the log (first zero magic) and
 * says why it stopped.
 *
 *   node dist/scripts/inspect-segment.js data/streams/<stream>/<shard>/00000000000000000000.seg [--records]
 */
import { parseArgs } from 'node:util';
import { mapReadOnly } from '../src/storage/mmap.js';
import {
  BATCH_HEADER_BYTES,
  isEncryptedBatch,
  newRecordCursor,
  nextRecord,
  readBatchHeader,
  verifyBatch,
  viewOf,
} from '../src/storage/record-batch.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { records: { type: 'boolean', default: false } },
});
const path = positionals[0];
if (!path) {
  console.error('usage: inspect-segment <file.seg> [--records]');
  process.exit(2);
}
const bytes = mapReadOnly(path);
const view = viewOf(bytes);
let offset = 0;
let batches = 0;
let records = 0;
for (;;) {
  const header = readBatchHeader(bytes, view, offset, bytes.length);
  if (!header) {
    const zero = offset >= bytes.length || view.getUint32(offset, true) === 0;
    console.log(
      `end at offset ${offset}: ${zero ? 'end of log (zero bytes follow)' : 'NOT a valid batch header'}`,
    );
    break;
  }
  const valid = verifyBatch(bytes, view, offset, bytes.length) !== undefined;
  console.log(
    `batch @${offset} ordinals ${header.baseOrdinal}..${header.baseOrdinal + header.recordCount - 1} ` +
      `records ${header.recordCount} bytes ${header.batchLength} arrival ${new Date(header.arrivalMs).toISOString()} ` +
      `checksum ${valid ? 'ok' : 'BAD'}${isEncryptedBatch(bytes, offset) ? ' KMS' : ''}`,
  );
  if (values.records) {
    const cursor = newRecordCursor(offset + BATCH_HEADER_BYTES);
    for (let i = 0; i < header.recordCount; i++) {
      if (!nextRecord(bytes, cursor, offset + header.batchLength)) break;
      // A key of length 0 is a record put without one (an AUTO stream's).
      const key =
        cursor.keyEnd > cursor.keyStart
          ? JSON.stringify(bytes.toString('utf8', cursor.keyStart, cursor.keyEnd))
          : '(none)';
      const preview = bytes
        .subarray(cursor.dataStart, Math.min(cursor.dataEnd, cursor.dataStart + 16))
        .toString('hex');
      const dataBytes = cursor.dataEnd - cursor.dataStart;
      console.log(`  #${header.baseOrdinal + i} key=${key} data=${dataBytes}B ${preview}`);
    }
  }
  batches++;
  records += header.recordCount;
  offset += header.batchLength;
}
console.log(`${batches} batches, ${records} records, ${offset} of ${bytes.length} bytes used`);
