/**
 * Plans a reshard as Kinesis performs one. A split closes one shard and creates two; a merge
 * closes two adjacent shards and creates one. UpdateShardCount (UNIFORM_SCALING) is a series of
 * splits and merges that ends in `target` open shards with exactly the ranges CreateStream gives
 * that many: every open shard is split at each new boundary inside it, then the pieces of each
 * new range are merged, left to right. A piece split or merged again within the same plan is an
 * intermediate shard: created and closed at once, it never takes a record, but it stays in the
 * lineage (ParentShardId / AdjacentParentShardId), as Kinesis's short-lived shards do, so every
 * shard has at most two parents and a reader that follows parents before children (KCL) reads
 * every record in order. A shard whose range is already one of the new ranges is left alone.
 *
 * Pure: the engine applies the plan (resharding.ts `reshard`).
 */
import { evenHashRanges } from '../kinesis/hash-key.js';
import { shardIdOf } from './stream-state.js';

export interface RangeShard {
  shardId: string;
  start: bigint;
  end: bigint;
}

export interface PlannedShard extends RangeShard {
  index: number;
  parentShardId: string;
  adjacentParentShardId?: string;
  /** Created and closed by the plan itself: it never takes a record. */
  intermediate: boolean;
}

export interface ReshardPlan {
  /** Existing shards the plan closes. */
  closes: string[];
  /** New shards in creation order (a shard's parents come before it); ids from `nextIndex` on. */
  created: PlannedShard[];
}

class Planner {
  readonly created: PlannedShard[] = [];
  private readonly closed = new Set<string>();
  private readonly byId = new Map<string, PlannedShard>();

  constructor(private nextIndex: number) {}

  create(start: bigint, end: bigint, parent: RangeShard, adjacent?: RangeShard): PlannedShard {
    const index = this.nextIndex++;
    const shard: PlannedShard = {
      index,
      shardId: shardIdOf(index),
      start,
      end,
      parentShardId: parent.shardId,
      intermediate: false,
    };
    if (adjacent) shard.adjacentParentShardId = adjacent.shardId;
    this.close(parent);
    if (adjacent) this.close(adjacent);
    this.created.push(shard);
    this.byId.set(shard.shardId, shard);
    return shard;
  }

  split(shard: RangeShard, newStart: bigint): [PlannedShard, PlannedShard] {
    return [
      this.create(shard.start, newStart - 1n, shard),
      this.create(newStart, shard.end, shard),
    ];
  }

  /** `shard` is ShardToMerge (the child's ParentShardId); the two must be adjacent. */
  merge(shard: RangeShard, adjacent: RangeShard): PlannedShard {
    const [lower, upper] = shard.start < adjacent.start ? [shard, adjacent] : [adjacent, shard];
    return this.create(lower.start, upper.end, shard, adjacent);
  }

  plan(): ReshardPlan {
    return { closes: [...this.closed], created: this.created };
  }

  private close(shard: RangeShard): void {
    const planned = this.byId.get(shard.shardId);
    if (planned) planned.intermediate = true;
    else this.closed.add(shard.shardId);
  }
}

export function planSplit(shard: RangeShard, newStart: bigint, nextIndex: number): ReshardPlan {
  const planner = new Planner(nextIndex);
  planner.split(shard, newStart);
  return planner.plan();
}

export function planMerge(shard: RangeShard, adjacent: RangeShard, nextIndex: number): ReshardPlan {
  const planner = new Planner(nextIndex);
  planner.merge(shard, adjacent);
  return planner.plan();
}

/** True when the two ranges are contiguous, in either order. */
export function areAdjacent(a: RangeShard, b: RangeShard): boolean {
  return a.end + 1n === b.start || b.end + 1n === a.start;
}

/**
 * UNIFORM_SCALING: `open` are the stream's open shards, which tile the key space. The result's
 * open shards are `target` shards with CreateStream's ranges for `target`.
 */
export function planUniform(
  open: readonly RangeShard[],
  target: number,
  nextIndex: number,
): ReshardPlan {
  const boundaries = evenHashRanges(target)
    .slice(1)
    .map((range) => range.start);
  const isBoundary = new Set(boundaries);
  const planner = new Planner(nextIndex);
  const pieces: RangeShard[] = [];
  let next = 0; // the first boundary not yet below the current shard
  for (const shard of [...open].sort((a, b) => (a.start < b.start ? -1 : 1))) {
    while (next < boundaries.length && boundaries[next]! <= shard.start) next++;
    let current = shard;
    for (; next < boundaries.length && boundaries[next]! <= shard.end; next++) {
      const [left, right] = planner.split(current, boundaries[next]!);
      pieces.push(left);
      current = right;
    }
    pieces.push(current);
  }
  // Pieces are in key order and each lies inside one new range: merge each range's run of them.
  let merged: RangeShard | undefined;
  for (const piece of pieces) {
    merged =
      merged !== undefined && !isBoundary.has(piece.start) ? planner.merge(merged, piece) : piece;
  }
  return planner.plan();
}
