#!/usr/bin/env bash
# Smoke test with the Debian `awscli` package (botocore: JSON 1.1 over HTTP/1.1, the CLI's own
# base64 and pagination handling): starts `runnel serve` on a free port with a temp data dir,
# then create-stream, wait stream-exists, put-record, get-shard-iterator, get-records (decodes
# the data and compares it), list-streams. Exits 0 on success, non-zero with a reason otherwise.
#
# Usage: scripts/awscli-smoke.sh        (builds dist/ first if it is missing)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The Debian package installs here; a pyenv/pip `aws` earlier on PATH is deliberately not used.
AWS=/usr/bin/aws

say() { echo "awscli-smoke: $*" >&2; }

if ! dpkg -s awscli >/dev/null 2>&1 || [ ! -x "$AWS" ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    say "apt-get is not available, so the Debian awscli package cannot be installed; giving up"
    exit 2
  fi
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  say "installing the Debian awscli package with apt-get"
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq awscli; } >&2; then
    say "apt-get could not install awscli; giving up"
    exit 2
  fi
fi

if [ ! -f "$ROOT/dist/src/cli.js" ]; then
  say "dist/ is missing; building"
  (cd "$ROOT" && npm run build >&2)
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/runnel-awscli-XXXXXX")"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# Created here, not by the background job's redirection: the loop below may read them before
# the job has run at all (set -e would end the script on sed's "can't read").
: >"$WORK/stdout"
: >"$WORK/stderr"
node "$ROOT/dist/src/cli.js" serve --port 0 --ws-port 0 --data "$WORK/data" --workers 1 \
  >>"$WORK/stdout" 2>>"$WORK/stderr" &
SERVER_PID=$!

URL=""
for _ in $(seq 1 100); do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    say "the server exited before it was ready:"
    cat "$WORK/stderr" >&2
    exit 1
  fi
  URL="$(sed -n 's/^Runnel listening on \(http:\/\/.*\)$/\1/p' "$WORK/stdout")"
  if [ -n "$URL" ]; then break; fi
  sleep 0.1
done
if [ -z "$URL" ]; then
  say "the server did not print its URL within 10 s"
  exit 1
fi
say "server ready at $URL ($("$AWS" --version 2>&1))"

# Isolated from any user configuration or credentials on the machine.
export AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE="$WORK/aws-config" AWS_SHARED_CREDENTIALS_FILE="$WORK/aws-credentials"
export AWS_PAGER="" AWS_RETRY_MODE=standard AWS_MAX_ATTEMPTS=2
kinesis() { "$AWS" --endpoint-url "$URL" --output text kinesis "$@"; }

STREAM=smoke-stream
PAYLOAD="hello from the aws cli $$"

kinesis create-stream --stream-name "$STREAM" --shard-count 2
kinesis wait stream-exists --stream-name "$STREAM"

SHARD_ID="$(kinesis put-record --stream-name "$STREAM" --partition-key pk-1 \
  --data "$PAYLOAD" --cli-binary-format raw-in-base64-out --query ShardId)"
say "put-record landed on $SHARD_ID"

ITERATOR="$(kinesis get-shard-iterator --stream-name "$STREAM" --shard-id "$SHARD_ID" \
  --shard-iterator-type TRIM_HORIZON --query ShardIterator)"

DATA_B64="$(kinesis get-records --shard-iterator "$ITERATOR" --query 'Records[0].Data')"
GOT="$(printf '%s' "$DATA_B64" | base64 -d)"
if [ "$GOT" != "$PAYLOAD" ]; then
  say "get-records returned '$GOT', expected '$PAYLOAD'"
  exit 1
fi
KEY="$(kinesis get-records --shard-iterator "$ITERATOR" --query 'Records[0].PartitionKey')"
if [ "$KEY" != "pk-1" ]; then
  say "get-records returned partition key '$KEY', expected 'pk-1'"
  exit 1
fi

NAMES="$(kinesis list-streams --query 'StreamNames')"
if ! printf '%s\n' "$NAMES" | tr '\t' '\n' | grep -qx "$STREAM"; then
  say "list-streams did not list $STREAM (got: $NAMES)"
  exit 1
fi

# Resharding: 2 → 4 open shards, and the stream is ACTIVE again.
CURRENT="$(kinesis update-shard-count --stream-name "$STREAM" --target-shard-count 4 \
  --scaling-type UNIFORM_SCALING --query CurrentShardCount)"
if [ "$CURRENT" != "2" ]; then
  say "update-shard-count reported CurrentShardCount '$CURRENT', expected 2"
  exit 1
fi
kinesis wait stream-exists --stream-name "$STREAM"
OPEN="$(kinesis describe-stream-summary --stream-name "$STREAM" --query StreamDescriptionSummary.OpenShardCount)"
if [ "$OPEN" != "4" ]; then
  say "after update-shard-count, OpenShardCount is '$OPEN', expected 4"
  exit 1
fi
kinesis split-shard --stream-name "$STREAM" --shard-to-split shardId-000000000002 \
  --new-starting-hash-key 42535295865117307932921825928971026432
LISTED="$(kinesis list-shards --stream-name "$STREAM" --query 'length(Shards)')"
if [ "$LISTED" != "8" ]; then
  say "after a split, list-shards listed '$LISTED' shards, expected 8 (2 closed + 4, then 1 closed + 2)"
  exit 1
fi
# The old shard's record ends with its children named (KCL's contract).
CHILDREN="$(kinesis get-records --shard-iterator "$(kinesis get-shard-iterator --stream-name "$STREAM" \
  --shard-id "$SHARD_ID" --shard-iterator-type TRIM_HORIZON --query ShardIterator)" --query 'length(ChildShards)')"
if [ "$CHILDREN" != "2" ]; then
  say "get-records at the end of a closed shard returned '$CHILDREN' ChildShards, expected 2"
  exit 1
fi

# An error must surface with its Kinesis name.
if ERROR="$(kinesis describe-stream --stream-name no-such-stream 2>&1)"; then
  say "describe-stream of a missing stream succeeded"
  exit 1
fi
if ! printf '%s' "$ERROR" | grep -q 'ResourceNotFoundException'; then
  say "describe-stream of a missing stream failed without ResourceNotFoundException: $ERROR"
  exit 1
fi

say "all checks passed"
