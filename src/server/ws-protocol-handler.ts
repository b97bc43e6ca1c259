/**
 * The binary WebSocket protocol (docs/protocol.md) on a uWebSockets.js app, over one Engine.
 *
 * Puts: a PUT frame's record batch is copied once out of the message (uWS neuters the message
 * when the handler returns) into an ArrayBuffer of its own, which the engine then moves to the
 * shard worker without another copy; the engine checks and routes it and forwards it unchanged
 * when its records belong to one shard. uWS cannot stop reading a socket, so what a connection
 * may have in flight is bounded instead (puts and bytes, WS_PUTS_IN_FLIGHT_MAX and
 * WS_PUT_IN_FLIGHT_BYTES_MAX): beyond that a put is refused at once with a retryable error.
 *
 * Metrics: a put counts into the server's records-in and bytes-in totals (the counters /metrics
 * and /dashboard show, shared with the Kinesis API) as a PutRecords does, when it is
 * acknowledged: its stored records, and its data bytes if it stored any (the engine counts
 * them in the walk that checks the batch, PutRecordBatchResult.dataBytes); a subscription's
 * records and data bytes count into records-out and bytes-out as each batch is sent in full,
 * its data bytes found by walking the batch's record framing (batchDataBytes, no allocation).
 *
 * Subscriptions: one loop per subscription reads committed batches straight from the segment
 * files (engine.readBatches: one or two preads into a scratch buffer, no message to the worker)
 * up to the credit the client granted and sends the stored bytes as WebSocket fragments behind a
 * 20-byte head: no further copy, no transcoding. Caught up, it waits on the shard's commit
 * counter (engine.waitForRecords: Atomics.waitAsync, no polling), so records leave within a turn
 * of their commit. It pauses while the connection has more than WS_SEND_BUFFER_BYTES_HIGH
 * unsent, until uWS drains it. Without credit it waits on a promise and holds no data: a
 * subscriber that grants nothing costs its socket and this object. A subscription that has sent
 * every record of a closed (resharded) shard ends with SUBSCRIPTION_END, reason SHARD_CLOSED;
 * reaching that end takes no credit.
 *
 * uWS rules kept here: a WebSocket is used only between open and close (`connection.ws` is
 * cleared on close and checked before every send); sends outside a uWS callback are corked;
 * a send is only made below WS_SEND_BUFFER_BYTES_MAX unsent, where uWS would drop it.
 */
import type uWS from 'uWebSockets.js';

import type { Engine, PutRecordBatchResult } from '../engine/engine.js';
import { type ErrorCode, KinesisError } from '../errors.js';
import type { ApiMetrics } from './kinesis-api.js';
import {
  RECORD_BATCH_BYTES_MAX,
  WS_CLOSE_BACKSTOP_MS,
  WS_CLOSE_GRACE_MS,
  WS_COMMIT_WAIT_MS,
  WS_IDLE_END_WAIT_MS,
  WS_CREDIT_BYTES_MAX,
  WS_FRAME_BYTES_MAX,
  WS_IDLE_TIMEOUT_MS,
  WS_PING_PAYLOAD_BYTES_MAX,
  WS_PUT_IN_FLIGHT_BYTES_MAX,
  WS_PUTS_IN_FLIGHT_MAX,
  WS_READ_SCRATCH_BYTES,
  WS_SEND_BUFFER_BYTES_HIGH,
  WS_SEND_BUFFER_BYTES_MAX,
  WS_SEND_CHUNK_BYTES_MAX,
  WS_SUBSCRIPTIONS_MAX,
} from '../limits.js';
import type { ShardIteratorType } from '../kinesis/shapes.js';
import {
  type ClientFrame,
  EndReason,
  Opcode,
  PROTOCOL_PATH,
  PROTOCOL_VERSION,
  ProtocolError,
  type PutAck,
  type PutAckEntry,
  type ShardMapEntry,
  type SubscribeRequest,
  decodeClientFrame,
  encodeError,
  encodePong,
  encodePutAck,
  encodeRecordsHead,
  encodeShardMap,
  encodeStreamList,
  encodeSubscribed,
  encodeSubscriptionEnd,
  encodeWelcome,
} from '../protocol/frames.js';
import { ATTRIBUTES_OFFSET, batchDataBytes } from '../storage/record-batch.js';

