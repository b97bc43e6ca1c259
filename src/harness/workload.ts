/**
 * What the load is made of: record sizes (`1024`, `uniform:100-2000`), partition keys
 * (`unique`, `uniform:N`, `zipf:S[:N]`) and the pool of records senders draw from.
 *
 * Records are built before the clock starts, into a ring of at most POOL_BYTES_MAX bytes, and
 * sent round the ring: building records is the producer's cost, not the server's, and on a
 * 2-core machine a client that base64-encodes while it measures steals the CPU it measures.
 * Every record of the ring has its own partition key (with `unique`), so the server hashes and
 * routes each key by MD5 exactly as Kinesis does; nothing is pre-routed (no ExplicitHashKey) —
 * no shortcut a real producer could not take. The HTTP senders use each record pre-encoded as
 * its JSON member (`{"Data":"<base64>","PartitionKey":"..."}`) and join members per request.
 */
import {
  LOAD_KEY_SPACE_MAX,
  LOAD_POOL_BYTES_MAX,
  LOAD_POOL_RECORDS_MAX,
  PARTITION_KEY_CHARS_MAX,
} from '../limits.js';

/** The ring of records never exceeds this many bytes of data (memory bound of the client). */
export const POOL_BYTES_MAX = LOAD_POOL_BYTES_MAX;
/** Nor this many records. */
export const POOL_RECORDS_MAX = LOAD_POOL_RECORDS_MAX;
/** Nor fewer than this, unless the size bound says otherwise: one full PutRecords. */
export const POOL_RECORDS_MIN = 500;
/** Key space of `zipf:S` when no N is given. */
export const ZIPF_KEYS_DEFAULT = 10_000;
/** Largest key space for `uniform:N` and `zipf:S:N` (the zipf table costs 8 bytes a key). */
export const KEY_SPACE_MAX = LOAD_KEY_SPACE_MAX;

/** mulberry32: small, fast, seeded; the harness prints the seed it used. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RecordSizeDistribution {
  text: string;
  meanBytes: number;
  maxBytes: number;
  sample(random: () => number): number;
}

/** `--record-size`: `1024`, `1KiB`, `64KiB`, or `uniform:MIN-MAX` (bytes of data per record). */
export function parseRecordSize(text: string): RecordSizeDistribution {
  const uniform = /^uniform:(\d+)-(\d+)$/i.exec(text.trim());
  if (uniform) {
    const min = Number(uniform[1]);
    const max = Number(uniform[2]);
    if (!(min >= 1 && max >= min)) throw new Error(`--record-size: bad range in '${text}'`);
    return {
      text,
      meanBytes: (min + max) / 2,
      maxBytes: max,
      sample: (random) => min + Math.floor(random() * (max - min + 1)),
    };
  }
  const fixed = /^(\d+)\s*(b|kib|kb|mib)?$/i.exec(text.trim());
  if (!fixed)
    throw new Error(
      `--record-size: cannot read '${text}' (examples: 1024, 64KiB, uniform:100-2000)`,
    );
  const unit = (fixed[2] ?? 'b').toLowerCase();
  const bytes =
    Number(fixed[1]) *
    ({ b: 1, kb: 1000, kib: 1024, mib: 1024 * 1024 } as Record<string, number>)[unit]!;
  if (!(bytes >= 1)) throw new Error(`--record-size must be at least 1 byte, got '${text}'`);
  return { text, meanBytes: bytes, maxBytes: bytes, sample: () => bytes };
}

export interface KeyDistribution {
  text: string;
  /** Partition key of the i-th record of the pool. */
  keyOf(i: number, random: () => number): string;
}

/** Zipf over ranks 1..n with exponent s: a cumulative table, sampled by binary search. */
function zipfSampler(s: number, n: number): (random: () => number) => number {
  const cumulative = new Float64Array(n);
  let total = 0;
  for (let rank = 1; rank <= n; rank++) {
    total += 1 / rank ** s;
    cumulative[rank - 1] = total;
  }
  return (random) => {
    const target = random() * total;
    let low = 0;
    let high = n - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (cumulative[middle]! < target) low = middle + 1;
      else high = middle;
    }
    return low;
  };
}

