// Goal: a data directory written by format version 1 (test/fixtures/format-v1, committed) still
// opens and reads back byte for byte. A format change must come with a new fixture set; this
// test keeps the old one readable, or fails loudly.
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { readShard } from '../helpers/read-all.js';
import { tempDir } from '../helpers/temp-dir.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/format-v1', import.meta.url));
const ARRIVAL = new Date('2026-01-02T03:04:05.678Z');

let cleanup: () => void = () => undefined;
afterEach(() => cleanup());

describe('format v1 fixture', () => {
  it('starts with a batch header in the documented layout', () => {
    const bytes = readFileSync(
      join(FIXTURE, 'streams/golden/shardId-000000000000/00000000000000000000.seg'),
    );
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('RNB1');
    expect(bytes[4]).toBe(1);
    expect(bytes.readUInt32LE(12)).toBe(1);
    expect(Number(bytes.readBigUInt64LE(24))).toBe(0);
    expect(Number(bytes.readBigUInt64LE(32))).toBe(ARRIVAL.getTime());
  });

  it('opens and reads every record with its original sequence number', async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    cpSync(FIXTURE, temp.dir, { recursive: true });
    // An hour after the records arrived: the open's retention pass would expire them today.
    const clock = () => ARRIVAL.getTime() + 3_600_000;
    const engine = await Engine.open({
      dataDir: temp.dir,
      workers: 1,
      segmentBytes: 64 * 1024,
      clock,
    });
    try {
      const first = await readShard(engine, 'golden', 'shardId-000000000000');
      const second = await readShard(engine, 'golden', 'shardId-000000000001');
      const view = (records: typeof first) =>
        records.map((record) => ({
          sequence: record.SequenceNumber,
          key: record.PartitionKey,
          data: Buffer.from(record.Data).toString('hex'),
          at: record.ApproximateArrivalTimestamp.toISOString(),
        }));
      const at = ARRIVAL.toISOString();
      expect(view(first)).toEqual([
        {
          sequence: '49670459242269023794127046814311958676785328297997238274',
          key: 'alpha',
          data: Buffer.from('first record').toString('hex'),
          at,
        },
      ]);
      expect(view(second)).toEqual([
        {
          sequence: '49670459242291324539325577437453494395057976659503218706',
          key: 'beta',
          data: Buffer.from('second record').toString('hex'),
          at,
        },
        {
          sequence: '49670459242291324539325577437454703320877591288677924882',
          key: 'ключ',
          data: '000102ff',
          at,
        },
        {
          sequence: '49670459242291324539325577437455912246697205917852631058',
          key: 'explicit',
          data: Buffer.from('to the last shard').toString('hex'),
          at,
        },
      ]);
    } finally {
      await engine.close();
    }
  });
});
