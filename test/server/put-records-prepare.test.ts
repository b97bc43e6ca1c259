/**
 * Goal: a PutRecords body prepared off the event loop (src/server/put-records-prepare.ts) stores
 * exactly what the ordinary path stores, and a body the ordinary path would refuse is never
 * prepared (so its error is always the ordinary path's). Checked on random well-formed bodies
 * and on mutations of them, against the ordinary decoder, validator and batch encoder. Records
 * without a PartitionKey are prepared and counted, as for a stream whose strategy is AUTO; for
 * any other stream the engine refuses them with missingPartitionKeys, which must word the error
 * exactly as the ordinary path's validation does.
 */
import { describe, expect, it } from 'vitest';

import { seededRandom as random } from '../../src/harness/workload.js';
import {
  HASH_WORDS,
  md5Words,
  parseExplicitHashKey,
  bigIntToWords,
} from '../../src/kinesis/hash-key.js';
import {
  missingPartitionKeys,
  requireStreamTarget,
  validateInput,
} from '../../src/kinesis/validation.js';
import { PUT_RECORDS_BYTES_MAX } from '../../src/limits.js';
import { encodeRecordBatches, type RecordInput } from '../../src/protocol/batch-writer.js';
import { KinesisError } from '../../src/errors.js';
import { SequenceFormatter } from '../../src/kinesis/sequence-number.js';
import {
  decodeJsonInput,
  encodePutRecordsResultJson,
  INPUT_MODELS,
  type StoredRecords,
} from '../../src/server/json-codec.js';
import { preparePutRecords } from '../../src/server/put-records-prepare.js';

interface Accepted {
  records: RecordInput[];
  /** The ordinary path's error for these records on a stream that requires keys, if any. */
  keysRequired: KinesisError | undefined;
}

/**
 * What the ordinary path decides before it looks at the stream, for a stream whose strategy is
 * AUTO (keys optional): the records, or a refusal.
 */
function ordinary(body: Buffer): Accepted | undefined {
  try {
    const { input } = decodeJsonInput(body, INPUT_MODELS.PutRecords!);
    validateInput('PutRecords', input, 'AUTO');
    requireStreamTarget(input);
    const records = input.Records as RecordInput[];
    let total = 0;
    for (const record of records) {
      if (
        record.ExplicitHashKey !== undefined &&
        parseExplicitHashKey(record.ExplicitHashKey) === undefined
      ) {
        return undefined;
      }
      total += record.Data.length + Buffer.byteLength(record.PartitionKey ?? '');
    }
    if (total > PUT_RECORDS_BYTES_MAX || input.DryRun === true) return undefined;
    let keysRequired: KinesisError | undefined;
    try {
      validateInput('PutRecords', input);
    } catch (error) {
      keysRequired = error as KinesisError;
    }
    return { records, keysRequired };
  } catch {
    return undefined;
  }
}

function expectSameAsOrdinary(body: Buffer): 'prepared' | 'declined' {
  const expected = ordinary(body);
  const prepared = preparePutRecords(body);
  if (prepared === undefined) return 'declined';
  expect(
    expected,
    `prepared a body the ordinary path refuses: ${body.toString().slice(0, 200)}`,
  ).toBeDefined();
  const { records } = expected!;
  const batch = encodeRecordBatches(records, 1, undefined).batches[0]!;
  expect(Buffer.from(prepared.batch).equals(Buffer.from(batch))).toBe(true);
  expect(prepared.recordCount).toBe(records.length);
  expect(prepared.recordStart[records.length]).toBe(batch.length);
  const words = new Uint32Array(records.length * HASH_WORDS);
  let maxRecordBytes = 0;
  let blobBytes = 0;
  const keyless: number[] = [];
  records.forEach((record, i) => {
    const key = Buffer.from(record.PartitionKey ?? '');
    if (record.PartitionKey === undefined) {
      keyless.push(i);
      // Nothing routes a keyless record by its hash key: whatever was prepared stands.
      words.set(prepared.hashWords.subarray(i * HASH_WORDS, (i + 1) * HASH_WORDS), i * HASH_WORDS);
    }
    if (record.ExplicitHashKey !== undefined) {
      bigIntToWords(parseExplicitHashKey(record.ExplicitHashKey)!, words, i * HASH_WORDS);
    } else if (record.PartitionKey !== undefined) {
      md5Words(key, 0, key.length, words, i * HASH_WORDS);
    }
    maxRecordBytes = Math.max(maxRecordBytes, record.Data.length + key.length);
    blobBytes += record.Data.length;
  });
  expect([...prepared.hashWords]).toEqual([...words]);
  expect(prepared.maxRecordBytes).toBe(maxRecordBytes);
  expect(prepared.blobBytes).toBe(blobBytes);
  expect(prepared.keylessRecords).toBe(keyless.length);
  // What the engine answers for the keyless records on a stream that requires keys: the very
  // error the ordinary path's validation gives.
  if (keyless.length === 0) expect(expected!.keysRequired).toBeUndefined();
  else expect(missingPartitionKeys(keyless)).toEqual(expected!.keysRequired);
  return 'prepared';
}

