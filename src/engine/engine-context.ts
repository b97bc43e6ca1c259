/**
 * What the engine's parts share, built once by Engine (engine.ts) and handed to each part: the
 * streams by name, the catalog that persists them, the worker pool and the batcher that appends
 * to their shards, the resolved options, and the helpers every operation uses: refusing a call
 * on a closed engine, finding the stream an input names (with Kinesis's errors when there is
 * none), saving the catalog, running a stream transition later, the limits-mode throttles, ending
 * SubscribeToShard subscriptions, and ListStreams/ListShards/ListStreamConsumers tokens. It
 * implements no operation itself; the parts (stream-admin.ts, record-writes.ts, ...) do.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { KinesisError, fail } from '../errors.js';
import { NEXT_TOKEN_TTL_MS, SEGMENT_BYTES_DEFAULT, SHARDS_OPENED_PER_TASK_MAX } from '../limits.js';
import type * as K from '../kinesis/shapes.js';
import { requireStreamTarget } from '../kinesis/validation.js';
import type { OpenReply } from '../storage/worker-protocol.js';
import { Batcher } from './batcher.js';
import { type CatalogFile, type StreamRecord, saveCatalog } from './catalog.js';
import { ShardState, StreamState } from './stream-state.js';
import { ShardThrottle } from './shard-throttle.js';
import type { SubscriptionThrottle } from './subscription-throttle.js';
import type { WorkerPool } from './worker-pool.js';
import type { EngineOptions } from './engine-options.js';

export const DEFAULT_ACCOUNT = '000000000000';
export const DEFAULT_REGION = 'us-east-1';

/** Region name prefixes of the AWS partitions other than `aws`, and each partition's ARN name. */
const PARTITIONS: ReadonlyArray<readonly [string, string]> = [
  ['cn-', 'aws-cn'],
  ['us-gov-', 'aws-us-gov'],
  ['us-isob-', 'aws-iso-b'],
  ['us-isof-', 'aws-iso-f'],
  ['us-iso-', 'aws-iso'],
  ['eu-isoe-', 'aws-iso-e'],
  ['eusc-', 'aws-eusc'],
];

/** The partition a region's ARNs name (`arn:<partition>:kinesis:<region>:…`). */
export function partitionOf(region: string): string {
  return PARTITIONS.find(([prefix]) => region.startsWith(prefix))?.[1] ?? 'aws';
}
export const MS_PER_HOUR = 3_600_000;
export const MS_PER_DAY = 24 * MS_PER_HOUR;

type Decoded<T> = { issuedMs: number } & T;

/** Bytes of the HMAC-SHA256 that ends a NextToken (truncated, as a shard iterator's). */
const TOKEN_MAC_BYTES = 16;
/** Keeps a NextToken's MAC apart from a shard iterator's, which uses the same secret. */
const TOKEN_MAC_DOMAIN = 'runnel-next-token\0';

/** After every check has passed, a DryRun request stops here, having changed nothing. */
export function dryRun(input: K.DryRunnable): void {
  if (input.DryRun === true) {
    throw new KinesisError(
      'DryRunOperationException',
      'Request would have succeeded, but DryRun flag is set.',
    );
  }
}

export class EngineContext {
  readonly streams = new Map<string, StreamState>();
  readonly batcher: Batcher;
  readonly clock: () => number;
  readonly accountId: string;
  readonly region: string;
  /** The ARN partition of `region`: `aws`, or `aws-cn`, `aws-us-gov`, … */
  readonly partition: string;
  readonly segmentBytes: number;
  readonly transitionMs: number;
  readonly fsync: boolean;
  readonly timers = new Set<NodeJS.Timeout>();
  private readonly tokenSecret: Buffer;
  private nextWorker = 0;
  closed = false;
  readonly throttles: Map<ShardState, ShardThrottle> | undefined;
  /** SubscribeToShard subscriptions by `<consumer ARN>\n<shard id>`: when each began, and its end. */
  readonly subscriptions = new Map<string, { startedMs: number; controller: AbortController }>();
  /**
   * Limits mode: each consumer's quotas on each shard, by the same key as `subscriptions`. They
   * outlive a subscription (the next one continues its allowance) and go with the consumer.
   */
  readonly subscriptionThrottles: Map<string, SubscriptionThrottle> | undefined;

  constructor(
    readonly dataDir: string,
    readonly pool: WorkerPool,
    readonly catalog: CatalogFile,
    options: EngineOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.tokenSecret = Buffer.from(catalog.iteratorSecret, 'hex');
    this.accountId = options.accountId ?? DEFAULT_ACCOUNT;
    this.region = options.region ?? DEFAULT_REGION;
    this.partition = partitionOf(this.region);
    this.segmentBytes = options.segmentBytes ?? SEGMENT_BYTES_DEFAULT;
    this.transitionMs = options.streamTransitionMs ?? 0;
    this.fsync = options.fsync ?? false;
    this.batcher = new Batcher(pool, this.clock, this.fsync);
    this.throttles = options.enforceLimits ? new Map() : undefined;
    this.subscriptionThrottles = options.enforceLimits ? new Map() : undefined;
  }

