/**
 * The Runnel WebSocket client (docs/protocol.md): puts with pipelined acknowledgements, optional
 * client-side routing by a cached shard map, and subscriptions with credit-based flow control,
 * over the standard WebSocket API. Browser-safe: it imports no Node module; under Node without a
 * global WebSocket it loads `./node-websocket.js` by dynamic import.
 *
 *  - Puts. `putRecords` encodes records into record batches (one per shard when routing on the
 *    client, sent as routed PUTs: the server hashes one key per batch and the shard's owner
 *    checks the rest) and sends one PUT frame each. Many puts are in flight at once, bounded by
 *    the server's limits from WELCOME; callers beyond them wait in order. A routed put the server
 *    refuses as spanning shards, or an ack showing records in another shard than the one routed
 *    to, marks the shard map stale: the next put fetches it again, and a refused batch is sent
 *    again unrouted. A stream whose map says it places records itself (RecordDistributionStrategy
 *    AUTO), and a put with a record without a partition key, are sent unrouted: the server places
 *    the records, or refuses a keyless one if its stream requires keys.
 *  - Subscriptions. `subscribe` returns an async iterator of records shaped as GetRecords returns
 *    them. Credit is granted only as the consumer pulls: the first pull grants the window, and
 *    consumed batches are granted back, so a consumer that stops iterating stops the server.
 *    Memory per subscription: the window, plus one batch being reassembled if a batch straddles
 *    frames. A subscription to a shard closed by a reshard completes after its last record, with
 *    `shardClosed` set; the records that follow are in the shard's children (`listShards`).
 */
import { KinesisError, isErrorCode } from '../errors.js';
import { checkStreamName, checkSubscribeArguments, checkWindowBytes } from './arguments.js';
import {
  HASH_WORDS,
  bigIntToWords,
  compareWords,
  explicitHashKeyFormMessage,
  isExplicitHashKeyForm,
  md5Words,
  parseExplicitHashKey,
} from '../kinesis/hash-key.js';
import {
  WS_CONNECT_TIMEOUT_MS,
  WS_FRAME_BYTES_MAX,
  WS_KEEPALIVE_INTERVAL_MS,
  WS_SUBSCRIBE_WINDOW_BYTES_DEFAULT,
} from '../limits.js';
import {
  BATCH_HEADER_BYTES,
  type BatchFields,
  type RecordInput,
  type RecordRouter,
  encodeRecordBatches,
  newRecordFields,
  nextRecordFields,
} from '../protocol/batch-writer.js';
import {
  BatchStreamDecoder,
  EndReason,
  Opcode,
  PROTOCOL_PATH,
  PROTOCOL_VERSION,
  ProtocolError,
  type PutAck,
  SEQUENCE_ORDINAL_STEP,
  SEQUENCE_SECOND_STEP,
  type ServerFrame,
  type ShardMapEntry,
  type StartingPositionType,
  type Welcome,
  decodeServerFrame,
  encodeCredit,
  encodeListShards,
  encodeListStreams,
  encodePing,
  encodePong,
  encodePutPrefix,
  encodeSubscribe,
  encodeUnsubscribe,
  putPrefixBytes,
  writePutPrefix,
} from '../protocol/frames.js';

export type { RecordInput } from '../protocol/batch-writer.js';
export type { ShardMapEntry, StartingPositionType, Welcome } from '../protocol/frames.js';

// ---- the WebSocket the client runs on -----------------------------------------------------------

/** The part of the WHATWG WebSocket interface the client uses. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: never) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  /** Optional (the built-in Node client has it): sends parts as one message without joining. */
  sendParts?(parts: readonly Uint8Array[]): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

const OPEN = 1;
const CLOSE_NORMAL = 1000;
/**
 * The client's close code when the server breaks the protocol: 1002's meaning in the range the
 * WebSocket API lets a page send (1000 or 3000–4999; a browser throws on 1002).
 */
const CLOSE_PROTOCOL_ERROR = 4002;
/**
 * Keep-alive PINGs in a row that may go unanswered before the connection is declared dead: a
 * PING is missed when nothing at all arrives within one interval of sending it (§5.2).
 */
const KEEPALIVE_MISSES_MAX = 2;
/** The close code a connection declared dead reports: 1006, closed without a close frame. */
const CLOSE_ABNORMAL = 1006;
/** A subscription grants credit back once this fraction of its window is free. */
const GRANT_FRACTION = 4;
/** HTTP statuses of a refused upgrade the client reports as not retryable (§10). */
const HTTP_CLIENT_ERROR_MIN = 400;
const HTTP_CLIENT_ERROR_MAX = 499;
const HTTP_FORBIDDEN = 403;
const HTTP_NOT_FOUND = 404;
/** Client errors that say "later", not "never": a timeout, and too many requests (a proxy's). */
const HTTP_RETRYABLE_CLIENT_ERRORS: ReadonlySet<number> = new Set([408, 429]);
/** Request ids are u32; 0 is reserved. */
const REQUEST_ID_MAX = 0xffffffff;
/** Bytes per record a batch needs beyond key and data: three varints of at most 5 bytes. */
const RECORD_OVERHEAD_BYTES_MAX = 15;
const PARTITION_KEY_CHARS_MAX = 256;

export interface ConnectOptions {
  /** WebSocket constructor (default: globalThis.WebSocket, else the built-in Node client). */
  WebSocket?: WebSocketConstructor;
  /** Path of the protocol on the server (default `/v1`), appended when the URL has none. */
  path?: string;
  /** `client` (default) routes records to shards with a cached shard map, so each PUT holds
   * one shard's records; `server` sends each put as one batch and lets the server split it. */
  routing?: 'client' | 'server';
  /** Lower the puts in flight below the server's limit. */
  putsInFlightMax?: number;
  /**
   * Bytes each subscription keeps granted and unconsumed (default 8 MiB): an integer from 1 to
   * 1 GiB, the most credit a server keeps for a subscription (else connect throws a
   * ValidationException).
   */
  subscribeWindowBytes?: number;
  /**
   * Protocol PING interval (default 20 s; 0 disables keep-alive). When two PINGs in a row get
   * no answer (nothing at all arrives for an interval after each), the connection is declared
   * dead: pending requests and subscriptions fail at once with ServiceUnavailableException.
   */
  keepAliveIntervalMs?: number;
  /** How long connect waits for the connection and WELCOME (default 10 s). */
  connectTimeoutMs?: number;
  /**
   * For `wss:` URLs in Node: options for `tls.connect` (a private CA as `ca`, say), taken by the
   * built-in Node client, which is then used even where a global WebSocket exists. A browser's
   * WebSocket takes its TLS settings from the browser.
   */
  tls?: Record<string, unknown>;
}

