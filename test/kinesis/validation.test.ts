/**
 * Goal: validateInput answers exactly what Kinesis's front end answers for requests that break
 * the API model (Coral's ValidationException wording, counting, paths and value rendering), and
 * accepts a well-formed request for every modeled operation.
 */

import { describe, expect, it } from 'vitest';
import { KinesisError } from '../../src/errors.js';
import {
  OPERATION_MODELS,
  type OperationName,
  isOperationName,
  requireStreamTarget,
  validateInput,
} from '../../src/kinesis/validation.js';

const STREAM_ARN = 'arn:aws:kinesis:us-east-1:123456789012:stream/orders';
const CONSUMER_ARN = `${STREAM_ARN}/consumer/reader:1700000000`;
const SHARD_ID = 'shardId-000000000000';
const KMS_KEY = 'alias/aws/kinesis';
const NAME_PATTERN = '[a-zA-Z0-9_.-]+';
const ITERATOR_TYPES =
  '[AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]';

/** The error validateInput throws, or a failed expectation when it throws nothing. */
function failure(operation: string, input: Record<string, unknown>): KinesisError {
  try {
    validateInput(operation, input);
  } catch (error) {
    expect(error).toBeInstanceOf(KinesisError);
    return error as KinesisError;
  }
  throw new Error(`${operation} accepted ${JSON.stringify(input)}`);
}

function messageOf(operation: string, input: Record<string, unknown>): string {
  const error = failure(operation, input);
  expect(error.code).toBe('ValidationException');
  expect(error.status).toBe(400);
  return error.message;
}

function one(detail: string): string {
  return `1 validation error detected: ${detail}`;
}

function record(partitionKey: string, bytes = 1): Record<string, unknown> {
  return { Data: new Uint8Array(bytes), PartitionKey: partitionKey };
}

describe('stream names', () => {
  it('rejects a name outside the pattern', () => {
    expect(messageOf('CreateStream', { StreamName: 'x y', ShardCount: 1 })).toBe(
      one(
        `Value 'x y' at 'streamName' failed to satisfy constraint: ` +
          `Member must satisfy regular expression pattern: ${NAME_PATTERN}`,
      ),
    );
  });

  it('rejects a 129-character name and accepts 128', () => {
    const name = 'a'.repeat(129);
    expect(messageOf('CreateStream', { StreamName: name })).toBe(
      one(
        `Value '${name}' at 'streamName' failed to satisfy constraint: ` +
          'Member must have length less than or equal to 128',
      ),
    );
    expect(() => validateInput('CreateStream', { StreamName: 'a'.repeat(128) })).not.toThrow();
  });

  it('reports an empty name by its length, once', () => {
    expect(messageOf('DescribeStreamSummary', { StreamName: '' })).toBe(
      one(
        `Value '' at 'streamName' failed to satisfy constraint: ` +
          'Member must have length greater than or equal to 1',
      ),
    );
  });

  it('requires StreamName on CreateStream', () => {
    expect(messageOf('CreateStream', { ShardCount: 2 })).toBe(
      one("Value null at 'streamName' failed to satisfy constraint: Member must not be null"),
    );
    expect(messageOf('CreateStream', { StreamName: null })).toBe(
      one("Value null at 'streamName' failed to satisfy constraint: Member must not be null"),
    );
  });

  it('checks the stream ARN pattern', () => {
    expect(messageOf('DescribeStreamSummary', { StreamARN: 'arn:aws:s3:::bucket' })).toBe(
      one(
        "Value 'arn:aws:s3:::bucket' at 'streamARN' failed to satisfy constraint: " +
          'Member must satisfy regular expression pattern: ' +
          'arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+',
      ),
    );
  });
});

