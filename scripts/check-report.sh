#!/usr/bin/env bash
# Opens a `runnel bench --html` report in headless Chromium and fails unless every chart was
# drawn and the page logged no error. Needs the Debian package `chromium`.
# Usage: scripts/check-report.sh REPORT.html [SCREENSHOT.png]
set -euo pipefail
report="$(realpath "$1")"
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
if [ -z "$browser" ]; then echo "check-report: no chromium (apt-get install chromium)" >&2; exit 2; fi
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update
       --no-first-run --user-data-dir="$profile" --enable-logging=stderr --v=0)
dom="$(timeout 60 "$browser" "${flags[@]}" --dump-dom "file://$report" 2>"$profile/stderr")"
body="$(grep -o '<body[^>]*>' <<<"$dom" | head -1)"
charts="$(sed -n 's/.*data-charts-rendered="\([0-9]*\)".*/\1/p' <<<"$body")"
errors="$(sed -n 's/.*data-errors="\([0-9]*\)".*/\1/p' <<<"$body")"
console="$(grep -c 'CONSOLE' "$profile/stderr" || true)"
echo "check-report: $report: charts drawn ${charts:-?}, page errors ${errors:-?}, console messages $console"
grep 'CONSOLE' "$profile/stderr" >&2 || true
if [ -n "${2:-}" ]; then
  timeout 60 "$browser" "${flags[@]}" --hide-scrollbars --window-size=1300,2600 --screenshot="$2" "file://$report" 2>/dev/null
  echo "check-report: screenshot $2"
fi
[ "${charts:-0}" -ge 4 ] && [ "${errors:-1}" -eq 0 ] && [ "$console" -eq 0 ]