export type PutRecordsResultEntry =
  { SequenceNumber: string; ShardId: string } | { ErrorCode: string; ErrorMessage: string };

export interface PutRecordsOutput {
  FailedRecordCount: number;
  Records: PutRecordsResultEntry[];
}

/** A record as GetRecords returns it. */
export interface SubscribedRecord {
  SequenceNumber: string;
  /** Absent for a record put without one (to a stream whose strategy is AUTO). */
  PartitionKey?: string;
  Data: Uint8Array;
  ApproximateArrivalTimestamp: Date;
}

export interface SubscribePosition {
  type: StartingPositionType;
  /** For AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER. */
  sequenceNumber?: string;
  /**
   * For AT_TIMESTAMP (required there): a Date or epoch ms. A time before 1970 precedes every
   * record, as any time before the first record does.
   */
  timestamp?: Date | number;
}

export interface SubscribeOptions {
  /** Overrides the connection's subscribeWindowBytes (the same range: 1 byte to 1 GiB). */
  windowBytes?: number;
}

function toError(name: string, message: string): KinesisError {
  return new KinesisError(isErrorCode(name) ? name : 'InternalFailureException', message);
}

function unexpected(request: string): KinesisError {
  const message = `The server answered ${request} unexpectedly`;
  return new KinesisError('InternalFailureException', message);
}

/**
 * A client error (4xx) answering the upgrade: the server does not serve the protocol at that URL
 * (`runnel serve` answers any path it does not serve with 403), and trying again will not help.
 * Other statuses are left to the retryable ServiceUnavailableException.
 */
function upgradeRefused(status: number, url: string): KinesisError | undefined {
  if (status < HTTP_CLIENT_ERROR_MIN || status > HTTP_CLIENT_ERROR_MAX) return undefined;
  if (HTTP_RETRYABLE_CLIENT_ERRORS.has(status)) return undefined;
  const refused = `The server refused the WebSocket upgrade to ${url} with HTTP status ${status}`;
  if (status !== HTTP_NOT_FOUND && status !== HTTP_FORBIDDEN) {
    return new KinesisError('ValidationException', `${refused}.`);
  }
  return new KinesisError(
    'ResourceNotFoundException',
    `${refused}: no Runnel protocol version ${PROTOCOL_VERSION} is served there ` +
      `(a wrong port, or a path other than ${PROTOCOL_PATH}).`,
  );
}

function closedError(detail: string): KinesisError {
  return new KinesisError(
    'ServiceUnavailableException',
    `The Runnel connection closed (${detail}); ` +
      'requests without an answer may or may not have taken effect.',
  );
}

// ---- routing ------------------------------------------------------------------------------------

/** Routes hash keys to the open shards of a shard map, as the server does. */
class ClientShardRouter {
  readonly shardIds: string[];
  /** The stream places records itself (AUTO): nothing is routed by this map. */
  readonly autoDistribution: boolean;
  private readonly starts: Uint32Array;
  private readonly words = new Uint32Array(HASH_WORDS);

  constructor(shards: readonly ShardMapEntry[]) {
    const open = shards
      .filter((shard) => !shard.closed)
      .sort((a, b) => (BigInt(a.startingHashKey) < BigInt(b.startingHashKey) ? -1 : 1));
    if (open.length === 0) {
      throw new KinesisError('ResourceNotFoundException', 'The stream has no open shard.');
    }
    this.shardIds = open.map((shard) => shard.shardId);
    this.autoDistribution = shards.some((shard) => shard.autoDistribution === true);
    this.starts = new Uint32Array(open.length * HASH_WORDS);
    open.forEach((shard, i) => {
      bigIntToWords(BigInt(shard.startingHashKey), this.starts, i * HASH_WORDS);
    });
  }

  get size(): number {
    return this.shardIds.length;
  }

  readonly route: RecordRouter = (keyBytes, keyStart, keyLength, explicitHashKey) => {
    if (this.shardIds.length === 1) return 0;
    if (explicitHashKey === undefined) {
      md5Words(keyBytes, keyStart, keyLength, this.words, 0);
    } else {
      const value = parseExplicitHashKey(explicitHashKey);
      // The server rejects an invalid key; where it is sent does not matter.
      if (value === undefined) return 0;
      bigIntToWords(value, this.words, 0);
    }
    let low = 0;
    let high = this.shardIds.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (compareWords(this.starts, middle * HASH_WORDS, this.words, 0) <= 0) low = middle;
      else high = middle - 1;
    }
    return low;
  };
}

// ---- put results --------------------------------------------------------------------------------

/** One PUT frame of a put call: which of the call's records it carried, and its outcome. */
interface PutPart {
  /** Indexes (into the call's records) of the records in this frame, in frame order. */
  records: Int32Array;
  /** The shard the client routed the frame to, when it routed. */
  routedShardId: string | undefined;
  ack?: PutAck;
  error?: KinesisError;
}

/**
 * Where each record of a put call landed, with sequence numbers formatted only on demand (a
 * BigInt per record is the largest per-record cost of a put on the client).
 */
export class PutBatchResult {
  readonly recordCount: number;
  readonly FailedRecordCount: number;
  private readonly partOf: Int32Array;
  private readonly entryOf: Uint16Array;
  private readonly positionOf: Int32Array;
  private readonly firsts: Array<Array<bigint | undefined>>;

  constructor(
    recordCount: number,
    private readonly parts: PutPart[],
  ) {
    this.recordCount = recordCount;
    this.partOf = new Int32Array(recordCount).fill(-1);
    this.entryOf = new Uint16Array(recordCount);
    this.positionOf = new Int32Array(recordCount);
    this.firsts = [];
    let failed = 0;
    parts.forEach((part, p) => {
      const { records } = part;
      if (part.error) {
        failed += records.length;
        for (let k = 0; k < records.length; k++) this.partOf[records[k]!] = p;
        this.firsts.push([]);
        return;
      }
      const ack = part.ack!;
      const seen = new Int32Array(ack.entries.length);
      for (let k = 0; k < records.length; k++) {
        const i = records[k]!;
        const entry = ack.entryOfRecord ? ack.entryOfRecord[k]! : 0;
        this.partOf[i] = p;
        this.entryOf[i] = entry;
        this.positionOf[i] = seen[entry]!++;
      }
      failed += ack.failedRecordCount;
      this.firsts.push(
        ack.entries.map((entry) => (entry.ok ? BigInt(entry.firstSequenceNumber) : undefined)),
      );
    });
    this.FailedRecordCount = failed;
  }

  private entry(i: number) {
    const part = this.parts[this.partOf[i]!]!;
    return { part, entry: part.ack?.entries[this.entryOf[i]!] };
  }