describe('PutRecords', () => {
  it('rejects 501 records, rendering the list as Java does', () => {
    const records = Array.from({ length: 501 }, () => record('pk'));
    const entry =
      'PutRecordsRequestEntry(data=java.nio.HeapByteBuffer[pos=0 lim=1 cap=1], ' +
      'partitionKey=pk)';
    const rendered = `[${Array.from({ length: 501 }, () => entry).join(', ')}]`;
    expect(messageOf('PutRecords', { StreamName: 's', Records: records })).toBe(
      one(
        `Value '${rendered}' at 'records' failed to satisfy constraint: ` +
          'Member must have length less than or equal to 500',
      ),
    );
  });

  it('accepts exactly 500 records', () => {
    const records = Array.from({ length: 500 }, (_, i) => record(`pk-${i}`));
    expect(() => validateInput('PutRecords', { StreamName: 's', Records: records })).not.toThrow();
  });

  it('rejects an empty Records list', () => {
    expect(messageOf('PutRecords', { StreamName: 's', Records: [] })).toBe(
      one(
        "Value '[]' at 'records' failed to satisfy constraint: " +
          'Member must have length greater than or equal to 1',
      ),
    );
  });

  it('names the failing entry member with a 1-based path', () => {
    const records = [record('a'), record('')];
    expect(messageOf('PutRecords', { StreamName: 's', Records: records })).toBe(
      one(
        "Value '' at 'records.2.member.partitionKey' failed to satisfy constraint: " +
          'Member must have length greater than or equal to 1',
      ),
    );
  });

  it('reports a missing Data and a null entry by path', () => {
    const records = [{ PartitionKey: 'a' }, null];
    expect(messageOf('PutRecords', { StreamName: 's', Records: records })).toBe(
      '2 validation errors detected: ' +
        "Value null at 'records.1.member.data' failed to satisfy constraint: " +
        'Member must not be null; ' +
        "Value null at 'records.2.member' failed to satisfy constraint: Member must not be null",
    );
  });

  it('counts every failure and lists the first 10', () => {
    const records = Array.from({ length: 12 }, () => ({ ...record('pk'), ExplicitHashKey: 'x' }));
    const message = messageOf('PutRecords', { StreamName: 's', Records: records });
    const detail = (i: number) =>
      `Value 'x' at 'records.${i}.member.explicitHashKey' failed to satisfy constraint: ` +
      'Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})';
    const listed = Array.from({ length: 10 }, (_, i) => detail(i + 1));
    expect(message).toBe(`12 validation errors detected: ${listed.join('; ')}`);
  });
});

describe('records', () => {
  it('counts partition key length in code points', () => {
    const astral = '\u{1F600}';
    const tooLong = astral.repeat(257);
    expect(messageOf('PutRecord', { StreamName: 's', ...record(tooLong) })).toBe(
      one(
        `Value '${tooLong}' at 'partitionKey' failed to satisfy constraint: ` +
          'Member must have length less than or equal to 256',
      ),
    );
    const longest = astral.repeat(256);
    expect(longest.length).toBe(512);
    expect(() => validateInput('PutRecord', { StreamName: 's', ...record(longest) })).not.toThrow();
    expect(() => validateInput('PutRecord', { StreamName: 's', ...record(astral) })).not.toThrow();
  });

  it('rejects an ExplicitHashKey with letters', () => {
    const input = { StreamName: 's', ...record('pk'), ExplicitHashKey: '12ab' };
    expect(messageOf('PutRecord', input)).toBe(
      one(
        "Value '12ab' at 'explicitHashKey' failed to satisfy constraint: " +
          'Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})',
      ),
    );
  });

  it('accepts the largest 39-digit hash key and rejects leading zeros', () => {
    const input = { StreamName: 's', ...record('pk') };
    const largest = (2n ** 128n - 1n).toString();
    expect(() => validateInput('PutRecord', { ...input, ExplicitHashKey: largest })).not.toThrow();
    expect(() => validateInput('PutRecord', { ...input, ExplicitHashKey: '0' })).not.toThrow();
    expect(failure('PutRecord', { ...input, ExplicitHashKey: '01' }).code).toBe(
      'ValidationException',
    );
  });

  it('renders Data over 10485760 bytes as a HeapByteBuffer', () => {
    const input = { StreamName: 's', ...record('pk', 10_485_761) };
    expect(messageOf('PutRecord', input)).toBe(
      one(
        "Value 'java.nio.HeapByteBuffer[pos=0 lim=10485761 cap=10485761]' at 'data' " +
          'failed to satisfy constraint: Member must have length less than or equal to 10485760',
      ),
    );
  });

  it('leaves the per-stream record size (1 MiB by default) to the engine', () => {
    const input = { StreamName: 's', ...record('pk', 1_048_577) };
    expect(() => validateInput('PutRecord', input)).not.toThrow();
  });

  it('checks SequenceNumberForOrdering', () => {
    const input = { StreamName: 's', ...record('pk'), SequenceNumberForOrdering: '-1' };
    expect(messageOf('PutRecord', input)).toBe(
      one(
        "Value '-1' at 'sequenceNumberForOrdering' failed to satisfy constraint: " +
          'Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})',
      ),
    );
  });
});