interface JsonRecord {
  Data?: unknown;
  PartitionKey?: unknown;
  ExplicitHashKey?: unknown;
  [extra: string]: unknown;
}

function randomBody(next: () => number): {
  StreamName?: unknown;
  Records: JsonRecord[];
  [k: string]: unknown;
} {
  const count = 1 + Math.floor(next() * 60);
  const records: JsonRecord[] = [];
  for (let i = 0; i < count; i++) {
    const data = Buffer.alloc(Math.floor(next() * 300));
    for (let b = 0; b < data.length; b++) data[b] = Math.floor(next() * 256);
    const record: JsonRecord = {
      Data: data.toString('base64'),
      PartitionKey: `key-${Math.floor(next() * 1e9)}`,
    };
    if (next() < 0.1)
      record.ExplicitHashKey = String(BigInt(Math.floor(next() * 2 ** 53)) * 2n ** 70n);
    records.push(record);
  }
  return { StreamName: 'prepared-stream', Records: records };
}

type Mutation = (body: ReturnType<typeof randomBody>, next: () => number) => void;

const pick = <T>(items: T[], next: () => number): T => items[Math.floor(next() * items.length)]!;

/** Each turns a valid body into one the ordinary path may refuse, or accept differently. */
const MUTATIONS: Record<string, Mutation> = {
  urlSafeBase64: (b, n) => (pick(b.Records, n).Data = 'ab-_'),
  badBase64Length: (b, n) => (pick(b.Records, n).Data = 'abc'),
  badBase64Character: (b, n) => (pick(b.Records, n).Data = 'ab!d'),
  nonCanonicalTail: (b, n) => (pick(b.Records, n).Data = 'QR=='),
  paddingInside: (b, n) => (pick(b.Records, n).Data = 'QQ==QUFB'),
  dataNotString: (b, n) => (pick(b.Records, n).Data = 12),
  dataNull: (b, n) => (pick(b.Records, n).Data = null),
  keyEmpty: (b, n) => (pick(b.Records, n).PartitionKey = ''),
  keyTooLong: (b, n) => (pick(b.Records, n).PartitionKey = 'k'.repeat(257)),
  keyLongest: (b, n) => (pick(b.Records, n).PartitionKey = 'k'.repeat(256)),
  keyNonAscii: (b, n) => (pick(b.Records, n).PartitionKey = 'clé-😀'),
  keyNumber: (b, n) => (pick(b.Records, n).PartitionKey = 7),
  keyMissing: (b, n) => delete pick(b.Records, n).PartitionKey,
  keyMissingEverywhere: (b) => b.Records.forEach((record) => delete record.PartitionKey),
  keyNull: (b, n) => (pick(b.Records, n).PartitionKey = null),
  hashKeyTooLarge: (b, n) => (pick(b.Records, n).ExplicitHashKey = (2n ** 128n).toString()),
  hashKeyLeadingZero: (b, n) => (pick(b.Records, n).ExplicitHashKey = '01'),
  hashKeyNull: (b, n) => (pick(b.Records, n).ExplicitHashKey = null),
  hashKeyMax: (b, n) => (pick(b.Records, n).ExplicitHashKey = (2n ** 128n - 1n).toString()),
  extraMember: (b, n) => (pick(b.Records, n).Extra = { nested: true }),
  recordNull: (b, n) => (b.Records[Math.floor(n() * b.Records.length)] = null as never),
  noRecords: (b) => (b.Records = []),
  tooManyRecords: (b) => {
    b.Records = Array.from({ length: 501 }, (_, i) => ({ Data: '', PartitionKey: `k${i}` }));
  },
  streamNameMissing: (b) => delete b.StreamName,
  streamNameBad: (b) => (b.StreamName = 'bad name!'),
  streamNameLong: (b) => (b.StreamName = 's'.repeat(129)),
  streamNameNumber: (b) => (b.StreamName = 5),
  streamArn: (b) => (b.StreamARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/prepared-stream'),
  streamArnOnly: (b) => {
    delete b.StreamName;
    b.StreamARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/prepared-stream';
  },
  streamArnBad: (b) => (b.StreamARN = 'not-an-arn'),
  dryRun: (b) => (b.DryRun = true),
  dryRunFalse: (b) => (b.DryRun = false),
  dryRunString: (b) => (b.DryRun = 'yes'),
  streamId: (b) => (b.StreamId = 'x'),
  recordsNotArray: (b) => (b.Records = {} as never),
};

describe('preparePutRecords', () => {
  it('prepares well-formed bodies exactly as the ordinary path encodes them', () => {
    const next = random(1);
    for (let i = 0; i < 200; i++) {
      const body = Buffer.from(JSON.stringify(randomBody(next)));
      expect(expectSameAsOrdinary(body)).toBe('prepared');
    }
  });

  it('never prepares what the ordinary path refuses, and matches it on what it accepts', () => {
    const next = random(2);
    const outcomes = new Map<string, Set<string>>();
    for (let round = 0; round < 20; round++) {
      for (const [name, mutate] of Object.entries(MUTATIONS)) {
        const body = randomBody(next);
        mutate(body, next);
        const outcome = expectSameAsOrdinary(Buffer.from(JSON.stringify(body)));
        outcomes.set(name, (outcomes.get(name) ?? new Set()).add(outcome));
      }
    }
    // Bodies the ordinary path accepts are prepared too, whichever way (plain or checked).
    const keyless = ['keyMissing', 'keyMissingEverywhere', 'keyNull'];
    for (const accepted of [
      'keyLongest',
      'keyNonAscii',
      'hashKeyMax',
      'extraMember',
      'streamArn',
      'streamArnOnly',
      'dryRunFalse',
      'streamId',
      'hashKeyNull',
      ...keyless,
    ]) {
      expect([...outcomes.get(accepted)!], accepted).toEqual(['prepared']);
    }
    for (const refused of [
      'urlSafeBase64',
      'badBase64Length',
      'badBase64Character',
      'nonCanonicalTail',
      'keyEmpty',
      'keyTooLong',
      'hashKeyTooLarge',
      'noRecords',
      'tooManyRecords',
      'streamNameMissing',
      'streamNameBad',
      'dryRun',
      'recordsNotArray',
    ]) {
      expect([...outcomes.get(refused)!], refused).toEqual(['declined']);
    }
  });

  it('reads the JSON text as JSON.parse does: spacing, member order, duplicates, escapes, damage', () => {
    const next = random(3);
    const spaced = (text: string) =>
      text.replace(
        /[{}[\],:]/g,
        (token) =>
          `${pick([' ', '\n', '\t', '\r\n ', ''], next)}${token}${pick([' ', '\n', '', '\t'], next)}`,
      );
    /** Each rewrites the text of a valid body; all but the last group stay valid JSON. */
    const TEXT_MUTATIONS: Record<string, (text: string) => string> = {
      spacing: (text) => `\n ${spaced(text)}\t`,
      prettyPrinted: (text) => JSON.stringify(JSON.parse(text), null, 2),
      membersReordered: (text) => {
        const body = JSON.parse(text) as ReturnType<typeof randomBody>;
        const records = body.Records.map((r) => Object.fromEntries(Object.entries(r).reverse()));
        return JSON.stringify({ Records: records, StreamName: body.StreamName });
      },
      duplicateKey: (text) =>
        text.replace('"PartitionKey":"', '"PartitionKey":"first","PartitionKey":"'),
      duplicateStreamName: (text) =>
        text.replace('{"StreamName":', '{"StreamName":"other","StreamName":'),
      duplicateRecords: (text) =>
        text.replace(
          '{"StreamName":',
          '{"Records":[{"Data":"","PartitionKey":"lost"}],"StreamName":',
        ),
      escapedSlash: (text) => text.replace(/\//g, '\\/'),
      escapedKey: (text) => text.replace('"PartitionKey":"key-', '"PartitionKey":"\\u006bey-'),
      escapedMemberName: (text) => text.replace('"Data"', '"D\\u0061ta"'),
      truncated: (text) => text.slice(0, Math.floor(next() * text.length)),
      trailingGarbage: (text) => `${text}x`,
      trailingComma: (text) => text.replace(/}]}$/, '},]}'),
      missingColon: (text) => text.replace('"Data":', '"Data"'),
      rawTabInKey: (text) => text.replace('"PartitionKey":"key-', '"PartitionKey":"k\tey-'),
      rawNewlineInData: (text) => text.replace('"Data":"', '"Data":"\n'),
      singleQuotes: (text) => text.replace('"StreamName"', "'StreamName'"),
      numberForKey: (text) => text.replace(/"PartitionKey":"[^"]*"/, '"PartitionKey":12'),
    };
    const outcomes = new Map<string, Set<string>>();
    for (let round = 0; round < 15; round++) {
      for (const [name, mutate] of Object.entries(TEXT_MUTATIONS)) {
        const text = mutate(JSON.stringify(randomBody(next)));
        const outcome = expectSameAsOrdinary(Buffer.from(text));
        outcomes.set(name, (outcomes.get(name) ?? new Set()).add(outcome));
      }
    }
    for (const accepted of [
      'spacing',
      'prettyPrinted',
      'membersReordered',
      'duplicateKey',
      'duplicateStreamName',
      'duplicateRecords',
      'escapedSlash',
      'escapedKey',
      'escapedMemberName',
    ]) {
      expect([...outcomes.get(accepted)!], accepted).toEqual(['prepared']);
    }
    for (const refused of [
      'trailingGarbage',
      'trailingComma',
      'missingColon',
      'rawTabInKey',
      'rawNewlineInData',
      'singleQuotes',
      'numberForKey',
    ]) {
      expect([...outcomes.get(refused)!], refused).toEqual(['declined']);
    }
  });

  it('declines bodies that are not JSON, not ASCII, or too large in total', () => {
    expect(preparePutRecords(Buffer.from('{"StreamName":'))).toBeUndefined();
    expect(preparePutRecords(Buffer.from('[]'))).toBeUndefined();
    const big = Buffer.alloc(1024 * 1024, 7).toString('base64');
    const records = Array.from({ length: 11 }, (_, i) => ({ Data: big, PartitionKey: `k${i}` }));
    const body = Buffer.from(JSON.stringify({ StreamName: 's', Records: records }));
    expect(ordinary(body)).toBeUndefined();
    expect(preparePutRecords(body)).toBeUndefined();
    // UTF-8 in the body (a non-ASCII key) is decoded as UTF-8, not Latin-1.
    const utf8 = Buffer.from(
      JSON.stringify({ StreamName: 's', Records: [{ Data: 'AAAA', PartitionKey: 'ключ' }] }),
    );
    expect(expectSameAsOrdinary(utf8)).toBe('prepared');
  });
});

