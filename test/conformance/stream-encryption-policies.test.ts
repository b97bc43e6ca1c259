/**
 * Goal: the stream encryption, resource-policy, account-settings and warm-throughput operations
 * work through the real `@aws-sdk/client-kinesis` as the reference (kinesis-api.md §2.1, §2.6,
 * §2.7, §3.4) describes them, with every refusal a typed Kinesis error with its full message:
 *  - StartStreamEncryption / StopStreamEncryption: every documented KeyId form accepted, a
 *    malformed one and EncryptionType NONE refused; the stream UPDATING for the transition, then
 *    ACTIVE; DescribeStream and DescribeStreamSummary report EncryptionType and KeyId at once;
 *    PutRecord and PutRecords report KMS from when the stream is ACTIVE again, NONE after
 *    StopStreamEncryption; GetRecords and SubscribeToShard report each record's own: KMS if it
 *    was put while the encryption was in effect, nothing otherwise, whatever the stream's
 *    setting when it is read (also after a restart); the binary protocol's RECORDS carry the
 *    stored batches with attributes 0, as its spec has them;
 *  - PutResourcePolicy / GetResourcePolicy / DeleteResourcePolicy on a stream and on a consumer
 *    (by the ARN TagResource takes, with its errors for any other ARN): the document as given,
 *    `{}` without one, a JSON object of at most 20 KiB required, ResourceNotFoundException to
 *    delete a policy there is not, and the policy gone with its stream or consumer;
 *  - DescribeAccountSettings / UpdateAccountSettings: the minimum throughput billing commitment
 *    DISABLED, ENABLED with its earliest end 24 h on, ENABLED_UNTIL_EARLIEST_ALLOWED_END when
 *    turned off sooner (ending then, on an engine clock the test moves), turned on again;
 *  - UpdateStreamWarmThroughput: ON_DEMAND streams of a committed account only, at most
 *    10 GiBps, UPDATING then ACTIVE with CurrentMiBps reaching the target, reported by
 *    DescribeStreamSummary as WarmThroughput;
 *  - every setting survives a restart on the same data directory, and a change cut short by one
 *    completes;
 *  - each operation also answers over CBOR (`application/x-amz-cbor-1.1`).
 * Servers are in-process `startServer` on 127.0.0.1 with free ports, temp data dirs and real
 * worker threads. The main one has a TRANSITION_MS stream transition, so UPDATING can be seen.
 */

import {
  CreateStreamCommand,
  DescribeAccountSettingsCommand,
  DeleteResourcePolicyCommand,
  DeleteStreamCommand,
  DeregisterStreamConsumerCommand,
  DescribeStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetResourcePolicyCommand,
  GetShardIteratorCommand,
  KinesisClient,
  PutRecordCommand,
  PutRecordsCommand,
  PutResourcePolicyCommand,
  StartStreamEncryptionCommand,
  StopStreamEncryptionCommand,
  SubscribeToShardCommand,
  UpdateAccountSettingsCommand,
  UpdateStreamModeCommand,
  UpdateStreamWarmThroughputCommand,
  type EncryptionType,
  type _Record,
} from '@aws-sdk/client-kinesis';
import { cbor } from '@smithy/core/cbor';
import { describe, expect, it } from 'vitest';

import {
  RESOURCE_POLICY_BYTES_MAX,
  THROUGHPUT_COMMITMENT_MS_MIN,
  WARM_THROUGHPUT_MIBPS_MAX,
} from '../../src/limits.js';
import {
  ACCOUNT,
  createActive,
  dataDirForBlock,
  failure,
  registerActive,
  serverForBlock,
  streamArn,
  waitActive,
  withServerOn,
} from '../helpers/sdk.js';

/** LimitExceededException is retried by the SDK as throttling: one attempt shows each answer. */
const ONE_ATTEMPT = { maxAttempts: 1 };

/** How long UPDATING (and CREATING, DELETING) last on the main server. */
const TRANSITION_MS = 300;
const CBOR_TYPE = 'application/x-amz-cbor-1.1';

const notActive = (name: string, state: string) =>
  `Stream ${name} under account ${ACCOUNT} not ACTIVE, instead in state ${state}`;
const notFound = (name: string) => `Stream ${name} under account ${ACCOUNT} not found.`;
const badKeyId = (keyId: string) =>
  `KeyId ${keyId} is not a KMS key identifier: give a key ID (12345678-1234-1234-1234-123456789012), ` +
  'a key ARN (arn:aws:kms:<region>:<account>:key/<key ID>), an alias name (alias/<name>, such as ' +
  'alias/aws/kinesis) or an alias ARN (arn:aws:kms:<region>:<account>:alias/<name>).';

const KEY_UUID = '12345678-1234-1234-1234-123456789012';
/** Every KeyId form StartStreamEncryption documents, plus a multi-Region key's. */
const KEY_FORMS = [
  KEY_UUID,
  `arn:aws:kms:us-east-1:123456789012:key/${KEY_UUID}`,
  'arn:aws:kms:us-east-1:123456789012:alias/MyAliasName',
  'alias/MyAliasName',
  'alias/aws/kinesis',
  'mrk-1234abcd12ab34cd56ef1234567890ab',
  'arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab',
];

