#!/usr/bin/env bash
# Installs the Debian tools some tests drive for real — awscli (the AWS CLI against the server),
# chromium (the benchmark report rendered and the WebSocket client run headless) and python3 (a
# client of the binary protocol written in Python from docs/protocol.md) — when they are missing.
# Runs before every `npm test`: a no-op when all are present. Without root or apt-get it says
# what is missing and carries on; the tests that need a missing tool then say they were skipped.
set -uo pipefail

missing=()
[ -x /usr/bin/aws ] || missing+=(awscli)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-tools: ${missing[*]} missing and cannot be installed here (needs root and apt-get)" >&2
  exit 0
fi
echo "install-test-tools: installing ${missing[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >/dev/null 2>&1; then
  echo "install-test-tools: apt-get could not install ${missing[*]}" >&2
fi
exit 0
