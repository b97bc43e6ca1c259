/**
 * Starts Runnel's network front ends over one Engine: the Kinesis endpoint (HTTP/1.1 + h2c on
 * one port, or TLS with ALPN) and the uWebSockets.js app (the same API over HTTP/1.1, /health,
 * /metrics, and the binary WebSocket protocol). Both share one KinesisApi, so one set of
 * metrics counts both, and the binary protocol counts its records in and out into it too.
 *
 * `close()` stops both listeners, lets in-flight requests finish, then closes the engine (which
 * syncs and closes its files and stops its workers) — unless the engine was passed in, in which
 * case its owner closes it.
 */

import { readFileSync } from 'node:fs';

import { Engine, type EngineOptions } from '../engine/engine.js';
import { ApiMetrics, KinesisApi } from './kinesis-api.js';
import { KinesisEndpoint, type TlsOptions } from './kinesis-endpoint.js';
import { CodecThreads, defaultCodecThreads } from './codec-threads.js';
import { UwsFrontEnd, type UwsApp } from './uws-app.js';
import { registerWebSocketProtocol, type WebSocketProtocol } from './ws-protocol-handler.js';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 4567;
export const DEFAULT_WS_PORT = 4568;
export const DEFAULT_DATA_DIR = './data';

export interface ServerOptions {
  /** Interface both front ends bind to (default 127.0.0.1). */
  host?: string;
  /** Kinesis endpoint port (default 4567; 0 picks a free port). */
  port?: number;
  /** uWebSockets.js port (default 4568; 0 picks a free port; null disables the uWS app). */
  wsPort?: number | null;
  /** Data directory (default ./data). Ignored when `engine` is given. */
  dataDir?: string;
  /** Shard worker threads (default: available cores). Ignored when `engine` is given. */
  workers?: number;
  /** Further engine options (e.g. streamTransitionMs, clock). Ignored when `engine` is given. */
  engineOptions?: Partial<EngineOptions>;
  /** Serve this engine instead of opening one; the caller then owns (and closes) it. */
  engine?: Engine;
  /** PEM certificate and key (contents or file paths): the Kinesis port then speaks TLS. */
  tls?: { cert: string | Buffer; key: string | Buffer } | { certFile: string; keyFile: string };
  /** Adds routes to the uWS app before it listens (the WebSocket protocol mounts here). */
  configureUws?: (app: UwsApp) => void;
  /**
   * Codec threads that prepare large JSON PutRecords bodies off the event loop (default: one
   * per core, at most CODEC_THREADS_MAX; 0 decodes everything on the event loop).
   */
  codecThreads?: number;
  /** Overrides HTTP_REQUEST_BODY_BYTES_MAX on both front ends (tests). */
  bodyBytesMax?: number;
}

export interface RunningServer {
  /** `http://host:port` (or `https://` with TLS) of the Kinesis endpoint. */
  kinesisUrl: string;
  /** `http://host:port` of the uWS app, or undefined when it is disabled. */
  wsUrl: string | undefined;
  engine: Engine;
  api: KinesisApi;
  /** Stops accepting, answers in-flight requests, then closes the engine (if it owns it). */
  close(): Promise<void>;
}

function loadTls(tls: ServerOptions['tls']): TlsOptions | undefined {
  if (tls === undefined) return undefined;
  if ('certFile' in tls) {
    return { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) };
  }
  return { cert: tls.cert, key: tls.key };
}

export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const host = options.host ?? DEFAULT_HOST;
  const tls = loadTls(options.tls);
  const ownsEngine = options.engine === undefined;
  const engine =
    options.engine ??
    (await Engine.open({
      ...options.engineOptions,
      dataDir: options.dataDir ?? DEFAULT_DATA_DIR,
      ...(options.workers !== undefined ? { workers: options.workers } : {}),
    }));
  const codecThreads = options.codecThreads ?? defaultCodecThreads();
  const codec = codecThreads > 0 ? new CodecThreads(codecThreads) : undefined;
  const api = new KinesisApi(engine, new ApiMetrics(), codec);
  let endpoint: KinesisEndpoint | undefined;
  let uws: UwsFrontEnd | undefined;
  let protocol: WebSocketProtocol | undefined;
  try {
    endpoint = await KinesisEndpoint.listen({
      api,
      host,
      port: options.port ?? DEFAULT_PORT,
      ...(tls ? { tls } : {}),
      ...(options.bodyBytesMax !== undefined ? { bodyBytesMax: options.bodyBytesMax } : {}),
    });
    const wsPort = options.wsPort === undefined ? DEFAULT_WS_PORT : options.wsPort;
    if (wsPort !== null) {
      uws = await UwsFrontEnd.listen({
        api,
        host,
        port: wsPort,
        // Runnel's binary WebSocket protocol (docs/protocol.md) mounts on the uWS app.
        configure: (app) => {
          // Its puts and subscription reads count into the API's records and bytes totals.
          protocol = registerWebSocketProtocol(app, engine, { metrics: api.metrics });
          options.configureUws?.(app);
        },
        ...(options.bodyBytesMax !== undefined ? { bodyBytesMax: options.bodyBytesMax } : {}),
      });
    }
  } catch (error) {
    await endpoint?.close();
    await codec?.close();
    if (ownsEngine) await engine.close();
    throw error;
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // WebSocket puts in flight are acknowledged before their connections close, and before
      // the uWS app (and then the engine) goes.
      const closeUws = async () => {
        // No new connection while the open ones drain (a load balancer sees the port go).
        uws?.stopListening();
        await protocol?.closeAll();
        await uws?.close();
      };
      await Promise.all([endpoint!.close(), closeUws()]);
      await codec?.close();
      if (ownsEngine) await engine.close();
    })();
    return closing;
  };
  return { kinesisUrl: endpoint.url, wsUrl: uws?.url, engine, api, close };
}