/** A policy document as PutResourcePolicy takes it (JSON text), granting `account` reads. */
const policyFor = (resourceArn: string, account = '111122223333') =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${account}:root` },
        Action: ['kinesis:DescribeStreamSummary', 'kinesis:GetRecords'],
        Resource: resourceArn,
      },
    ],
  });
const noPolicy = (arn: string) => `No resource policy found for resource ARN ${arn}.`;
const notJsonPolicy =
  'Policy is not a JSON policy document: it must be a JSON object, such as ' +
  '{"Version":"2012-10-17","Statement":[...]}.';

async function summary(client: KinesisClient, name: string) {
  return (await client.send(new DescribeStreamSummaryCommand({ StreamName: name })))
    .StreamDescriptionSummary!;
}

async function description(client: KinesisClient, name: string) {
  return (await client.send(new DescribeStreamCommand({ StreamName: name }))).StreamDescription!;
}

/** Sends one CBOR request the way the Java SDKs do and decodes the answer. */
async function cborCall(
  endpoint: string,
  operation: string,
  input: Record<string, unknown>,
): Promise<{ status: number; contentType: string | null; value: Record<string, unknown> }> {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': CBOR_TYPE, 'x-amz-target': `Kinesis_20131202.${operation}` },
    body: cbor.serialize(input),
  });
  const bytes = new Uint8Array(await response.arrayBuffer());
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    value: cbor.deserialize(bytes) as Record<string, unknown>,
  };
}

describe('stream encryption through the SDK', () => {
  const runnel = serverForBlock({
    dataDirPrefix: 'runnel-encryption-',
    workers: 2,
    engineOptions: { streamTransitionMs: TRANSITION_MS },
    client: ONE_ATTEMPT,
  });

  const start = (
    target: { StreamName?: string; StreamARN?: string },
    KeyId = 'alias/aws/kinesis',
  ) =>
    runnel.client.send(
      new StartStreamEncryptionCommand({ ...target, EncryptionType: 'KMS', KeyId }),
    );
  const stop = (target: { StreamName?: string; StreamARN?: string }, KeyId = 'alias/aws/kinesis') =>
    runnel.client.send(
      new StopStreamEncryptionCommand({ ...target, EncryptionType: 'KMS', KeyId }),
    );
  const putOne = (name: string, data: string) =>
    runnel.client.send(
      new PutRecordCommand({ StreamName: name, PartitionKey: 'pk', Data: Buffer.from(data) }),
    );
  const putMany = (name: string, data: string[]) =>
    runnel.client.send(
      new PutRecordsCommand({
        StreamName: name,
        Records: data.map((text) => ({ PartitionKey: 'pk', Data: Buffer.from(text) })),
      }),
    );

  /** Every record of the stream's one shard, by one GetRecords from TRIM_HORIZON. */
  async function readAll(name: string): Promise<_Record[]> {
    const { ShardIterator } = await runnel.client.send(
      new GetShardIteratorCommand({
        StreamName: name,
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    return (await runnel.client.send(new GetRecordsCommand({ ShardIterator }))).Records!;
  }

  it('starts encryption: UPDATING, then ACTIVE; Describe* report KMS and the key, records KMS once ACTIVE', async () => {
    await createActive(runnel.client, 'sealed', 1);
    const before = await summary(runnel.client, 'sealed');
    expect(before.EncryptionType).toBe('NONE');
    expect(before.KeyId).toBeUndefined();
    expect((await putOne('sealed', 'plain')).EncryptionType).toBe('NONE');

    await start({ StreamName: 'sealed' });
    const updating = await summary(runnel.client, 'sealed');
    expect(updating.StreamStatus).toBe('UPDATING');
    expect(updating.EncryptionType).toBe('KMS');
    expect(updating.KeyId).toBe('alias/aws/kinesis');
    const described = await description(runnel.client, 'sealed');
    expect(described.EncryptionType).toBe('KMS');
    expect(described.KeyId).toBe('alias/aws/kinesis');
    // Writes go on while UPDATING, not yet encrypted (Kinesis encrypts once the stream is ACTIVE).
    expect((await putOne('sealed', 'during')).EncryptionType).toBe('NONE');
    // Only an ACTIVE stream changes its encryption.
    const busy = await failure(stop({ StreamName: 'sealed' }));
    expect(busy.name).toBe('ResourceInUseException');
    expect(busy.message).toBe(notActive('sealed', 'UPDATING'));

    await waitActive(runnel.client, 'sealed');
    expect((await putOne('sealed', 'one')).EncryptionType).toBe('KMS');
    const many = await putMany('sealed', ['two', 'three']);
    expect(many.FailedRecordCount).toBe(0);
    expect(many.EncryptionType).toBe('KMS');
    // Each record reports the encryption in effect when it was put.
    const records = await readAll('sealed');
    expect(records.map((record) => Buffer.from(record.Data!).toString())).toEqual([
      'plain',
      'during',
      'one',
      'two',
      'three',
    ]);
    expect(records.map((record) => record.EncryptionType)).toEqual([
      undefined,
      undefined,
      'KMS',
      'KMS',
      'KMS',
    ]);
  });

  it('stops encryption by StreamARN: UPDATING, then NONE without KeyId, and records without KMS', async () => {
    await createActive(runnel.client, 'unsealed', 1);
    await start({ StreamARN: streamArn('unsealed') }, KEY_UUID);
    await waitActive(runnel.client, 'unsealed');
    expect((await putOne('unsealed', 'sealed')).EncryptionType).toBe('KMS');

    await stop({ StreamARN: streamArn('unsealed') }, KEY_UUID);
    const updating = await summary(runnel.client, 'unsealed');
    expect(updating.StreamStatus).toBe('UPDATING');
    expect(updating.EncryptionType).toBe('NONE');
    expect(updating.KeyId).toBeUndefined();
    expect((await description(runnel.client, 'unsealed')).KeyId).toBeUndefined();
    // Still encrypted until the stream is ACTIVE again.
    expect((await putOne('unsealed', 'during')).EncryptionType).toBe('KMS');
    expect((await readAll('unsealed')).map((record) => record.EncryptionType)).toEqual([
      'KMS',
      'KMS',
    ]);

    await waitActive(runnel.client, 'unsealed');
    expect((await putOne('unsealed', 'after')).EncryptionType).toBe('NONE');
    expect((await putMany('unsealed', ['x'])).EncryptionType).toBe('NONE');
    const records = await readAll('unsealed');
    expect(records.map((record) => record.EncryptionType)).toEqual([
      'KMS',
      'KMS',
      undefined,
      undefined,
    ]);
  });

  it('accepts every documented KeyId form, reports the key in use, and changes nothing for the same key', async () => {
    await createActive(runnel.client, 'keys', 1);
    for (const keyId of KEY_FORMS) {
      await start({ StreamName: 'keys' }, keyId);
      const updating = await summary(runnel.client, 'keys');
      expect(updating.StreamStatus, keyId).toBe('UPDATING');
      expect(updating.KeyId, keyId).toBe(keyId);
      await waitActive(runnel.client, 'keys');
    }
    // The key already in effect: accepted, and the stream stays ACTIVE.
    await start({ StreamName: 'keys' }, KEY_FORMS[KEY_FORMS.length - 1]);
    expect((await summary(runnel.client, 'keys')).StreamStatus).toBe('ACTIVE');
    // Stopping takes any well-formed KeyId (Runnel holds no keys to compare it with).
    await stop({ StreamName: 'keys' }, 'alias/other');
    await waitActive(runnel.client, 'keys');
    expect((await summary(runnel.client, 'keys')).EncryptionType).toBe('NONE');
    // Stopping a stream without encryption changes nothing.
    await stop({ StreamName: 'keys' });
    expect((await summary(runnel.client, 'keys')).StreamStatus).toBe('ACTIVE');
  });

  it('refuses EncryptionType NONE, a malformed KeyId, a bad target and a stream not ACTIVE', async () => {
    await createActive(runnel.client, 'refusing', 1);
    for (const send of [
      () =>
        runnel.client.send(
          new StartStreamEncryptionCommand({
            StreamName: 'refusing',
            EncryptionType: 'NONE',
            KeyId: KEY_UUID,
          }),
        ),
      () =>
        runnel.client.send(
          new StopStreamEncryptionCommand({
            StreamName: 'refusing',
            EncryptionType: 'NONE',
            KeyId: KEY_UUID,
          }),
        ),
    ]) {
      const none = await failure(send());
      expect(none.name).toBe('InvalidArgumentException');
      expect(none.message).toBe(
        'EncryptionType NONE is not valid here: the only valid value is KMS.',
      );
    }
    const malformed = [
      'not-a-key',
      '12345678-1234-1234-1234-12345678901',
      'arn:aws:kms:us-east-1:123456789012:key/not-a-uuid',
      'arn:aws:kms:us-east-1:12345:alias/short-account',
      'arn:aws:s3:::bucket',
      'alias/',
      'alias/has space',
      'mrk-1234',
    ];
    for (const keyId of malformed) {
      const error = await failure(start({ StreamName: 'refusing' }, keyId));
      expect(error.name, keyId).toBe('InvalidArgumentException');
      expect(error.message, keyId).toBe(badKeyId(keyId));
      const stopped = await failure(stop({ StreamName: 'refusing' }, keyId));
      expect(stopped.message, keyId).toBe(badKeyId(keyId));
    }
    // A long one is shown cut.
    const long = `alias/${'x'.repeat(300)} `;
    expect((await failure(start({ StreamName: 'refusing' }, long))).message).toBe(
      badKeyId(`${long.slice(0, 128)}...`),
    );
    // The model's bounds: 1 to 2048 characters.
    const empty = await failure(start({ StreamName: 'refusing' }, ''));
    expect(empty.name).toBe('ValidationException');
    expect(empty.message).toBe(
      "1 validation error detected: Value '' at 'keyId' failed to satisfy constraint: " +
        'Member must have length greater than or equal to 1',
    );
    const tooLong = await failure(start({ StreamName: 'refusing' }, `alias/${'x'.repeat(2043)}`));
    expect(tooLong.name).toBe('ValidationException');
    expect(tooLong.message).toMatch(
      /at 'keyId' failed to satisfy constraint: Member must have length less than or equal to 2048$/,
    );

    const missing = await failure(start({ StreamName: 'no-such-stream' }));
    expect(missing.name).toBe('ResourceNotFoundException');
    expect(missing.message).toBe(notFound('no-such-stream'));
    const neither = await failure(start({}));
    expect(neither.name).toBe('InvalidArgumentException');
    expect(neither.message).toBe('Neither StreamName nor StreamARN was provided.');
    expect((await summary(runnel.client, 'refusing')).EncryptionType).toBe('NONE');
    expect((await summary(runnel.client, 'refusing')).StreamStatus).toBe('ACTIVE');
  });

  it('reports on SubscribeToShard event records the encryption each was put with', async () => {
    await createActive(runnel.client, 'sealed-efo', 1);
    const consumer = async (name: string) =>
      (await registerActive(runnel.client, 'sealed-efo', name)).ConsumerARN!;
    /** The EncryptionType of each record of the first event that has records. */
    const subscribedTypes = async (
      consumerArn: string,
    ): Promise<(EncryptionType | undefined)[]> => {
      const response = await runnel.client.send(
        new SubscribeToShardCommand({
          ConsumerARN: consumerArn,
          ShardId: 'shardId-000000000000',
          StartingPosition: { Type: 'TRIM_HORIZON' },
        }),
      );
      for await (const message of response.EventStream!) {
        const records = message.SubscribeToShardEvent?.Records ?? [];
        if (records.length > 0) return records.map((record) => record.EncryptionType);
      }
      throw new Error('the subscription ended without records');
    };
    await putMany('sealed-efo', ['a', 'b']);
    expect(await subscribedTypes(await consumer('before'))).toEqual([undefined, undefined]);
    await start({ StreamName: 'sealed-efo' });
    await waitActive(runnel.client, 'sealed-efo');
    // Put before the encryption: still unencrypted, read after it.
    expect(await subscribedTypes(await consumer('after'))).toEqual([undefined, undefined]);
    await putMany('sealed-efo', ['c']);
    await stop({ StreamName: 'sealed-efo' });
    await waitActive(runnel.client, 'sealed-efo');
    await putMany('sealed-efo', ['d']);
    // One event from the start holds all four; only the one put while encrypted says KMS.
    expect(await subscribedTypes(await consumer('later'))).toEqual([
      undefined,
      undefined,
      'KMS',
      undefined,
    ]);
  });

  it('answers StartStreamEncryption, StopStreamEncryption and the records over CBOR', async () => {
    await createActive(runnel.client, 'sealed-cbor', 1);
    const endpoint = runnel.server.kinesisUrl;
    const started = await cborCall(endpoint, 'StartStreamEncryption', {
      StreamName: 'sealed-cbor',
      EncryptionType: 'KMS',
      KeyId: KEY_UUID,
    });
    expect(started.status).toBe(200);
    expect(started.contentType).toBe(CBOR_TYPE);
    expect(started.value).toEqual({});
    await waitActive(runnel.client, 'sealed-cbor');
    const summarized = await cborCall(endpoint, 'DescribeStreamSummary', {
      StreamName: 'sealed-cbor',
    });
    const fields = summarized.value.StreamDescriptionSummary as Record<string, unknown>;
    expect(fields.EncryptionType).toBe('KMS');
    expect(fields.KeyId).toBe(KEY_UUID);
    const put = await cborCall(endpoint, 'PutRecord', {
      StreamName: 'sealed-cbor',
      PartitionKey: 'pk',
      Data: new Uint8Array([1, 2, 3]),
    });
    expect(put.value.EncryptionType).toBe('KMS');
    const puts = await cborCall(endpoint, 'PutRecords', {
      StreamName: 'sealed-cbor',
      Records: [{ PartitionKey: 'pk', Data: new Uint8Array([4]) }],
    });
    expect(puts.value.EncryptionType).toBe('KMS');
    const refused = await cborCall(endpoint, 'StartStreamEncryption', {
      StreamName: 'sealed-cbor',
      EncryptionType: 'KMS',
      KeyId: 'not-a-key',
    });
    expect(refused.status).toBe(400);
    expect(refused.value).toEqual({
      __type: 'InvalidArgumentException',
      message: badKeyId('not-a-key'),
    });
    const stopped = await cborCall(endpoint, 'StopStreamEncryption', {
      StreamARN: streamArn('sealed-cbor'),
      EncryptionType: 'KMS',
      KeyId: KEY_UUID,
    });
    expect(stopped.status).toBe(200);
    expect(stopped.value).toEqual({});
    const after = await summary(runnel.client, 'sealed-cbor');
    expect(after.EncryptionType).toBe('NONE');
    expect(after.StreamStatus).toBe('UPDATING');
  });
});

describe('resource policies through the SDK', () => {
  const runnel = serverForBlock({
    dataDirPrefix: 'runnel-policies-',
    workers: 1,
    client: ONE_ATTEMPT,
  });

  const put = (ResourceARN: string, Policy: string) =>
    runnel.client.send(new PutResourcePolicyCommand({ ResourceARN, Policy }));
  const get = async (ResourceARN: string) =>
    (await runnel.client.send(new GetResourcePolicyCommand({ ResourceARN }))).Policy;
  const remove = (ResourceARN: string) =>
    runnel.client.send(new DeleteResourcePolicyCommand({ ResourceARN }));

  it('puts, replaces, gets and deletes the policy of a stream and of a consumer, each its own', async () => {
    await createActive(runnel.client, 'shared', 1);
    const stream = streamArn('shared');
    const consumer = (await registerActive(runnel.client, 'shared', 'partner')).ConsumerARN!;
    // Without a policy: the empty document, not an error.
    expect(await get(stream)).toBe('{}');
    expect(await get(consumer)).toBe('{}');

    const first = policyFor(stream);
    await put(stream, first);
    expect(await get(stream)).toBe(first);
    expect(await get(consumer)).toBe('{}');
    // Stored as given, whitespace and all; a second put replaces it.
    const spaced = `{\n  "Version": "2012-10-17",\n  "Statement": []\n}`;
    await put(stream, spaced);
    expect(await get(stream)).toBe(spaced);
    const forConsumer = policyFor(consumer, '444455556666');
    await put(consumer, forConsumer);
    expect(await get(consumer)).toBe(forConsumer);
    expect(await get(stream)).toBe(spaced);

    await remove(stream);
    expect(await get(stream)).toBe('{}');
    expect(await get(consumer)).toBe(forConsumer);
    const again = await failure(remove(stream));
    expect(again.name).toBe('ResourceNotFoundException');
    expect(again.message).toBe(noPolicy(stream));
    await remove(consumer);
    expect(await get(consumer)).toBe('{}');
    const consumerAgain = await failure(remove(consumer));
    expect(consumerAgain.name).toBe('ResourceNotFoundException');
    expect(consumerAgain.message).toBe(noPolicy(consumer));
  });

  it('takes a JSON object of at most 20 KiB, and refuses anything else', async () => {
    await createActive(runnel.client, 'strict', 1);
    const stream = streamArn('strict');
    for (const policy of ['', 'not json', '{"Version":', '[]', '"text"', '42', 'null', 'true']) {
      const error = await failure(put(stream, policy));
      expect(error.name, policy).toBe('InvalidArgumentException');
      expect(error.message, policy).toBe(notJsonPolicy);
    }
    // Exactly the limit in UTF-8 bytes (a two-byte character included) is accepted; one more is not.
    const head = '{"Sid":"ü","Pad":"';
    const fitting = `${head}${'x'.repeat(RESOURCE_POLICY_BYTES_MAX - Buffer.byteLength(head) - 2)}"}`;
    expect(Buffer.byteLength(fitting)).toBe(RESOURCE_POLICY_BYTES_MAX);
    await put(stream, fitting);
    expect(await get(stream)).toBe(fitting);
    const over = `${head}${'x'.repeat(RESOURCE_POLICY_BYTES_MAX - Buffer.byteLength(head) - 1)}"}`;
    const tooLarge = await failure(put(stream, over));
    expect(tooLarge.name).toBe('InvalidArgumentException');
    expect(tooLarge.message).toBe(
      `Policy is ${RESOURCE_POLICY_BYTES_MAX + 1} bytes, more than the ${RESOURCE_POLICY_BYTES_MAX} bytes a ` +
        'resource policy may have.',
    );
    expect(await get(stream)).toBe(fitting);
  });

  it('answers any other ARN as TagResource does', async () => {
    await createActive(runnel.client, 'known', 1);
    const policy = policyFor(streamArn('known'));
    const unknownStream = streamArn('unknown');
    const otherRegion = `arn:aws:kinesis:eu-west-1:${ACCOUNT}:stream/known`;
    const unknownConsumer = `${streamArn('known')}/consumer/nobody:1700000000`;
    const cases: [string, string][] = [
      [unknownStream, notFound('unknown')],
      [
        otherRegion,
        `Resource ${otherRegion} not found: this endpoint serves the streams of account ${ACCOUNT} in ` +
          `us-east-1, whose ARNs begin arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/.`,
      ],
      [
        unknownConsumer,
        `Consumer ${unknownConsumer} under stream known under account ${ACCOUNT} not found.`,
      ],
    ];
    for (const [arn, message] of cases) {
      for (const send of [() => put(arn, policy), () => get(arn), () => remove(arn)]) {
        const error = await failure(send());
        expect(error.name, arn).toBe('ResourceNotFoundException');
        expect(error.message, arn).toBe(message);
      }
    }
    // Not an ARN at all: the model's pattern.
    const malformed = await failure(get('stream/known'));
    expect(malformed.name).toBe('ValidationException');
    expect(malformed.message).toBe(
      "1 validation error detected: Value 'stream/known' at 'resourceARN' failed to satisfy constraint: " +
        'Member must satisfy regular expression pattern: arn:aws.*:kinesis:.*:\\d{12}:.*stream/\\S+',
    );
    const noDocument = await failure(
      runnel.client.send(
        new PutResourcePolicyCommand({
          ResourceARN: streamArn('known'),
          Policy: undefined as never,
        }),
      ),
    );
    expect(noDocument.name).toBe('ValidationException');
    expect(noDocument.message).toBe(
      "1 validation error detected: Value null at 'policy' failed to satisfy constraint: Member must not be null",
    );
  });

  it('goes with its stream and with its consumer', async () => {
    await createActive(runnel.client, 'fleeting', 1);
    const stream = streamArn('fleeting');
    const consumer = (await registerActive(runnel.client, 'fleeting', 'reader')).ConsumerARN!;
    await put(stream, policyFor(stream));
    await put(consumer, policyFor(consumer));

    await runnel.client.send(new DeregisterStreamConsumerCommand({ ConsumerARN: consumer }));
    const gone = await failure(get(consumer));
    expect(gone.name).toBe('ResourceNotFoundException');
    // The same name registered again is a new consumer (a new ARN), without a policy.
    const successor = (await registerActive(runnel.client, 'fleeting', 'reader')).ConsumerARN!;
    expect(successor).not.toBe(consumer);
    expect(await get(successor)).toBe('{}');

    await runnel.client.send(
      new DeleteStreamCommand({ StreamName: 'fleeting', EnforceConsumerDeletion: true }),
    );
    expect((await failure(get(stream))).message).toBe(notFound('fleeting'));
    await runnel.client.send(new CreateStreamCommand({ StreamName: 'fleeting', ShardCount: 1 }));
    await waitActive(runnel.client, 'fleeting');
    expect(await get(stream)).toBe('{}');
  });

  it('answers the three operations over CBOR', async () => {
    await createActive(runnel.client, 'policy-cbor', 1);
    const stream = streamArn('policy-cbor');
    const endpoint = runnel.server.kinesisUrl;
    const document = policyFor(stream);
    const putAnswer = await cborCall(endpoint, 'PutResourcePolicy', {
      ResourceARN: stream,
      Policy: document,
    });
    expect(putAnswer.status).toBe(200);
    expect(putAnswer.contentType).toBe(CBOR_TYPE);
    expect(putAnswer.value).toEqual({});
    const getAnswer = await cborCall(endpoint, 'GetResourcePolicy', { ResourceARN: stream });
    expect(getAnswer.status).toBe(200);
    expect(getAnswer.value).toEqual({ Policy: document });
    const deleteAnswer = await cborCall(endpoint, 'DeleteResourcePolicy', { ResourceARN: stream });
    expect(deleteAnswer.status).toBe(200);
    expect(deleteAnswer.value).toEqual({});
    const again = await cborCall(endpoint, 'DeleteResourcePolicy', { ResourceARN: stream });
    expect(again.status).toBe(400);
    expect(again.value).toEqual({ __type: 'ResourceNotFoundException', message: noPolicy(stream) });
  });
});

