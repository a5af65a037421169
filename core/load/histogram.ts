/**
 * A log-linear latency histogram in the manner of HdrHistogram: values (microseconds) fall into
 * power-of-two ranges, each split into linear buckets, so every recorded value is kept to within
 * 0.8% of itself in fixed memory (31 KiB), whatever the range. Our own,
 * small, instead of a dependency: the load tool needs record, merge and percentiles only.
 */
import { BiopayError, ErrorCode } from '../errors.js';

/** Values below SUB_BUCKETS are exact; above, each power of two has SUB_BUCKETS / 2 buckets. */
const SUB_BUCKET_BITS = 8;
const SUB_BUCKETS = 1 << SUB_BUCKET_BITS;
/** Values up to 2^36 us (about 19 hours) are kept; larger ones count as 2^36. */
const MAGNITUDES = 36 - SUB_BUCKET_BITS + 1;
const BUCKETS = SUB_BUCKETS + MAGNITUDES * (SUB_BUCKETS / 2);
export const HISTOGRAM_MAX_US = 2 ** 36;

export interface LatencySummary {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  private total = 0;
  private sumUs = 0;
  private maxUs = 0;

  get count(): number {
    return this.total;
  }

  /** Records one value in microseconds; negative or non-finite values are refused. */
  record(valueUs: number): void {
    if (!Number.isFinite(valueUs) || valueUs < 0) {
      throw new BiopayError(ErrorCode.BadRequest, `latency must be a finite value >= 0 us, got ${valueUs}`);
    }
    const clamped = Math.min(Math.round(valueUs), HISTOGRAM_MAX_US);
    this.counts[bucketOf(clamped)]! += 1;
    this.total += 1;
    this.sumUs += clamped;
    if (clamped > this.maxUs) this.maxUs = clamped;
  }

  merge(other: LatencyHistogram): void {
    for (let bucket = 0; bucket < BUCKETS; bucket++) this.counts[bucket]! += other.counts[bucket]!;
    this.total += other.total;
    this.sumUs += other.sumUs;
    this.maxUs = Math.max(this.maxUs, other.maxUs);
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.sumUs = 0;
    this.maxUs = 0;
  }

  /**
   * The value (us) at or below which `percentile` % of the values fall: the highest value of the
   * bucket holding that rank, never above the largest value recorded. 0 when empty.
   */
  percentileUs(percentile: number): number {
    if (!(percentile >= 0 && percentile <= 100)) {
      throw new BiopayError(ErrorCode.BadRequest, `percentile must be in [0, 100], got ${percentile}`);
    }
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil((percentile / 100) * this.total));
    let seen = 0;
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      seen += this.counts[bucket]!;
      if (seen >= rank) return Math.min(highestOf(bucket), this.maxUs);
    }
    return this.maxUs;
  }

  summary(): LatencySummary {
    return {
      count: this.total,
      meanMs: this.total === 0 ? 0 : toMs(this.sumUs / this.total),
      p50Ms: toMs(this.percentileUs(50)),
      p90Ms: toMs(this.percentileUs(90)),
      p99Ms: toMs(this.percentileUs(99)),
      p999Ms: toMs(this.percentileUs(99.9)),
      maxMs: toMs(this.maxUs),
    };
  }
}

/** Values below SUB_BUCKETS map one to one; above, by magnitude then by the next bits. */
function bucketOf(valueUs: number): number {
  if (valueUs < SUB_BUCKETS) return valueUs;
  const magnitude = Math.floor(Math.log2(valueUs)) - SUB_BUCKET_BITS + 1;
  const sub = Math.floor(valueUs / 2 ** magnitude) - SUB_BUCKETS / 2;
  return Math.min(SUB_BUCKETS + (magnitude - 1) * (SUB_BUCKETS / 2) + sub, BUCKETS - 1);
}

function highestOf(bucket: number): number {
  if (bucket < SUB_BUCKETS) return bucket;
  const magnitude = Math.floor((bucket - SUB_BUCKETS) / (SUB_BUCKETS / 2)) + 1;
  const sub = ((bucket - SUB_BUCKETS) % (SUB_BUCKETS / 2)) + SUB_BUCKETS / 2;
  return (sub + 1) * 2 ** magnitude - 1;
}

/** Milliseconds with three decimals (microsecond resolution). */
function toMs(valueUs: number): number {
  return Math.round(valueUs) / 1000;
}
