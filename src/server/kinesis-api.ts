/**
 * The Kinesis API as a function of (method, X-Amz-Target, Content-Type, body): decodes the body
 * (JSON 1.1 or CBOR 1.1), calls the engine method, and encodes the output or the error. Both
 * front ends (the node:http/http2 endpoint and the uWebSockets.js app) call `handle` with a fully
 * buffered body and write back what it returns, so the two answer byte for byte alike.
 *
 * Order of checks, following what Kinesis (via kinesalite's tests against it) does:
 *  1. method other than POST       → 403 AccessDeniedException (Kinesis answers this for GET /),
 *                                    in CBOR for a CBOR content type, else JSON
 *  2. empty body                   → 400 UnknownOperationException
 *  3. content type not JSON/CBOR   → 404 UnknownOperationException, or 403 AccessDeniedException
 *                                    when there is no X-Amz-Target either (Kinesis's statuses
 *                                    for these two; the body is JSON here rather than its XML)
 *  4. body does not parse          → 400 SerializationException
 *  5. missing/unknown X-Amz-Target → 400 UnknownOperationException
 *  6. a real Kinesis operation Runnel does not serve yet (channels, ...) →
 *     400 UnknownOperationException "Operation <Op> is not supported by Runnel yet." — the name
 *     the service itself uses for an operation it does not know, which every SDK surfaces as a
 *     client fault by that name and never retries; the message says which operation and why.
 *  7. member of the wrong type     → 400 SerializationException (Coral/Jackson wording)
 *  8. the engine's own answer      → its KinesisError's name and catalog status.
 */

import { randomUUID } from 'node:crypto';

import { KinesisError, isErrorCode, ERROR_CATALOG } from '../errors.js';
import type * as Shapes from '../kinesis/shapes.js';
import {
  decodeJsonInput,
  encodeJsonError,
  encodeJsonOutput,
  encodePutRecordsResultJson,
  type StoredRecords,
  INPUT_MODELS,
  type DecodedInput,
  type StructureType,
} from './json-codec.js';
import { decodeCborInput, encodeCbor, encodeCborError } from './cbor-codec.js';
import type { PreparedRecords, ShardSubscription } from '../engine/engine.js';
import { EVENT_STREAM_CONTENT_TYPE, encodeEvent, encodeException } from './event-stream.js';
import { CODEC_BODY_BYTES_MIN, type CodecThreads } from './codec-threads.js';
import { preparePutRecords, type PreparedPutRecords } from './put-records-prepare.js';

export const TARGET_PREFIX = 'Kinesis_20131202.';
export const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';
export const CBOR_CONTENT_TYPE = 'application/x-amz-cbor-1.1';
const JSON_CONTENT_TYPES: ReadonlySet<string> = new Set([JSON_CONTENT_TYPE, 'application/json']);

