// Child process for the SIGKILL test: writes to an Engine as fast as it can and prints one line
// per acknowledged PutRecords call: "ACK <sequence number> <partition key>" per record. The
// parent kills it with SIGKILL mid-write and checks that every acknowledged record survived.
import { Engine } from '../../dist/src/index.js';

const [dataDir] = process.argv.slice(2);
const engine = await Engine.open({ dataDir, workers: 2, segmentBytes: 256 * 1024 });
await engine.createStream({ StreamName: 'crash', ShardCount: 4 });
process.stdout.write('READY\n');
let counter = 0;
async function producer() {
  for (;;) {
    const Records = Array.from({ length: 100 }, () => {
      const key = `key-${counter++}`;
      return { PartitionKey: key, Data: Buffer.from(`data-of-${key}`) };
    });
    const output = await engine.putRecords({ StreamName: 'crash', Records });
    let lines = '';
    output.Records.forEach((result, i) => {
      if (result.SequenceNumber)
        lines += `ACK ${result.SequenceNumber} ${Records[i].PartitionKey}\n`;
    });
    process.stdout.write(lines);
  }
}
await Promise.all([producer(), producer(), producer()]);