  shardIdOf(i: number): string | undefined {
    const { part, entry } = this.entry(i);
    return entry?.shardId ?? part.routedShardId;
  }

  /** The record's sequence number, or undefined if it failed. */
  sequenceNumberOf(i: number): string | undefined {
    const first = this.firsts[this.partOf[i]!]![this.entryOf[i]!];
    if (first === undefined) return undefined;
    return (first + BigInt(this.positionOf[i]!) * SEQUENCE_ORDINAL_STEP).toString();
  }

  /** The record's error, or undefined if it was stored. */
  errorOf(i: number): { ErrorCode: string; ErrorMessage: string } | undefined {
    const { part, entry } = this.entry(i);
    if (part.error) return perRecordError(part.error.code, part.error.message);
    if (entry && !entry.ok) return perRecordError(entry.errorName, entry.errorMessage);
    return undefined;
  }

  /** The PutRecords output shape, one object per record. */
  toOutput(): PutRecordsOutput {
    const records: PutRecordsResultEntry[] = new Array(this.recordCount);
    // One run per ack entry: its records' numbers are consecutive, in record order.
    const runs = this.firsts.map((entries) =>
      entries.map((first) => (first === undefined ? undefined : new SequenceRun(first))),
    );
    for (let i = 0; i < this.recordCount; i++) {
      const error = this.errorOf(i);
      const run = runs[this.partOf[i]!]![this.entryOf[i]!];
      records[i] = error ?? { SequenceNumber: run!.next(), ShardId: this.shardIdOf(i)! };
    }
    return { FailedRecordCount: this.FailedRecordCount, Records: records };
  }
}

/** PutRecords reports throttling per record by its name, anything else as InternalFailure. */
function perRecordError(name: string, message: string) {
  return name === 'ProvisionedThroughputExceededException'
    ? { ErrorCode: name, ErrorMessage: message }
    : { ErrorCode: 'InternalFailure', ErrorMessage: message };
}

// ---- sequence numbers ---------------------------------------------------------------------------

/** Decimal limbs: 16 of 4 digits hold any 56-digit sequence number with room to spare. */
const LIMB = 10_000;
const LIMBS = 16;
let limbText: string[] | undefined;
const stepLimbs = toLimbs(SEQUENCE_ORDINAL_STEP, new Int32Array(LIMBS));

function toLimbs(value: bigint, out: Int32Array): Int32Array {
  for (let i = 0; i < LIMBS; i++) {
    out[i] = Number(value % BigInt(LIMB));
    value /= BigInt(LIMB);
  }
  return out;
}

/**
 * Formats a run of consecutive sequence numbers (first, first + 2^80, ...: the records of one
 * batch, or of one ack entry) by adding the step to decimal limbs, instead of a BigInt-to-decimal
 * conversion per record (about 5x faster).
 */
class SequenceRun {
  private readonly limbs = new Int32Array(LIMBS);

  constructor(first: bigint) {
    toLimbs(first, this.limbs);
  }

  /** The current number; then moves to the next. */
  next(): string {
    const limbs = this.limbs;
    limbText ??= Array.from({ length: LIMB }, (_, i) => String(i).padStart(4, '0'));
    let top = LIMBS - 1;
    while (top > 0 && limbs[top] === 0) top--;
    let text = String(limbs[top]);
    for (let i = top - 1; i >= 0; i--) text += limbText[limbs[i]!]!;
    let carry = 0;
    for (let i = 0; i < LIMBS; i++) {
      const sum = limbs[i]! + stepLimbs[i]! + carry;
      carry = sum >= LIMB ? 1 : 0;
      limbs[i] = sum - carry * LIMB;
    }
    return text;
  }
}

// ---- subscriptions ------------------------------------------------------------------------------

const textDecoder = new TextDecoder();

function decodeKey(bytes: Uint8Array, start: number, end: number): string {
  let text = '';
  for (let i = start; i < end; i++) {
    const code = bytes[i]!;
    if (code >= 0x80) return textDecoder.decode(bytes.subarray(start, end));
    text += String.fromCharCode(code);
  }
  return text;
}

/** Byte ranges, in a batch, of the record at `index` (counting from the batch's first). */
export type RecordVisitor = (
  index: number,
  keyStart: number,
  keyEnd: number,
  dataStart: number,
  dataEnd: number,
) => void;

/** A stored batch as a subscription received it. */
export class ReceivedBatch {
  /** Records before this index precede the subscription's start and are not delivered. */
  readonly firstIndex: number;
  private readonly sequenceOfFirst: bigint;

  constructor(
    /** The whole batch, as stored (record-batch encoding). */
    readonly bytes: Uint8Array,
    readonly fields: BatchFields,
    skipBefore: number,
    sequenceBase: bigint,
  ) {
    this.firstIndex = Math.max(0, Math.min(fields.recordCount, skipBefore - fields.baseOrdinal));
    this.sequenceOfFirst =
      sequenceBase +
      BigInt(fields.baseOrdinal) * SEQUENCE_ORDINAL_STEP +
      BigInt(Math.floor(fields.arrivalMs / 1000)) * SEQUENCE_SECOND_STEP;
  }

  /** Records delivered from this batch. */
  get deliveredCount(): number {
    return this.fields.recordCount - this.firstIndex;
  }

  /** Sequence number of the batch's record `index` (counting from its first record). */
  sequenceNumberAt(index: number): string {
    return (this.sequenceOfFirst + BigInt(index) * SEQUENCE_ORDINAL_STEP).toString();
  }

  /**
   * Visits the delivered records' byte ranges in `bytes` without building objects: the fast
   * way to consume a subscription.
   */
  forEachRecord(visit: RecordVisitor): void {
    const fields = newRecordFields(BATCH_HEADER_BYTES);
    const end = this.bytes.length;
    for (let i = 0; i < this.fields.recordCount; i++) {
      if (!nextRecordFields(this.bytes, fields, end)) {
        throw new Error('subscription stream: corrupt record');
      }
      if (i < this.firstIndex) continue;
      visit(i, fields.keyStart, fields.keyEnd, fields.dataStart, fields.dataEnd);
    }
  }

  /** The delivered records, shaped as GetRecords returns them. */
  records(): SubscribedRecord[] {
    const records: SubscribedRecord[] = [];
    const arrival = this.fields.arrivalMs;
    const sequence = new SequenceRun(
      this.sequenceOfFirst + BigInt(this.firstIndex) * SEQUENCE_ORDINAL_STEP,
    );
    this.forEachRecord((_index, keyStart, keyEnd, dataStart, dataEnd) => {
      const record: SubscribedRecord = {
        SequenceNumber: sequence.next(),
        Data: this.bytes.subarray(dataStart, dataEnd),
        ApproximateArrivalTimestamp: new Date(arrival),
      };
      // A key of length 0 is a record put without one: left out, as GetRecords leaves it out.
      if (keyEnd > keyStart) record.PartitionKey = decodeKey(this.bytes, keyStart, keyEnd);
      records.push(record);
    });
    return records;
  }
}

