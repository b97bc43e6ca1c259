// Goal: stream and consumer ARNs name the partition of the engine's region (arn:aws-cn: in
// cn-north-1, arn:aws-us-gov: in GovCloud, arn:aws: elsewhere), as the ARNs a client of that
// region builds do, and the engine finds its streams and consumers by them.
import { afterEach, describe, expect, it } from 'vitest';

import { Engine } from '../../src/engine/engine.js';
import { partitionOf } from '../../src/engine/engine-context.js';
import { tempDir } from '../helpers/temp-dir.js';

let cleanup: () => Promise<void> | void = () => undefined;
afterEach(async () => cleanup());

describe('ARN partitions', () => {
  it('maps each region to its partition', () => {
    expect(partitionOf('us-east-1')).toBe('aws');
    expect(partitionOf('eu-west-1')).toBe('aws');
    expect(partitionOf('cn-north-1')).toBe('aws-cn');
    expect(partitionOf('us-gov-west-1')).toBe('aws-us-gov');
    expect(partitionOf('us-iso-east-1')).toBe('aws-iso');
    expect(partitionOf('us-isob-east-1')).toBe('aws-iso-b');
    expect(partitionOf('eusc-de-east-1')).toBe('aws-eusc');
  });

  it("names streams and consumers in the region's partition, and finds them by those ARNs", async () => {
    const temp = tempDir();
    const engine = await Engine.open({
      dataDir: temp.dir,
      workers: 1,
      region: 'cn-north-1',
      accountId: '123456789012',
    });
    cleanup = async () => {
      await engine.close();
      temp.cleanup();
    };
    await engine.createStream({ StreamName: 'china', ShardCount: 1 });
    const arn = 'arn:aws-cn:kinesis:cn-north-1:123456789012:stream/china';
    const summary = await engine.describeStreamSummary({ StreamName: 'china' });
    expect(summary.StreamDescriptionSummary.StreamARN).toBe(arn);
    expect(
      (await engine.describeStreamSummary({ StreamARN: arn })).StreamDescriptionSummary.StreamName,
    ).toBe('china');
    const { Consumer } = await engine.registerStreamConsumer({
      StreamARN: arn,
      ConsumerName: 'reader',
    });
    expect(Consumer.ConsumerARN.startsWith(`${arn}/consumer/reader:`)).toBe(true);
    const described = await engine.describeStreamConsumer({ ConsumerARN: Consumer.ConsumerARN });
    expect(described.ConsumerDescription.ConsumerName).toBe('reader');
    // The aws partition's ARN of the same name is another stream, which is not here.
    await expect(
      engine.describeStreamSummary({
        StreamARN: 'arn:aws:kinesis:cn-north-1:123456789012:stream/china',
      }),
    ).rejects.toMatchObject({ code: 'ResourceNotFoundException' });
  });
});