describe('encodePutRecordsResultJson', () => {
  it('writes the bytes JSON.stringify writes for the same outcome', () => {
    const shards = ['shardId-000000000000', 'shardId-000000000001', 'odd"shard'];
    const formatters = shards.map((_, i) => new SequenceFormatter(1764000000, i));
    const check = (count: number, failing: (i: number) => KinesisError | undefined) => {
      // Each shard's records take consecutive ordinals from 1,000, as one append gives them.
      const next = [1000, 1000, 1000];
      const landed = Array.from({ length: count }, (_, i) => {
        const shard = (i * 7) % shards.length;
        const error = failing(i);
        return { shard, error, ordinal: error ? -1 : next[shard]!++ };
      });
      const arrivalMs = 1764000123456;
      const expected = JSON.stringify({
        FailedRecordCount: landed.filter((r) => r.error).length,
        Records: landed.map((r) =>
          r.error
            ? r.error.code === 'ProvisionedThroughputExceededException'
              ? { ErrorCode: r.error.code, ErrorMessage: r.error.message }
              : { ErrorCode: 'InternalFailure', ErrorMessage: 'Internal Service Failure' }
            : {
                SequenceNumber: new SequenceFormatter(1764000000, r.shard).format(
                  r.ordinal,
                  Math.floor(arrivalMs / 1000),
                ),
                ShardId: shards[r.shard]!,
              },
        ),
        EncryptionType: 'NONE',
      });
      const stored: StoredRecords = {
        recordCount: count,
        FailedRecordCount: landed.filter((r) => r.error).length,
        shardIdOf: (i) => shards[landed[i]!.shard]!,
        errorOf: (i) => landed[i]!.error,
        writeSequenceNumber: (i, target, offset) =>
          formatters[landed[i]!.shard]!.write(
            landed[i]!.ordinal,
            Math.floor(arrivalMs / 1000),
            target,
            offset,
          ),
      };
      expect(encodePutRecordsResultJson(stored).toString('utf8')).toBe(expected);
      expect(JSON.parse(expected).Records).toHaveLength(count);
    };
    check(500, () => undefined);
    check(1, () => undefined);
    check(120, (i) =>
      i % 5 === 0
        ? new KinesisError(
            'ProvisionedThroughputExceededException',
            `Rate exceeded for shard ${i} "quoted"`,
          )
        : i % 11 === 0
          ? new KinesisError('InternalFailureException', 'worker died')
          : undefined,
    );
  });
});
