// Goal: shard iterators are opaque, at most 512 characters, round-trip their position and
// cannot be forged or altered.
import { describe, expect, it } from 'vitest';
import { javaDateString } from '../../src/kinesis/java-date.js';
import { ShardIteratorCodec } from '../../src/kinesis/shard-iterator.js';

const position = {
  issuedMs: 1764100000123,
  streamName: 'a'.repeat(128),
  streamCreatedMs: 1764000000000,
  shardIndex: 42,
  ordinal: 2 ** 40 + 7,
  hintSegmentBase: 1000,
  hintByteOffset: 65536,
};

describe('ShardIteratorCodec', () => {
  const codec = new ShardIteratorCodec(Buffer.alloc(32, 1));

  it('round-trips a position within 512 characters', () => {
    const text = codec.encode(position);
    expect(text.length).toBeLessThanOrEqual(512);
    expect(codec.decode(text)).toEqual(position);
  });

  it('rejects altered, truncated, foreign and garbage iterators', () => {
    const text = codec.encode(position);
    const bytes = Buffer.from(text, 'base64');
    bytes[25] = bytes[25]! ^ 1;
    expect(codec.decode(bytes.toString('base64'))).toBeUndefined();
    expect(codec.decode(text.slice(0, -8))).toBeUndefined();
    expect(new ShardIteratorCodec(Buffer.alloc(32, 2)).decode(text)).toBeUndefined();
    expect(codec.decode('not an iterator!')).toBeUndefined();
    expect(codec.decode('')).toBeUndefined();
  });

  it('formats dates as java.util.Date does in UTC', () => {
    expect(javaDateString(Date.parse('2015-01-22T01:22:02Z'))).toBe('Thu Jan 22 01:22:02 UTC 2015');
  });
});
