/**
 * Micro-benchmark: formatting sequence numbers. Runnel's `SequenceFormatter` keeps the last
 * number in base-10^4 limbs and steps it on; the baseline is the BigInt encoding
 * (`encodeSequenceNumber`: the hex layout read as a BigInt, printed in decimal), what a number
 * costs without the formatter. Two shapes: a run of consecutive records (GetRecords, one step
 * each) and the first record of each 1,000-record put (an ack: a jump of 1,000 ordinals, and
 * now and then of a second). Figure: numbers formatted per second, one thread.
 * Usage: node dist/bench/micro/sequence-format.js
 */
import { encodeSequenceNumber, SequenceFormatter } from '../../src/kinesis/sequence-number.js';
import { runMicro } from './run.js';

const NUMBERS = 1000;
const CREATION_SEC = 1_764_000_000;
const SHARD_INDEX = 3;
/** Records per put in the ack case, and puts per second of record time. */
const PER_PUT = 1000;
const PUTS_PER_SEC = 2000;

const bigint = (ordinal: number, second: number) =>
  encodeSequenceNumber({
    shardCreationSec: CREATION_SEC,
    shardIndex: SHARD_INDEX,
    ordinal: BigInt(ordinal),
    recordTimeSec: second,
  });

const run = new SequenceFormatter(CREATION_SEC, SHARD_INDEX);
const acks = new SequenceFormatter(CREATION_SEC, SHARD_INDEX);
let runOrdinal = 0;
let put = 0;
let sink = 0;
const ackSecond = (n: number) => CREATION_SEC + 100 + Math.floor(n / PUTS_PER_SEC);

// Check first: the formatter prints what the BigInt encoding prints, in both shapes.
for (let i = 0; i < 3 * NUMBERS; i++) {
  if (run.format(i, CREATION_SEC + 100) !== bigint(i, CREATION_SEC + 100)) {
    throw new Error(`run mismatch at ${i}`);
  }
  if (acks.format(i * PER_PUT, ackSecond(i)) !== bigint(i * PER_PUT, ackSecond(i))) {
    throw new Error(`ack mismatch at ${i}`);
  }
}
runOrdinal = 3 * NUMBERS;
put = 3 * NUMBERS;

await runMicro('sequence numbers, 1000 per call', 'encodeSequenceNumber (BigInt) per number', [
  {
    name: 'SequenceFormatter, a run of records',
    items: NUMBERS,
    fn: () => {
      for (let i = 0; i < NUMBERS; i++) sink += run.format(runOrdinal++, CREATION_SEC + 100).length;
    },
  },
  {
    name: 'SequenceFormatter, first record of each put',
    items: NUMBERS,
    fn: () => {
      for (let i = 0; i < NUMBERS; i++, put++) {
        sink += acks.format(put * PER_PUT, ackSecond(put)).length;
      }
    },
  },
  {
    name: 'encodeSequenceNumber (BigInt), per put',
    items: NUMBERS,
    fn: () => {
      for (let i = 0; i < NUMBERS; i++, put++) sink += bigint(put * PER_PUT, ackSecond(put)).length;
    },
  },
]);
if (sink === 0.5) console.log(sink);