/** The engine surface the API layer calls: `Engine` from src/engine/engine.ts satisfies it. */
export interface KinesisEngine {
  createStream(input: Shapes.CreateStreamInput): Promise<unknown>;
  deleteStream(input: Shapes.DeleteStreamInput): Promise<unknown>;
  describeStream(input: Shapes.DescribeStreamInput): Promise<unknown>;
  describeStreamSummary(input: Shapes.StreamTarget): Promise<unknown>;
  listStreams(input: Shapes.ListStreamsInput): Promise<unknown>;
  listShards(input: Shapes.ListShardsInput): Promise<unknown>;
  putRecord(input: Shapes.PutRecordInput): Promise<unknown>;
  putRecords(input: Shapes.PutRecordsInput): Promise<unknown>;
  getShardIterator(input: Shapes.GetShardIteratorInput): Promise<unknown>;
  getRecords(input: Shapes.GetRecordsInput): Promise<unknown>;
  increaseStreamRetentionPeriod(input: Shapes.RetentionPeriodInput): Promise<unknown>;
  decreaseStreamRetentionPeriod(input: Shapes.RetentionPeriodInput): Promise<unknown>;
  describeLimits(input: Record<string, never>): Promise<unknown>;
  describeAccountSettings(input: Record<string, never>): Promise<unknown>;
  updateAccountSettings(input: Shapes.UpdateAccountSettingsInput): Promise<unknown>;
  addTagsToStream(input: Shapes.AddTagsToStreamInput): Promise<unknown>;
  removeTagsFromStream(input: Shapes.RemoveTagsFromStreamInput): Promise<unknown>;
  listTagsForStream(input: Shapes.ListTagsForStreamInput): Promise<unknown>;
  tagResource(input: Shapes.TagResourceInput): Promise<unknown>;
  untagResource(input: Shapes.UntagResourceInput): Promise<unknown>;
  listTagsForResource(input: Shapes.ListTagsForResourceInput): Promise<unknown>;
  putResourcePolicy(input: Shapes.PutResourcePolicyInput): Promise<unknown>;
  getResourcePolicy(input: Shapes.ResourceTarget): Promise<unknown>;
  deleteResourcePolicy(input: Shapes.ResourceTarget): Promise<unknown>;
  splitShard(input: Shapes.SplitShardInput): Promise<unknown>;
  mergeShards(input: Shapes.MergeShardsInput): Promise<unknown>;
  updateShardCount(input: Shapes.UpdateShardCountInput): Promise<unknown>;
  updateStreamMode(input: Shapes.UpdateStreamModeInput): Promise<unknown>;
  updateStreamRecordDistributionStrategy(
    input: Shapes.UpdateStreamRecordDistributionStrategyInput,
  ): Promise<unknown>;
  updateMaxRecordSize(input: Shapes.UpdateMaxRecordSizeInput): Promise<unknown>;
  updateStreamWarmThroughput(input: Shapes.UpdateStreamWarmThroughputInput): Promise<unknown>;
  enableEnhancedMonitoring(input: Shapes.EnhancedMonitoringInput): Promise<unknown>;
  disableEnhancedMonitoring(input: Shapes.EnhancedMonitoringInput): Promise<unknown>;
  startStreamEncryption(input: Shapes.StreamEncryptionInput): Promise<unknown>;
  stopStreamEncryption(input: Shapes.StreamEncryptionInput): Promise<unknown>;
  registerStreamConsumer(input: Shapes.RegisterStreamConsumerInput): Promise<unknown>;
  deregisterStreamConsumer(input: Shapes.ConsumerTarget): Promise<unknown>;
  describeStreamConsumer(input: Shapes.ConsumerTarget): Promise<unknown>;
  listStreamConsumers(input: Shapes.ListStreamConsumersInput): Promise<unknown>;
  subscribeToShard(input: Shapes.SubscribeToShardInput): Promise<ShardSubscription>;
  /** Appends a PutRecords prepared from its JSON body (put-records-prepare.ts). */
  putPreparedRecords(prepared: PreparedRecords): Promise<StoredRecords>;
}

type EngineMethod = (input: never) => Promise<unknown>;