/**
 * One subscription: an async iterator of records (or, with `nextBatch`/`batches`, of whole
 * batches). Ending the iteration (break, return) unsubscribes.
 *
 * The iteration completes (done) when the consumer unsubscribes, when the client is closed, or
 * when the shard was closed by a reshard (a split or merge) and every record of it has been
 * delivered: `shardClosed` is then true. The records that follow are in the shard's children,
 * which `RunnelClient.listShards` lists with their parents (the entries whose `parentShardId`
 * or `adjacentParentShardId` is this shard). Reading a shard's parents to their end before the
 * shard itself keeps each partition key's records in put order (docs/protocol.md §7.5).
 */
export class RunnelSubscription implements AsyncIterableIterator<SubscribedRecord> {
  /** The shard's watermark as last reported: ordinals below it are committed. */
  watermark: number;
  private readonly base: bigint;
  private readonly decoder = new BatchStreamDecoder();
  private readonly queue: ReceivedBatch[] = [];
  private queueHead = 0;
  private nextOrdinal: number;
  private granted = 0;
  private received = 0;
  private released = 0;
  /** Calls of nextBatch waiting for a batch, woken together when one arrives or on the end. */
  private waiters: Array<() => void> = [];
  private ended = false;
  private endError: Error | undefined;
  private closedShard = false;
  private current: SubscribedRecord[] = [];
  private currentIndex = 0;
  /** next() calls not yet settled: each runs once the one before it settled. */
  private nextsPending = 0;
  private lastNext: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly client: RunnelClient,
    readonly id: number,
    readonly streamName: string,
    readonly shardId: string,
    readonly startOrdinal: number,
    watermark: number,
    readonly sequenceBase: string,
    private readonly windowBytes: number,
  ) {
    this.watermark = watermark;
    this.base = BigInt(sequenceBase);
    this.nextOrdinal = startOrdinal;
  }

  /**
   * True once the server ended the subscription because the shard is closed (resharded) and it
   * had sent every record of it: the iteration completes after the last of them. False while the
   * subscription is live, and when it ended otherwise (unsubscribed, closed, failed).
   */
  get shardClosed(): boolean {
    return this.closedShard;
  }

  /** Bytes granted to the server and not yet consumed (queued, or still to arrive). */
  get outstandingBytes(): number {
    return this.granted - this.released - this.decoder.pendingBytes;
  }

  // -- fed by the client --

  /** @internal */
  onRecords(watermark: number, data: Uint8Array): void {
    if (this.ended) return;
    this.watermark = watermark;
    this.received += data.length;
    if (this.received > this.granted) {
      this.fail(new ProtocolError('SerializationException', 'The server sent beyond the credit'));
      return;
    }
    this.decoder.push(data, (bytes, fields) => {
      const batch = new ReceivedBatch(bytes, fields, this.nextOrdinal, this.base);
      this.nextOrdinal = Math.max(this.nextOrdinal, fields.baseOrdinal + fields.recordCount);
      this.queue.push(batch);
    });
    if (this.waiters.length > 0) {
      this.grant(true);
      this.wake();
    }
  }

  /** @internal The subscription ended: by SUBSCRIPTION_END with `reason`, or with the connection. */
  onEnd(reason?: number): void {
    if (reason === EndReason.SHARD_CLOSED && !this.ended) this.closedShard = true;
    this.ended = true;
    this.wake();
  }

  /** @internal */
  fail(error: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.endError = error;
    this.client.forgetSubscription(this.id);
    this.wake();
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  /** Grants what the window allows; small grants only when the consumer is waiting. */
  private grant(waiting: boolean): void {
    if (this.ended) return;
    const grantable = this.windowBytes - this.outstandingBytes;
    const inFlight = this.granted - this.received;
    if (grantable <= 0) return;
    if (grantable < this.windowBytes / GRANT_FRACTION && !(waiting && inFlight === 0)) return;
    this.granted += grantable;
    this.client.sendFrame(encodeCredit(this.id, grantable));
  }

  // -- consumed by the application --

  /**
   * The next batch with a record to deliver, or undefined once the subscription ended. Calls
   * may overlap: each batch goes to one of them, in the order they wait.
   */
  async nextBatch(): Promise<ReceivedBatch | undefined> {
    for (;;) {
      if (this.queueHead < this.queue.length) {
        const batch = this.queue[this.queueHead]!;
        this.queue[this.queueHead++] = undefined as never;
        if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
          this.queue.splice(0, this.queueHead);
          this.queueHead = 0;
        }
        this.released += batch.bytes.length;
        this.grant(false);
        if (batch.deliveredCount > 0) return batch;
        continue;
      }
      if (this.ended) {
        if (this.endError) throw this.endError;
        return undefined;
      }
      this.grant(true);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
      });
    }
  }

  /** Whole batches, as they arrive. */
  async *batches(): AsyncGenerator<ReceivedBatch, void, undefined> {
    try {
      for (;;) {
        const batch = await this.nextBatch();
        if (!batch) return;
        yield batch;
      }
    } finally {
      this.unsubscribe();
    }
  }

  /**
   * The next record. Calls may overlap (Promise.all, a race with a timeout): they are queued, as
   * an async generator queues them, so each record goes to one call, in call order, and every
   * call settles (done) once the subscription ends.
   */
  next(): Promise<IteratorResult<SubscribedRecord, undefined>> {
    if (this.nextsPending === 0 && this.currentIndex < this.current.length) {
      return Promise.resolve({ done: false, value: this.current[this.currentIndex++]! });
    }
    this.nextsPending++;
    const result = this.lastNext
      .then(() => this.nextRecord())
      .finally(() => {
        this.nextsPending--;
      });
    this.lastNext = result.catch(() => undefined);
    return result;
  }

  private async nextRecord(): Promise<IteratorResult<SubscribedRecord, undefined>> {
    while (this.currentIndex >= this.current.length) {
      const batch = await this.nextBatch();
      if (!batch) return { done: true, value: undefined };
      this.current = batch.records();
      this.currentIndex = 0;
    }
    return { done: false, value: this.current[this.currentIndex++]! };
  }

  async return(): Promise<IteratorResult<SubscribedRecord, undefined>> {
    this.unsubscribe();
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Stops the subscription: the server sends nothing more for it. */
  unsubscribe(): void {
    if (this.ended) return;
    this.ended = true;
    this.queue.length = 0;
    this.queueHead = 0;
    this.current = [];
    this.client.sendFrame(encodeUnsubscribe(this.id));
    this.wake();
  }
}

