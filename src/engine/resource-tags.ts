/**
 * Tags of streams and consumers.
 *
 * AddTagsToStream / RemoveTagsFromStream / ListTagsForStream name the stream by StreamName or
 * StreamARN; TagResource / UntagResource / ListTagsForResource by ResourceARN. Both change and
 * read the same tags, through addTags, removeTags and sortedTags. A ResourceARN is resolved by
 * `StreamConsumers.resource` (consumers.ts).
 */
import { fail } from '../errors.js';
import { LIST_TAGS_LIMIT_MAX, TAGS_PER_CONSUMER_MAX, TAGS_PER_STREAM_MAX } from '../limits.js';
import type * as K from '../kinesis/shapes.js';
import { checkTags, validateInput } from '../kinesis/validation.js';
import { StreamState } from './stream-state.js';
import type { EngineContext } from './engine-context.js';
import type { ConsumerRef, StreamConsumers } from './consumers.js';

export class ResourceTags {
  constructor(
    private readonly context: EngineContext,
    private readonly consumers: StreamConsumers,
  ) {}

  async addTagsToStream(input: K.AddTagsToStreamInput): Promise<Record<string, never>> {
    this.context.assertOpen();
    validateInput('AddTagsToStream', input);
    this.addTags(this.context.target(input), input.Tags);
    return {};
  }

  async removeTagsFromStream(input: K.RemoveTagsFromStreamInput): Promise<Record<string, never>> {
    this.context.assertOpen();
    validateInput('RemoveTagsFromStream', input);
    this.removeTags(this.context.target(input), input.TagKeys);
    return {};
  }

  async listTagsForStream(input: K.ListTagsForStreamInput): Promise<K.ListTagsForStreamOutput> {
    this.context.assertOpen();
    validateInput('ListTagsForStream', input);
    const limit = Math.min(input.Limit ?? LIST_TAGS_LIMIT_MAX, LIST_TAGS_LIMIT_MAX);
    const after = input.ExclusiveStartTagKey;
    const tags = this.sortedTags(this.context.target(input)).filter(
      (tag) => after === undefined || tag.Key > after,
    );
    const page = tags.slice(0, limit);
    return { Tags: page, HasMoreTags: tags.length > page.length };
  }

  async tagResource(input: K.TagResourceInput): Promise<Record<string, never>> {
    this.context.assertOpen();
    validateInput('TagResource', input);
    this.addTags(this.consumers.resource(input.ResourceARN), input.Tags);
    return {};
  }

  async untagResource(input: K.UntagResourceInput): Promise<Record<string, never>> {
    this.context.assertOpen();
    validateInput('UntagResource', input);
    this.removeTags(this.consumers.resource(input.ResourceARN), input.TagKeys);
    return {};
  }

  async listTagsForResource(
    input: K.ListTagsForResourceInput,
  ): Promise<K.ListTagsForResourceOutput> {
    this.context.assertOpen();
    validateInput('ListTagsForResource', input);
    return { Tags: this.sortedTags(this.consumers.resource(input.ResourceARN)) };
  }

  private tagsOf(owner: StreamState | ConsumerRef): Record<string, string> {
    return owner instanceof StreamState ? owner.record.tags : owner.consumer.tags;
  }

  /** Adds or overwrites tags, within TAGS_PER_STREAM_MAX (TAGS_PER_CONSUMER_MAX) in all. */
  private addTags(owner: StreamState | ConsumerRef, tags: Record<string, string>): void {
    checkTags(Object.keys(tags), Object.values(tags), true);
    const merged = { ...this.tagsOf(owner), ...tags };
    if (owner instanceof StreamState) {
      if (Object.keys(merged).length > TAGS_PER_STREAM_MAX) {
        throw fail.invalid(
          `Failed to add tags to stream ${owner.name} under account ${this.context.accountId} because a given ` +
            `stream cannot have more than ${TAGS_PER_STREAM_MAX} tags associated with it.`,
        );
      }
      owner.record.tags = merged;
    } else {
      if (Object.keys(merged).length > TAGS_PER_CONSUMER_MAX) {
        throw fail.invalid(
          `Failed to add tags to consumer ${owner.arn} because a given consumer cannot have more than ` +
            `${TAGS_PER_CONSUMER_MAX} tags associated with it.`,
        );
      }
      owner.consumer.tags = merged;
    }
    this.context.persist();
  }

  /** Removes tags by key; a key the resource does not have is ignored. */
  private removeTags(owner: StreamState | ConsumerRef, keys: readonly string[]): void {
    checkTags(keys, [], false);
    const tags = this.tagsOf(owner);
    for (const key of keys) delete tags[key];
    this.context.persist();
  }

  private sortedTags(owner: StreamState | ConsumerRef): K.Tag[] {
    const tags = this.tagsOf(owner);
    return Object.keys(tags)
      .sort()
      .map((Key) => ({ Key, Value: tags[Key]! }));
  }
}
