/**
 * The peers Runnel is compared with: kinesalite (LevelDB/memdown, the most used local Kinesis)
 * and kinesis-local (the npm build of kinesis-mock, Scala.js). They are installed at run time
 * from the npm registry into a scratch directory (`<data>/peers`), never as project
 * dependencies, with install scripts off (kinesalite's optional leveldown is only needed for its
 * on-disk mode; it runs in memory here). Each is started on a free port on 127.0.0.1 in its own
 * process. A peer that cannot be installed or started is reported unavailable with the reason;
 * it never fails the run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { PEERS_RUN_SECONDS_MAX } from '../limits.js';
import { stopChild } from './child-server.js';
import { parseCommand } from './command-args.js';
import { KinesisHttpClient } from './kinesis-http-client.js';
import { sleep } from './rate.js';

export interface PeerSpec {
  name: 'kinesalite' | 'kinesis-local';
  version: string;
}

export const PEERS: readonly PeerSpec[] = [
  { name: 'kinesalite', version: '3.3.3' },
  { name: 'kinesis-local', version: '0.6.2' },
];

/** npm install of the peers may take this long. */
export const PEER_INSTALL_TIMEOUT_MS = 240_000;
/** A started peer must answer ListStreams within this. */
export const PEER_READY_TIMEOUT_MS = 60_000;

export interface RunningPeer {
  name: string;
  version: string;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export type PeerInstall = { ok: true } | { ok: false; reason: string };

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function run(
  command: string,
  args: string[],
  cwd: string,
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ code: -1, output: String(error) });
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

function packageEntry(dir: string, peer: PeerSpec): string {
  return peer.name === 'kinesalite'
    ? join(dir, 'node_modules', 'kinesalite', 'cli.js')
    : join(dir, 'node_modules', 'kinesis-local', 'main.js');
}

/** Installs the peers missing from `dir` (a scratch npm project of its own). */
export async function installPeers(
  dir: string,
  peers: readonly PeerSpec[] = PEERS,
): Promise<Map<string, PeerInstall>> {
  mkdirSync(dir, { recursive: true });
  // A package.json of its own keeps npm from walking up into the project around the scratch dir.
  const manifest = join(dir, 'package.json');
  if (!existsSync(manifest))
    writeFileSync(manifest, JSON.stringify({ name: 'runnel-peers', private: true }));
  const missing = peers.filter((peer) => !existsSync(packageEntry(dir, peer)));
  const results = new Map<string, PeerInstall>();
  if (missing.length > 0) {
    const { code, output } = await run(
      'npm',
      [
        'install',
        '--no-save',
        '--no-package-lock',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        ...missing.map((peer) => `${peer.name}@${peer.version}`),
      ],
      dir,
      PEER_INSTALL_TIMEOUT_MS,
    );
    if (code !== 0) {
      const reason = `npm install failed (exit ${code}): ${output.trim().split('\n').slice(-3).join(' | ')}`;
      for (const peer of missing) results.set(peer.name, { ok: false, reason });
    }
  }
  for (const peer of peers) {
    if (!results.has(peer.name)) {
      results.set(
        peer.name,
        existsSync(packageEntry(dir, peer)) ? { ok: true } : { ok: false, reason: 'not installed' },
      );
    }
  }
  return results;
}