// ---- the client ---------------------------------------------------------------------------------

interface Pending {
  resolve: (frame: ServerFrame) => void;
  reject: (error: Error) => void;
  /** Runs synchronously with the answer, before frames read after it are dispatched. */
  onAnswer: ((frame: ServerFrame) => void) | undefined;
}

interface PutWaiter {
  bytes: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

async function loadNodeWebSocket(tls?: Record<string, unknown>): Promise<WebSocketConstructor> {
  // A specifier bundlers cannot follow: the browser path never loads Node modules.
  const specifier = './node-websocket.js';
  type NodeModule = typeof import('./node-websocket.js');
  const module = (await import(/* @vite-ignore */ specifier)) as NodeModule;
  const { NodeWebSocket } = module;
  return class extends NodeWebSocket {
    constructor(url: string) {
      super(url, undefined, { messageBytesMax: WS_FRAME_BYTES_MAX, tls });
    }
  } as unknown as WebSocketConstructor;
}

function protocolUrl(url: string, path: string): string {
  const target = new URL(url);
  // startServer reports the uWS port as http://host:port; the same port speaks ws://.
  if (target.protocol === 'http:') target.protocol = 'ws:';
  else if (target.protocol === 'https:') target.protocol = 'wss:';
  if (target.pathname === '' || target.pathname === '/') target.pathname = path;
  return target.href;
}

/**
 * The result of a put call from the outcomes of its frames: throttling and server faults are
 * reported per record, as PutRecords does; anything else (an unknown stream, an invalid record,
 * a lost connection) fails the whole call.
 */
function settleParts(
  recordCount: number,
  parts: PutPart[],
  outcomes: Array<PromiseSettledResult<void>>,
): PutBatchResult {
  for (let p = 0; p < outcomes.length; p++) {
    const outcome = outcomes[p]!;
    if (outcome.status === 'fulfilled') continue;
    const error = outcome.reason as KinesisError;
    const perRecord =
      error instanceof KinesisError &&
      error.retryable &&
      error.code !== 'ServiceUnavailableException';
    if (!perRecord) throw error;
    parts[p]!.error = error;
  }
  return new PutBatchResult(recordCount, parts);
}

/**
 * Closes after the server broke the protocol. A WebSocket that refuses the code (as a browser
 * refuses all but 1000 and 3000–4999) is closed without one: the connection must end either way.
 */
function closeForProtocolError(ws: WebSocketLike): void {
  try {
    ws.close(CLOSE_PROTOCOL_ERROR, 'protocol error');
  } catch {
    ws.close();
  }
}

function bytesOf(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  throw new ProtocolError('SerializationException', 'Frames are binary; got a text message');
}

/**
 * Checks records before they are encoded, as the server would; returns how many have no
 * partition key (undefined or null), which only a stream whose strategy is AUTO takes: the
 * server decides. An empty key is refused here, since the encoding writes it as none.
 */
function checkRecords(records: readonly RecordInput[]): number {
  if (records.length === 0) {
    throw new KinesisError(
      'ValidationException',
      "1 validation error detected: Value '[]' at 'records' failed to satisfy constraint: " +
        'Member must have length greater than or equal to 1',
    );
  }
  let keyless = 0;
  for (let i = 0; i < records.length; i++) {
    const { PartitionKey: key, Data: data } = records[i]!;
    const absent = key === undefined || key === null;
    if (absent) keyless++;
    const tooLong =
      typeof key === 'string' &&
      key.length > PARTITION_KEY_CHARS_MAX &&
      [...key].length > PARTITION_KEY_CHARS_MAX;
    if (!absent && (typeof key !== 'string' || key.length === 0 || tooLong)) {
      throw new KinesisError(
        'ValidationException',
        `1 validation error detected: Value at 'records.${i + 1}.member.partitionKey' ` +
          'failed to satisfy constraint: ' +
          `Member must be 1 to ${PARTITION_KEY_CHARS_MAX} Unicode characters`,
      );
    }
    if (!(data instanceof Uint8Array)) {
      throw new KinesisError(
        'ValidationException',
        `1 validation error detected: Value null at 'records.${i + 1}.member.data' failed ` +
          'to satisfy constraint: Member must not be null',
      );
    }
    // The batch encoding writes an empty key as none, so the server could not refuse it.
    const explicit = records[i]!.ExplicitHashKey;
    if (explicit !== undefined && !isExplicitHashKeyForm(explicit)) {
      throw new KinesisError('ValidationException', explicitHashKeyFormMessage(explicit, i));
    }
  }
  return keyless;
}

export class RunnelClient {
  /** The server's limits, from its WELCOME frame. */
  readonly welcome: Welcome;
  private readonly pending = new Map<number, Pending>();
  private readonly subscriptions = new Map<number, RunnelSubscription>();
  private readonly routers = new Map<string, Promise<ClientShardRouter>>();
  private readonly putWaiters: PutWaiter[] = [];
  private readonly putsInFlightMax: number;
  private readonly routing: 'client' | 'server';
  private readonly windowBytes: number;
  private readonly closed: Promise<void>;
  private nextId = 1;
  private putsInFlight = 0;
  private putBytesInFlight = 0;
  private closeError: KinesisError | undefined;
  /** close() was called: subscriptions end as finished, not failed. */
  private closing = false;
  private fatalError: KinesisError | undefined;
  private keepAlive: ReturnType<typeof setInterval> | undefined;
  private lastHeardMs = Date.now();
  /** When the last keep-alive PING was sent (0: none yet), and how many in a row were missed. */
  private keepAliveSentMs = 0;
  private keepAliveMisses = 0;
  private onClosed!: () => void;

  private constructor(
    private readonly ws: WebSocketLike,
    welcome: Welcome,
    options: ConnectOptions,
  ) {
    this.welcome = welcome;
    const putsInFlightMax = Math.min(options.putsInFlightMax ?? Infinity, welcome.putsInFlightMax);
    this.putsInFlightMax = Math.max(1, putsInFlightMax);
    this.routing = options.routing ?? 'client';
    this.windowBytes = options.subscribeWindowBytes ?? WS_SUBSCRIBE_WINDOW_BYTES_DEFAULT;
    this.closed = new Promise((resolve) => {
      this.onClosed = resolve;
    });
    ws.onmessage = (event) => this.onMessage(event.data);
    ws.onclose = (event) => this.onClose(event.code, event.reason);
    ws.onerror = () => undefined; // onclose follows and carries the outcome.
    const interval = options.keepAliveIntervalMs ?? WS_KEEPALIVE_INTERVAL_MS;
    if (interval > 0) {
      this.keepAlive = setInterval(() => this.checkAlive(), interval);
      (this.keepAlive as { unref?: () => void }).unref?.();
    }
  }

