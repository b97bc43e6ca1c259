#!/usr/bin/env bash
# Installs kinesalite and kinesis-local (from npm, into a scratch directory — not project
# dependencies) and starts them on free ports on 127.0.0.1, printing "NAME URL" per line.
# They stop on Ctrl-C, or by themselves after SECONDS (default 3600).
# Usage: scripts/peers.sh [DIR] [SECONDS]     (needs `npm run build` first)
set -euo pipefail
cd "$(dirname "$0")/.."
exec node dist/src/harness/peers-cli.js --dir "${1:-./data/peers}" --seconds "${2:-3600}"
