#!/usr/bin/env node
/** Runs `runnel bench` directly: `node dist/src/harness/bench-cli.js --help`. */
import { main } from './bench.js';

process.exitCode = await main(process.argv.slice(2));
