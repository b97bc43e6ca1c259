// Goal: the harness's parsers and generators do what their options say: rates and durations,
// record sizes, key distributions (unique, uniform, zipf hot keys), the open-loop schedule, and
// the unparsed reading of PutRecords answers (acked / throttled / failed per record).
import { describe, expect, it } from 'vitest';

import { putRecordsOutcome } from '../../src/harness/kinesis-http-client.js';
import {
  OpenLoopSchedule,
  parseDurationMs,
  parseRate,
  recordsPerSecOf,
} from '../../src/harness/rate.js';
import { base64Bytes, wsPutOutcome } from '../../src/harness/targets.js';
import {
  buildRecordPool,
  jsonMembers,
  parseKeyDistribution,
  parseRecordSize,
  seededRandom,
} from '../../src/harness/workload.js';

describe('rate and duration options', () => {
  it('reads records/s and bytes/s', () => {
    expect(parseRate('2000')).toEqual({ recordsPerSec: 2000 });
    expect(parseRate('2000/s')).toEqual({ recordsPerSec: 2000 });
    expect(parseRate('2k')).toEqual({ recordsPerSec: 2000 });
    expect(parseRate('5MB/s')).toEqual({ bytesPerSec: 5e6 });
    expect(parseRate('8MiB/s')).toEqual({ bytesPerSec: 8 * 1024 * 1024 });
    expect(recordsPerSecOf({ bytesPerSec: 1e6 }, 1000)).toBe(1000);
    expect(() => parseRate('fast')).toThrow(/--rate/);
    expect(() => parseRate('0')).toThrow(/above 0/);
  });

  it('reads durations', () => {
    expect(parseDurationMs('10')).toBe(10_000);
    expect(parseDurationMs('10s')).toBe(10_000);
    expect(parseDurationMs('500ms')).toBe(500);
    expect(parseDurationMs('2m')).toBe(120_000);
    expect(() => parseDurationMs('soon')).toThrow();
  });

  it('schedules units at fixed intended times, bounded', () => {
    const schedule = new OpenLoopSchedule(1000, 100, 50);
    expect(schedule.dueBy(99)).toBe(0);
    expect(schedule.dueBy(100)).toBe(1);
    expect(schedule.dueBy(109.5)).toBe(10);
    expect(schedule.intendedMs(10)).toBe(110);
    expect(schedule.dueBy(1e9)).toBe(50);
  });
});

describe('record sizes and keys', () => {
  it('parses fixed and uniform sizes', () => {
    expect(parseRecordSize('1024').meanBytes).toBe(1024);
    expect(parseRecordSize('64KiB').maxBytes).toBe(65536);
    const uniform = parseRecordSize('uniform:100-2000');
    expect(uniform.meanBytes).toBe(1050);
    const random = seededRandom(1);
    for (let i = 0; i < 1000; i++) {
      const size = uniform.sample(random);
      expect(size).toBeGreaterThanOrEqual(100);
      expect(size).toBeLessThanOrEqual(2000);
    }
    expect(() => parseRecordSize('big')).toThrow(/--record-size/);
  });

  it('gives every pool record its own key with unique, and hot keys with zipf (seed 3)', () => {
    const pool = buildRecordPool({
      recordSize: parseRecordSize('100'),
      keys: parseKeyDistribution('unique', 't'),
      seed: 3,
      poolRecordsMax: 5000,
    });
    expect(new Set(pool.records.map((r) => r.PartitionKey)).size).toBe(pool.records.length);
    const zipf = buildRecordPool({
      recordSize: parseRecordSize('10'),
      keys: parseKeyDistribution('zipf:1.1:1000', 'z'),
      seed: 3,
      poolRecordsMax: 20_000,
    });
    const counts = new Map<string, number>();
    for (const record of zipf.records)
      counts.set(record.PartitionKey, (counts.get(record.PartitionKey) ?? 0) + 1);
    const top = Math.max(...counts.values());
    // Rank 1 of zipf(1.1) over 1000 keys carries about 1/H(1000,1.1) ≈ 18 % of draws.
    expect(top / zipf.records.length).toBeGreaterThan(0.12);
    expect(counts.size).toBeLessThan(1000);
    const uniform = buildRecordPool({
      recordSize: parseRecordSize('10'),
      keys: parseKeyDistribution('uniform:50', 'u'),
      seed: 3,
      poolRecordsMax: 5000,
    });
    expect(new Set(uniform.records.map((r) => r.PartitionKey)).size).toBe(50);
  });

  it('bounds the pool and pre-encodes JSON members', () => {
    const pool = buildRecordPool({
      recordSize: parseRecordSize('65536'),
      keys: parseKeyDistribution('unique'),
      seed: 1,
      poolBytesMax: 8 * 1024 * 1024,
    });
    expect(pool.records.length).toBe(500);
    const small = buildRecordPool({
      recordSize: parseRecordSize('3'),
      keys: parseKeyDistribution('unique', 'k'),
      seed: 1,
      poolRecordsMax: 2,
    });
    const members = jsonMembers(small).map((member) => JSON.parse(member.toString()));
    expect(members[0]).toEqual({
      Data: Buffer.from(small.records[0]!.Data).toString('base64'),
      PartitionKey: 'k-0',
    });
    expect(small.limitBytes[0]).toBe(3 + 3);
    expect(base64Bytes(members[0].Data)).toBe(3);
    expect(base64Bytes('YQ==')).toBe(1);
  });
});

describe('reading put answers', () => {
  it('counts throttled and failed records without parsing the whole answer', () => {
    const body = Buffer.from(
      JSON.stringify({
        FailedRecordCount: 3,
        Records: [
          { SequenceNumber: '1', ShardId: 's' },
          { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded' },
          { ErrorCode: 'InternalFailure', ErrorMessage: 'x' },
          { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded' },
        ],
      }),
    );
    expect(putRecordsOutcome(body, 4)).toEqual({ failed: 3, throttled: 2 });
    expect(putRecordsOutcome(Buffer.from('{"FailedRecordCount":0,"Records":[]}'), 4)).toEqual({
      failed: 0,
      throttled: 0,
    });
    expect(putRecordsOutcome(Buffer.from('garbage'), 4)).toEqual({ failed: 4, throttled: 0 });
  });

  it('reads WebSocket put results in both shapes', () => {
    expect(
      wsPutOutcome(
        { FailedRecordCount: 1, Records: [{}, { ErrorCode: 'LimitExceededException' }] },
        2,
      ),
    ).toEqual({
      acked: 1,
      throttled: 1,
      failed: 0,
    });
    const batch = {
      recordCount: 3,
      FailedRecordCount: 1,
      errorOf: (i: number) => (i === 2 ? { ErrorCode: 'InternalFailure' } : undefined),
    };
    expect(wsPutOutcome(batch, 3)).toEqual({ acked: 2, throttled: 0, failed: 1 });
  });
});