  /** Refuses a call on a closed engine: it would write a directory it no longer holds. */
  assertOpen(): void {
    if (!this.closed) return;
    throw new KinesisError(
      'ServiceUnavailableException',
      `This engine is closed (Engine.close() was called): open ${this.dataDir} again to use it.`,
    );
  }

  buildStream(record: StreamRecord): StreamState {
    const shards = record.shards.map(
      (shard) =>
        new ShardState(
          shard,
          this.assignWorker(),
          record.name,
          record.createdMs,
          this.dataDir,
          this.segmentBytes,
          this.fsync,
        ),
    );
    return new StreamState(record, this.streamArn(record.name), shards);
  }

  assignWorker(): number {
    const worker = this.nextWorker;
    this.nextWorker = (this.nextWorker + 1) % this.pool.size;
    return worker;
  }

  /** Opens shards in their workers; returns each shard's next ordinal by descriptor key. */
  /** Opens shards of `stream` (openShards), and counts the opening in `stream.opened`. */
  openShardsOf(stream: StreamState, shards: ShardState[]): Promise<Map<string, number>> {
    const opening = this.openShards(shards);
    const settled = opening.catch(() => undefined);
    stream.opened = Promise.all([stream.opened, settled]);
    return opening;
  }

  async openShards(shards: ShardState[]): Promise<Map<string, number>> {
    const byWorker = new Map<number, ShardState[]>();
    for (const shard of shards) {
      const list = byWorker.get(shard.worker) ?? [];
      list.push(shard);
      byWorker.set(shard.worker, list);
    }
    const ends = new Map<string, number>();
    // Each worker's shards in tasks of SHARDS_OPENED_PER_TASK_MAX, one after another, so that
    // appends posted meanwhile run between them; the workers in parallel.
    const openAll = async (worker: number, list: ShardState[]): Promise<void> => {
      for (let at = 0; at < list.length; at += SHARDS_OPENED_PER_TASK_MAX) {
        const shards = list
          .slice(at, at + SHARDS_OPENED_PER_TASK_MAX)
          .map((shard) => shard.descriptor);
        const reply = await this.pool.run<OpenReply>(worker, { kind: 'open', shards });
        for (const shard of reply.shards) ends.set(shard.key, shard.nextOrdinal);
      }
    };
    await Promise.all([...byWorker].map(([worker, list]) => openAll(worker, list)));
    return ends;
  }

  persist(): void {
    saveCatalog(this.dataDir, this.catalog);
  }

