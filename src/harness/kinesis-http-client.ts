/**
 * A lean Kinesis JSON 1.1 client over `node:http` (HTTP/1.1 keep-alive, `connections` sockets)
 * and `node:http2` (`connections` sessions, h2c prior knowledge on http://, ALPN on https://),
 * for the load generator and the benchmark. It is not the AWS SDK on purpose: the SDK spends
 * more CPU per request than a 2-core server does answering it, and its HTTP/2 handler opens a
 * connection per request. Request bodies arrive as bytes (the caller pre-encodes them).
 *
 * Authentication: Runnel and the emulators ignore it, but kinesalite rejects a request without
 * an Authorization header, so unsigned requests carry a well-formed placeholder. For AWS itself
 * (`sign: true`) each request is signed with SigV4 by `@smithy/signature-v4` (the successor of
 * `@aws-sdk/signature-v4`; present here only as a dependency of the dev-dependency
 * `@aws-sdk/client-kinesis`, so it is imported on demand and its absence is a clear error), with
 * credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN.
 */
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

import { LOAD_HTTP2_SESSION_MEMORY_MB, LOAD_REQUEST_TIMEOUT_MS } from '../limits.js';
import { sleep } from './rate.js';

export type HttpVersion = 'http1' | 'http2';

const TARGET_PREFIX = 'Kinesis_20131202.';
const CONTENT_TYPE = 'application/x-amz-json-1.1';
/** A request with no answer for this long fails (the load generator's bound on a stuck server). */
export const REQUEST_TIMEOUT_MS = LOAD_REQUEST_TIMEOUT_MS;
/** Memory bound of one HTTP/2 session, in MB (node's default is 10). */
export const HTTP2_SESSION_MEMORY_MB = LOAD_HTTP2_SESSION_MEMORY_MB;
/** How long `waitForActive` waits for a stream to leave CREATING/UPDATING. */
export const STREAM_ACTIVE_TIMEOUT_MS = 60_000;
const STREAM_POLL_MS = 100;
/** Errors a client should back off and retry: they are counted as throttling, not failure. */
export const THROTTLING_ERRORS: ReadonlySet<string> = new Set([
  'ProvisionedThroughputExceededException',
  'LimitExceededException',
  'ThrottlingException',
]);

interface ListedShard {
  ShardId: string;
  SequenceNumberRange?: { EndingSequenceNumber?: string };
}

/** The shards still taking records: a resharded stream also lists its closed ones. */
function openShardIds(shards: readonly ListedShard[]): string[] {
  return shards
    .filter((shard) => shard.SequenceNumberRange?.EndingSequenceNumber === undefined)
    .map((shard) => shard.ShardId);
}

export class KinesisHttpError extends Error {
  constructor(
    /** The Kinesis error name (`__type` without its namespace), or a transport error code. */
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(`${code}: ${message}`);
    this.name = code;
  }

  get throttled(): boolean {
    return THROTTLING_ERRORS.has(this.code);
  }
}

export interface RawResponse {
  status: number;
  body: Buffer;
}

export interface KinesisHttpClientOptions {
  endpoint: string;
  httpVersion?: HttpVersion;
  /** HTTP/1.1 sockets, or HTTP/2 sessions, used round-robin. Default 4. */
  connections?: number;
  region?: string;
  /** Sign with SigV4 (for AWS). Default: only when the endpoint's host ends in amazonaws.com. */
  sign?: boolean;
  /** Accept self-signed certificates on https:// endpoints (local emulators). Default true. */
  insecure?: boolean;
}

type Signer = (request: {
  hostname: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}) => Promise<Record<string, string>>;

/** The Kinesis error name from a JSON error body (`{"__type":"ns#Name","message":...}`). */
export function parseError(
  status: number,
  body: Buffer,
  headers?: Record<string, unknown>,
): KinesisHttpError {
  let type = String(headers?.['x-amzn-errortype'] ?? '');
  let message = '';
  try {
    const parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    type = String(parsed.__type ?? type);
    message = String(parsed.message ?? parsed.Message ?? '');
  } catch {
    message = body.toString('utf8', 0, Math.min(body.length, 200));
  }
  const code = type.split('#').pop()!.split(':')[0] || `HTTP${status}`;
  return new KinesisHttpError(code, message, status);
}