/** Operation name → engine method name, for every operation the engine serves. */
export const SUPPORTED_OPERATIONS: Readonly<Record<string, keyof KinesisEngine>> = {
  CreateStream: 'createStream',
  DeleteStream: 'deleteStream',
  DescribeStream: 'describeStream',
  DescribeStreamSummary: 'describeStreamSummary',
  ListStreams: 'listStreams',
  ListShards: 'listShards',
  PutRecord: 'putRecord',
  PutRecords: 'putRecords',
  GetShardIterator: 'getShardIterator',
  GetRecords: 'getRecords',
  IncreaseStreamRetentionPeriod: 'increaseStreamRetentionPeriod',
  DecreaseStreamRetentionPeriod: 'decreaseStreamRetentionPeriod',
  DescribeLimits: 'describeLimits',
  DescribeAccountSettings: 'describeAccountSettings',
  UpdateAccountSettings: 'updateAccountSettings',
  AddTagsToStream: 'addTagsToStream',
  RemoveTagsFromStream: 'removeTagsFromStream',
  ListTagsForStream: 'listTagsForStream',
  TagResource: 'tagResource',
  UntagResource: 'untagResource',
  ListTagsForResource: 'listTagsForResource',
  PutResourcePolicy: 'putResourcePolicy',
  GetResourcePolicy: 'getResourcePolicy',
  DeleteResourcePolicy: 'deleteResourcePolicy',
  SplitShard: 'splitShard',
  MergeShards: 'mergeShards',
  UpdateShardCount: 'updateShardCount',
  UpdateStreamMode: 'updateStreamMode',
  UpdateStreamRecordDistributionStrategy: 'updateStreamRecordDistributionStrategy',
  UpdateMaxRecordSize: 'updateMaxRecordSize',
  UpdateStreamWarmThroughput: 'updateStreamWarmThroughput',
  EnableEnhancedMonitoring: 'enableEnhancedMonitoring',
  DisableEnhancedMonitoring: 'disableEnhancedMonitoring',
  StartStreamEncryption: 'startStreamEncryption',
  StopStreamEncryption: 'stopStreamEncryption',
  RegisterStreamConsumer: 'registerStreamConsumer',
  DeregisterStreamConsumer: 'deregisterStreamConsumer',
  DescribeStreamConsumer: 'describeStreamConsumer',
  ListStreamConsumers: 'listStreamConsumers',
  SubscribeToShard: 'subscribeToShard',
};

/** The rest of the Kinesis API (SDK 3.1143, 45 operations in all): answered as not supported. */
export const UNSUPPORTED_OPERATIONS: readonly string[] = [
  'CreateChannel',
  'DeleteChannel',
  'DescribeChannel',
  'ListChannels',
  'UpdateChannel',
];
const UNSUPPORTED: ReadonlySet<string> = new Set(UNSUPPORTED_OPERATIONS);

/** Outputs made only of strings and numbers: encoded without the conversion walk. */
const PLAIN_OUTPUTS: ReadonlySet<string> = new Set(['PutRecord', 'PutRecords', 'GetShardIterator']);

export interface ApiRequest {
  /** Upper-case HTTP method. */
  method: string;
  target: string | undefined;
  contentType: string | undefined;
  body: Buffer;
  /**
   * Set by a front end that can write a response as it is produced (the Kinesis endpoint):
   * only then is SubscribeToShard answered with its event stream.
   */
  streaming?: boolean;
}

export interface ApiResponse {
  status: number;
  contentType: string;
  body: Buffer | string;
  requestId: string;
  /** Set on errors: the Kinesis error name, also sent as `x-amzn-ErrorType`. */
  errorType?: string;
  /**
   * SubscribeToShard's event stream (then `body` is empty and there is no Content-Length): the
   * encoded messages, each produced when the previous one has been taken, ending normally when
   * the subscription ends. `cancel` ends it early (the client went away, or shutdown).
   */
  events?: AsyncGenerator<Buffer>;
  cancel?: () => void;
  /** Aborted when the subscription ends whatever the client does (ShardSubscription.signal). */
  stopped?: AbortSignal;
}

// ---- metrics -------------------------------------------------------------------------------

const PUTS = 'PutRecord, PutRecords and binary-protocol PUTs';
const READS = 'GetRecords and binary-protocol subscriptions';

/**
 * Counters behind `/metrics`. Incremented per request (and per batch), never per record. The
 * records and bytes totals also count the binary WebSocket protocol (ws-protocol-handler.ts).
 */
export class ApiMetrics {
  readonly requests = new Map<string, number>();
  readonly errors = new Map<string, number>();
  recordsIn = 0;
  bytesIn = 0;
  recordsOut = 0;
  bytesOut = 0;
  /** JSON PutRecords prepared by a codec thread, and those it handed back to the event loop. */
  codecPrepared = 0;
  codecDeclined = 0;

