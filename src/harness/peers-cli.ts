#!/usr/bin/env node
/**
 * Installs kinesalite and kinesis-local into a scratch directory, starts both on free ports on
 * 127.0.0.1 and prints `NAME URL` per line; stops them on SIGINT/SIGTERM or after --seconds
 * (default 3600: it always stops by itself). `scripts/peers.sh` runs this.
 *
 * Usage: node dist/src/harness/peers-cli.js [--dir ./data/peers] [--seconds 3600] (--help)
 */
import { main } from './peers.js';

process.exitCode = await main(process.argv.slice(2));