function placeholderAuthorization(region: string): Record<string, string> {
  const date = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  return {
    'x-amz-date': date,
    authorization:
      `AWS4-HMAC-SHA256 Credential=local/${date.slice(0, 8)}/${region}/kinesis/aws4_request, ` +
      'SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0',
  };
}

/** SHA-256 / HMAC-SHA-256 with the shape `@smithy/signature-v4` expects, on node:crypto. */
class NodeSha256 {
  private readonly hash;
  constructor(secret?: string | Uint8Array) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', secret);
  }
  update(data: string | Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

async function sigV4Signer(region: string): Promise<Signer> {
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new Error('signing needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment');
  }
  let module: {
    SignatureV4: new (options: object) => {
      sign(request: object): Promise<{ headers: Record<string, string> }>;
    };
  };
  try {
    module = (await import('@smithy/signature-v4' as string)) as typeof module;
  } catch (error) {
    throw new Error(
      `SigV4 signing needs @smithy/signature-v4 installed (${(error as Error).message})`,
    );
  }
  const signer = new module.SignatureV4({
    service: 'kinesis',
    region,
    sha256: NodeSha256,
    credentials: {
      accessKeyId,
      secretAccessKey,
      ...(process.env.AWS_SESSION_TOKEN ? { sessionToken: process.env.AWS_SESSION_TOKEN } : {}),
    },
  });
  return async ({ hostname, path, headers, body }) => {
    const signed = await signer.sign({
      method: 'POST',
      protocol: 'https:',
      hostname,
      path,
      headers: { ...headers, host: hostname },
      body,
    });
    return signed.headers;
  };
}

export class KinesisHttpClient {
  readonly endpoint: URL;
  readonly httpVersion: HttpVersion;
  readonly connections: number;
  readonly region: string;
  private readonly agent: http.Agent | undefined;
  private readonly sessions: Array<http2.ClientHttp2Session | undefined>;
  private nextSession = 0;
  private signer: Promise<Signer> | undefined;
  private readonly insecure: boolean;
  private closed = false;

  constructor(options: KinesisHttpClientOptions) {
    this.endpoint = new URL(options.endpoint);
    this.httpVersion = options.httpVersion ?? 'http1';
    this.connections = Math.max(1, options.connections ?? 4);
    this.region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
    this.insecure = options.insecure ?? true;
    const sign = options.sign ?? this.endpoint.hostname.endsWith('amazonaws.com');
    if (sign) this.signer = sigV4Signer(this.region);
    const tls = this.endpoint.protocol === 'https:';
    this.agent =
      this.httpVersion === 'http1'
        ? new (tls ? https.Agent : http.Agent)({
            keepAlive: true,
            maxSockets: this.connections,
            ...(tls ? { rejectUnauthorized: !this.insecure } : {}),
          })
        : undefined;
    this.sessions = new Array(this.httpVersion === 'http2' ? this.connections : 0).fill(undefined);
  }

  private async headersFor(operation: string, body: Buffer): Promise<Record<string, string>> {
    const headers: Record<string, string> = {
      'content-type': CONTENT_TYPE,
      'x-amz-target': TARGET_PREFIX + operation,
    };
    if (!this.signer) return { ...headers, ...placeholderAuthorization(this.region) };
    const sign = await this.signer;
    const signed = await sign({ hostname: this.endpoint.hostname, path: '/', headers, body });
    delete signed.host;
    return signed;
  }

  /** One request; resolves with the status and whole body, rejects on a transport error. */
  async request(operation: string, body: Buffer): Promise<RawResponse> {
    if (this.closed) throw new KinesisHttpError('ClientClosed', 'the client is closed', 0);
    const headers = await this.headersFor(operation, body);
    return this.httpVersion === 'http1'
      ? this.request1(headers, body)
      : this.request2(headers, body);
  }

