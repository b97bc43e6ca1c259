/**
 * Limits mode: per-shard throughput enforced as Kinesis enforces it on a provisioned shard, so
 * producers' and consumers' retry logic can be tested locally. Each shard has token buckets
 * that refill continuously and hold at most one second of allowance:
 *
 * - writes: SHARD_WRITE_RECORDS_PER_SEC records and SHARD_WRITE_BYTES_PER_SEC bytes (data plus
 *   partition key); a record that does not fit is refused (PutRecords: per record, with
 *   ProvisionedThroughputExceededException; PutRecord: the call);
 * - reads: SHARD_READ_CALLS_PER_SEC GetRecords calls and SHARD_READ_BYTES_PER_SEC bytes; a read
 *   may overdraw the byte bucket, and calls are refused until it has refilled, which is how a
 *   10 MiB read makes the following seconds throttle;
 * - iterators: SHARD_ITERATOR_CALLS_PER_SEC GetShardIterator calls.
 */
import {
  SHARD_ITERATOR_CALLS_PER_SEC,
  SHARD_READ_BYTES_PER_SEC,
  SHARD_READ_CALLS_PER_SEC,
  SHARD_WRITE_BYTES_PER_SEC,
  SHARD_WRITE_RECORDS_PER_SEC,
} from '../limits.js';
import { TokenBucket } from './token-bucket.js';

export class ShardThrottle {
  private readonly writeRecords: TokenBucket;
  private readonly writeBytes: TokenBucket;
  private readonly readCalls: TokenBucket;
  private readonly readBytes: TokenBucket;
  private readonly iteratorCalls: TokenBucket;

  constructor(nowMs: number) {
    this.writeRecords = new TokenBucket(SHARD_WRITE_RECORDS_PER_SEC, nowMs);
    this.writeBytes = new TokenBucket(SHARD_WRITE_BYTES_PER_SEC, nowMs);
    this.readCalls = new TokenBucket(SHARD_READ_CALLS_PER_SEC, nowMs);
    this.readBytes = new TokenBucket(SHARD_READ_BYTES_PER_SEC, nowMs);
    this.iteratorCalls = new TokenBucket(SHARD_ITERATOR_CALLS_PER_SEC, nowMs);
  }

  /** Admits one record of `bytes` (data plus partition key) if the shard has room for it. */
  admitWrite(bytes: number, nowMs: number): boolean {
    if (this.writeRecords.refill(nowMs) < 1 || this.writeBytes.refill(nowMs) < bytes) return false;
    this.writeRecords.take(1);
    this.writeBytes.take(bytes);
    return true;
  }

  /** Admits one GetRecords call, unless the call rate or an earlier overdraw forbids it. */
  admitRead(nowMs: number): boolean {
    if (this.readCalls.refill(nowMs) < 1 || this.readBytes.refill(nowMs) < 0) return false;
    this.readCalls.take(1);
    return true;
  }

  /** Admits one GetShardIterator call, unless the shard had its share this second. */
  admitIterator(nowMs: number): boolean {
    if (this.iteratorCalls.refill(nowMs) < 1) return false;
    this.iteratorCalls.take(1);
    return true;
  }

  /** Charges the bytes a GetRecords call returned; may overdraw. */
  chargeRead(bytes: number): void {
    this.readBytes.take(bytes);
  }
}
