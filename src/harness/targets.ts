/**
 * What the harness drives, behind three small interfaces so that one load loop measures every
 * path the same way:
 *
 * - `PutSender`: puts records `[first, first + count)` of the record ring into a stream and says
 *   how many were acknowledged, throttled or failed (sent = acked + throttled + failed, always);
 * - `ControlPlane`: creates, finds and deletes streams;
 * - `ShardReader`: GetRecords-style reads, for consumers beside the writers and for the read
 *   and verification phase of the benchmark.
 *
 * Targets: the Kinesis JSON API over HTTP/1.1 or HTTP/2 (any Kinesis-compatible endpoint), the
 * Runnel WebSocket protocol (through `RunnelClient` from src/client/, loaded on demand: when it
 * is not there the path reports itself unavailable), and an Engine in this process (the
 * embedded batch API, `putRecordBatch`).
 */
import type { Engine } from '../engine/engine.js';
import {
  KinesisHttpClient,
  KinesisHttpError,
  THROTTLING_ERRORS,
  parseError,
  putRecordsOutcome,
} from './kinesis-http-client.js';
import type { PoolRecord, RecordPool } from './workload.js';

export interface PutOutcome {
  acked: number;
  throttled: number;
  failed: number;
  /** Set when the whole request failed: the error name. */
  error?: string;
}

export interface PutSender {
  put(stream: string, first: number, count: number): Promise<PutOutcome>;
  close(): Promise<void>;
}

export interface ControlPlane {
  /** Creates the stream if missing and waits until it is ACTIVE; true if it created it. */
  ensureStream(stream: string, shards: number): Promise<boolean>;
  deleteStream(stream: string): Promise<void>;
  shardIds(stream: string): Promise<string[]>;
}

export interface ReadPage {
  records: number;
  /** Data bytes of the records. */
  bytes: number;
  next: string | undefined;
  millisBehindLatest: number;
  /** Epoch ms of the newest record's ApproximateArrivalTimestamp, NaN when none. */
  newestArrivalMs: number;
}

export interface ShardReader {
  iterator(stream: string, shardId: string, type: 'TRIM_HORIZON' | 'LATEST'): Promise<string>;
  getRecords(iterator: string, limit: number): Promise<ReadPage>;
}

/** Classifies a whole-request failure: throttling or failure, by the Kinesis error name. */
export function failedRequest(error: unknown, count: number): PutOutcome {
  const code = (error as { code?: unknown }).code ?? (error as { name?: unknown }).name;
  const name = typeof code === 'string' ? code : 'Error';
  return THROTTLING_ERRORS.has(name)
    ? { acked: 0, throttled: count, failed: 0, error: name }
    : { acked: 0, throttled: 0, failed: count, error: name };
}

