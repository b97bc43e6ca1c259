/**
 * Enhanced fan-out consumers: RegisterStreamConsumer (CREATING, then ACTIVE),
 * DeregisterStreamConsumer (DELETING, then gone, its subscriptions ended), DescribeStreamConsumer
 * and ListStreamConsumers. Consumers are kept in their stream's catalog record. Also where ARNs
 * naming a consumer are read: by ConsumerARN or StreamARN and ConsumerName (SubscribeToShard and
 * the consumer operations), and by ResourceARN, which names a stream or a consumer (tags and
 * resource policies).
 */
import { type KinesisError, fail } from '../errors.js';
import {
  LIST_STREAM_CONSUMERS_RETURNED_MAX,
  CONSUMERS_PER_STREAM_MAX,
  CONSUMERS_CREATING_PER_STREAM_MAX,
  TAGS_PER_CONSUMER_MAX,
} from '../limits.js';
import type * as K from '../kinesis/shapes.js';
import { checkTags, validateInput } from '../kinesis/validation.js';
import type { ConsumerRecord } from './catalog.js';
import type { StreamState } from './stream-state.js';
import type { EngineContext } from './engine-context.js';

/** A consumer ARN: `<stream ARN>/consumer/<consumer name>:<creation epoch seconds>`. */
const CONSUMER_ARN_PARTS = /^(.*)\/consumer\/([^/:]+):(\d+)$/;
/** A ResourceARN that names a stream consumer (`.../stream/<name>/consumer/<name>:<seconds>`). */
const CONSUMER_IN_ARN = /:stream\/[^/]*\/consumer\//;

/** A consumer together with the stream it is registered on. */
export interface ConsumerRef {
  stream: StreamState;
  consumer: ConsumerRecord;
  arn: string;
}

export class StreamConsumers {
  constructor(private readonly context: EngineContext) {}

  private consumerArn(stream: StreamState, consumer: ConsumerRecord): string {
    return `${stream.arn}/consumer/${consumer.name}:${consumer.arnSecond ?? Math.floor(consumer.createdMs / 1000)}`;
  }

  consumerNotFound(what: string, streamName: string): KinesisError {
    return fail.notFound(
      `Consumer ${what} under stream ${streamName} under account ${this.context.accountId} not found.`,
    );
  }

  /** The consumer a ConsumerARN names (its stream, name and creation second must all match). */
  consumerByArn(arn: string): ConsumerRef {
    const parts = CONSUMER_ARN_PARTS.exec(arn);
    const streamPrefix = this.context.streamArn('');
    if (!parts || !parts[1]!.startsWith(streamPrefix)) {
      throw fail.notFound(
        `Consumer ${arn} not found: this endpoint serves the streams of account ${this.context.accountId} in ` +
          `${this.context.region}, whose consumer ARNs begin ${streamPrefix}<stream>/consumer/.`,
      );
    }
    const streamName = parts[1]!.slice(streamPrefix.length);
    const stream = this.context.streams.get(streamName);
    if (!stream) throw this.consumerNotFound(arn, streamName);
    const consumer = stream.record.consumers?.find(
      (candidate) =>
        candidate.name === parts[2] &&
        (candidate.arnSecond ?? Math.floor(candidate.createdMs / 1000)) === Number(parts[3]),
    );
    if (!consumer) throw this.consumerNotFound(arn, streamName);
    return { stream, consumer, arn: this.consumerArn(stream, consumer) };
  }