  later(action: () => void | Promise<void>, delayMs = this.transitionMs): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.closed) return;
      // A transition that fails (a worker restarting, the engine closing under it) is reported;
      // it must never become an unhandled rejection that takes the process down.
      Promise.resolve()
        .then(action)
        .catch((error: unknown) => {
          if (!this.closed)
            console.error(`runnel: stream transition failed: ${(error as Error).message}`);
        });
    }, delayMs);
    this.timers.add(timer);
  }

  // ---- naming -------------------------------------------------------------------------------------

  streamArn(name: string): string {
    return `arn:${this.partition}:kinesis:${this.region}:${this.accountId}:stream/${name}`;
  }

  notFound(name: string): KinesisError {
    return fail.notFound(`Stream ${name} under account ${this.accountId} not found.`);
  }

  readonly streamNotFound = (name: string): KinesisError => this.notFound(name);

  /**
   * The stream an input names by StreamName and/or StreamARN; `missing` words the error when
   * there is none (by default `Stream <name> under account <account> not found.`).
   */
  target(input: K.StreamTarget, missing = this.streamNotFound): StreamState {
    requireStreamTarget(input);
    let name = input.StreamName;
    if (input.StreamARN !== undefined) {
      const prefix = this.streamArn('');
      const fromArn = input.StreamARN.startsWith(prefix)
        ? input.StreamARN.slice(prefix.length)
        : undefined;
      if (fromArn === undefined) throw missing(input.StreamARN);
      if (name !== undefined && name !== fromArn) {
        throw fail.invalid(
          `StreamARN ${input.StreamARN} and StreamName ${name} do not name the same stream.`,
        );
      }
      name = fromArn;
    }
    const stream = this.streams.get(name!);
    if (!stream) throw missing(name!);
    return stream;
  }

  /**
   * Refuses a StreamCreationTimestamp (ListShards, ListStreamConsumers) that is not the
   * stream's, to the second: it names an older or newer stream of the same name, which is not
   * there. Nothing to check when the caller gave none.
   */
  requireCreatedAt(stream: StreamState, created: Date | undefined): void {
    if (created === undefined) return;
    if (Math.floor(created.getTime() / 1000) === Math.floor(stream.record.createdMs / 1000)) return;
    throw fail.notFound(
      `Stream ${stream.name} under account ${this.accountId} with creation timestamp ` +
        `${created.toISOString()} not found: the stream was created at ` +
        `${new Date(stream.record.createdMs).toISOString()}.`,
    );
  }

  /** A stream that accepts reads and writes (ACTIVE or UPDATING); any other is `missing`. */
  writable(input: K.StreamTarget, missing = this.streamNotFound): StreamState {
    const stream = this.target(input, missing);
    const status = stream.record.status;
    if (status !== 'ACTIVE' && status !== 'UPDATING') throw missing(stream.name);
    return stream;
  }

  requireActive(stream: StreamState): void {
    if (stream.record.status !== 'ACTIVE') {
      throw fail.inUse(
        `Stream ${stream.name} under account ${this.accountId} not ACTIVE, instead in state ${stream.record.status}`,
      );
    }
  }

  // ---- limits mode: shard throttles ---------------------------------------------------------------

  rateExceeded(stream: StreamState, shard: ShardState): string {
    return `Rate exceeded for shard ${shard.shardId} in stream ${stream.name} under account ${this.accountId}.`;
  }

  throttleOf(shard: ShardState): ShardThrottle | undefined {
    if (!this.throttles) return undefined;
    let throttle = this.throttles.get(shard);
    if (!throttle) {
      throttle = new ShardThrottle(this.clock());
      this.throttles.set(shard, throttle);
    }
    return throttle;
  }

  // ---- SubscribeToShard subscriptions --------------------------------------------------------------

  /**
   * Ends every SubscribeToShard subscription whose key starts with `prefix`, and forgets those
   * consumers' quotas (they are gone: a consumer ARN is never given again).
   */
  endSubscriptions(prefix: string): void {
    for (const [key, entry] of this.subscriptions)
      if (key.startsWith(prefix)) entry.controller.abort();
    this.forgetSubscriptionThrottles(prefix);
  }

  /** Limits mode: forgets the quotas whose key starts with `prefix` and ends with `suffix`. */
  forgetSubscriptionThrottles(prefix: string, suffix = ''): void {
    if (!this.subscriptionThrottles) return;
    for (const key of this.subscriptionThrottles.keys()) {
      if (key.startsWith(prefix) && key.endsWith(suffix)) this.subscriptionThrottles.delete(key);
    }
  }

  // ---- pagination tokens ----------------------------------------------------------------------------

  /**
   * A NextToken: base64 of the listing's position as JSON, then an HMAC of it keyed with the
   * catalog's secret (as a shard iterator is), so that a token is only ever one this engine
   * issued. Its fields are then trusted as they were written: a forged or altered token is
   * "Invalid NextToken.", never a field the listing did not expect.
   */
  encodeToken(kind: string, body: object): string {
    const payload = Buffer.from(JSON.stringify({ k: kind, t: this.clock(), ...body }));
    return Buffer.concat([payload, this.tokenMac(payload)]).toString('base64');
  }

  decodeToken<T>(token: string, kind: string): Decoded<T> {
    const bytes = Buffer.from(token, 'base64');
    const payload = bytes.subarray(0, Math.max(0, bytes.length - TOKEN_MAC_BYTES));
    const mac = bytes.subarray(payload.length);
    if (payload.length === 0 || !timingSafeEqual(this.tokenMac(payload), mac)) {
      throw fail.invalid('Invalid NextToken.');
    }
    let parsed: { k?: string; t?: number } & T;
    try {
      parsed = JSON.parse(payload.toString('utf8'));
    } catch {
      throw fail.invalid('Invalid NextToken.');
    }
    if (!parsed || parsed.k !== kind || typeof parsed.t !== 'number')
      throw fail.invalid('Invalid NextToken.');
    if (this.clock() - parsed.t > NEXT_TOKEN_TTL_MS) {
      throw new KinesisError(
        'ExpiredNextTokenException',
        'The NextToken has expired. Tokens expire after 300 seconds.',
      );
    }
    return { ...parsed, issuedMs: parsed.t };
  }

  private tokenMac(payload: Uint8Array): Buffer {
    return createHmac('sha256', this.tokenSecret)
      .update(TOKEN_MAC_DOMAIN)
      .update(payload)
      .digest()
      .subarray(0, TOKEN_MAC_BYTES);
  }
}