/** WebSocket close codes (RFC 6455 §7.4.1). */
const CLOSE_PROTOCOL_ERROR = 1002;
const CLOSE_UNSUPPORTED_DATA = 1003;
const CLOSE_GOING_AWAY = 1001;

const SOFTWARE = 'runnel/0.1.0';

/** The topic every connection subscribes to; see the `open` handler. */
const UWS_NO_SHORTCUT_TOPIC = 'runnel/no-direct-write';

export interface WebSocketProtocolOptions {
  /** Route path (default `/v1`). */
  path?: string;
  /** Overrides of the connection limits (tests). */
  putsInFlightMax?: number;
  putBytesInFlightMax?: number;
  subscriptionsMax?: number;
  /**
   * The counters binary-protocol traffic counts into: the server passes its KinesisApi's
   * metrics, so /metrics and /dashboard count both protocols. Without it nothing is counted.
   */
  metrics?: TrafficCounters;
}

/** The records and data bytes in and out that /metrics reports (ApiMetrics has them). */
export type TrafficCounters = Pick<ApiMetrics, 'recordsIn' | 'bytesIn' | 'recordsOut' | 'bytesOut'>;

export interface WebSocketProtocolStats {
  connections: number;
  subscriptions: number;
  putsInFlight: number;
  /** Record-batch bytes each live subscription has sent, by connection id and subscription id. */
  subscriptionBytesSent: Array<{
    connection: number;
    subscription: number;
    bytes: number;
    credit: number;
  }>;
  /** Unsent bytes uWS holds, per connection. */
  bufferedBytes: number[];
}

export interface WebSocketProtocol {
  readonly path: string;
  stats(): WebSocketProtocolStats;
  /**
   * Shuts the protocol down: every connection stops taking requests (each new one is answered
   * ServiceUnavailableException, not stored), its subscriptions end, and it closes with 1001
   * (going away) once the puts it had in flight are acknowledged — at the latest after
   * WS_CLOSE_GRACE_MS. Resolves when every connection has closed. New connections are closed
   * at once.
   */
  closeAll(): Promise<void>;
}

interface UserData {
  connection: Connection;
}

type Socket = uWS.WebSocket<UserData>;
type PutFrame = ClientFrame & { opcode: typeof Opcode.PUT };

class Subscription {
  credit: number;
  /** The ordinal to read from next: the batch holding it is sent next. */
  nextOrdinal = 0;
  /** Bytes of the batch at `partialBase` already sent (0 at a batch boundary). */
  partialOffset = 0;
  partialBase = 0;
  bytesSent = 0;
  /**
   * The start ordinal: the client skips records below it (the first batch sent may begin
   * before it), so they are not counted as read.
   */
  startOrdinal = 0;
  /** The shard's watermark at the last read: records below it are committed. */
  watermark = 0;
  ended = false;
  private wake: (() => void) | undefined;

  constructor(
    readonly id: number,
    readonly streamName: string,
    readonly shardId: string,
    initialCredit: number,
  ) {
    this.credit = Math.min(initialCredit, WS_CREDIT_BYTES_MAX);
  }

  /** Resolves on the next grant, end or close. */
  sleep(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

class Connection {
  ws: Socket | undefined;
  /** A fatal error was sent: input is ignored, and the socket closes once puts are answered. */
  failing = false;
  /** The server is shutting down: requests are refused, and the socket closes once puts are answered. */
  goingAway = false;
  closeCode = CLOSE_PROTOCOL_ERROR;
  /** The reason the socket closes with, once its puts in flight are answered. */
  closeReason = '';
  closeTimer: ReturnType<typeof setTimeout> | undefined;
  putsInFlight = 0;
  putBytesInFlight = 0;
  readonly subscriptions = new Map<number, Subscription>();
  private drainWaiters: Array<() => void> = [];
  /** Frames queued in this turn: the acks of a wave of puts settled together leave in one write. */
  private outbox: Uint8Array[] = [];
  private flushScheduled = false;

  constructor(readonly id: number) {}

  /** Queues a frame; the queue is written, corked, once the current microtasks have run. */
  send(frame: Uint8Array): void {
    if (!this.ws) return;
    this.outbox.push(frame);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flush);
    }
  }

  /** Writes queued frames now (before a RECORDS frame or a close, to keep frames in order). */
  readonly flush = (): void => {
    this.flushScheduled = false;
    const ws = this.ws;
    const frames = this.outbox;
    if (frames.length === 0) return;
    this.outbox = [];
    if (!ws) return;
    ws.cork(() => {
      for (const frame of frames) ws.send(frame, true, false);
    });
  };