describe('reads', () => {
  it("bounds GetRecords Limit from below only (above 10000 is the engine's InvalidArgumentException)", () => {
    const iterator = { ShardIterator: 'AAAA' };
    expect(messageOf('GetRecords', { ...iterator, Limit: 0 })).toBe(
      one(
        "Value '0' at 'limit' failed to satisfy constraint: " +
          'Member must have value greater than or equal to 1',
      ),
    );
    expect(() => validateInput('GetRecords', { ...iterator, Limit: 10_000 })).not.toThrow();
    expect(() => validateInput('GetRecords', { ...iterator, Limit: 10_001 })).not.toThrow();
  });

  it('bounds the shard iterator to 512 characters', () => {
    const iterator = 'A'.repeat(513);
    expect(messageOf('GetRecords', { ShardIterator: iterator })).toBe(
      one(
        `Value '${iterator}' at 'shardIterator' failed to satisfy constraint: ` +
          'Member must have length less than or equal to 512',
      ),
    );
  });

  it('rejects an unknown ShardIteratorType', () => {
    const input = { StreamName: 's', ShardId: SHARD_ID, ShardIteratorType: 'OLDEST' };
    expect(messageOf('GetShardIterator', input)).toBe(
      one(
        "Value 'OLDEST' at 'shardIteratorType' failed to satisfy constraint: " +
          `Member must satisfy enum value set: ${ITERATOR_TYPES}`,
      ),
    );
  });

  it('counts and joins several errors in model member order', () => {
    const input = { StreamName: 'a b', ShardIteratorType: 'OLDEST' };
    expect(messageOf('GetShardIterator', input)).toBe(
      '3 validation errors detected: ' +
        "Value 'a b' at 'streamName' failed to satisfy constraint: " +
        `Member must satisfy regular expression pattern: ${NAME_PATTERN}; ` +
        "Value null at 'shardId' failed to satisfy constraint: Member must not be null; " +
        "Value 'OLDEST' at 'shardIteratorType' failed to satisfy constraint: " +
        `Member must satisfy enum value set: ${ITERATOR_TYPES}`,
    );
  });

  it('names nested structure members', () => {
    expect(messageOf('ListShards', { StreamName: 's', ShardFilter: {} })).toBe(
      one("Value null at 'shardFilter.type' failed to satisfy constraint: Member must not be null"),
    );
    const position = { Type: 'NEWEST' };
    const input = { ConsumerARN: CONSUMER_ARN, ShardId: SHARD_ID, StartingPosition: position };
    expect(messageOf('SubscribeToShard', input)).toBe(
      one(
        "Value 'NEWEST' at 'startingPosition.type' failed to satisfy constraint: " +
          `Member must satisfy enum value set: ${ITERATOR_TYPES}`,
      ),
    );
  });

  it('reports a non-object where a structure is expected', () => {
    const input = { StreamName: 's', ShardFilter: 'AT_LATEST' };
    expect(messageOf('ListShards', input)).toBe(
      one(
        "Value 'AT_LATEST' at 'shardFilter' failed to satisfy constraint: " +
          'Member must be of type structure',
      ),
    );
  });
});