  private request1(headers: Record<string, string>, body: Buffer): Promise<RawResponse> {
    const tls = this.endpoint.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const request = (tls ? https : http).request(
        {
          host: this.endpoint.hostname,
          port: this.endpoint.port || (tls ? 443 : 80),
          path: '/',
          method: 'POST',
          agent: this.agent,
          headers: { ...headers, 'content-length': body.length },
          timeout: REQUEST_TIMEOUT_MS,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }),
          );
          response.on('error', reject);
        },
      );
      request.on('timeout', () =>
        request.destroy(new KinesisHttpError('RequestTimeout', 'no answer in time', 0)),
      );
      request.on('error', reject);
      request.end(body);
    });
  }

  private session(): http2.ClientHttp2Session {
    const slot = this.nextSession++ % this.sessions.length;
    let session = this.sessions[slot];
    if (!session || session.closed || session.destroyed) {
      const tls = this.endpoint.protocol === 'https:';
      const host = this.endpoint.hostname;
      const port = Number(this.endpoint.port || (tls ? 443 : 80));
      // Nagle plus delayed ACKs stalls large h2 bodies (reference §1.5): TCP_NODELAY from the start.
      session = http2.connect(this.endpoint, {
        // A GetRecords answer is up to 10 MiB of base64 JSON (~14 MB); several in flight must fit
        // the session's memory bound, or nghttp2 resets them (ENHANCE_YOUR_CALM).
        maxSessionMemory: HTTP2_SESSION_MEMORY_MB,
        createConnection: () =>
          tls
            ? tlsConnect({
                host,
                port,
                ALPNProtocols: ['h2'],
                servername: host,
                rejectUnauthorized: !this.insecure,
              }).setNoDelay(true)
            : netConnect({ host, port, noDelay: true }),
      });
      session.on('error', () => undefined);
      this.sessions[slot] = session;
    }
    return session;
  }

  private request2(headers: Record<string, string>, body: Buffer): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.session().request({
          ':method': 'POST',
          ':path': '/',
          ...headers,
          'content-length': body.length,
        });
      } catch (error) {
        reject(error);
        return;
      }
      let status = 0;
      const chunks: Buffer[] = [];
      stream.setTimeout(REQUEST_TIMEOUT_MS, () => stream.close(http2.constants.NGHTTP2_CANCEL));
      stream.on('response', (responseHeaders) => (status = Number(responseHeaders[':status'])));
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => resolve({ status, body: Buffer.concat(chunks) }));
      stream.on('close', () => {
        if (status === 0)
          reject(
            new KinesisHttpError('StreamClosed', `HTTP/2 stream closed (${stream.rstCode})`, 0),
          );
      });
      stream.on('error', reject);
      stream.end(body);
    });
  }

  /** A JSON operation: parsed output, or a thrown KinesisHttpError. */
  async call<T = Record<string, unknown>>(operation: string, input: object): Promise<T> {
    const response = await this.request(operation, Buffer.from(JSON.stringify(input)));
    if (response.status !== 200) throw parseError(response.status, response.body);
    return (response.body.length === 0 ? {} : JSON.parse(response.body.toString('utf8'))) as T;
  }

  // ---- control plane helpers -----------------------------------------------------------------

  async streamStatus(streamName: string): Promise<string | undefined> {
    try {
      const out = await this.call<{ StreamDescriptionSummary: { StreamStatus: string } }>(
        'DescribeStreamSummary',
        {
          StreamName: streamName,
        },
      );
      return out.StreamDescriptionSummary.StreamStatus;
    } catch (error) {
      if (error instanceof KinesisHttpError && error.code === 'ResourceNotFoundException')
        return undefined;
      // Emulators without DescribeStreamSummary: fall back to DescribeStream.
      if (error instanceof KinesisHttpError && /UnknownOperation|InvalidAction/.test(error.code)) {
        try {
          const out = await this.call<{ StreamDescription: { StreamStatus: string } }>(
            'DescribeStream',
            {
              StreamName: streamName,
            },
          );
          return out.StreamDescription.StreamStatus;
        } catch (inner) {
          if (inner instanceof KinesisHttpError && inner.code === 'ResourceNotFoundException')
            return undefined;
          throw inner;
        }
      }
      throw error;
    }
  }

  async waitForStatus(
    streamName: string,
    wanted: 'ACTIVE' | 'GONE',
    timeoutMs = STREAM_ACTIVE_TIMEOUT_MS,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.streamStatus(streamName);
      if (wanted === 'ACTIVE' ? status === 'ACTIVE' : status === undefined) return;
      if (Date.now() > deadline)
        throw new Error(`stream ${streamName} is ${status ?? 'missing'}, not ${wanted}`);
      await sleep(STREAM_POLL_MS);
    }
  }

  /** Creates the stream unless it exists, then waits until it is ACTIVE. True if created. */
  async ensureStream(streamName: string, shardCount: number): Promise<boolean> {
    let created = false;
    if ((await this.streamStatus(streamName)) === undefined) {
      try {
        await this.call('CreateStream', { StreamName: streamName, ShardCount: shardCount });
        created = true;
      } catch (error) {
        if (!(error instanceof KinesisHttpError && error.code === 'ResourceInUseException'))
          throw error;
      }
    }
    await this.waitForStatus(streamName, 'ACTIVE');
    return created;
  }

  async deleteStream(streamName: string, wait = true): Promise<void> {
    try {
      await this.call('DeleteStream', { StreamName: streamName, EnforceConsumerDeletion: true });
    } catch (error) {
      if (error instanceof KinesisHttpError && error.code === 'ResourceNotFoundException') return;
      throw error;
    }
    if (wait) await this.waitForStatus(streamName, 'GONE');
  }

  /** Open shard ids of a stream (ListShards, falling back to DescribeStream for old emulators). */
  async shardIds(streamName: string): Promise<string[]> {
    const ids: string[] = [];
    try {
      let token: string | undefined;
      do {
        const out = await this.call<{ Shards: ListedShard[]; NextToken?: string }>(
          'ListShards',
          token ? { NextToken: token } : { StreamName: streamName },
        );
        ids.push(...openShardIds(out.Shards));
        token = out.NextToken;
      } while (token);
      return ids;
    } catch (error) {
      if (!(error instanceof KinesisHttpError && /UnknownOperation|InvalidAction/.test(error.code)))
        throw error;
      const out = await this.call<{ StreamDescription: { Shards: ListedShard[] } }>(
        'DescribeStream',
        {
          StreamName: streamName,
        },
      );
      return openShardIds(out.StreamDescription.Shards);
    }
  }

  async shardIterator(
    streamName: string,
    shardId: string,
    type: 'TRIM_HORIZON' | 'LATEST',
  ): Promise<string> {
    const out = await this.call<{ ShardIterator: string }>('GetShardIterator', {
      StreamName: streamName,
      ShardId: shardId,
      ShardIteratorType: type,
    });
    return out.ShardIterator;
  }

  close(): void {
    this.closed = true;
    this.agent?.destroy();
    for (const session of this.sessions) session?.close();
  }
}