  drained(): Promise<void> {
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  wakeDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const wake of waiters) wake();
  }
}

function errorCodeOf(error: unknown): { code: ErrorCode; message: string } {
  if (error instanceof KinesisError) return { code: error.code, message: error.message };
  if (error instanceof ProtocolError) return { code: error.code, message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'InternalFailureException', message };
}

/** The ack of a put: one entry per shard its records went to (docs/protocol.md §6.2). */
function buildAck(result: PutRecordBatchResult): PutAck {
  const count = result.recordCount;
  const firstShard = result.onlyShardId ?? result.shardIdOf(0);
  let single = result.FailedRecordCount === 0;
  if (result.onlyShardId === undefined) {
    for (let i = 1; i < count && single; i++) single = result.shardIdOf(i) === firstShard;
  }
  if (single) {
    return {
      recordCount: count,
      failedRecordCount: 0,
      entries: [
        {
          ok: true,
          recordCount: count,
          shardId: firstShard,
          firstSequenceNumber: result.sequenceNumberOf(0)!,
        },
      ],
      entryOfRecord: undefined,
    };
  }
  // One entry per shard and outcome: the records a shard stored (consecutive sequence numbers,
  // in request order), or those it refused with one error — a batch spanning shards can fail in
  // one and succeed in the others, and in limits mode a shard can store some records of a batch
  // and refuse the rest.
  const entryOf = new Map<string, number>();
  const entries: PutAckEntry[] = [];
  const entryOfRecord = new Uint16Array(count);
  for (let i = 0; i < count; i++) {
    const shardId = result.shardIdOf(i);
    const error = result.errorOf(i);
    const key = error ? `${shardId}\n${error.name}\n${error.message}` : shardId;
    let entry = entryOf.get(key);
    if (entry === undefined) {
      entry = entries.length;
      entryOf.set(key, entry);
      entries.push(
        error
          ? {
              ok: false,
              recordCount: 0,
              shardId,
              errorName: error.name,
              errorMessage: error.message,
            }
          : { ok: true, recordCount: 0, shardId, firstSequenceNumber: result.sequenceNumberOf(i)! },
      );
    }
    entries[entry]!.recordCount++;
    entryOfRecord[i] = entry;
  }
  return {
    recordCount: count,
    failedRecordCount: result.FailedRecordCount,
    entries,
    entryOfRecord,
  };
}

/** Retention deleted the rest of a batch the subscription had begun to send. */
function expiredMidBatch(subscription: Subscription): KinesisError {
  return new KinesisError(
    'ExpiredIteratorException',
    `Records from ordinal ${subscription.partialBase} of ${subscription.shardId} ` +
      'expired under retention while their batch was being sent.',
  );
}