  /**
   * The consumer an input names: by ConsumerARN, or by StreamARN and ConsumerName. Naming it
   * both ways, the two must agree; naming it neither way is InvalidArgumentException.
   */
  private consumerOf(input: K.ConsumerTarget): ConsumerRef {
    if (input.ConsumerARN !== undefined) {
      const ref = this.consumerByArn(input.ConsumerARN);
      if (
        (input.StreamARN !== undefined && input.StreamARN !== ref.stream.arn) ||
        (input.ConsumerName !== undefined && input.ConsumerName !== ref.consumer.name)
      ) {
        throw fail.invalid(
          `ConsumerARN ${input.ConsumerARN} does not name the consumer that StreamARN and ConsumerName name.`,
        );
      }
      return ref;
    }
    if (input.StreamARN === undefined || input.ConsumerName === undefined) {
      throw fail.invalid(
        'Either ConsumerARN, or both StreamARN and ConsumerName, must be provided.',
      );
    }
    const stream = this.context.target({ StreamARN: input.StreamARN });
    const consumer = stream.record.consumers?.find(
      (candidate) => candidate.name === input.ConsumerName,
    );
    if (!consumer) throw this.consumerNotFound(input.ConsumerName, stream.name);
    return { stream, consumer, arn: this.consumerArn(stream, consumer) };
  }

  private consumerShape(ref: ConsumerRef): K.Consumer {
    return {
      ConsumerName: ref.consumer.name,
      ConsumerARN: ref.arn,
      ConsumerStatus: ref.consumer.status,
      ConsumerCreationTimestamp: new Date(ref.consumer.createdMs),
    };
  }

  /**
   * The stream or consumer a ResourceARN names. A stream ARN of another region or account, an
   * unknown stream name, or a consumer ARN naming no registered consumer is
   * ResourceNotFoundException.
   */
  resource(arn: string): StreamState | ConsumerRef {
    if (CONSUMER_IN_ARN.test(arn)) return this.consumerByArn(arn);
    const prefix = this.context.streamArn('');
    if (!arn.startsWith(prefix)) {
      throw fail.notFound(
        `Resource ${arn} not found: this endpoint serves the streams of account ${this.context.accountId} in ` +
          `${this.context.region}, whose ARNs begin ${prefix}.`,
      );
    }
    const name = arn.slice(prefix.length);
    const stream = this.context.streams.get(name);
    if (!stream) throw this.context.notFound(name);
    return stream;
  }

  async registerStreamConsumer(
    input: K.RegisterStreamConsumerInput,
  ): Promise<K.RegisterStreamConsumerOutput> {
    this.context.assertOpen();
    validateInput('RegisterStreamConsumer', input);
    const stream = this.context.target({ StreamARN: input.StreamARN });
    if (stream.record.status === 'DELETING' || stream.record.status === 'CREATING')
      this.context.requireActive(stream);
    const consumers = (stream.record.consumers ??= []);
    const name = input.ConsumerName;
    if (consumers.some((consumer) => consumer.name === name)) {
      throw fail.inUse(
        `Consumer ${name} under stream ${stream.name} under account ${this.context.accountId} already exists.`,
      );
    }
    if (consumers.length >= CONSUMERS_PER_STREAM_MAX) {
      throw fail.limit(
        `Stream ${stream.name} under account ${this.context.accountId} already has ${consumers.length} registered ` +
          `consumers, the most a stream may have (${CONSUMERS_PER_STREAM_MAX}).`,
      );
    }
    if (this.context.throttles) {
      const creating = consumers.filter((consumer) => consumer.status === 'CREATING').length;
      if (creating >= CONSUMERS_CREATING_PER_STREAM_MAX) {
        throw fail.limit(
          `Stream ${stream.name} under account ${this.context.accountId} already has ${creating} consumers ` +
            `in CREATING state: at most ${CONSUMERS_CREATING_PER_STREAM_MAX} consumers can be ` +
            'created at once.',
        );
      }
    }
    const tags = input.Tags ?? {};
    checkTags(Object.keys(tags), Object.values(tags), true);
    if (Object.keys(tags).length > TAGS_PER_CONSUMER_MAX) {
      throw fail.invalid(`A consumer cannot have more than ${TAGS_PER_CONSUMER_MAX} tags.`);
    }
    const createdMs = this.context.clock();
    // A re-registered name gets an ARN second of its own, never its predecessor's.
    const seconds = (stream.record.consumerArnSeconds ??= {});
    const arnSecond = Math.max(Math.floor(createdMs / 1000), (seconds[name] ?? -1) + 1);
    seconds[name] = arnSecond;
    const seq = stream.record.nextConsumerSeq ?? consumers.length;
    stream.record.nextConsumerSeq = seq + 1;
    const consumer: ConsumerRecord = {
      name,
      createdMs,
      arnSecond,
      seq,
      status: this.context.transitionMs === 0 ? 'ACTIVE' : 'CREATING',
      tags: { ...tags },
    };
    consumers.push(consumer);
    this.context.persist();
    if (consumer.status === 'CREATING') {
      this.context.later(() => {
        if (consumer.status !== 'CREATING' || !stream.record.consumers?.includes(consumer)) return;
        consumer.status = 'ACTIVE';
        this.context.persist();
      });
    }
    return {
      Consumer: this.consumerShape({ stream, consumer, arn: this.consumerArn(stream, consumer) }),
    };
  }

