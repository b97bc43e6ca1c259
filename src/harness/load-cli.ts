#!/usr/bin/env node
/** Runs `runnel load` directly: `node dist/src/harness/load-cli.js --help`. */
import { main } from './load.js';

process.exitCode = await main(process.argv.slice(2));