/** Registers the protocol's `.ws(path)` route on `app`, serving `engine`. */
export function registerWebSocketProtocol(
  app: uWS.TemplatedApp,
  engine: Engine,
  options: WebSocketProtocolOptions = {},
): WebSocketProtocol {
  const path = options.path ?? PROTOCOL_PATH;
  const putsInFlightMax = options.putsInFlightMax ?? WS_PUTS_IN_FLIGHT_MAX;
  const putBytesInFlightMax = options.putBytesInFlightMax ?? WS_PUT_IN_FLIGHT_BYTES_MAX;
  const subscriptionsMax = options.subscriptionsMax ?? WS_SUBSCRIPTIONS_MAX;
  const metrics = options.metrics;
  const readScratch = Buffer.allocUnsafeSlow(WS_READ_SCRATCH_BYTES);
  const welcome = encodeWelcome({
    version: PROTOCOL_VERSION,
    frameBytesMax: WS_FRAME_BYTES_MAX,
    putsInFlightMax,
    putBytesInFlightMax,
    subscriptionsMax,
    idleTimeoutMs: WS_IDLE_TIMEOUT_MS,
    batchBytesMax: RECORD_BATCH_BYTES_MAX,
    software: SOFTWARE,
  });
  const connections = new Set<Connection>();
  let nextConnectionId = 1;
  /** closeAll() was called; `allClosed` resolves its promise once no connection is left. */
  let shuttingDown = false;
  let allClosed: (() => void) | undefined;

  function goAway(connection: Connection): void {
    if (connection.goingAway || !connection.ws) return;
    connection.goingAway = true;
    closeAfterPuts(connection, CLOSE_GOING_AWAY, 'server shutting down');
  }

  // ---- closing --------------------------------------------------------------------------------

  function closeNow(connection: Connection, reason: string): void {
    clearTimeout(connection.closeTimer);
    connection.flush();
    connection.ws?.end(connection.closeCode, reason);
  }

  function endSubscriptions(connection: Connection): void {
    for (const subscription of connection.subscriptions.values()) {
      subscription.ended = true;
      subscription.notify();
    }
    connection.subscriptions.clear();
  }

  /** Reports a protocol violation, stops reading, answers puts in flight, then closes. */
  function fatal(
    connection: Connection,
    error: ProtocolError,
    closeCode = CLOSE_PROTOCOL_ERROR,
  ): void {
    if (connection.failing || !connection.ws) return;
    connection.failing = true;
    connection.send(encodeError(error.requestId, true, error.code, error.message));
    closeAfterPuts(connection, closeCode, error.code);
  }

  /** Ends the subscriptions, then closes once the puts in flight are answered (or the grace ends). */
  function closeAfterPuts(connection: Connection, closeCode: number, reason: string): void {
    connection.closeCode = closeCode;
    connection.closeReason = reason;
    endSubscriptions(connection);
    connection.wakeDrainWaiters();
    clearTimeout(connection.closeTimer);
    if (connection.putsInFlight === 0) {
      closeNow(connection, reason);
    } else {
      connection.closeTimer = setTimeout(() => closeNow(connection, reason), WS_CLOSE_GRACE_MS);
    }
  }

  /** While shutting down: answers a request with a retryable error that says nothing was done. */
  function refuseGoingAway(connection: Connection, message: ArrayBuffer): void {
    let frame: ClientFrame;
    try {
      frame = decodeClientFrame(new Uint8Array(message));
    } catch {
      return;
    }
    if (
      frame.opcode === Opcode.CREDIT ||
      frame.opcode === Opcode.UNSUBSCRIBE ||
      frame.opcode === Opcode.PONG
    )
      return;
    const refusal =
      'The server is shutting down: this request was not carried out (a put was not stored).';
    connection.send(encodeError(frame.requestId, false, 'ServiceUnavailableException', refusal));
  }

  function requestFailed(connection: Connection, requestId: number, error: unknown): void {
    const { code, message } = errorCodeOf(error);
    connection.send(encodeError(requestId, false, code, message));
  }

  // ---- puts -----------------------------------------------------------------------------------

  function put(connection: Connection, frame: PutFrame, message: ArrayBuffer): void {
    if (frame.batch.byteLength > RECORD_BATCH_BYTES_MAX) {
      // What WELCOME advertises; the frame limit leaves room for the put's own header.
      const why =
        `The record batch of ${frame.batch.byteLength} bytes is larger than the ` +
        `${RECORD_BATCH_BYTES_MAX} bytes a PUT may carry.`;
      connection.send(encodeError(frame.requestId, false, 'ValidationException', why));
      return;
    }
    const bytes = message.byteLength;
    const { putsInFlight, putBytesInFlight } = connection;
    if (putsInFlight >= putsInFlightMax || putBytesInFlight + bytes > putBytesInFlightMax) {
      connection.send(
        encodeError(
          frame.requestId,
          false,
          'LimitExceededException',
          `This connection already has ${putsInFlight} puts (${putBytesInFlight} bytes) ` +
            `in flight; the limits are ${putsInFlightMax} puts and ${putBytesInFlightMax} bytes.`,
        ),
      );
      return;
    }
    // The one copy: uWS neuters `message` when this handler returns. The copy goes into one of
    // the engine's put buffers, which moves to the shard worker and back for the next put.
    const batch = engine.putBuffer(frame.batch.byteLength);
    batch.set(frame.batch);
    connection.putsInFlight++;
    connection.putBytesInFlight += bytes;
    const stored = frame.routed
      ? engine.putRoutedBatch(frame.streamName, batch)
      : engine.putEncodedBatch(frame.streamName, batch);
    stored
      .then((result) => {
        if (metrics !== undefined) countPut(metrics, result);
        connection.send(encodePutAck(frame.requestId, buildAck(result)));
      })
      .catch((error: unknown) => requestFailed(connection, frame.requestId, error))
      .finally(() => {
        connection.putsInFlight--;
        connection.putBytesInFlight -= bytes;
        if ((connection.failing || connection.goingAway) && connection.putsInFlight === 0) {
          closeNow(connection, connection.closeReason);
        }
      });
  }

  /**
   * Counts a put as the Kinesis API counts a PutRecords (src/server/kinesis-api.ts): its stored
   * records, and the data bytes of all its records if it stored any. The engine counted those
   * bytes in the walk that checked the batch (on the event loop, or in the shard worker for a
   * routed put), so a put is not walked again here.
   */
  function countPut(counters: TrafficCounters, result: PutRecordBatchResult): void {
    const failed = result.FailedRecordCount;
    if (failed === result.recordCount) return;
    counters.recordsIn += result.recordCount - failed;
    counters.bytesIn += result.dataBytes!;
  }

  // ---- subscriptions ---------------------------------------------------------------------------

  function subscribe(connection: Connection, frame: SubscribeRequest & { requestId: number }) {
    const id = frame.requestId;
    if (connection.subscriptions.has(id)) {
      const message = `Subscription id ${id} is already in use`;
      fatal(connection, new ProtocolError('ValidationException', message, id));
      return;
    }
    if (connection.subscriptions.size >= subscriptionsMax) {
      const message = `This connection already has ${subscriptionsMax} subscriptions.`;
      connection.send(encodeError(id, false, 'LimitExceededException', message));
      return;
    }
    const subscription = new Subscription(id, frame.streamName, frame.shardId, frame.initialCredit);
    connection.subscriptions.set(id, subscription);
    const position = engine.shardPosition({
      StreamName: frame.streamName,
      ShardId: frame.shardId,
      ShardIteratorType: frame.position as ShardIteratorType,
      ...(frame.sequenceNumber !== '' ? { StartingSequenceNumber: frame.sequenceNumber } : {}),
      ...(frame.position === 'AT_TIMESTAMP' ? { Timestamp: new Date(frame.timestampMs) } : {}),
    });
    position
      .then(({ ordinal, watermark }) => {
        if (subscription.ended) return;
        const base = engine.sequenceNumberOf(frame.streamName, frame.shardId, 0, 0);
        subscription.nextOrdinal = ordinal;
        subscription.startOrdinal = ordinal;
        subscription.watermark = watermark;
        connection.send(encodeSubscribed(id, ordinal, watermark, base));
        void run(connection, subscription);
      })
      .catch((error: unknown) => {
        if (subscription.ended) return;
        subscription.ended = true;
        connection.subscriptions.delete(id);
        requestFailed(connection, id, error);
      });
  }

  function unsubscribe(connection: Connection, id: number): void {
    const subscription = connection.subscriptions.get(id);
    if (subscription) {
      subscription.ended = true;
      subscription.notify();
      connection.subscriptions.delete(id);
    }
    // While a batch is cut, nextOrdinal is that batch's base: the first record not fully sent.
    const next = subscription?.nextOrdinal ?? 0;
    connection.send(encodeSubscriptionEnd(id, EndReason.UNSUBSCRIBED, next));
  }

  function credit(connection: Connection, id: number, bytes: number): void {
    if (bytes === 0) {
      const message = 'A CREDIT frame grants at least 1 byte';
      fatal(connection, new ProtocolError('ValidationException', message, id));
      return;
    }
    const subscription = connection.subscriptions.get(id);
    if (!subscription) return; // It ended; the grant crossed its end on the wire.
    subscription.credit = Math.min(subscription.credit + bytes, WS_CREDIT_BYTES_MAX);
    subscription.notify();
  }

  /** The subscription loop: read up to the credit, send, wait for credit, drain or commits. */
  async function run(connection: Connection, subscription: Subscription): Promise<void> {
    const { streamName, shardId } = subscription;
    try {
      while (!subscription.ended) {
        if (subscription.credit <= 0) {
          await waitForCredit(connection, subscription);
          continue;
        }
        const ws = connection.ws;
        if (!ws) return;
        if (ws.getBufferedAmount() >= WS_SEND_BUFFER_BYTES_HIGH) {
          await connection.drained();
          continue;
        }
        const limit = Math.min(subscription.credit, WS_SEND_CHUNK_BYTES_MAX);
        const next = subscription.nextOrdinal;
        const bytes = limit + subscription.partialOffset;
        // Read into the shared scratch buffer: sendRecords hands the bytes to uWS, which copies
        // them before it returns, so the next read may overwrite them.
        const read = engine.readBatches(streamName, shardId, next, bytes, readScratch);
        subscription.watermark = read.watermark;
        if (read.batches.length === 0) {
          if (caughtUp(connection, subscription, read)) return;
          await engine.waitForRecords(
            streamName,
            shardId,
            Math.max(next, read.from),
            WS_COMMIT_WAIT_MS,
          );
          continue;
        }
        connection.flush();
        sendRecords(ws, subscription, read.batches, read.watermark, limit);
      }
    } catch (error) {
      if (subscription.ended) return;
      subscription.ended = true;
      connection.subscriptions.delete(subscription.id);
      requestFailed(connection, subscription.id, error);
    }
  }

  /**
   * A read found nothing from the subscription's next ordinal on. Returns true when that is the
   * end of a closed shard, which it then reports (endShardClosed); throws when retention deleted
   * the rest of a batch being sent.
   */
  function caughtUp(
    connection: Connection,
    subscription: Subscription,
    read: ReturnType<Engine['readBatches']>,
  ): boolean {
    if (subscription.partialOffset > 0) {
      if (read.from > subscription.partialBase) throw expiredMidBatch(subscription);
      return false;
    }
    // Records below `from` expired under retention: the subscription is at `from` at least.
    const reached = Math.max(subscription.nextOrdinal, read.from);
    if (read.end === undefined || reached < read.end) return false;
    endShardClosed(connection, subscription, reached);
    return true;
  }

  /**
   * Waits for credit. A closed shard's end takes none: a subscription that was caught up at its
   * last read looks for the end now (a read that finds nothing reads no bytes), and until credit
   * comes it also wakes at the shard's next commit or when a reshard fixes the shard's end (or,
   * should a wake be missed, after WS_IDLE_END_WAIT_MS), to look again.
   */
  async function waitForCredit(connection: Connection, subscription: Subscription): Promise<void> {
    const { streamName, shardId, nextOrdinal: next } = subscription;
    if (subscription.partialOffset > 0 || subscription.watermark > next) {
      await subscription.sleep();
      return;
    }
    // Reads one batch at most, and only if one was committed since the last read.
    const read = engine.readBatches(streamName, shardId, next, 1, readScratch);
    subscription.watermark = read.watermark;
    if (read.batches.length > 0) return;
    if (caughtUp(connection, subscription, read)) return;
    const commit = engine.waitForRecords(
      streamName,
      shardId,
      Math.max(next, read.from),
      WS_IDLE_END_WAIT_MS,
    );
    await Promise.race([subscription.sleep(), commit]);
  }

  /**
   * The end of a closed (resharded) shard: every record was sent in full. SUBSCRIPTION_END with
   * reason SHARD_CLOSED and the next ordinal (the shard's end, or past it), and the subscription
   * is over: nothing more is sent for its id (an UNSUBSCRIBE that crossed the end is still
   * answered, so a client reuses the id only after that answer: docs/protocol.md §7.5).
   */
  function endShardClosed(connection: Connection, subscription: Subscription, next: number): void {
    subscription.ended = true;
    subscription.nextOrdinal = next;
    connection.subscriptions.delete(subscription.id);
    connection.send(encodeSubscriptionEnd(subscription.id, EndReason.SHARD_CLOSED, next));
  }

  /**
   * Sends the next bytes of the subscription's batch stream, at most `limit`: whole batches
   * while they fit, and the first batch cut only when it alone is larger than `limit`.
   */
  function sendRecords(
    ws: Socket,
    subscription: Subscription,
    batches: ReturnType<Engine['readBatches']>['batches'],
    watermark: number,
    limit: number,
  ): void {
    const pieces: Uint8Array[] = [];
    let bytes = 0;
    for (const batch of batches) {
      let start = 0;
      if (pieces.length === 0 && subscription.partialOffset > 0) {
        if (batch.baseOrdinal !== subscription.partialBase) throw expiredMidBatch(subscription);
        start = subscription.partialOffset;
      }
      const available = batch.bytes.length - start;
      if (pieces.length > 0 && bytes + available > limit) break;
      const take = Math.min(available, limit - bytes);
      // Batches go out with attributes 0, as docs/protocol.md §4 has them: the stored KMS mark
      // (GetRecords' per-record EncryptionType) is not part of the protocol. The bytes are this
      // read's own copy.
      if (start <= ATTRIBUTES_OFFSET && ATTRIBUTES_OFFSET < start + take) {
        batch.bytes[ATTRIBUTES_OFFSET] = 0;
      }
      const whole = take === batch.bytes.length;
      pieces.push(whole ? batch.bytes : batch.bytes.subarray(start, start + take));
      bytes += take;
      if (take < available) {
        subscription.partialOffset = start + take;
        subscription.partialBase = batch.baseOrdinal;
        subscription.nextOrdinal = batch.baseOrdinal;
        break;
      }
      subscription.partialOffset = 0;
      subscription.nextOrdinal = batch.baseOrdinal + batch.recordCount;
      // The batch's last bytes go in this frame: its records are read.
      if (metrics !== undefined) countRead(metrics, subscription, batch);
    }
    subscription.credit -= bytes;
    subscription.bytesSent += bytes;
    const head = encodeRecordsHead(subscription.id, watermark, bytes);
    // Fragments of one WebSocket message: the head, then the stored bytes as they were read.
    ws.cork(() => {
      ws.sendFirstFragment(head, true, false);
      for (let i = 0; i < pieces.length - 1; i++) ws.sendFragment(pieces[i]!, false);
      ws.sendLastFragment(pieces[pieces.length - 1]!, false);
    });
  }

  /** Counts the records of a batch sent in full, and their data bytes, from the start ordinal on. */
  function countRead(
    counters: TrafficCounters,
    subscription: Subscription,
    batch: ReturnType<Engine['readBatches']>['batches'][number],
  ): void {
    const skip = Math.max(0, subscription.startOrdinal - batch.baseOrdinal);
    if (skip >= batch.recordCount) return;
    counters.recordsOut += batch.recordCount - skip;
    counters.bytesOut += batchDataBytes(batch.bytes, skip);
  }

  // ---- discovery -------------------------------------------------------------------------------

  async function listStreams(): Promise<string[]> {
    const names: string[] = [];
    let after: string | undefined;
    for (;;) {
      const input = after === undefined ? {} : { ExclusiveStartStreamName: after };
      const page = await engine.listStreams(input);
      names.push(...page.StreamNames);
      if (!page.HasMoreStreams || page.StreamNames.length === 0) return names;
      after = page.StreamNames[page.StreamNames.length - 1];
    }
  }

  async function listShards(streamName: string): Promise<ShardMapEntry[]> {
    const shards: ShardMapEntry[] = [];
    let page = await engine.listShards({ StreamName: streamName });
    // A client routes puts by the map only if the stream does not place records itself (AUTO).
    const summary = await engine.describeStreamSummary({ StreamName: streamName });
    const autoDistribution = summary.StreamDescriptionSummary.RecordDistributionStrategy === 'AUTO';
    for (;;) {
      for (const shard of page.Shards ?? []) {
        shards.push({
          shardId: shard.ShardId,
          parentShardId: shard.ParentShardId,
          adjacentParentShardId: shard.AdjacentParentShardId,
          closed: shard.SequenceNumberRange.EndingSequenceNumber !== undefined,
          autoDistribution,
          startingHashKey: shard.HashKeyRange.StartingHashKey,
          endingHashKey: shard.HashKeyRange.EndingHashKey,
          sequenceBase: engine.sequenceNumberOf(streamName, shard.ShardId, 0, 0),
        });
      }
      if (page.NextToken === undefined) return shards;
      page = await engine.listShards({ NextToken: page.NextToken });
    }
  }

  // ---- dispatch ---------------------------------------------------------------------------------

  function dispatch(connection: Connection, frame: ClientFrame, message: ArrayBuffer): void {
    switch (frame.opcode) {
      case Opcode.PING:
        if (frame.payload.length > WS_PING_PAYLOAD_BYTES_MAX) {
          throw new ProtocolError(
            'SerializationException',
            `A PING payload is at most ${WS_PING_PAYLOAD_BYTES_MAX} bytes`,
            frame.requestId,
          );
        }
        connection.send(encodePong(frame.requestId, frame.payload));
        return;
      case Opcode.PONG:
        return;
      case Opcode.PUT:
        put(connection, frame, message);
        return;
      case Opcode.SUBSCRIBE:
        subscribe(connection, frame);
        return;
      case Opcode.CREDIT:
        credit(connection, frame.requestId, frame.bytes);
        return;
      case Opcode.UNSUBSCRIBE:
        unsubscribe(connection, frame.requestId);
        return;
      case Opcode.LIST_STREAMS:
        listStreams()
          .then((names) => connection.send(encodeStreamList(frame.requestId, names)))
          .catch((error: unknown) => requestFailed(connection, frame.requestId, error));
        return;
      case Opcode.LIST_SHARDS:
        listShards(frame.streamName)
          .then((shards) => connection.send(encodeShardMap(frame.requestId, shards)))
          .catch((error: unknown) => requestFailed(connection, frame.requestId, error));
        return;
    }
  }

  app.ws<UserData>(path, {
    maxPayloadLength: WS_FRAME_BYTES_MAX,
    maxBackpressure: WS_SEND_BUFFER_BYTES_MAX,
    // Read as a boolean by uWS (its typings say number): close rather than drop a frame.
    closeOnBackpressureLimit: 1,
    idleTimeout: WS_IDLE_TIMEOUT_MS / 1000,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      res.upgrade<UserData>(
        { connection: new Connection(nextConnectionId++) },
        req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    open: (ws) => {
      const connection = ws.getUserData().connection;
      connection.ws = ws;
      connections.add(connection);
      // Keeps every send off uWS's direct-write shortcut for frames of 16 KiB and more, which
      // that path takes only for sockets that subscribe to no topic. In uWS v20.30 (the build
      // that loads here) the shortcut drops a frame's payload when the socket accepts no more
      // than the frame header, desynchronising the stream (fixed upstream in uWebSockets PR
      // #1662); the ordinary path buffers the whole frame instead. No topic is ever published.
      ws.subscribe(UWS_NO_SHORTCUT_TOPIC);
      ws.send(welcome, true, false);
      if (shuttingDown) goAway(connection);
    },
    message: (ws, message, isBinary) => {
      const connection = ws.getUserData().connection;
      if (connection.failing) return;
      if (connection.goingAway) {
        if (isBinary) refuseGoingAway(connection, message);
        return;
      }
      if (!isBinary) {
        const message = 'Frames are binary messages; got a text message';
        const error = new ProtocolError('SerializationException', message);
        fatal(connection, error, CLOSE_UNSUPPORTED_DATA);
        return;
      }
      try {
        dispatch(connection, decodeClientFrame(new Uint8Array(message)), message);
      } catch (error) {
        const failure =
          error instanceof ProtocolError
            ? error
            : new ProtocolError('InternalFailureException', errorCodeOf(error).message);
        fatal(connection, failure);
      }
    },
    drain: (ws) => {
      if (ws.getBufferedAmount() < WS_SEND_BUFFER_BYTES_HIGH) {
        ws.getUserData().connection.wakeDrainWaiters();
      }
    },
    close: (ws) => {
      const connection = ws.getUserData().connection;
      connection.ws = undefined;
      clearTimeout(connection.closeTimer);
      endSubscriptions(connection);
      connection.wakeDrainWaiters();
      connections.delete(connection);
      if (shuttingDown && connections.size === 0) allClosed?.();
    },
  });

  return {
    path,
    stats(): WebSocketProtocolStats {
      const stats: WebSocketProtocolStats = {
        connections: connections.size,
        subscriptions: 0,
        putsInFlight: 0,
        subscriptionBytesSent: [],
        bufferedBytes: [],
      };
      for (const connection of connections) {
        stats.subscriptions += connection.subscriptions.size;
        stats.putsInFlight += connection.putsInFlight;
        stats.bufferedBytes.push(connection.ws?.getBufferedAmount() ?? 0);
        for (const subscription of connection.subscriptions.values()) {
          stats.subscriptionBytesSent.push({
            connection: connection.id,
            subscription: subscription.id,
            bytes: subscription.bytesSent,
            credit: subscription.credit,
          });
        }
      }
      return stats;
    },
    closeAll(): Promise<void> {
      shuttingDown = true;
      const closed = new Promise<void>((resolve) => {
        allClosed = resolve;
      });
      for (const connection of [...connections]) goAway(connection);
      if (connections.size === 0) allClosed?.();
      // Each connection is ended by WS_CLOSE_GRACE_MS at the latest; a socket whose close never
      // comes back must not hold the shutdown (closing the app then drops it).
      const backstop = setTimeout(() => allClosed?.(), WS_CLOSE_GRACE_MS + WS_CLOSE_BACKSTOP_MS);
      backstop.unref();
      return closed.finally(() => clearTimeout(backstop));
    },
  };
}