  async deregisterStreamConsumer(input: K.ConsumerTarget): Promise<Record<string, never>> {
    this.context.assertOpen();
    validateInput('DeregisterStreamConsumer', input);
    const { stream, consumer } = this.consumerOf(input);
    if (consumer.status === 'DELETING') return {};
    consumer.status = 'DELETING';
    // Its subscriptions end now, not at their next wake-up.
    this.context.endSubscriptions(`${this.consumerArn(stream, consumer)}\n`);
    const remove = () => {
      const consumers = stream.record.consumers;
      if (!consumers?.includes(consumer)) return;
      stream.record.consumers = consumers.filter((candidate) => candidate !== consumer);
      this.context.persist();
    };
    if (this.context.transitionMs === 0) remove();
    else {
      this.context.persist();
      this.context.later(remove);
    }
    return {};
  }

  async describeStreamConsumer(input: K.ConsumerTarget): Promise<K.DescribeStreamConsumerOutput> {
    this.context.assertOpen();
    validateInput('DescribeStreamConsumer', input);
    const ref = this.consumerOf(input);
    return { ConsumerDescription: { ...this.consumerShape(ref), StreamARN: ref.stream.arn } };
  }

  async listStreamConsumers(
    input: K.ListStreamConsumersInput,
  ): Promise<K.ListStreamConsumersOutput> {
    this.context.assertOpen();
    validateInput('ListStreamConsumers', input);
    const stream = this.context.target({ StreamARN: input.StreamARN });
    this.context.requireCreatedAt(stream, input.StreamCreationTimestamp);
    const consumers = stream.record.consumers ?? [];
    let start = 0;
    if (input.NextToken !== undefined) {
      const token = this.context.decodeToken<{ s?: string; c?: number; q?: number }>(
        input.NextToken,
        'consumers',
      );
      if (token.s !== stream.name || token.c !== stream.record.createdMs) {
        throw fail.invalid(`NextToken was issued for another stream than ${stream.name}.`);
      }
      // After the consumer the last page ended with, by registration number (consumers are kept
      // in registration order), whether or not it has been deregistered since.
      const after = token.q ?? -1;
      start = consumers.findIndex((consumer, i) => (consumer.seq ?? i) > after);
      if (start < 0) start = consumers.length;
    }
    const limit = Math.min(
      input.MaxResults ?? LIST_STREAM_CONSUMERS_RETURNED_MAX,
      LIST_STREAM_CONSUMERS_RETURNED_MAX,
    );
    const page = consumers.slice(start, start + limit);
    const output: K.ListStreamConsumersOutput = {
      Consumers: page.map((consumer) =>
        this.consumerShape({ stream, consumer, arn: this.consumerArn(stream, consumer) }),
      ),
    };
    const last = page[page.length - 1];
    if (last && start + page.length < consumers.length) {
      output.NextToken = this.context.encodeToken('consumers', {
        s: stream.name,
        c: stream.record.createdMs,
        q: last.seq ?? start + page.length - 1,
      });
    }
    return output;
  }
}