describe('control plane', () => {
  it('checks the stream mode enum inside StreamModeDetails', () => {
    const input = { StreamARN: STREAM_ARN, StreamModeDetails: { StreamMode: 'SERVERLESS' } };
    expect(messageOf('UpdateStreamMode', input)).toBe(
      one(
        "Value 'SERVERLESS' at 'streamModeDetails.streamMode' failed to satisfy constraint: " +
          'Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]',
      ),
    );
  });

  it('requires a positive ShardCount and bounds MaxRecordSizeInKiB', () => {
    expect(messageOf('CreateStream', { StreamName: 's', ShardCount: 0 })).toBe(
      one(
        "Value '0' at 'shardCount' failed to satisfy constraint: " +
          'Member must have value greater than or equal to 1',
      ),
    );
    expect(messageOf('CreateStream', { StreamName: 's', MaxRecordSizeInKiB: 1023 })).toBe(
      one(
        "Value '1023' at 'maxRecordSizeInKiB' failed to satisfy constraint: " +
          'Member must have value greater than or equal to 1024',
      ),
    );
  });

  it('leaves the retention range to the engine', () => {
    const input = { StreamName: 's', RetentionPeriodHours: 1 };
    expect(() => validateInput('IncreaseStreamRetentionPeriod', input)).not.toThrow();
    expect(messageOf('IncreaseStreamRetentionPeriod', { StreamName: 's' })).toBe(
      one(
        "Value null at 'retentionPeriodHours' failed to satisfy constraint: " +
          'Member must not be null',
      ),
    );
  });

  it('checks tag maps as a whole', () => {
    expect(messageOf('AddTagsToStream', { StreamName: 's', Tags: { '': 'v' } })).toBe(
      one(
        "Value '{=v}' at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: " +
          '[Member must have length less than or equal to 128, ' +
          'Member must have length greater than or equal to 1]',
      ),
    );
    const long = 'v'.repeat(257);
    expect(messageOf('AddTagsToStream', { StreamName: 's', Tags: { k: long } })).toBe(
      one(
        `Value '{k=${long}}' at 'tags' failed to satisfy constraint: ` +
          'Map value must satisfy constraint: ' +
          '[Member must have length less than or equal to 256, ' +
          'Member must have length greater than or equal to 0]',
      ),
    );
    expect(messageOf('AddTagsToStream', { StreamName: 's', Tags: {} })).toBe(
      one(
        "Value '{}' at 'tags' failed to satisfy constraint: " +
          'Member must have length greater than or equal to 1',
      ),
    );
    expect(() =>
      validateInput('AddTagsToStream', { StreamName: 's', Tags: { k: '' } }),
    ).not.toThrow();
  });

  it('checks lists of strings as a whole', () => {
    expect(messageOf('RemoveTagsFromStream', { StreamName: 's', TagKeys: ['a', ''] })).toBe(
      one(
        "Value '[a, ]' at 'tagKeys' failed to satisfy constraint: " +
          'Member must satisfy constraint: [Member must have length less than or equal to 128, ' +
          'Member must have length greater than or equal to 1]',
      ),
    );
    const metrics = { StreamName: 's', ShardLevelMetrics: ['IncomingBytes', 'Latency'] };
    expect(messageOf('EnableEnhancedMonitoring', metrics)).toBe(
      one(
        "Value '[IncomingBytes, Latency]' at 'shardLevelMetrics' failed to satisfy constraint: " +
          'Member must satisfy constraint: [Member must satisfy enum value set: ' +
          '[IncomingBytes, IncomingRecords, OutgoingBytes, OutgoingRecords, ' +
          'WriteProvisionedThroughputExceeded, ReadProvisionedThroughputExceeded, ' +
          'IteratorAgeMilliseconds, ALL]]',
      ),
    );
  });
});

describe('values of the wrong JavaScript type', () => {
  it('answers ValidationException naming the expected type', () => {
    expect(messageOf('DescribeStream', { StreamName: 42, Limit: '10' })).toBe(
      '2 validation errors detected: ' +
        "Value '42' at 'streamName' failed to satisfy constraint: " +
        'Member must be of type string; ' +
        "Value '10' at 'limit' failed to satisfy constraint: Member must be of type integer",
    );
    expect(messageOf('PutRecord', { StreamName: 's', Data: 'aGVsbG8=', PartitionKey: 'p' })).toBe(
      one(
        "Value 'aGVsbG8=' at 'data' failed to satisfy constraint: " + 'Member must be of type blob',
      ),
    );
  });

  it('rejects fractions, NaN and invalid dates', () => {
    expect(messageOf('ListStreams', { Limit: 1.5 })).toBe(
      one("Value '1.5' at 'limit' failed to satisfy constraint: Member must be of type integer"),
    );
    const input = {
      StreamName: 's',
      ShardId: SHARD_ID,
      ShardIteratorType: 'AT_TIMESTAMP',
      Timestamp: new Date(Number.NaN),
    };
    expect(messageOf('GetShardIterator', input)).toBe(
      one(
        "Value 'Invalid Date' at 'timestamp' failed to satisfy constraint: " +
          'Member must be of type timestamp',
      ),
    );
  });

  it('reports a mistyped list element at its own path', () => {
    expect(messageOf('RemoveTagsFromStream', { StreamName: 's', TagKeys: ['a', 7] })).toBe(
      one(
        "Value '7' at 'tagKeys.2.member' failed to satisfy constraint: " +
          'Member must be of type string',
      ),
    );
  });

  it('accepts a Buffer as a blob', () => {
    const input = { StreamName: 's', Data: Buffer.from('hello'), PartitionKey: 'p' };
    expect(() => validateInput('PutRecord', input)).not.toThrow();
  });
});