/**
 * `--keys`: `unique` (every record of the pool its own key; the default), `uniform:N` (keys
 * drawn evenly from N), `zipf:S` or `zipf:S:N` (hot keys: rank r drawn with weight 1/r^S).
 * `prefix` makes keys of different runs differ.
 */
export function parseKeyDistribution(text: string, prefix = 'pk'): KeyDistribution {
  const [kind, first, second] = text.trim().split(':');
  const keySpace = (value: string | undefined, fallback: number): number => {
    const n = value === undefined ? fallback : Number(value);
    if (!Number.isSafeInteger(n) || n < 1 || n > KEY_SPACE_MAX) {
      throw new Error(`--keys: key space must be 1..${KEY_SPACE_MAX}, got '${value}'`);
    }
    return n;
  };
  switch (kind) {
    case 'unique':
      return { text, keyOf: (i) => `${prefix}-${i}` };
    case 'uniform': {
      if (first === undefined) return { text, keyOf: (i) => `${prefix}-${i}` };
      const n = keySpace(first, 0);
      return { text, keyOf: (_, random) => `${prefix}-${Math.floor(random() * n)}` };
    }
    case 'zipf': {
      const s = Number(first);
      if (!(s > 0)) throw new Error(`--keys: zipf exponent must be > 0, got '${first}'`);
      const sample = zipfSampler(s, keySpace(second, ZIPF_KEYS_DEFAULT));
      return { text, keyOf: (_, random) => `${prefix}-${sample(random)}` };
    }
    default:
      throw new Error(
        `--keys: unknown distribution '${text}' (unique, uniform:N, zipf:1.1, zipf:1.1:N)`,
      );
  }
}

export interface PoolRecord {
  PartitionKey: string;
  Data: Uint8Array;
}

export interface RecordPool {
  records: PoolRecord[];
  /** Data bytes of each record. */
  dataBytes: Float64Array;
  /** Data + UTF-8 partition key bytes of each record (what Kinesis limits count). */
  limitBytes: Float64Array;
  meanDataBytes: number;
}

export interface PoolOptions {
  recordSize: RecordSizeDistribution;
  keys: KeyDistribution;
  seed: number;
  poolBytesMax?: number;
  poolRecordsMax?: number;
}

/** Builds the ring of records, bounded in bytes and count. Data bytes vary per record. */
export function buildRecordPool(options: PoolOptions): RecordPool {
  const random = seededRandom(options.seed);
  const bytesMax = options.poolBytesMax ?? POOL_BYTES_MAX;
  const recordsMax = options.poolRecordsMax ?? POOL_RECORDS_MAX;
  const count = Math.max(
    1,
    Math.min(
      recordsMax,
      Math.max(
        Math.min(POOL_RECORDS_MIN, recordsMax),
        Math.floor(bytesMax / options.recordSize.meanBytes),
      ),
    ),
  );
  const records: PoolRecord[] = new Array(count);
  const dataBytes = new Float64Array(count);
  const limitBytes = new Float64Array(count);
  let total = 0;
  for (let i = 0; i < count; i++) {
    const size = options.recordSize.sample(random);
    const key = options.keys.keyOf(i, random);
    if (key.length > PARTITION_KEY_CHARS_MAX)
      throw new Error(`partition key longer than ${PARTITION_KEY_CHARS_MAX}`);
    const data = Buffer.allocUnsafe(size);
    // A record's bytes are its pool index and a fill that differs per record: not all zeros.
    data.fill((i * 31 + 7) & 0xff);
    if (size >= 4) data.writeUInt32LE(i >>> 0, 0);
    records[i] = { PartitionKey: key, Data: data };
    dataBytes[i] = size;
    limitBytes[i] = size + Buffer.byteLength(key, 'utf8');
    total += size;
  }
  return { records, dataBytes, limitBytes, meanDataBytes: total / count };
}

/** Each record's PutRecords JSON member, pre-encoded (base64 data), for the HTTP senders. */
export function jsonMembers(pool: RecordPool): Buffer[] {
  return pool.records.map((record) =>
    Buffer.from(
      `{"Data":"${Buffer.from(record.Data.buffer, record.Data.byteOffset, record.Data.byteLength).toString('base64')}",` +
        `"PartitionKey":${JSON.stringify(record.PartitionKey)}}`,
    ),
  );
}
