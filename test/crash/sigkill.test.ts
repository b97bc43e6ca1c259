// Goal: a process killed with SIGKILL while writing loses no record it had acknowledged
// (checked after reopen), and a torn or corrupt tail left in a segment is cut, never served.
import { closeSync, openSync, readdirSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { runWriterUntilKilled } from '../helpers/kill-writer.js';
import { readShard } from '../helpers/read-all.js';
import { tempDir } from '../helpers/temp-dir.js';

const WRITER = fileURLToPath(new URL('./writer-process.mjs', import.meta.url));
const ACKS_BEFORE_KILL = 30_000;

let cleanup: () => void = () => undefined;
afterEach(() => cleanup());

/** Runs the writer until it has acknowledged enough records, then SIGKILLs it. */
async function runAndKill(dataDir: string): Promise<Map<string, string>> {
  const acked = new Map<string, string>();
  await runWriterUntilKilled(WRITER, dataDir, (line) => {
    if (!line.startsWith('ACK ')) return undefined;
    const [, sequence, key] = line.split(' ');
    acked.set(sequence!, key!);
    return acked.size >= ACKS_BEFORE_KILL ? { killAfterMs: 0 } : undefined;
  });
  return acked;
}

async function readEverything(engine: Engine): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const { Shards } = await engine.listShards({ StreamName: 'crash' });
  for (const shard of Shards) {
    for (const record of await readShard(engine, 'crash', shard.ShardId)) {
      found.set(record.SequenceNumber, record.PartitionKey!);
      if (Buffer.from(record.Data).toString() !== `data-of-${record.PartitionKey}`) {
        throw new Error(`record ${record.SequenceNumber} has damaged data`);
      }
    }
  }
  return found;
}

describe('crash safety', () => {
  it('loses no acknowledged record when the writing process is killed with SIGKILL', async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const acked = await runAndKill(temp.dir);
    expect(acked.size).toBeGreaterThanOrEqual(ACKS_BEFORE_KILL);
    const engine = await Engine.open({ dataDir: temp.dir, workers: 2, segmentBytes: 256 * 1024 });
    try {
      const found = await readEverything(engine);
      const missing = [...acked].filter(([sequence, key]) => found.get(sequence) !== key);
      expect(missing.slice(0, 5)).toEqual([]);
      // Records written but not yet acknowledged when the process died may also be there.
      expect(found.size).toBeGreaterThanOrEqual(acked.size);
    } finally {
      await engine.close();
    }
  });

  it('cuts a torn or corrupt tail left in the last segment after a kill, and never serves it', async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    await runAndKill(temp.dir);
    const shardDir = join(temp.dir, 'streams', 'crash', 'shardId-000000000000');
    const before = await Engine.open({ dataDir: temp.dir, workers: 2, segmentBytes: 256 * 1024 });
    const intact = await readEverything(before);
    await before.close();
    // Simulate a torn write: a half batch of garbage right after the last good batch.
    const segments = readdirSync(shardDir)
      .filter((name) => name.endsWith('.seg'))
      .sort();
    const last = join(shardDir, segments[segments.length - 1]!);
    const engineForEnd = await Engine.open({
      dataDir: temp.dir,
      workers: 1,
      segmentBytes: 256 * 1024,
    });
    const internals = engineForEnd.shardInternals('crash', 'shardId-000000000000');
    const activeBase = internals.index.activeSegmentBase();
    const end = internals.reader.locate(internals.index.nextOrdinal() - 1);
    await engineForEnd.close();
    expect(end && end.segmentBase).toBe(activeBase);
    const tail = end!.byteOffset + end!.header.batchLength;
    expect(statSync(last).size).toBeGreaterThan(tail + 64);
    const fd = openSync(last, 'r+');
    const garbage = Buffer.from(
      'RNB1\x01\x00\x00\x00\xff\xff\x00\x00garbage-garbage-garbage-garbage',
    );
    writeSync(fd, garbage, 0, garbage.length, tail);
    // And flip a byte inside the last good batch: it must be cut too.
    writeSync(fd, Buffer.from([0x55]), 0, 1, tail - 2);
    closeSync(fd);
    const after = await Engine.open({ dataDir: temp.dir, workers: 2, segmentBytes: 256 * 1024 });
    try {
      const found = await readEverything(after);
      expect(found.size).toBe(intact.size - end!.header.recordCount);
      for (const [sequence, key] of found) expect(intact.get(sequence)).toBe(key);
      // The log accepts new writes after the cut.
      const put = await after.putRecord({
        StreamName: 'crash',
        PartitionKey: 'key-new',
        Data: Buffer.from('data-of-key-new'),
      });
      expect(put.SequenceNumber).toBeDefined();
    } finally {
      await after.close();
    }
  });
});