/** The ring's records [first, first + count), wrapping at the end. */
export function ringSlice<T>(items: readonly T[], first: number, count: number): T[] {
  const out: T[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = items[(first + i) % items.length]!;
  return out;
}

// ---- Kinesis JSON over HTTP -----------------------------------------------------------------

const COMMA = Buffer.from(',');
const BODY_SUFFIX = Buffer.from(']}');

export class HttpPutSender implements PutSender {
  private readonly prefixes = new Map<string, Buffer>();

  constructor(
    private readonly client: KinesisHttpClient,
    private readonly members: readonly Buffer[],
  ) {}

  private prefix(stream: string): Buffer {
    let prefix = this.prefixes.get(stream);
    if (!prefix) {
      prefix = Buffer.from(`{"StreamName":${JSON.stringify(stream)},"Records":[`);
      this.prefixes.set(stream, prefix);
    }
    return prefix;
  }

  async put(stream: string, first: number, count: number): Promise<PutOutcome> {
    const parts: Buffer[] = new Array(count * 2 + 1);
    parts[0] = this.prefix(stream);
    for (let i = 0; i < count; i++) {
      parts[2 * i + 1] = this.members[(first + i) % this.members.length]!;
      parts[2 * i + 2] = i === count - 1 ? BODY_SUFFIX : COMMA;
    }
    try {
      const response = await this.client.request('PutRecords', Buffer.concat(parts));
      if (response.status !== 200)
        return failedRequest(parseError(response.status, response.body), count);
      const { failed, throttled } = putRecordsOutcome(response.body, count);
      return { acked: count - failed, throttled, failed: failed - throttled };
    } catch (error) {
      return failedRequest(error, count);
    }
  }

  async close(): Promise<void> {
    this.client.close();
  }
}

export class HttpControlPlane implements ControlPlane, ShardReader {
  constructor(readonly client: KinesisHttpClient) {}

  ensureStream(stream: string, shards: number): Promise<boolean> {
    return this.client.ensureStream(stream, shards);
  }

  deleteStream(stream: string): Promise<void> {
    return this.client.deleteStream(stream);
  }

  shardIds(stream: string): Promise<string[]> {
    return this.client.shardIds(stream);
  }

  iterator(stream: string, shardId: string, type: 'TRIM_HORIZON' | 'LATEST'): Promise<string> {
    return this.client.shardIterator(stream, shardId, type);
  }

  async getRecords(iterator: string, limit: number): Promise<ReadPage> {
    const out = await this.client.call<{
      Records: Array<{ Data: string; ApproximateArrivalTimestamp?: number }>;
      NextShardIterator?: string;
      MillisBehindLatest?: number;
    }>('GetRecords', { ShardIterator: iterator, Limit: limit });
    let bytes = 0;
    for (const record of out.Records) bytes += base64Bytes(record.Data);
    const newest = out.Records[out.Records.length - 1]?.ApproximateArrivalTimestamp;
    return {
      records: out.Records.length,
      bytes,
      next: out.NextShardIterator ?? undefined,
      millisBehindLatest: out.MillisBehindLatest ?? 0,
      newestArrivalMs: newest === undefined ? NaN : newest * 1000,
    };
  }
}

/** Decoded length of a base64 string, without decoding it. */
export function base64Bytes(text: string): number {
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return (text.length / 4) * 3 - padding;
}

// ---- the embedded Engine ---------------------------------------------------------------------

export class EmbeddedSender implements PutSender {
  constructor(
    private readonly engine: Engine,
    private readonly records: readonly PoolRecord[],
  ) {}

  async put(stream: string, first: number, count: number): Promise<PutOutcome> {
    try {
      const result = await this.engine.putRecordBatch(
        stream,
        ringSlice(this.records, first, count),
      );
      return {
        acked: result.recordCount - result.FailedRecordCount,
        throttled: 0,
        failed: result.FailedRecordCount,
      };
    } catch (error) {
      return failedRequest(error, count);
    }
  }

  async close(): Promise<void> {}
}

export class EmbeddedControlPlane implements ControlPlane, ShardReader {
  constructor(readonly engine: Engine) {}

  async ensureStream(stream: string, shards: number): Promise<boolean> {
    try {
      await this.engine.describeStreamSummary({ StreamName: stream });
      return false;
    } catch (error) {
      if ((error as Error).name !== 'ResourceNotFoundException') throw error;
    }
    await this.engine.createStream({ StreamName: stream, ShardCount: shards });
    return true;
  }

  async deleteStream(stream: string): Promise<void> {
    await this.engine.deleteStream({ StreamName: stream }).catch((error: Error) => {
      if (error.name !== 'ResourceNotFoundException') throw error;
    });
  }

  async shardIds(stream: string): Promise<string[]> {
    const { Shards } = await this.engine.listShards({
      StreamName: stream,
      ShardFilter: { Type: 'AT_LATEST' },
    });
    return Shards.map((shard) => shard.ShardId);
  }

  async iterator(
    stream: string,
    shardId: string,
    type: 'TRIM_HORIZON' | 'LATEST',
  ): Promise<string> {
    const out = await this.engine.getShardIterator({
      StreamName: stream,
      ShardId: shardId,
      ShardIteratorType: type,
    });
    return out.ShardIterator!;
  }

  async getRecords(iterator: string, limit: number): Promise<ReadPage> {
    const out = await this.engine.getRecords({ ShardIterator: iterator, Limit: limit });
    let bytes = 0;
    for (const record of out.Records) bytes += record.Data.length;
    const newest = out.Records[out.Records.length - 1]?.ApproximateArrivalTimestamp;
    return {
      records: out.Records.length,
      bytes,
      next: out.NextShardIterator,
      millisBehindLatest: out.MillisBehindLatest,
      newestArrivalMs: newest ? newest.getTime() : NaN,
    };
  }
}

// ---- the WebSocket protocol (RunnelClient) -------------------------------------------------------

/** The part of `RunnelClient` (src/client/index.ts) the harness uses. */
export interface RunnelClientLike {
  putRecords(stream: string, records: PoolRecord[]): Promise<unknown>;
  /** The object-free put (PutBatchResult), used when the client has it. */
  putRecordBatch?(stream: string, records: PoolRecord[]): Promise<unknown>;
  subscribe(
    stream: string,
    shardId: string,
    position: { type: string },
  ): Promise<unknown> | unknown;
  close(): Promise<void> | void;
}

export type RunnelClientLoad =
  | { available: true; connect(url: string): Promise<RunnelClientLike> }
  | { available: false; reason: string };

/**
 * Loads `RunnelClient` from src/client/index.js if it has been built. The module is named by URL
 * so this file compiles whether or not the client exists yet.
 */
export async function loadRunnelClient(): Promise<RunnelClientLoad> {
  const url = new URL('../client/index.js', import.meta.url).href;
  let module: Record<string, unknown>;
  try {
    module = (await import(url)) as Record<string, unknown>;
  } catch (error) {
    return {
      available: false,
      reason: `src/client/index.ts is not built (${(error as Error).message.split('\n')[0]})`,
    };
  }
  const RunnelClient = module.RunnelClient as
    | {
        connect?: (url: string) => Promise<RunnelClientLike>;
        new (): RunnelClientLike & { connect?(url: string): Promise<unknown> };
      }
    | undefined;
  if (typeof RunnelClient !== 'function')
    return { available: false, reason: 'src/client/index.ts exports no RunnelClient' };
  if (typeof RunnelClient.connect === 'function') {
    return { available: true, connect: (target) => RunnelClient.connect!(target) };
  }
  return {
    available: true,
    async connect(target) {
      const client = new RunnelClient();
      if (typeof client.connect !== 'function') throw new Error('RunnelClient has no connect()');
      await client.connect(target);
      return client;
    },
  };
}

/** Reads acked / failed / throttled counts from whatever shape a ws put result has. */
export function wsPutOutcome(result: unknown, count: number): PutOutcome {
  const batch = result as {
    recordCount?: number;
    FailedRecordCount?: number;
    errorOf?: (i: number) => { ErrorCode: string } | undefined;
  };
  if (typeof batch?.errorOf === 'function' && typeof batch.FailedRecordCount === 'number') {
    // PutBatchResult: look at records one by one only when some failed.
    let throttled = 0;
    let failed = 0;
    if (batch.FailedRecordCount > 0) {
      for (let i = 0; i < count; i++) {
        const error = batch.errorOf(i);
        if (!error) continue;
        if (THROTTLING_ERRORS.has(error.ErrorCode)) throttled++;
        else failed++;
      }
    }
    return { acked: count - throttled - failed, throttled, failed };
  }
  const shaped = (result ?? {}) as {
    Records?: Array<{ ErrorCode?: string }>;
    FailedRecordCount?: number;
    failedCount?: number;
  };
  if (Array.isArray(shaped.Records)) {
    let throttled = 0;
    let failed = 0;
    for (const record of shaped.Records) {
      if (!record.ErrorCode) continue;
      if (THROTTLING_ERRORS.has(record.ErrorCode)) throttled++;
      else failed++;
    }
    return { acked: count - throttled - failed, throttled, failed };
  }
  const failed = shaped.FailedRecordCount ?? shaped.failedCount ?? 0;
  return { acked: count - failed, throttled: 0, failed };
}

export class WsPutSender implements PutSender {
  constructor(
    private readonly client: RunnelClientLike,
    private readonly records: readonly PoolRecord[],
  ) {}

  async put(stream: string, first: number, count: number): Promise<PutOutcome> {
    try {
      const records = ringSlice(this.records, first, count);
      const result = this.client.putRecordBatch
        ? await this.client.putRecordBatch(stream, records)
        : await this.client.putRecords(stream, records);
      return wsPutOutcome(result, count);
    } catch (error) {
      return failedRequest(error, count);
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** Counts records and data bytes in one item a ws subscription yields (a record or a batch). */
export function countSubscriptionItem(item: unknown): { records: number; bytes: number } {
  const value = item as {
    Records?: Array<{ Data?: Uint8Array }>;
    records?: Array<{ Data?: Uint8Array; data?: Uint8Array }>;
    Data?: Uint8Array;
    recordCount?: number;
    dataBytes?: number;
  };
  const list = value.Records ?? value.records;
  if (Array.isArray(list)) {
    let bytes = 0;
    for (const record of list)
      bytes += (record.Data ?? (record as { data?: Uint8Array }).data)?.length ?? 0;
    return { records: list.length, bytes };
  }
  if (typeof value.recordCount === 'number')
    return { records: value.recordCount, bytes: value.dataBytes ?? 0 };
  return { records: 1, bytes: value.Data?.length ?? 0 };
}

export { KinesisHttpClient, KinesisHttpError };
export type { RecordPool };
