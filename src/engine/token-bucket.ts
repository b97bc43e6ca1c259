/**
 * A token bucket for limits mode: `perSec` tokens a second, refilled continuously from the
 * times it is given, holding at most one second of allowance. `take` may overdraw it, so a
 * large read is charged whole and makes the next ones wait until the debt has refilled.
 */

const MS_PER_SEC = 1000;

export class TokenBucket {
  private tokens: number;
  private updatedMs: number;

  constructor(
    readonly perSec: number,
    nowMs: number,
  ) {
    this.tokens = perSec;
    this.updatedMs = nowMs;
  }

  /** The tokens available at `nowMs` (negative while an overdraw is being paid back). */
  refill(nowMs: number): number {
    const elapsed = Math.max(0, nowMs - this.updatedMs);
    this.tokens = Math.min(this.perSec, this.tokens + (elapsed * this.perSec) / MS_PER_SEC);
    this.updatedMs = nowMs;
    return this.tokens;
  }

  take(amount: number): void {
    this.tokens -= amount;
  }

  /** How long from `nowMs` until the bucket holds `amount` tokens (0: it does now). */
  msUntil(amount: number, nowMs: number): number {
    const missing = amount - this.refill(nowMs);
    return missing <= 0 ? 0 : (missing * MS_PER_SEC) / this.perSec;
  }
}