/** Counts `needle` in `haystack` (per-record ErrorCodes in a PutRecords answer, unparsed). */
export function countOccurrences(haystack: Buffer, needle: Buffer): number {
  let count = 0;
  let at = haystack.indexOf(needle);
  while (at !== -1) {
    count++;
    at = haystack.indexOf(needle, at + needle.length);
  }
  return count;
}

const FAILED_COUNT = Buffer.from('"FailedRecordCount":');
const THROTTLED_CODES = [...THROTTLING_ERRORS].map((name) => Buffer.from(`"${name}"`));

/**
 * Outcome of a PutRecords answer without parsing 500 result entries: FailedRecordCount, and
 * how many of the failed entries name a throttling ErrorCode.
 */
export function putRecordsOutcome(
  body: Buffer,
  recordCount: number,
): { failed: number; throttled: number } {
  const at = body.indexOf(FAILED_COUNT);
  if (at === -1) return { failed: recordCount, throttled: 0 };
  let failed = 0;
  let i = at + FAILED_COUNT.length;
  while (i < body.length && body[i] === 0x20) i++;
  while (i < body.length && body[i]! >= 0x30 && body[i]! <= 0x39)
    failed = failed * 10 + body[i++]! - 0x30;
  if (failed === 0) return { failed: 0, throttled: 0 };
  let throttled = 0;
  for (const code of THROTTLED_CODES) throttled += countOccurrences(body, code);
  return { failed, throttled: Math.min(throttled, failed) };
}
