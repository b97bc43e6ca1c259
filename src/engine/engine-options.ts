/**
 * Engine.open's options: what each one means, its default, and the check that refuses one out of
 * its range (ValidationException from Engine.open, before anything is opened).
 */
import { KinesisError } from '../errors.js';
import {
  SEGMENT_BYTES_MAX,
  SEGMENT_BYTES_MIN,
  STREAM_TRANSITION_MS_MAX,
  SUBSCRIPTION_HEARTBEAT_MS,
  SUBSCRIPTION_LIFETIME_MS,
  WORKERS_MAX,
} from '../limits.js';

export interface EngineOptions {
  /** Directory holding the catalog and segments; created if missing. */
  dataDir: string;
  /** Shard worker threads (default: available cores). */
  workers?: number;
  /** Size of each preallocated segment file (default 64 MiB). */
  segmentBytes?: number;
  /** How long CREATING/DELETING/UPDATING last, in ms (default 0: immediate, for embedding). */
  streamTransitionMs?: number;
  /** fdatasync before acknowledging writes (survives power loss), default false. */
  fsync?: boolean;
  accountId?: string;
  region?: string;
  /** The clock, in epoch ms; tests move it to expire iterators and retention. */
  clock?: () => number;
  /**
   * Limits mode: throttle every shard exactly as a provisioned Kinesis shard (1 MiB/s and
   * 1,000 records/s written, 2 MiB/s and 5 GetRecords calls/s read, 5 GetShardIterator calls/s),
   * and enhanced fan-out as Kinesis does (1 SubscribeToShard call/s and 2 MiB/s delivered per
   * consumer and shard, at most 5 consumers of a stream CREATING at once), default false.
   */
  enforceLimits?: boolean;
  /**
   * How long a SubscribeToShard event stream lasts before it ends normally, in ms (default and
   * most SUBSCRIPTION_LIFETIME_MS, Kinesis's 5 minutes).
   */
  subscriptionLifetimeMs?: number;
  /**
   * A subscription with no new records sends an event at least this often, in ms (default and
   * most SUBSCRIPTION_HEARTBEAT_MS, as Kinesis's 5 s).
   */
  subscriptionHeartbeatMs?: number;
}

/** An option of Engine.open that is out of its range, or of the wrong type. */
function badOption(name: string, value: unknown, expected: string): KinesisError {
  const shown = typeof value === 'string' ? `'${value}'` : String(value);
  return new KinesisError(
    'ValidationException',
    `Engine.open: ${name} must be ${expected}, got ${shown}`,
  );
}

/** An optional integer option in [min, max]. */
function checkInteger(name: string, value: unknown, min: number, max: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw badOption(name, value, `an integer from ${min} to ${max}`);
  }
}

/** Checks Engine.open's options before anything is opened: a bad one fails there, not later. */
export function checkOptions(options: EngineOptions): void {
  if (typeof options !== 'object' || options === null)
    throw badOption('options', options, 'an object');
  if (typeof options.dataDir !== 'string' || options.dataDir.trim() === '') {
    throw badOption('dataDir', options.dataDir, 'a directory path');
  }
  checkInteger('workers', options.workers, 1, WORKERS_MAX);
  checkInteger('segmentBytes', options.segmentBytes, SEGMENT_BYTES_MIN, SEGMENT_BYTES_MAX);
  checkInteger('streamTransitionMs', options.streamTransitionMs, 0, STREAM_TRANSITION_MS_MAX);
  checkInteger(
    'subscriptionLifetimeMs',
    options.subscriptionLifetimeMs,
    1,
    SUBSCRIPTION_LIFETIME_MS,
  );
  checkInteger(
    'subscriptionHeartbeatMs',
    options.subscriptionHeartbeatMs,
    1,
    SUBSCRIPTION_HEARTBEAT_MS,
  );
  if (options.clock !== undefined && typeof options.clock !== 'function') {
    throw badOption('clock', options.clock, 'a function returning epoch ms');
  }
}
