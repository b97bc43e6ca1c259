import uWS from 'uWebSockets.js';
import { afterAll, beforeAll } from 'vitest';

import { type ConnectOptions, RunnelClient } from '../../src/client/index.js';

import { Engine, type EngineOptions } from '../../src/engine/engine.js';
import {
  type WebSocketProtocol,
  registerWebSocketProtocol,
} from '../../src/server/ws-protocol-handler.js';
import { tempDir } from './temp-dir.js';

export interface TestServer {
  /** `ws://127.0.0.1:<port>`: what RunnelClient.connect takes. */
  url: string;
  protocol: WebSocketProtocol;
  close(): void;
}

/** The binary protocol on a native uWS app over `engine`, listening on a free 127.0.0.1 port. */
export function listenProtocol(
  engine: Engine,
  options: Parameters<typeof registerWebSocketProtocol>[2] = {},
): Promise<TestServer> {
  const app = uWS.App();
  const protocol = registerWebSocketProtocol(app, engine, options);
  return new Promise((resolve, reject) => {
    app.listen('127.0.0.1', 0, (socket) => {
      if (!socket) return reject(new Error('listen failed'));
      const port = uWS.us_socket_local_port(socket as unknown as uWS.us_socket);
      resolve({
        url: `ws://127.0.0.1:${port}`,
        protocol,
        close: () => {
          void protocol.closeAll();
          uWS.us_listen_socket_close(socket);
        },
      });
    });
  });
}

export interface ServedEngine {
  engine: Engine;
  server: TestServer;
  /** Closes the server and the engine, and removes the data directory. */
  close(): Promise<void>;
}

/** An engine on a fresh temporary directory, with the binary protocol served over it. */
export async function serveEngine(
  options: Omit<EngineOptions, 'dataDir'>,
  prefix = 'runnel-ws-',
): Promise<ServedEngine> {
  const temp = tempDir(prefix);
  const engine = await Engine.open({ ...options, dataDir: temp.dir });
  const server = await listenProtocol(engine);
  return {
    engine,
    server,
    close: async () => {
      server.close();
      await engine.close();
      temp.cleanup();
    },
  };
}

/** What serveEngineForFile gives the tests of a file: set once the file's tests start. */
export interface FileServer {
  readonly engine: Engine;
  readonly server: TestServer;
  /** Connects a client to the server; afterAll closes it. */
  connect(options?: ConnectOptions): Promise<RunnelClient>;
}

/**
 * serveEngine for the tests of the file (or describe block) that calls this: started in its
 * beforeAll; its afterAll closes every client `connect` made, then the server and the engine.
 */
export function serveEngineForFile(
  options: Omit<EngineOptions, 'dataDir'>,
  prefix?: string,
): FileServer {
  let served: ServedEngine | undefined;
  const clients: RunnelClient[] = [];
  const file = {
    connect: async (connectOptions: ConnectOptions = {}) => {
      const client = await RunnelClient.connect(file.server.url, connectOptions);
      clients.push(client);
      return client;
    },
  } as FileServer & { engine: Engine; server: TestServer };
  beforeAll(async () => {
    served = await serveEngine(options, prefix);
    file.engine = served.engine;
    file.server = served.server;
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
    await served?.close();
  });
  return file;
}
