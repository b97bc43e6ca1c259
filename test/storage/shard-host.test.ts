// What a shard worker thread runs (ShardHost), on real files: a shard closed for good (its
// stream deleted, or expired) stays closed to a late append, in the thread that closed it and
// in a fresh thread that replaces it, without reopening or recreating its files.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ShardHost } from '../../src/storage/shard-host.js';
import { createShardIndexBuffer } from '../../src/storage/shard-index.js';
import type { AppendReply, ShardDescriptor } from '../../src/storage/worker-protocol.js';
import { batchOf, recordsOf } from '../helpers/batches.js';
import { tempDir } from '../helpers/temp-dir.js';

const SEGMENT_BYTES = 64 * 1024;
let cleanup: () => void = () => undefined;
afterEach(() => cleanup());

function descriptorIn(root: string): ShardDescriptor {
  return {
    key: 'orders@1/shardId-000000000000',
    dir: join(root, 'orders', 'shardId-000000000000'),
    segmentBytes: SEGMENT_BYTES,
    index: createShardIndexBuffer(),
    fsync: false,
  };
}

function append(host: ShardHost, shard: ShardDescriptor, prefix: string): AppendReply {
  const batch = batchOf(recordsOf(3, prefix));
  return host.handle({
    kind: 'append',
    appends: [{ shard, batch }],
    nowMs: 1_000,
    fsync: false,
  }) as AppendReply;
}

describe('ShardHost', () => {
  it('refuses a late append to a shard closed for good, in its thread and in a replacement', () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const shard = descriptorIn(temp.dir);
    const host = new ShardHost();
    host.handle({ kind: 'open', shards: [shard] });
    expect(append(host, shard, 'before').outcomes[0]).toMatchObject({ ok: true, baseOrdinal: 0 });

    host.handle({ kind: 'close', shards: [shard], removeDirs: [shard.dir], discard: true });
    expect(existsSync(shard.dir)).toBe(false);

    const late = append(host, shard, 'late').outcomes[0]!;
    expect(late).toMatchObject({ ok: false, error: { code: 'InternalFailureException' } });
    expect(late.ok === false && late.error.message).toMatch(/is closed/);
    // A thread started after the first died knows the shard only from its descriptor.
    const replacement = new ShardHost();
    expect(append(replacement, shard, 'later').outcomes[0]).toMatchObject({ ok: false });
    expect(replacement.handle({ kind: 'retention', shards: [{ shard, cutoffMs: 2_000 }] })).toEqual(
      {
        deletedSegments: 0,
      },
    );
    expect(existsSync(shard.dir)).toBe(false);
    expect(readdirSync(temp.dir)).toEqual(['orders']);
  });

  it('keeps appending to other shards after one is closed', () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const closed = descriptorIn(temp.dir);
    const open = {
      ...descriptorIn(temp.dir),
      key: 'orders@1/shardId-000000000001',
      index: createShardIndexBuffer(),
    };
    open.dir = join(temp.dir, 'orders', 'shardId-000000000001');
    const host = new ShardHost();
    host.handle({ kind: 'open', shards: [closed, open] });
    host.handle({ kind: 'close', shards: [closed], removeDirs: [closed.dir], discard: true });
    expect(append(host, open, 'a').outcomes[0]).toMatchObject({ ok: true, baseOrdinal: 0 });
    expect(append(host, open, 'b').outcomes[0]).toMatchObject({ ok: true, baseOrdinal: 3 });
  });
});