  countRequest(operation: string): void {
    this.requests.set(operation, (this.requests.get(operation) ?? 0) + 1);
  }

  countError(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  /** Prometheus text exposition format 0.0.4. */
  render(): string {
    const lines: string[] = [];
    lines.push('# HELP runnel_requests_total Kinesis API requests by operation.');
    lines.push('# TYPE runnel_requests_total counter');
    for (const [operation, count] of this.requests) {
      lines.push(`runnel_requests_total{operation="${escapeLabel(operation)}"} ${count}`);
    }
    lines.push('# HELP runnel_errors_total Kinesis API error responses by error code.');
    lines.push('# TYPE runnel_errors_total counter');
    for (const [code, count] of this.errors) {
      lines.push(`runnel_errors_total{code="${escapeLabel(code)}"} ${count}`);
    }
    const totals: [string, string, number][] = [
      // Both protocols in one unlabelled series each, which /dashboard and existing scrapes read.
      ['runnel_records_in_total', `Records stored by ${PUTS}.`, this.recordsIn],
      [
        'runnel_bytes_in_total',
        `Data bytes of the ${PUTS} that stored records (all their records, refused ones included).`,
        this.bytesIn,
      ],
      ['runnel_records_out_total', `Records returned by ${READS}.`, this.recordsOut],
      ['runnel_bytes_out_total', `Data bytes returned by ${READS}.`, this.bytesOut],
      [
        'runnel_codec_prepared_total',
        'PutRecords bodies prepared by a codec thread.',
        this.codecPrepared,
      ],
      [
        'runnel_codec_declined_total',
        'PutRecords bodies a codec thread left to the event loop.',
        this.codecDeclined,
      ],
    ];
    for (const [name, help, value] of totals) {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`, `${name} ${value}`);
    }
    return `${lines.join('\n')}\n`;
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

// ---- dispatch ------------------------------------------------------------------------------

type Format = 'json' | 'cbor';

function formatOf(contentType: string | undefined): Format | undefined {
  if (contentType === undefined) return undefined;
  const semicolon = contentType.indexOf(';');
  const bare = (semicolon === -1 ? contentType : contentType.slice(0, semicolon))
    .trim()
    .toLowerCase();
  if (JSON_CONTENT_TYPES.has(bare)) return 'json';
  if (bare === CBOR_CONTENT_TYPE) return 'cbor';
  return undefined;
}

export class KinesisApi {
  /**
   * `codec`: threads that prepare large JSON PutRecords bodies off the event loop (the caller
   * owns and closes them); without it every request is decoded on the event loop.
   */
  constructor(
    private readonly engine: KinesisEngine,
    readonly metrics: ApiMetrics = new ApiMetrics(),
    private readonly codec?: CodecThreads,
  ) {}

  /** Never rejects: every failure becomes an error response. */
  async handle(request: ApiRequest): Promise<ApiResponse> {
    const requestId = randomUUID();
    const format = formatOf(request.contentType);
    const operation = operationOf(request.target);
    // Only Kinesis operation names become labels: targets are client-controlled.
    const known = operation !== undefined && (isSupported(operation) || UNSUPPORTED.has(operation));
    this.metrics.countRequest(known ? operation : 'Unknown');
    try {
      return await this.dispatch(request, format, operation, requestId);
    } catch (error) {
      return this.errorResponse(toKinesisError(error, operation), format, requestId);
    }
  }

  private async dispatch(
    request: ApiRequest,
    format: Format | undefined,
    operation: string | undefined,
    requestId: string,
  ): Promise<ApiResponse> {
    if (request.method !== 'POST') {
      // In the request's protocol, as every error: a CBOR client cannot read a JSON answer.
      const refused = new KinesisError('AccessDeniedException', NO_OPERATION_MESSAGE);
      return { ...this.errorResponse(refused, format, requestId), status: 403 };
    }
    if (request.body.length === 0) {
      throw new KinesisError('UnknownOperationException', EMPTY_BODY_MESSAGE);
    }
    if (format === undefined) {
      if (request.target === undefined || request.target === '') {
        return this.refusal(403, 'AccessDeniedException', NO_OPERATION_MESSAGE, requestId);
      }
      const shown = request.contentType ?? '(none)';
      const message =
        `Content-Type ${shown} is not supported: send ${JSON_CONTENT_TYPE}, ` +
        `application/json or ${CBOR_CONTENT_TYPE}.`;
      return this.refusal(404, 'UnknownOperationException', message, requestId);
    }
    if (operation === undefined || !isSupported(operation)) {
      // The body must still parse first (Kinesis reports a bad body before a bad target).
      decodeBody(request.body, format, INPUT_MODELS.DescribeLimits!);
      if (operation !== undefined && UNSUPPORTED.has(operation)) {
        throw new KinesisError(
          'UnknownOperationException',
          `Operation ${operation} is not supported by Runnel yet.`,
        );
      }
      throw new KinesisError('UnknownOperationException', unknownTargetMessage(request.target));
    }
    if (operation === 'SubscribeToShard') {
      return this.subscribe(request, format, requestId);
    }
    let body = request.body;
    if (operation === 'PutRecords' && format === 'json') {
      // Prepared on a codec thread when the body is large enough, else here; a body that
      // cannot be prepared takes the ordinary path below, which words its error.
      let prepared: PreparedPutRecords | undefined;
      if (this.codec !== undefined && body.length >= CODEC_BODY_BYTES_MIN) {
        const outcome = await this.codec.preparePutRecords(body);
        if (outcome.prepared) {
          this.metrics.codecPrepared++;
          prepared = outcome.prepared;
        } else {
          this.metrics.codecDeclined++;
          body = outcome.body;
        }
      } else {
        prepared = preparePutRecords(body);
      }
      if (prepared) {
        const result = await this.engine.putPreparedRecords(prepared);
        this.metrics.recordsIn += prepared.recordCount - result.FailedRecordCount;
        this.metrics.bytesIn += prepared.blobBytes;
        const answer = encodePutRecordsResultJson(result);
        return { status: 200, contentType: JSON_CONTENT_TYPE, body: answer, requestId };
      }
    }
    const decoded = decodeBody(body, format, INPUT_MODELS[operation]!);
    const output = await this.call(operation, decoded);
    return this.success(operation, output, format, requestId);
  }

  /**
   * SubscribeToShard: errors found before the subscription starts are ordinary error responses
   * (JSON or CBOR, as the request); after that, the answer is an event stream
   * (EVENT_STREAM_CONTENT_TYPE) of an `initial-response` event, then one `SubscribeToShardEvent`
   * per engine event, and an error during the subscription is its last message, an exception
   * event named after it. Each payload is in the request's format, as `:content-type` says: the
   * Java SDK (CBOR by default) reads every event payload with the parser of the client's protocol,
   * whatever that header says, so a CBOR request must get CBOR events.
   */
  private async subscribe(
    request: ApiRequest,
    format: Format,
    requestId: string,
  ): Promise<ApiResponse> {
    const decoded = decodeBody(request.body, format, INPUT_MODELS.SubscribeToShard!);
    if (request.streaming !== true) {
      throw new KinesisError(
        'UnknownOperationException',
        'SubscribeToShard is served on the Kinesis endpoint (HTTP/2 or HTTP/1.1), which streams its ' +
          'events; this port answers buffered requests only.',
      );
    }
    const subscription = await this.engine.subscribeToShard(
      decoded.input as unknown as Shapes.SubscribeToShardInput,
    );
    return {
      status: 200,
      contentType: EVENT_STREAM_CONTENT_TYPE,
      body: '',
      requestId,
      events: this.eventMessages(subscription, format),
      cancel: () => subscription.close(),
      stopped: subscription.signal,
    };
  }

  private async *eventMessages(
    subscription: ShardSubscription,
    format: Format,
  ): AsyncGenerator<Buffer> {
    const contentType = format === 'cbor' ? CBOR_CONTENT_TYPE : JSON_CONTENT_TYPE;
    try {
      // The operation's output has no member outside the event stream: an empty document.
      const initial = format === 'cbor' ? encodeCbor({}) : EMPTY_JSON;
      yield encodeEvent('initial-response', contentType, initial);
      for await (const event of subscription.events) {
        let bytes = 0;
        for (const record of event.Records) bytes += record.Data.length;
        this.metrics.recordsOut += event.Records.length;
        this.metrics.bytesOut += bytes;
        yield encodeEvent('SubscribeToShardEvent', contentType, eventPayload(event, format));
      }
    } catch (error) {
      const failure = toKinesisError(error, 'SubscribeToShard');
      this.metrics.countError(failure.name);
      const payload =
        format === 'cbor'
          ? encodeCbor({ message: failure.message })
          : Buffer.from(JSON.stringify({ message: failure.message }), 'utf8');
      yield encodeException(failure.name, contentType, payload);
    } finally {
      subscription.close();
    }
  }

  private async call(operation: string, decoded: DecodedInput): Promise<unknown> {
    const method = SUPPORTED_OPERATIONS[operation]!;
    const engineMethod = this.engine[method] as EngineMethod;
    const output = await engineMethod.call(this.engine, decoded.input as never);
    if (operation === 'PutRecords') {
      const records = (decoded.input.Records as unknown[] | undefined)?.length ?? 0;
      const failed = (output as { FailedRecordCount?: number } | undefined)?.FailedRecordCount ?? 0;
      this.metrics.recordsIn += records - failed;
      this.metrics.bytesIn += decoded.blobBytes;
    } else if (operation === 'PutRecord') {
      this.metrics.recordsIn += 1;
      this.metrics.bytesIn += decoded.blobBytes;
    } else if (operation === 'GetRecords') {
      this.countRecordsOut(output);
    }
    return output;
  }

  private countRecordsOut(output: unknown): void {
    const records = (output as { Records?: { Data?: Uint8Array }[] } | undefined)?.Records;
    if (!records) return;
    let bytes = 0;
    for (let i = 0; i < records.length; i++) bytes += records[i]!.Data?.length ?? 0;
    this.metrics.recordsOut += records.length;
    this.metrics.bytesOut += bytes;
  }

  private success(
    operation: string,
    output: unknown,
    format: Format,
    requestId: string,
  ): ApiResponse {
    if (format === 'cbor') {
      const body = encodeCbor(output ?? {});
      return { status: 200, contentType: CBOR_CONTENT_TYPE, body, requestId };
    }
    const body = encodeJsonOutput(output, PLAIN_OUTPUTS.has(operation));
    return { status: 200, contentType: JSON_CONTENT_TYPE, body, requestId };
  }

  private refusal(
    status: number,
    errorType: string,
    message: string,
    requestId: string,
  ): ApiResponse {
    this.metrics.countError(errorType);
    return {
      status,
      contentType: JSON_CONTENT_TYPE,
      body: encodeJsonError(errorType, message),
      requestId,
      errorType,
    };
  }

  private errorResponse(
    error: KinesisError,
    format: Format | undefined,
    requestId: string,
  ): ApiResponse {
    this.metrics.countError(error.name);
    if (format === 'cbor') {
      return {
        status: error.status,
        contentType: CBOR_CONTENT_TYPE,
        body: encodeCborError(error.name, error.message),
        requestId,
        errorType: error.name,
      };
    }
    return {
      status: error.status,
      contentType: JSON_CONTENT_TYPE,
      body: encodeJsonError(error.name, error.message),
      requestId,
      errorType: error.name,
    };
  }

  /**
   * The answer for a body refused by size before it was read (front ends call this, then close
   * the connection): 413, named after the body it refused. Kinesis's own front end refuses such
   * bodies with 413 too; the name is `SerializationException` because the request could not be
   * read, and like every 4xx other than throttling the SDKs do not retry it.
   */
  tooLarge(contentType: string | undefined, length: number | undefined, max: number): ApiResponse {
    const requestId = randomUUID();
    this.metrics.countRequest('Unknown');
    const size = length === undefined ? 'more than' : `${length} bytes, more than`;
    const message = `Request body of ${size} the maximum of ${max} bytes`;
    const error = new KinesisError('SerializationException', message);
    const response = this.errorResponse(error, formatOf(contentType), requestId);
    return { ...response, status: 413 };
  }
}

const NO_OPERATION_MESSAGE = 'Unable to determine service/operation name to be authorized';
const EMPTY_BODY_MESSAGE = 'Request body is empty: send a JSON object, e.g. {}';
const EMPTY_JSON = Buffer.from('{}', 'utf8');

/**
 * A SubscribeToShardEvent's payload. JSON: blobs in base64 and timestamps in epoch seconds, as
 * every JSON answer. CBOR: the engine's event as it is, which the CBOR codec writes with Data as
 * byte strings and ApproximateArrivalTimestamp as tag 1 + integer epoch milliseconds, and leaves
 * out an absent ContinuationSequenceNumber (a closed shard's end).
 */
function eventPayload(event: Shapes.SubscribeToShardEvent, format: Format): Buffer {
  if (format === 'cbor') return encodeCbor(event);
  const records = event.Records.map((record) => {
    const data = Buffer.from(record.Data.buffer, record.Data.byteOffset, record.Data.byteLength);
    return {
      SequenceNumber: record.SequenceNumber,
      ApproximateArrivalTimestamp: record.ApproximateArrivalTimestamp.getTime() / 1000,
      Data: data.toString('base64'),
      PartitionKey: record.PartitionKey,
      // Present (KMS) only on records put while the stream's encryption was in effect; JSON
      // leaves it out when undefined.
      EncryptionType: record.EncryptionType,
    };
  });
  return Buffer.from(JSON.stringify({ ...event, Records: records }), 'utf8');
}

/** Own properties only: a target of `Kinesis_20131202.toString` names no operation. */
function isSupported(operation: string): boolean {
  return Object.hasOwn(SUPPORTED_OPERATIONS, operation);
}

function operationOf(target: string | undefined): string | undefined {
  if (target === undefined || !target.startsWith(TARGET_PREFIX)) return undefined;
  const operation = target.slice(TARGET_PREFIX.length);
  return operation === '' ? undefined : operation;
}

function unknownTargetMessage(target: string | undefined): string {
  if (target === undefined || target === '') return 'Missing X-Amz-Target header';
  const shown = target.length > 128 ? `${target.slice(0, 128)}...` : target;
  return `Unknown operation: X-Amz-Target ${shown} is not a Kinesis_20131202 operation`;
}

function decodeBody(body: Buffer, format: Format, model: StructureType): DecodedInput {
  return format === 'cbor' ? decodeCborInput(body, model) : decodeJsonInput(body, model);
}

/** Anything the engine throws that is not a KinesisError is an internal failure, logged once. */
function toKinesisError(error: unknown, operation: string | undefined): KinesisError {
  if (error instanceof KinesisError) return error;
  const candidate = error as { name?: unknown; message?: unknown } | undefined;
  if (candidate && isErrorCode(candidate.name) && typeof candidate.message === 'string') {
    return new KinesisError(candidate.name, candidate.message);
  }
  console.error(`runnel: internal failure in ${operation ?? 'request'}:`, error);
  return new KinesisError('InternalFailureException', 'Internal Service Failure');
}

/** The HTTP status the catalog binds to an error name (front ends use it for refusals). */
export function statusOf(code: string): number {
  return isErrorCode(code) ? ERROR_CATALOG[code].status : 400;
}