/** Starts an installed peer on a free port and waits until it answers ListStreams. */
export async function startPeer(dir: string, peer: PeerSpec): Promise<RunningPeer> {
  const port = await freePort();
  const entry = packageEntry(dir, peer);
  let child: ChildProcess;
  if (peer.name === 'kinesalite') {
    child = spawn(
      process.execPath,
      [
        entry,
        '--port',
        String(port),
        '--createStreamMs',
        '0',
        '--deleteStreamMs',
        '0',
        '--updateStreamMs',
        '0',
        '--shardLimit',
        '10000',
      ],
      { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
    );
  } else {
    const tlsPort = await freePort();
    child = spawn(process.execPath, [entry], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        KINESIS_MOCK_PLAIN_PORT: String(port),
        KINESIS_MOCK_TLS_PORT: String(tlsPort),
        KINESIS_MOCK_CERT_PATH: join(dir, 'node_modules', 'kinesis-local', 'server.json'),
        SHARD_LIMIT: '10000',
        CREATE_STREAM_DURATION: '0ms',
        DELETE_STREAM_DURATION: '0ms',
        LOG_LEVEL: 'WARN',
      },
    });
  }
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  const client = new KinesisHttpClient({ endpoint: url, connections: 1 });
  const deadline = Date.now() + PEER_READY_TIMEOUT_MS;
  try {
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`${peer.name} exited (${child.exitCode}): ${stderr.trim().slice(0, 300)}`);
      try {
        await client.call('ListStreams', {});
        break;
      } catch (error) {
        if (Date.now() > deadline)
          throw new Error(`${peer.name} did not answer in time: ${(error as Error).message}`);
        await sleep(200);
      }
    }
  } catch (error) {
    client.close();
    await stopChild(child, 'SIGKILL');
    throw error;
  }
  client.close();
  return {
    name: peer.name,
    version: peer.version,
    url,
    pid: child.pid!,
    stop: async () => {
      await stopChild(child, 'SIGTERM', 5000);
    },
  };
}

// ---- the command ---------------------------------------------------------------------------

/** How peers-cli.js is run (from the repository, after `npm run build`). */
export const PEERS_INVOCATION = 'node dist/src/harness/peers-cli.js';
const PEERS_DIR_DEFAULT = './data/peers';
const PEERS_SECONDS_DEFAULT = 3600;

export const PEERS_HELP = `Usage: ${PEERS_INVOCATION} [--dir <dir>] [--seconds <s>]

Installs ${PEERS.map((peer) => `${peer.name}@${peer.version}`).join(' and ')} from npm into a
scratch directory (not as project dependencies), starts each on a free port on 127.0.0.1 and
prints "NAME URL" per line ("NAME unavailable: REASON" when one cannot be installed or started).
They stop on Ctrl-C or SIGTERM, or by themselves after --seconds. scripts/peers.sh runs this.

  --dir <dir>          where the peers are installed (default ${PEERS_DIR_DEFAULT})
  --seconds <s>        stop after this long (default ${PEERS_SECONDS_DEFAULT}; above 0, at most ${PEERS_RUN_SECONDS_MAX})
  -h, --help           this help
`;

export interface PeersSettings {
  dir: string;
  seconds: number;
}

export function parsePeersArgs(argv: string[]): PeersSettings | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      dir: { type: 'string', default: PEERS_DIR_DEFAULT },
      seconds: { type: 'string', default: String(PEERS_SECONDS_DEFAULT) },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const text = values.seconds!;
  const seconds = Number(text);
  if (text.trim() === '' || !(seconds > 0 && seconds <= PEERS_RUN_SECONDS_MAX)) {
    throw new Error(
      `--seconds must be a number above 0 and at most ${PEERS_RUN_SECONDS_MAX}, got '${text}'`,
    );
  }
  return { dir: resolve(values.dir!), seconds };
}

/** peers-cli.js: returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const command = parseCommand('peers', argv, parsePeersArgs, PEERS_HELP, PEERS_INVOCATION);
  if ('exitCode' in command) return command.exitCode;
  const { dir, seconds } = command.settings;
  const installs = await installPeers(dir);
  const running: RunningPeer[] = [];
  for (const peer of PEERS) {
    const install = installs.get(peer.name)!;
    if (!install.ok) {
      process.stdout.write(`${peer.name} unavailable: ${install.reason}\n`);
      continue;
    }
    try {
      const started = await startPeer(dir, peer);
      running.push(started);
      process.stdout.write(`${peer.name} ${started.url}\n`);
    } catch (error) {
      process.stdout.write(`${peer.name} unavailable: ${(error as Error).message}\n`);
    }
  }
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  process.once('SIGTERM', () => stop.abort());
  await sleep(seconds * 1000, stop.signal);
  await Promise.all(running.map((peer) => peer.stop()));
  return 0;
}
