// Verifies that the native addons Runnel depends on really loaded: the mmap binding
// (compiled by node-gyp at install) and the native uWebSockets.js build (whose loader
// silently falls back to a slow pure-JS shim). Runs after `npm install`/`npm ci` and in CI.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const problems = [];

try {
  const mmap = require('@riaskov/mmap-io');
  if (typeof (mmap.default ?? mmap).map !== 'function') problems.push('mmap-io has no map()');
} catch (error) {
  problems.push(
    `@riaskov/mmap-io did not load (${error.message}). Its install script compiles the addon ` +
      'with node-gyp; make sure package.json "allowScripts" approves it and g++ is installed, ' +
      'then run `npm rebuild @riaskov/mmap-io`.',
  );
}

try {
  const uws = require('uWebSockets.js');
  if (!String(uws.App).includes('[native code]')) {
    problems.push('uWebSockets.js loaded its pure-JS fallback, not the native binary');
  }
} catch (error) {
  problems.push(`uWebSockets.js did not load (${error.message})`);
}

if (problems.length > 0) {
  for (const problem of problems) console.error(`runnel: native check failed: ${problem}`);
  process.exit(1);
}