describe('requireStreamTarget', () => {
  it('throws InvalidArgumentException when neither name nor ARN is given', () => {
    let thrown: unknown;
    try {
      requireStreamTarget({});
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(KinesisError);
    expect((thrown as KinesisError).code).toBe('InvalidArgumentException');
    expect((thrown as KinesisError).message).toBe('Neither StreamName nor StreamARN was provided.');
  });

  it('accepts either or both', () => {
    expect(() => requireStreamTarget({ StreamName: 's' })).not.toThrow();
    expect(() => requireStreamTarget({ StreamARN: STREAM_ARN })).not.toThrow();
    expect(() => requireStreamTarget({ StreamName: 's', StreamARN: STREAM_ARN })).not.toThrow();
  });

  it('is flagged on the operations that need it', () => {
    expect(OPERATION_MODELS.PutRecords.streamTarget).toBe(true);
    expect(OPERATION_MODELS.GetShardIterator.streamTarget).toBe(true);
    expect(OPERATION_MODELS.CreateStream.streamTarget).toBe(false);
    expect(OPERATION_MODELS.ListShards.streamTarget).toBe(false);
    expect(OPERATION_MODELS.GetRecords.streamTarget).toBe(false);
  });
});

describe('OPERATION_MODELS', () => {
  it('describes member types for the HTTP layer', () => {
    const putRecords = OPERATION_MODELS.PutRecords.members;
    expect(putRecords.Records.type).toBe('list');
    expect(putRecords.Records.member?.shape).toBe('PutRecordsRequestEntry');
    expect(putRecords.Records.member?.members?.Data?.type).toBe('blob');
    expect(OPERATION_MODELS.PutRecord.members.Data.type).toBe('blob');
    expect(OPERATION_MODELS.GetShardIterator.members.Timestamp.type).toBe('timestamp');
    expect(OPERATION_MODELS.ListShards.members.ShardFilter.members?.Timestamp?.type).toBe(
      'timestamp',
    );
    expect(OPERATION_MODELS.CreateStream.members.Tags.type).toBe('map');
  });

  it('is frozen', () => {
    expect(Object.isFrozen(OPERATION_MODELS)).toBe(true);
    expect(Object.isFrozen(OPERATION_MODELS.PutRecords.members.Records)).toBe(true);
  });

  it('rejects an unknown operation', () => {
    expect(isOperationName('PutRecords')).toBe(true);
    expect(isOperationName('toString')).toBe(false);
    expect(failure('PutRecord2', {}).code).toBe('UnknownOperationException');
  });

  it('ignores members the model does not know', () => {
    expect(() => validateInput('ListStreams', { Bogus: { nested: true } })).not.toThrow();
  });
});

describe('ARN patterns', () => {
  const seed = Number(process.env.VALIDATION_SEED ?? 20261125);
  const FRAGMENTS = [
    'arn:aws',
    'arn',
    ':aws',
    '-cn',
    ':kinesis:',
    'kinesis',
    ':',
    '123456789012',
    ':123456789012:',
    '1234',
    'stream/',
    'stream',
    '/',
    'orders',
    'a',
    ' ',
    '\n',
    '\t',
    '/consumer/',
    'consumer',
    ':1700000000',
    '9',
    '.',
    'x_y-z',
  ];
  /** mulberry32: a small seeded generator, so a failure can be replayed with its seed. */
  function generator(state: number): () => number {
    return () => {
      state = (state + 0x6d2b79f5) | 0;
      let t = Math.imul(state ^ (state >>> 15), 1 | state);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
    };
  }
  /** A consumer ARN's parts, each kept, dropped, or padded with random fragments. */
  const SKELETON = [
    'arn:aws',
    ':kinesis:',
    'us-east-1',
    ':123456789012:',
    'stream/',
    'orders',
    '/consumer/',
    'reader',
    ':1700000000',
  ];
  function randomArn(random: () => number): string {
    const pick = () => FRAGMENTS[Math.floor(random() * FRAGMENTS.length)]!;
    let text = '';
    for (const part of SKELETON) {
      const roll = random();
      if (roll < 0.08) continue;
      if (roll < 0.16) text += pick();
      else text += part;
      while (random() < 0.2) text += pick();
    }
    // Stream and resource ARNs end at the stream name; a consumer ARN goes on.
    const consumerAt = text.indexOf('/consumer/');
    return consumerAt >= 0 && random() < 0.4 ? text.slice(0, consumerAt) : text;
  }
  const cases: [string, string, (arn: string) => Record<string, unknown>][] = [
    ['StreamARN', 'DescribeStreamSummary', (arn) => ({ StreamARN: arn })],
    ['ResourceARN', 'ListTagsForResource', (arn) => ({ ResourceARN: arn })],
    ['ConsumerARN', 'DescribeStreamConsumer', (arn) => ({ ConsumerARN: arn })],
  ];

  for (const [member, operation, inputOf] of cases) {
    it(`matches ${member} exactly as the model's pattern does (seed ${seed})`, () => {
      const members: Record<string, { pattern?: string }> =
        OPERATION_MODELS[operation as OperationName].members;
      const model = new RegExp(`^(?:${members[member]!.pattern})$`);
      const random = generator(seed);
      let matched = 0;
      let rejected = 0;
      for (let i = 0; i < 20_000; i++) {
        const arn = randomArn(random);
        let accepted = true;
        try {
          validateInput(operation, inputOf(arn));
        } catch {
          accepted = false;
        }
        if (accepted !== model.test(arn)) {
          throw new Error(`seed ${seed}: ${JSON.stringify(arn)} accepted=${accepted}`);
        }
        if (accepted) matched++;
        else rejected++;
      }
      // Both answers must be common, or the comparison proves little.
      expect(matched).toBeGreaterThan(1000);
      expect(rejected).toBeGreaterThan(1000);
      console.log(`${member} (seed ${seed}): ${matched} matched, ${rejected} rejected`);
    });
  }

  it('fails a crafted 2015-character value in linear time', () => {
    const arn =
      'arn:aws' +
      ':kinesis:'.repeat(75) +
      ':123456789012:'.repeat(48) +
      'stream/'.repeat(80) +
      'x'.repeat(100) +
      ' ';
    for (const [, operation, inputOf] of cases) {
      const started = performance.now();
      expect(failure(operation, inputOf(arn)).code).toBe('ValidationException');
      // The model's own regex takes about 300 ms on ResourceARN; the linear one under 1 ms.
      expect(performance.now() - started).toBeLessThan(50);
    }
  });
});

/** A well-formed request for every modeled operation. */
const HAPPY_INPUTS: Record<OperationName, Record<string, unknown>> = {
  AddTagsToStream: { StreamName: 'orders', Tags: { team: 'data', empty: '' } },
  CreateStream: {
    StreamName: 'orders.v2_test-1',
    ShardCount: 4,
    StreamModeDetails: { StreamMode: 'PROVISIONED' },
    Tags: { team: 'data' },
    MaxRecordSizeInKiB: 10_240,
    WarmThroughputMiBps: 0,
  },
  DecreaseStreamRetentionPeriod: { StreamARN: STREAM_ARN, RetentionPeriodHours: 24 },
  DeleteResourcePolicy: { ResourceARN: STREAM_ARN },
  DeleteStream: { StreamName: 'orders', EnforceConsumerDeletion: true },
  DeregisterStreamConsumer: { ConsumerARN: CONSUMER_ARN },
  DescribeAccountSettings: {},
  DescribeLimits: {},
  DescribeStream: { StreamName: 'orders', Limit: 100, ExclusiveStartShardId: SHARD_ID },
  DescribeStreamConsumer: { StreamARN: STREAM_ARN, ConsumerName: 'reader' },
  DescribeStreamSummary: { StreamARN: STREAM_ARN },
  DisableEnhancedMonitoring: { StreamName: 'orders', ShardLevelMetrics: ['ALL'] },
  EnableEnhancedMonitoring: {
    StreamName: 'orders',
    ShardLevelMetrics: ['IncomingBytes', 'IteratorAgeMilliseconds'],
  },
  GetRecords: { ShardIterator: 'AAAAAAAAAAF', Limit: 10_000, StreamARN: STREAM_ARN },
  GetResourcePolicy: { ResourceARN: CONSUMER_ARN },
  GetShardIterator: {
    StreamName: 'orders',
    ShardId: SHARD_ID,
    ShardIteratorType: 'AT_TIMESTAMP',
    Timestamp: new Date(1_700_000_000_123),
  },
  IncreaseStreamRetentionPeriod: { StreamName: 'orders', RetentionPeriodHours: 8760 },
  ListShards: {
    StreamName: 'orders',
    MaxResults: 1000,
    ShardFilter: { Type: 'AFTER_SHARD_ID', ShardId: SHARD_ID },
    StreamCreationTimestamp: new Date(0),
  },
  ListStreamConsumers: { StreamARN: STREAM_ARN, MaxResults: 100 },
  ListStreams: { Limit: 10, ExclusiveStartStreamName: 'orders', NextToken: 'token' },
  ListTagsForResource: { ResourceARN: CONSUMER_ARN },
  ListTagsForStream: { StreamName: 'orders', ExclusiveStartTagKey: 'team', Limit: 50 },
  MergeShards: {
    StreamName: 'orders',
    ShardToMerge: SHARD_ID,
    AdjacentShardToMerge: 'shardId-000000000001',
  },
  PutRecord: {
    StreamName: 'orders',
    Data: new Uint8Array(0),
    PartitionKey: 'pk',
    ExplicitHashKey: '170141183460469231731687303715884105728',
    SequenceNumberForOrdering: '49600871682957036442365024926191073437251060580128653314',
  },
  PutRecords: {
    StreamARN: STREAM_ARN,
    Records: [record('a'), { ...record('b', 3), ExplicitHashKey: '0' }],
  },
  PutResourcePolicy: { ResourceARN: STREAM_ARN, Policy: '{"Version":"2012-10-17","Statement":[]}' },
  RegisterStreamConsumer: { StreamARN: STREAM_ARN, ConsumerName: 'reader' },
  RemoveTagsFromStream: { StreamName: 'orders', TagKeys: ['team'] },
  SplitShard: { StreamName: 'orders', ShardToSplit: SHARD_ID, NewStartingHashKey: '42' },
  StartStreamEncryption: { StreamName: 'orders', EncryptionType: 'KMS', KeyId: KMS_KEY },
  StopStreamEncryption: { StreamName: 'orders', EncryptionType: 'KMS', KeyId: KMS_KEY },
  SubscribeToShard: {
    ConsumerARN: CONSUMER_ARN,
    ShardId: SHARD_ID,
    StartingPosition: { Type: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: '1' },
  },
  TagResource: { ResourceARN: STREAM_ARN, Tags: { team: 'data' } },
  UntagResource: { ResourceARN: STREAM_ARN, TagKeys: ['team'] },
  UpdateAccountSettings: { MinimumThroughputBillingCommitment: { Status: 'ENABLED' } },
  UpdateMaxRecordSize: { StreamARN: STREAM_ARN, MaxRecordSizeInKiB: 2048 },
  UpdateShardCount: { StreamName: 'orders', TargetShardCount: 8, ScalingType: 'UNIFORM_SCALING' },
  UpdateStreamMode: { StreamARN: STREAM_ARN, StreamModeDetails: { StreamMode: 'ON_DEMAND' } },
  UpdateStreamRecordDistributionStrategy: {
    StreamARN: STREAM_ARN,
    RecordDistributionStrategy: 'AUTO',
  },
  UpdateStreamWarmThroughput: { StreamName: 'orders', WarmThroughputMiBps: 0 },
};

describe('happy path', () => {
  it('has a request for every modeled operation', () => {
    expect(Object.keys(HAPPY_INPUTS).sort()).toEqual(Object.keys(OPERATION_MODELS).sort());
  });

  for (const [operation, input] of Object.entries(HAPPY_INPUTS)) {
    it(`accepts ${operation}`, () => {
      expect(() => validateInput(operation, input)).not.toThrow();
    });
  }
});
