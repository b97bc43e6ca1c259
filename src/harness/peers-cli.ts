#!/usr/bin/env node
/**
 * Installs kinesalite and kinesis-local into a scratch directory, starts both on free ports on
 * 127.0.0.1 and prints `NAME URL` per line; stops them on SIGINT/SIGTERM or after --seconds
 * (default 3600: it always stops by itself). `scripts/peers.sh` runs this.
 *
 * Usage: node dist/src/harness/peers-cli.js [--dir ./data/peers] [--seconds 3600]
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { PEERS, installPeers, startPeer, type RunningPeer } from './peers.js';
import { sleep } from './rate.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: './data/peers' },
    seconds: { type: 'string', default: '3600' },
  },
});
const dir = resolve(values.dir!);
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
await sleep(Number(values.seconds) * 1000, stop.signal);
await Promise.all(running.map((peer) => peer.stop()));