describe('account settings and warm throughput through the SDK', () => {
  /** How far the engine's clock is ahead of the real one: the tests move it a day at a time. */
  let clockAheadMs = 0;
  const now = () => Date.now() + clockAheadMs;
  const runnel = serverForBlock({
    dataDirPrefix: 'runnel-account-',
    workers: 1,
    engineOptions: { streamTransitionMs: TRANSITION_MS, clock: now },
    client: ONE_ATTEMPT,
  });

  const describeCommitment = async () =>
    (await runnel.client.send(new DescribeAccountSettingsCommand({})))
      .MinimumThroughputBillingCommitment;
  const commit = async (Status: 'ENABLED' | 'DISABLED') =>
    (
      await runnel.client.send(
        new UpdateAccountSettingsCommand({ MinimumThroughputBillingCommitment: { Status } }),
      )
    ).MinimumThroughputBillingCommitment;
  const warm = (target: { StreamName?: string; StreamARN?: string }, WarmThroughputMiBps: number) =>
    runnel.client.send(new UpdateStreamWarmThroughputCommand({ ...target, WarmThroughputMiBps }));
  const warmOf = async (name: string) => (await summary(runnel.client, name)).WarmThroughput;

  it('keeps the minimum throughput billing commitment: on, off at its earliest end, on again', async () => {
    expect(await describeCommitment()).toEqual({ Status: 'DISABLED' });
    // Off while off changes nothing.
    expect(await commit('DISABLED')).toEqual({ Status: 'DISABLED' });

    const before = now();
    const enabled = await commit('ENABLED');
    const after = now();
    expect(enabled!.Status).toBe('ENABLED');
    const started = enabled!.StartedAt!.getTime();
    expect(started).toBeGreaterThanOrEqual(before);
    expect(started).toBeLessThanOrEqual(after);
    const earliestEnd = new Date(started + THROUGHPUT_COMMITMENT_MS_MIN);
    expect(enabled).toEqual({
      Status: 'ENABLED',
      StartedAt: new Date(started),
      EarliestAllowedEndAt: earliestEnd,
    });
    expect(await describeCommitment()).toEqual(enabled);
    // On while on changes nothing.
    expect(await commit('ENABLED')).toEqual(enabled);

    // Off before the earliest end: it stays on until then.
    const pending = {
      Status: 'ENABLED_UNTIL_EARLIEST_ALLOWED_END',
      StartedAt: new Date(started),
      EarliestAllowedEndAt: earliestEnd,
    };
    expect(await commit('DISABLED')).toEqual(pending);
    expect(await describeCommitment()).toEqual(pending);
    expect(await commit('DISABLED')).toEqual(pending);
    // On again cancels the pending end.
    expect(await commit('ENABLED')).toEqual(enabled);
    expect(await commit('DISABLED')).toEqual(pending);

    clockAheadMs += THROUGHPUT_COMMITMENT_MS_MIN;
    expect(await describeCommitment()).toEqual({
      Status: 'DISABLED',
      StartedAt: new Date(started),
      EndedAt: earliestEnd,
    });

    // A new commitment, turned off after its earliest end: it ends at once.
    const again = await commit('ENABLED');
    const restarted = again!.StartedAt!.getTime();
    expect(restarted).toBeGreaterThanOrEqual(started + THROUGHPUT_COMMITMENT_MS_MIN);
    expect(again!.EarliestAllowedEndAt!.getTime()).toBe(restarted + THROUGHPUT_COMMITMENT_MS_MIN);
    clockAheadMs += THROUGHPUT_COMMITMENT_MS_MIN + 1_000;
    const beforeEnd = now();
    const ended = await commit('DISABLED');
    expect(ended!.Status).toBe('DISABLED');
    expect(ended!.StartedAt).toEqual(new Date(restarted));
    expect(ended!.EndedAt!.getTime()).toBeGreaterThanOrEqual(beforeEnd);
    expect(ended!.EarliestAllowedEndAt).toBeUndefined();

    const badStatus = await failure(
      runnel.client.send(
        new UpdateAccountSettingsCommand({
          MinimumThroughputBillingCommitment: { Status: 'PAUSED' as never },
        }),
      ),
    );
    expect(badStatus.name).toBe('ValidationException');
    expect(badStatus.message).toBe(
      "1 validation error detected: Value 'PAUSED' at 'minimumThroughputBillingCommitment.status' failed to " +
        'satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]',
    );
    const missing = await failure(
      runnel.client.send(new UpdateAccountSettingsCommand({} as never)),
    );
    expect(missing.name).toBe('ValidationException');
    expect(missing.message).toBe(
      "1 validation error detected: Value null at 'minimumThroughputBillingCommitment' failed to satisfy " +
        'constraint: Member must not be null',
    );
    expect((await describeCommitment())!.Status).toBe('DISABLED');
  });

  it('sets warm throughput on ON_DEMAND streams of a committed account: UPDATING, then reached', async () => {
    await createActive(runnel.client, 'warm');
    await createActive(runnel.client, 'cold', 1);
    expect((await describeCommitment())!.Status).toBe('DISABLED');
    const uncommitted = await failure(warm({ StreamName: 'warm' }, 100));
    expect(uncommitted.name).toBe('InvalidArgumentException');
    expect(uncommitted.message).toBe(
      `Account ${ACCOUNT} has no minimum throughput billing commitment: warm throughput needs ` +
        'MinimumThroughputBillingCommitment ENABLED (UpdateAccountSettings).',
    );
    expect(await warmOf('warm')).toBeUndefined();

    await commit('ENABLED');
    const provisioned = await failure(warm({ StreamName: 'cold' }, 100));
    expect(provisioned.name).toBe('ValidationException');
    expect(provisioned.message).toBe(
      `Stream cold under account ${ACCOUNT} is in PROVISIONED mode: UpdateStreamWarmThroughput applies to ` +
        'ON_DEMAND streams only.',
    );
    const tooMuch = await failure(warm({ StreamName: 'warm' }, WARM_THROUGHPUT_MIBPS_MAX + 1));
    expect(tooMuch.name).toBe('LimitExceededException');
    expect(tooMuch.message).toBe(
      `Requested warm throughput (${WARM_THROUGHPUT_MIBPS_MAX + 1} MiBps) for stream warm under account ` +
        `${ACCOUNT} exceeds the maximum of ${WARM_THROUGHPUT_MIBPS_MAX} MiBps.`,
    );
    const negative = await failure(warm({ StreamName: 'warm' }, -1));
    expect(negative.name).toBe('ValidationException');
    expect(negative.message).toBe(
      "1 validation error detected: Value '-1' at 'warmThroughputMiBps' failed to satisfy constraint: " +
        'Member must have value greater than or equal to 0',
    );
    const unknown = await failure(warm({ StreamName: 'no-such-stream' }, 1));
    expect(unknown.name).toBe('ResourceNotFoundException');
    expect(unknown.message).toBe(notFound('no-such-stream'));
    const neither = await failure(warm({}, 1));
    expect(neither.name).toBe('InvalidArgumentException');
    expect(neither.message).toBe('Neither StreamName nor StreamARN was provided.');
    expect(await warmOf('warm')).toBeUndefined();

    const answer = await warm({ StreamName: 'warm' }, 100);
    expect(answer.StreamName).toBe('warm');
    expect(answer.StreamARN).toBe(streamArn('warm'));
    expect(answer.WarmThroughput).toEqual({ TargetMiBps: 100, CurrentMiBps: 0 });
    const updating = await summary(runnel.client, 'warm');
    expect(updating.StreamStatus).toBe('UPDATING');
    expect(updating.WarmThroughput).toEqual({ TargetMiBps: 100, CurrentMiBps: 0 });
    const busy = await failure(warm({ StreamName: 'warm' }, 200));
    expect(busy.name).toBe('ResourceInUseException');
    expect(busy.message).toBe(notActive('warm', 'UPDATING'));
    await waitActive(runnel.client, 'warm');
    expect(await warmOf('warm')).toEqual({ TargetMiBps: 100, CurrentMiBps: 100 });

    // By ARN, up to the maximum; then released to 0.
    expect(
      (await warm({ StreamARN: streamArn('warm') }, WARM_THROUGHPUT_MIBPS_MAX)).WarmThroughput,
    ).toEqual({
      TargetMiBps: WARM_THROUGHPUT_MIBPS_MAX,
      CurrentMiBps: 100,
    });
    await waitActive(runnel.client, 'warm');
    expect(await warmOf('warm')).toEqual({
      TargetMiBps: WARM_THROUGHPUT_MIBPS_MAX,
      CurrentMiBps: WARM_THROUGHPUT_MIBPS_MAX,
    });
    await warm({ StreamName: 'warm' }, 0);
    await waitActive(runnel.client, 'warm');
    expect(await warmOf('warm')).toEqual({ TargetMiBps: 0, CurrentMiBps: 0 });
    await warm({ StreamName: 'warm' }, 64);
    await waitActive(runnel.client, 'warm');

    // A commitment turned off holds until its earliest end; after it, no warm throughput.
    expect((await commit('DISABLED'))!.Status).toBe('ENABLED_UNTIL_EARLIEST_ALLOWED_END');
    expect(await warmOf('warm')).toEqual({ TargetMiBps: 64, CurrentMiBps: 64 });
    clockAheadMs += THROUGHPUT_COMMITMENT_MS_MIN;
    expect(await warmOf('warm')).toBeUndefined();
    expect((await failure(warm({ StreamName: 'warm' }, 100))).name).toBe(
      'InvalidArgumentException',
    );

    // A stream switched to PROVISIONED loses its warm throughput.
    await commit('ENABLED');
    expect(await warmOf('warm')).toEqual({ TargetMiBps: 64, CurrentMiBps: 64 });
    const setMode = (StreamMode: 'PROVISIONED' | 'ON_DEMAND') =>
      runnel.client.send(
        new UpdateStreamModeCommand({
          StreamARN: streamArn('warm'),
          StreamModeDetails: { StreamMode },
        }),
      );
    await setMode('PROVISIONED');
    await waitActive(runnel.client, 'warm');
    await setMode('ON_DEMAND');
    await waitActive(runnel.client, 'warm');
    expect(await warmOf('warm')).toBeUndefined();
  });

  it('answers DescribeAccountSettings, UpdateAccountSettings and UpdateStreamWarmThroughput over CBOR', async () => {
    const endpoint = runnel.server.kinesisUrl;
    const updated = await cborCall(endpoint, 'UpdateAccountSettings', {
      MinimumThroughputBillingCommitment: { Status: 'ENABLED' },
    });
    expect(updated.status).toBe(200);
    expect(updated.contentType).toBe(CBOR_TYPE);
    const commitment = updated.value.MinimumThroughputBillingCommitment as Record<string, unknown>;
    expect(commitment.Status).toBe('ENABLED');
    // Timestamps as the Java SDKs read them: tag 1 and integer epoch milliseconds.
    const started = commitment.StartedAt as { tag: number; value: number };
    expect(started.tag).toBe(1);
    expect(Number.isInteger(started.value)).toBe(true);
    const described = await cborCall(endpoint, 'DescribeAccountSettings', {});
    expect(described.status).toBe(200);
    expect(described.value).toEqual(updated.value);

    await createActive(runnel.client, 'warm-cbor');
    const warmed = await cborCall(endpoint, 'UpdateStreamWarmThroughput', {
      StreamARN: streamArn('warm-cbor'),
      WarmThroughputMiBps: 32,
    });
    expect(warmed.status).toBe(200);
    expect(warmed.value).toEqual({
      StreamARN: streamArn('warm-cbor'),
      StreamName: 'warm-cbor',
      WarmThroughput: { TargetMiBps: 32, CurrentMiBps: 0 },
    });
    const refused = await cborCall(endpoint, 'UpdateStreamWarmThroughput', {
      StreamName: 'warm-cbor',
      WarmThroughputMiBps: 1,
    });
    expect(refused.status).toBe(400);
    expect(refused.value).toEqual({
      __type: 'ResourceInUseException',
      message: notActive('warm-cbor', 'UPDATING'),
    });
  });
});