  /**
   * Connects to `ws://host:port` (the protocol path is appended) and waits for WELCOME. A
   * connection that fails or closes before WELCOME is a ServiceUnavailableException, which may
   * be retried. An upgrade the server refuses with a client error (4xx, as it refuses a path it
   * does not serve), which the built-in Node client sees, is not retryable:
   * ResourceNotFoundException for 403 and 404, ValidationException for the others but 408 and
   * 429 (a timeout, too many requests), which stay retryable.
   */
  static async connect(url: string, options: ConnectOptions = {}): Promise<RunnelClient> {
    if (options.subscribeWindowBytes !== undefined) {
      checkWindowBytes(options.subscribeWindowBytes, 'subscribeWindowBytes');
    }
    const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    const WebSocketClass =
      options.WebSocket ??
      (options.tls ? undefined : global) ??
      (await loadNodeWebSocket(options.tls));
    const target = protocolUrl(url, options.path ?? PROTOCOL_PATH);
    const ws = new WebSocketClass(target);
    const viewsOk = (WebSocketClass as { deliversUint8Array?: boolean }).deliversUint8Array;
    ws.binaryType = viewsOk ? 'uint8array' : 'arraybuffer';
    const timeoutMs = options.connectTimeoutMs ?? WS_CONNECT_TIMEOUT_MS;
    return new Promise<RunnelClient>((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.close();
        reject(closedError(`no WELCOME within ${timeoutMs} ms`));
      }, timeoutMs);
      // The built-in Node client reports the HTTP status of a refused upgrade (a browser does not).
      let refusedStatus: number | undefined;
      ws.onclose = (event) => {
        clearTimeout(timer);
        if (refusedStatus !== undefined) {
          const refusal = upgradeRefused(refusedStatus, target);
          if (refusal) return reject(refusal);
        }
        const reason = event.reason ? `: ${event.reason}` : '';
        reject(closedError(`code ${event.code}${reason} before WELCOME`));
      };
      ws.onerror = (event: { status?: unknown } | undefined) => {
        if (typeof event?.status === 'number') refusedStatus = event.status;
      };
      ws.onmessage = (event) => {
        clearTimeout(timer);
        try {
          const frame = decodeServerFrame(bytesOf(event.data));
          if (frame.opcode !== Opcode.WELCOME) {
            const message = 'The server did not begin with WELCOME';
            throw new ProtocolError('SerializationException', message);
          }
          if (frame.welcome.version !== PROTOCOL_VERSION) {
            throw new ProtocolError(
              'SerializationException',
              `The server speaks protocol version ${frame.welcome.version}; ` +
                `this client speaks ${PROTOCOL_VERSION}`,
            );
          }
          resolve(new RunnelClient(ws, frame.welcome, options));
        } catch (error) {
          ws.onclose = null;
          closeForProtocolError(ws);
          const failure = error as ProtocolError;
          reject(new KinesisError(failure.code ?? 'SerializationException', failure.message));
        }
      };
    });
  }

  // ---- plumbing ---------------------------------------------------------------------------------

  /** @internal Sends a frame if the connection is open. */
  sendFrame(frame: Uint8Array): void {
    if (this.ws.readyState === OPEN && !this.closeError) this.ws.send(frame);
  }

  /** @internal */
  forgetSubscription(id: number): void {
    this.subscriptions.delete(id);
  }

  private allocateId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = id >= REQUEST_ID_MAX ? 1 : id + 1;
      if (!this.pending.has(id) && !this.subscriptions.has(id)) return id;
    }
  }

  private request(
    frameOf: (id: number) => Uint8Array | readonly Uint8Array[],
    onAnswer?: (frame: ServerFrame) => void,
  ): { id: number; answer: Promise<ServerFrame> } {
    if (this.closeError) return { id: 0, answer: Promise.reject(this.closeError) };
    const id = this.allocateId();
    // Encoded before the request is registered: a field the frame cannot hold (the callers
    // check their arguments first) fails the call and leaves no request behind.
    let frame: Uint8Array | readonly Uint8Array[];
    try {
      frame = frameOf(id);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      const message = `1 validation error detected: ${error.message}`;
      throw new KinesisError('ValidationException', message);
    }
    let pending!: Pending;
    const answer = new Promise<ServerFrame>((resolve, reject) => {
      pending = { resolve, reject, onAnswer };
    });
    this.pending.set(id, pending);
    try {
      this.transmit(frame);
    } catch (error) {
      this.pending.delete(id);
      throw error;
    }
    return { id, answer };
  }

  /** Sends one frame, given whole or in parts (joined here unless the socket can send parts). */
  private transmit(frame: Uint8Array | readonly Uint8Array[]): void {
    if (frame instanceof Uint8Array) {
      this.ws.send(frame);
    } else if (this.ws.sendParts) {
      this.ws.sendParts(frame);
    } else {
      let length = 0;
      for (const part of frame) length += part.length;
      const joined = new Uint8Array(length);
      let offset = 0;
      for (const part of frame) {
        joined.set(part, offset);
        offset += part.length;
      }
      this.ws.send(joined);
    }
  }

  private onMessage(data: unknown): void {
    this.lastHeardMs = Date.now();
    let frame: ServerFrame;
    try {
      frame = decodeServerFrame(bytesOf(data));
    } catch (error) {
      const failure = error as ProtocolError;
      this.fatalError = new KinesisError(failure.code ?? 'SerializationException', failure.message);
      closeForProtocolError(this.ws);
      return;
    }
    switch (frame.opcode) {
      case Opcode.RECORDS:
        this.subscriptions.get(frame.requestId)?.onRecords(frame.watermark, frame.data);
        return;
      case Opcode.PING:
        this.sendFrame(encodePong(frame.requestId, frame.payload));
        return;
      case Opcode.SUBSCRIPTION_END: {
        // After a reason-1 end, an UNSUBSCRIBE that crossed it is still answered (reason 0, an
        // id the server no longer knows): ids are not reused before they wrap around at 2^32.
        const subscription = this.subscriptions.get(frame.requestId);
        this.subscriptions.delete(frame.requestId);
        subscription?.onEnd(frame.reason);
        return;
      }
      case Opcode.ERROR:
        this.onError(frame);
        return;
      case Opcode.WELCOME:
        return;
      default: {
        const pending = this.pending.get(frame.requestId);
        if (!pending) return;
        this.pending.delete(frame.requestId);
        pending.onAnswer?.(frame);
        pending.resolve(frame);
      }
    }
  }

  private onError(frame: ServerFrame & { opcode: typeof Opcode.ERROR }): void {
    const error = toError(frame.name, frame.message);
    if (frame.fatal) this.fatalError = error;
    const pending = this.pending.get(frame.requestId);
    if (pending) {
      this.pending.delete(frame.requestId);
      pending.reject(error);
      return;
    }
    this.subscriptions.get(frame.requestId)?.fail(error);
  }

  private onClose(code: number, reason: string): void {
    const detail = `code ${code}${reason ? `: ${reason}` : ''}`;
    const error = this.fatalError
      ? new KinesisError(
          this.fatalError.code,
          `${this.fatalError.message} (connection closed, ${detail})`,
        )
      : closedError(detail);
    this.finish(error);
  }

  /** The connection is over: what is pending fails with `error` (subscriptions end on close()). */
  private finish(error: KinesisError): void {
    if (this.closeError) return;
    clearInterval(this.keepAlive);
    this.closeError = error;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
    for (const subscription of [...this.subscriptions.values()]) {
      if (this.closing) subscription.onEnd();
      else subscription.fail(error);
    }
    this.subscriptions.clear();
    for (const waiter of this.putWaiters.splice(0)) waiter.reject(error);
    this.onClosed();
  }

  /**
   * The keep-alive tick: counts the last PING missed if nothing arrived since it was sent, and
   * sends the next. The PING is an ordinary request (its id allocated like any other, so no
   * answer is taken for another's); its failure on close is expected and ignored.
   */
  private checkAlive(): void {
    const missed = this.keepAliveSentMs > 0 && this.lastHeardMs < this.keepAliveSentMs;
    this.keepAliveMisses = missed ? this.keepAliveMisses + 1 : 0;
    if (this.keepAliveMisses >= KEEPALIVE_MISSES_MAX) {
      this.declareDead();
      return;
    }
    this.keepAliveSentMs = Date.now();
    this.request((id) => encodePing(id)).answer.catch(() => undefined);
  }

  /**
   * Fails everything at once on a connection whose peer stopped answering: a closing handshake
   * would wait for that peer too. The socket is closed in the background.
   */
  private declareDead(): void {
    const ws = this.ws;
    ws.onmessage = null;
    ws.onclose = null;
    try {
      ws.close(CLOSE_NORMAL, 'keep-alive timeout');
    } catch {
      // Closed already: nothing left to release.
    }
    const misses = `no answer to ${KEEPALIVE_MISSES_MAX} keep-alive pings in a row`;
    this.finish(closedError(`code ${CLOSE_ABNORMAL}: ${misses}`));
  }

  /** Resolves with the round-trip time of a protocol PING, in ms. */
  async ping(): Promise<number> {
    const started = performance.now();
    await this.request((id) => encodePing(id)).answer;
    return performance.now() - started;
  }

  /** Closes the connection: pending requests fail, subscriptions end. */
  async close(): Promise<void> {
    this.closing = true;
    if (!this.closeError) this.ws.close(CLOSE_NORMAL, 'client closing');
    await this.closed;
  }

  // ---- discovery --------------------------------------------------------------------------------

  async listStreams(): Promise<string[]> {
    const frame = await this.request((id) => encodeListStreams(id)).answer;
    if (frame.opcode !== Opcode.STREAM_LIST) throw unexpected('LIST_STREAMS');
    return frame.streamNames;
  }

  /**
   * Every shard of a stream with its hash-key range (open and closed, in shard-id order). A
   * shard made by a reshard names its parents (`parentShardId`, and `adjacentParentShardId` for
   * a merge), so the children of a closed shard are the entries that name it as a parent.
   */
  async listShards(streamName: string): Promise<ShardMapEntry[]> {
    checkStreamName(streamName);
    const frame = await this.request((id) => encodeListShards(id, streamName)).answer;
    if (frame.opcode !== Opcode.SHARD_MAP) throw unexpected('LIST_SHARDS');
    return frame.shards;
  }

  private routerFor(streamName: string): Promise<ClientShardRouter> {
    let router = this.routers.get(streamName);
    if (!router) {
      router = this.listShards(streamName).then((shards) => new ClientShardRouter(shards));
      this.routers.set(streamName, router);
      router.catch(() => this.routers.delete(streamName));
    }
    return router;
  }

  // ---- puts -------------------------------------------------------------------------------------

  /** Waits (in call order) until a put of `bytes` fits the connection's in-flight limits. */
  private acquirePut(bytes: number): Promise<void> | undefined {
    if (this.closeError) return Promise.reject(this.closeError);
    if (this.putWaiters.length === 0 && this.fitsInFlight(bytes)) {
      this.putsInFlight++;
      this.putBytesInFlight += bytes;
      return undefined;
    }
    return new Promise((resolve, reject) => this.putWaiters.push({ bytes, resolve, reject }));
  }

  private fitsInFlight(bytes: number): boolean {
    return (
      this.putsInFlight < this.putsInFlightMax &&
      (this.putsInFlight === 0 || this.putBytesInFlight + bytes <= this.welcome.putBytesInFlightMax)
    );
  }

  private releasePut(bytes: number): void {
    this.putsInFlight--;
    this.putBytesInFlight -= bytes;
    while (this.putWaiters.length > 0 && this.fitsInFlight(this.putWaiters[0]!.bytes)) {
      const waiter = this.putWaiters.shift()!;
      this.putsInFlight++;
      this.putBytesInFlight += waiter.bytes;
      waiter.resolve();
    }
  }

  /**
   * Sends one PUT frame and awaits its ack: `frame` either has putPrefixBytes of room in front
   * of its batch (written here), or is the bare batch, sent behind a separate prefix.
   */
  private async sendPut(
    streamName: string,
    frame: Uint8Array,
    part: PutPart,
    bare = false,
    routed = part.routedShardId !== undefined,
  ): Promise<void> {
    const bytes = bare ? putPrefixBytes(streamName) + frame.length : frame.length;
    const waiting = this.acquirePut(bytes);
    if (waiting) await waiting;
    const send = (asRouted: boolean) =>
      this.request((id) =>
        bare
          ? [encodePutPrefix(id, streamName, frame.length, asRouted), frame]
          : writePutPrefix(frame, id, streamName, asRouted),
      ).answer;
    try {
      let reply: ServerFrame;
      try {
        reply = await send(routed);
      } catch (error) {
        if (
          !routed ||
          !(error instanceof KinesisError) ||
          error.code !== 'InvalidArgumentException'
        )
          throw error;
        // A routed batch held a record of another shard (or an invalid explicit hash key, which
        // the server will name again): the shard map it was routed by is stale. Route by a fresh
        // map from now on, and send this batch for the server to split.
        this.routers.delete(streamName);
        reply = await send(false);
      }
      if (reply.opcode !== Opcode.PUT_ACK || reply.ack.recordCount !== part.records.length) {
        throw unexpected('PUT');
      }
      part.ack = reply.ack;
      const { entries } = reply.ack;
      const routedTo = part.routedShardId;
      if (routedTo !== undefined && (entries.length !== 1 || entries[0]!.shardId !== routedTo)) {
        // The shard map moved under us (a split or merge): route by a fresh one from now on.
        this.routers.delete(streamName);
      }
    } finally {
      this.releasePut(bytes);
    }
  }

  /**
   * Puts records and returns where each landed, in the PutRecords output shape. Records are sent
   * as one batch per shard (client routing) or one batch (server routing), cut further only to
   * respect the server's batch size limit. Throttled records are reported per record, as
   * PutRecords does; a request-level error (unknown stream, invalid record) is thrown.
   *
   * Order: puts on one connection are stored in the order they were sent, per shard, with one
   * exception (docs/protocol.md §6.1). With client routing, a put refused because the cached
   * shard map was stale (the stream was re-created or resharded) is sent again unrouted when the
   * refusal arrives, so puts sent after it, and accepted before then, may be stored before it.
   * For strict order across such a change, await each put before sending the next, or connect
   * with `routing: 'server'`.
   */
  async putRecords(streamName: string, records: readonly RecordInput[]): Promise<PutRecordsOutput> {
    return (await this.putRecordBatch(streamName, records)).toOutput();
  }

  /** As putRecords, without building an object per record (sequence numbers on demand). */
  async putRecordBatch(
    streamName: string,
    records: readonly RecordInput[],
  ): Promise<PutBatchResult> {
    const keyless = checkRecords(records);
    checkStreamName(streamName);
    // Routed here only when every record has a key and the stream places records by key.
    const routes = this.routing === 'client' && keyless === 0;
    const map = routes ? await this.routerFor(streamName) : undefined;
    const router = map?.autoDistribution === false ? map : undefined;
    const prefix = putPrefixBytes(streamName);
    const parts: PutPart[] = [];
    const sends: Array<Promise<void>> = [];
    const budget = this.welcome.batchBytesMax - BATCH_HEADER_BYTES;
    let start = 0;
    while (start < records.length) {
      let end = start;
      let bytes = 0;
      while (end < records.length) {
        const record = records[end]!;
        const size =
          record.Data.length +
          (record.PartitionKey?.length ?? 0) * 3 +
          (record.ExplicitHashKey?.length ?? 0) +
          RECORD_OVERHEAD_BYTES_MAX;
        if (end > start && bytes + size > budget) break;
        bytes += size;
        end++;
      }
      const chunk = start === 0 && end === records.length ? records : records.slice(start, end);
      const encoded = encodeRecordBatches(chunk, router?.size ?? 1, router?.route, prefix);
      const indexes = new Map<number, Int32Array>();
      const fill = new Int32Array(encoded.batches.length);
      for (let slot = 0; slot < encoded.batches.length; slot++) {
        if (encoded.batches[slot]) indexes.set(slot, new Int32Array(encoded.recordsInSlot[slot]!));
      }
      for (let i = 0; i < chunk.length; i++) {
        const slot = encoded.slotOfRecord[i]!;
        indexes.get(slot)![fill[slot]!++] = start + i;
      }
      for (const [slot, recordIndexes] of indexes) {
        const part: PutPart = { records: recordIndexes, routedShardId: router?.shardIds[slot] };
        parts.push(part);
        sends.push(this.sendPut(streamName, encoded.batches[slot]!, part));
      }
      start = end;
    }
    return settleParts(records.length, parts, await Promise.allSettled(sends));
  }

  /**
   * Puts a batch already in the record-batch encoding (batch-writer.ts) as one PUT frame. The
   * server splits it if its records belong to several shards; with `routed`, the caller states
   * that they all belong to one shard (it built the batch per shard from the shard map), and the
   * server checks that instead of hashing every key (docs/protocol.md §6.1). A routed batch the
   * server refuses as spanning shards is sent again unrouted, when the refusal arrives: puts sent
   * after it, and accepted before then, may be stored before it. For strict order across a
   * stream's re-creation or resharding, await each routed put before sending the next, or send
   * batches unrouted.
   */
  async putEncodedBatch(
    streamName: string,
    batch: Uint8Array,
    recordCount: number,
    options: { routed?: boolean } = {},
  ): Promise<PutBatchResult> {
    checkStreamName(streamName);
    const records = new Int32Array(recordCount);
    for (let i = 0; i < recordCount; i++) records[i] = i;
    const part: PutPart = { records, routedShardId: undefined };
    const outcome = await Promise.allSettled([
      this.sendPut(streamName, batch, part, true, options.routed === true),
    ]);
    return settleParts(recordCount, [part], outcome);
  }

  // ---- subscriptions ----------------------------------------------------------------------------

  /**
   * Subscribes to one shard from a starting position. Resolves once the server accepted (or
   * throws its error, e.g. ResourceNotFoundException); records flow as the iterator is pulled.
   * The stream, shard and position are checked as GetShardIterator checks them, with its errors
   * (ValidationException for a name or type outside the API model, InvalidArgumentException
   * for AT_TIMESTAMP without a timestamp), the ones the frame could not carry before sending.
   */
  async subscribe(
    streamName: string,
    shardId: string,
    position: SubscribePosition,
    options: SubscribeOptions = {},
  ): Promise<RunnelSubscription> {
    const { type, sequenceNumber, timestampMs } = checkSubscribeArguments(
      streamName,
      shardId,
      position,
    );
    const windowBytes =
      options.windowBytes === undefined
        ? this.windowBytes
        : checkWindowBytes(options.windowBytes, 'windowBytes');
    let subscription: RunnelSubscription | undefined;
    const { answer } = this.request(
      (requestId) =>
        encodeSubscribe(requestId, {
          position: type,
          initialCredit: 0,
          timestampMs,
          streamName,
          shardId,
          sequenceNumber,
        }),
      (frame) => {
        // Registered at once: RECORDS for it may be next in the same read.
        if (frame.opcode !== Opcode.SUBSCRIBED) return;
        subscription = new RunnelSubscription(
          this,
          frame.requestId,
          streamName,
          shardId,
          frame.startOrdinal,
          frame.watermark,
          frame.sequenceBase,
          windowBytes,
        );
        this.subscriptions.set(frame.requestId, subscription);
      },
    );
    await answer;
    if (!subscription) throw unexpected('SUBSCRIBE');
    return subscription;
  }
}
