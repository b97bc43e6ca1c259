/**
 * A latency histogram with log-linear buckets, in the manner of HdrHistogram: values are kept
 * in whole microseconds; below 2^SUB_BUCKET_BITS µs every value has its own bucket (exact), and
 * above it every power of two is cut into 2^SUB_BUCKET_BITS equal buckets, so a reported
 * percentile is within 1/2^SUB_BUCKET_BITS (0.8 %) of the true value. Memory is fixed
 * (BUCKET_COUNT counters) whatever is recorded; recording is O(1) and allocates nothing.
 *
 * A percentile is the midpoint of the bucket holding the rank `ceil(p/100 · count)`, clamped to
 * the exact minimum and maximum seen. Histograms merge (to add up connections or processes) and
 * serialise sparsely (`toJSON`), so a child process can hand its histogram to its parent.
 */

/** Sub-buckets per power of two: 2^7 = 128, a relative error below 0.8 %. */
export const SUB_BUCKET_BITS = 7;
const SUB_BUCKET_COUNT = 1 << SUB_BUCKET_BITS;
/** Largest power of two kept: 2^40 µs is about 12.7 days; larger values land in the top bucket. */
const EXPONENT_MAX = 40;
const BUCKET_COUNT = SUB_BUCKET_COUNT + (EXPONENT_MAX - SUB_BUCKET_BITS + 1) * SUB_BUCKET_COUNT;
const US_PER_MS = 1000;
const TWO_POW_32 = 2 ** 32;

export interface HistogramJson {
  subBucketBits: number;
  count: number;
  sumUs: number;
  minUs: number;
  maxUs: number;
  /** Sparse counters: [bucket index, count] pairs. */
  buckets: Array<[number, number]>;
}

export interface LatencySummaryMs {
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
  count: number;
}

function floorLog2(value: number): number {
  return value < TWO_POW_32 ? 31 - Math.clz32(value) : Math.floor(Math.log2(value));
}

/** Bucket index of a value in µs (a non-negative integer). */
export function bucketIndexOf(valueUs: number): number {
  if (valueUs < SUB_BUCKET_COUNT) return valueUs;
  const exponent = Math.min(floorLog2(valueUs), EXPONENT_MAX);
  const shift = exponent - SUB_BUCKET_BITS;
  const mantissa = Math.min(Math.floor(valueUs / 2 ** shift), 2 * SUB_BUCKET_COUNT - 1);
  return SUB_BUCKET_COUNT + shift * SUB_BUCKET_COUNT + (mantissa - SUB_BUCKET_COUNT);
}

/** [lowest, highest] µs a bucket holds (inclusive). */
export function bucketRangeUs(index: number): [number, number] {
  if (index < SUB_BUCKET_COUNT) return [index, index];
  const shift = Math.floor((index - SUB_BUCKET_COUNT) / SUB_BUCKET_COUNT);
  const mantissa = SUB_BUCKET_COUNT + ((index - SUB_BUCKET_COUNT) % SUB_BUCKET_COUNT);
  const width = 2 ** shift;
  return [mantissa * width, (mantissa + 1) * width - 1];
}

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKET_COUNT);
  count = 0;
  private sumUs = 0;
  private minUs = Infinity;
  private maxUs = 0;

  /** Records `count` occurrences of a latency of `ms` milliseconds (negative values count as 0). */
  recordMs(ms: number, count = 1): void {
    this.recordUs(Math.round(ms * US_PER_MS), count);
  }

  recordUs(valueUs: number, count = 1): void {
    const value = valueUs > 0 && Number.isFinite(valueUs) ? Math.floor(valueUs) : 0;
    this.counts[bucketIndexOf(value)]! += count;
    this.count += count;
    this.sumUs += value * count;
    if (value < this.minUs) this.minUs = value;
    if (value > this.maxUs) this.maxUs = value;
  }

  /** The value at percentile `p` (0–100), in ms; NaN when empty. */
  percentileMs(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKET_COUNT; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) {
        const [low, high] = bucketRangeUs(i);
        const middle = (low + high) / 2;
        return Math.min(this.maxUs, Math.max(this.minUs, middle)) / US_PER_MS;
      }
    }
    return this.maxUs / US_PER_MS;
  }

  get minMs(): number {
    return this.count === 0 ? NaN : this.minUs / US_PER_MS;
  }

  get maxMs(): number {
    return this.count === 0 ? NaN : this.maxUs / US_PER_MS;
  }

  get meanMs(): number {
    return this.count === 0 ? NaN : this.sumUs / this.count / US_PER_MS;
  }

  summary(): LatencySummaryMs {
    return {
      p50: this.percentileMs(50),
      p99: this.percentileMs(99),
      p999: this.percentileMs(99.9),
      max: this.maxMs,
      mean: this.meanMs,
      count: this.count,
    };
  }

  merge(other: LatencyHistogram): this {
    for (let i = 0; i < BUCKET_COUNT; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.sumUs += other.sumUs;
    this.minUs = Math.min(this.minUs, other.minUs);
    this.maxUs = Math.max(this.maxUs, other.maxUs);
    return this;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sumUs = 0;
    this.minUs = Infinity;
    this.maxUs = 0;
  }

  /**
   * Coarse buckets for a chart: `perOctave` buckets per power of two of ms, each
   * `{ fromMs, toMs, count }`, covering the recorded range only.
   */
  chartBuckets(perOctave = 4): Array<{ fromMs: number; toMs: number; count: number }> {
    if (this.count === 0) return [];
    const out = new Map<number, number>();
    for (let i = 0; i < BUCKET_COUNT; i++) {
      const count = this.counts[i]!;
      if (count === 0) continue;
      const [low, high] = bucketRangeUs(i);
      const middleMs = Math.max((low + high) / 2, 1) / US_PER_MS;
      const slot = Math.floor(Math.log2(middleMs) * perOctave);
      out.set(slot, (out.get(slot) ?? 0) + count);
    }
    return [...out.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([slot, count]) => ({
        fromMs: 2 ** (slot / perOctave),
        toMs: 2 ** ((slot + 1) / perOctave),
        count,
      }));
  }

  toJSON(): HistogramJson {
    const buckets: Array<[number, number]> = [];
    for (let i = 0; i < BUCKET_COUNT; i++)
      if (this.counts[i]! > 0) buckets.push([i, this.counts[i]!]);
    return {
      subBucketBits: SUB_BUCKET_BITS,
      count: this.count,
      sumUs: this.sumUs,
      minUs: this.count === 0 ? 0 : this.minUs,
      maxUs: this.maxUs,
      buckets,
    };
  }

  static fromJSON(json: HistogramJson): LatencyHistogram {
    if (json.subBucketBits !== SUB_BUCKET_BITS) {
      throw new Error(
        `histogram precision ${json.subBucketBits} bits, expected ${SUB_BUCKET_BITS}`,
      );
    }
    const histogram = new LatencyHistogram();
    for (const [index, count] of json.buckets) histogram.counts[index]! += count;
    histogram.count = json.count;
    histogram.sumUs = json.sumUs;
    histogram.minUs = json.count === 0 ? Infinity : json.minUs;
    histogram.maxUs = json.maxUs;
    return histogram;
  }
}

/**
 * The exact `q`-quantile (0–1) of ascending `sorted` values: the one at index ⌊q · n⌋ (the
 * last for q = 1); NaN when there is none. For sample sets small enough to keep whole.
 */
export function sortedPercentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}
