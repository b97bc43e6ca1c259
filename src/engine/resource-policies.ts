/**
 * Resource policies of streams and consumers.
 *
 * PutResourcePolicy / GetResourcePolicy / DeleteResourcePolicy name a stream or a consumer by
 * ResourceARN, resolved as the tag operations resolve it (`StreamConsumers.resource`,
 * consumers.ts), with the same errors.
 * The policy is kept in the stream's or consumer's catalog record, so it goes with it when the
 * stream is deleted or the consumer deregistered. Runnel checks no credentials: the document is
 * stored and returned, never enforced.
 */
import { fail } from '../errors.js';
import type * as K from '../kinesis/shapes.js';
import { checkResourcePolicy, validateInput } from '../kinesis/validation.js';
import { StreamState } from './stream-state.js';
import type { EngineContext } from './engine-context.js';
import type { ConsumerRef, StreamConsumers } from './consumers.js';

export class ResourcePolicies {
  constructor(
    private readonly context: EngineContext,
    private readonly consumers: StreamConsumers,
  ) {}

  async putResourcePolicy(input: K.PutResourcePolicyInput): Promise<Record<string, never>> {
    this.context.assertOpen();
    validateInput('PutResourcePolicy', input);
    const owner = this.consumers.resource(input.ResourceARN);
    checkResourcePolicy(input.Policy);
    this.policyHolder(owner).resourcePolicy = input.Policy;
    this.context.persist();
    return {};
  }

  async getResourcePolicy(input: K.ResourceTarget): Promise<K.GetResourcePolicyOutput> {
    this.context.assertOpen();
    validateInput('GetResourcePolicy', input);
    return {
      Policy: this.policyHolder(this.consumers.resource(input.ResourceARN)).resourcePolicy ?? '{}',
    };
  }

  async deleteResourcePolicy(input: K.ResourceTarget): Promise<Record<string, never>> {
    this.context.assertOpen();
    validateInput('DeleteResourcePolicy', input);
    const holder = this.policyHolder(this.consumers.resource(input.ResourceARN));
    if (holder.resourcePolicy === undefined) {
      throw fail.notFound(`No resource policy found for resource ARN ${input.ResourceARN}.`);
    }
    delete holder.resourcePolicy;
    this.context.persist();
    return {};
  }

  /** The catalog record that holds a resource's policy. */
  private policyHolder(owner: StreamState | ConsumerRef): { resourcePolicy?: string } {
    return owner instanceof StreamState ? owner.record : owner.consumer;
  }
}