describe('encryption, policies and account settings across a restart', () => {
  const dataDir = dataDirForBlock('runnel-encryption-restart-');

  /** Runs `body` against a server on dataDir, then closes it. */
  const withServer = (streamTransitionMs: number, body: (client: KinesisClient) => Promise<void>) =>
    withServerOn(
      dataDir.path,
      { workers: 1, engineOptions: { streamTransitionMs }, client: ONE_ATTEMPT },
      body,
    );

  it('keeps the encryption setting; a change cut short by the restart completes', async () => {
    await withServer(0, async (client) => {
      await createActive(client, 'kept', 1);
      await createActive(client, 'cut-short', 1);
      await client.send(
        new StartStreamEncryptionCommand({
          StreamName: 'kept',
          EncryptionType: 'KMS',
          KeyId: KEY_UUID,
        }),
      );
    });
    // A transition far longer than the test: the restart cuts it short.
    await withServer(600_000, async (client) => {
      await client.send(
        new StartStreamEncryptionCommand({
          StreamName: 'cut-short',
          EncryptionType: 'KMS',
          KeyId: 'alias/aws/kinesis',
        }),
      );
      expect((await summary(client, 'cut-short')).StreamStatus).toBe('UPDATING');
      const put = await client.send(
        new PutRecordCommand({
          StreamName: 'cut-short',
          PartitionKey: 'k',
          Data: Buffer.from('x'),
        }),
      );
      expect(put.EncryptionType).toBe('NONE');
    });
    await withServer(0, async (client) => {
      const kept = await summary(client, 'kept');
      expect(kept.StreamStatus).toBe('ACTIVE');
      expect(kept.EncryptionType).toBe('KMS');
      expect(kept.KeyId).toBe(KEY_UUID);
      const cutShort = await summary(client, 'cut-short');
      expect(cutShort.StreamStatus).toBe('ACTIVE');
      expect(cutShort.KeyId).toBe('alias/aws/kinesis');
      for (const name of ['kept', 'cut-short']) {
        const put = await client.send(
          new PutRecordCommand({ StreamName: name, PartitionKey: 'k', Data: Buffer.from('y') }),
        );
        expect(put.EncryptionType, name).toBe('KMS');
      }
      // Each record read after the restarts says what it was put with.
      const { ShardIterator } = await client.send(
        new GetShardIteratorCommand({
          StreamName: 'cut-short',
          ShardId: 'shardId-000000000000',
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      const read = await client.send(new GetRecordsCommand({ ShardIterator }));
      expect(
        read.Records!.map((record) => [
          Buffer.from(record.Data!).toString(),
          record.EncryptionType,
        ]),
      ).toEqual([
        ['x', undefined],
        ['y', 'KMS'],
      ]);
      await client.send(
        new StopStreamEncryptionCommand({
          StreamName: 'kept',
          EncryptionType: 'KMS',
          KeyId: KEY_UUID,
        }),
      );
    });
    await withServer(0, async (client) => {
      const kept = await summary(client, 'kept');
      expect(kept.EncryptionType).toBe('NONE');
      expect(kept.KeyId).toBeUndefined();
    });
  });

  it('keeps stream and consumer policies, and their deletion', async () => {
    let consumer = '';
    await withServer(0, async (client) => {
      await createActive(client, 'governed', 1);
      consumer = (await registerActive(client, 'governed', 'partner')).ConsumerARN!;
      await client.send(
        new PutResourcePolicyCommand({
          ResourceARN: streamArn('governed'),
          Policy: policyFor('a'),
        }),
      );
    });
    await withServer(0, async (client) => {
      await client.send(
        new PutResourcePolicyCommand({ ResourceARN: consumer, Policy: policyFor('b') }),
      );
    });
    await withServer(0, async (client) => {
      const stream = await client.send(
        new GetResourcePolicyCommand({ ResourceARN: streamArn('governed') }),
      );
      expect(stream.Policy).toBe(policyFor('a'));
      expect(
        (await client.send(new GetResourcePolicyCommand({ ResourceARN: consumer }))).Policy,
      ).toBe(policyFor('b'));
      await client.send(new DeleteResourcePolicyCommand({ ResourceARN: streamArn('governed') }));
    });
    await withServer(0, async (client) => {
      const stream = await client.send(
        new GetResourcePolicyCommand({ ResourceARN: streamArn('governed') }),
      );
      expect(stream.Policy).toBe('{}');
      expect(
        (await client.send(new GetResourcePolicyCommand({ ResourceARN: consumer }))).Policy,
      ).toBe(policyFor('b'));
    });
  });

  it('keeps the account commitment and warm throughput; a warm-throughput change cut short completes', async () => {
    let started: Date | undefined;
    await withServer(0, async (client) => {
      await createActive(client, 'warmed');
      const enabled = await client.send(
        new UpdateAccountSettingsCommand({
          MinimumThroughputBillingCommitment: { Status: 'ENABLED' },
        }),
      );
      started = enabled.MinimumThroughputBillingCommitment!.StartedAt;
    });
    await withServer(600_000, async (client) => {
      await client.send(
        new UpdateStreamWarmThroughputCommand({ StreamName: 'warmed', WarmThroughputMiBps: 200 }),
      );
      const updating = await summary(client, 'warmed');
      expect(updating.StreamStatus).toBe('UPDATING');
      expect(updating.WarmThroughput).toEqual({ TargetMiBps: 200, CurrentMiBps: 0 });
    });
    await withServer(0, async (client) => {
      const settings = await client.send(new DescribeAccountSettingsCommand({}));
      expect(settings.MinimumThroughputBillingCommitment).toEqual({
        Status: 'ENABLED',
        StartedAt: started,
        EarliestAllowedEndAt: new Date(started!.getTime() + THROUGHPUT_COMMITMENT_MS_MIN),
      });
      const warmed = await summary(client, 'warmed');
      expect(warmed.StreamStatus).toBe('ACTIVE');
      expect(warmed.WarmThroughput).toEqual({ TargetMiBps: 200, CurrentMiBps: 200 });
      await client.send(
        new UpdateAccountSettingsCommand({
          MinimumThroughputBillingCommitment: { Status: 'DISABLED' },
        }),
      );
    });
    await withServer(0, async (client) => {
      const settings = await client.send(new DescribeAccountSettingsCommand({}));
      expect(settings.MinimumThroughputBillingCommitment!.Status).toBe(
        'ENABLED_UNTIL_EARLIEST_ALLOWED_END',
      );
    });
  });
});
