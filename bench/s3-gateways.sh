#!/usr/bin/env bash
# 4 KiB PUT and GET through one gateway and through two gateways of the
# same volume: Redis metadata (appendonly yes, appendfsync always, which
# --durability full requires) and blocks in a local folder, the gateways
# separate processes on this host, `cairn bench s3` taking them in turn.
#
# Usage: bench/s3-gateways.sh CAIRN-BINARY [COUNT] [CONCURRENCY]
# Needs redis-server. It never builds the binary.
set -euo pipefail
CAIRN=$(realpath "${1:?cairn binary}")
COUNT=${2:-20000}
CONC=${3:-32}
WORK=$(mktemp -d /tmp/s3-gateways.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

redis-server --port 56491 --bind 127.0.0.1 --save "" --appendonly yes --appendfsync always --dir "$WORK" >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
until redis-cli -p 56491 ping >/dev/null 2>&1; do sleep 0.1; done

export CAIRN_ROOT_USER=bench CAIRN_ROOT_PASSWORD=bench-secret-key AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret-key
META=redis://127.0.0.1:56491/1
"$CAIRN" format "$META" gw --storage file --bucket "$WORK/blocks" >/dev/null
for port in 56401 56402; do
  "$CAIRN" gateway "$META" "127.0.0.1:$port" --master-key-file "$WORK/master.key" >"$WORK/gw$port.log" 2>&1 &
  PIDS+=($!)
  until curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null; do sleep 0.2; done
done

run() { # LABEL ENDPOINTS
  "$CAIRN" bench s3 --endpoint "$2" --size 4K --count "$COUNT" --concurrency "$CONC" \
    --phases put,get,delete --bucket "b-$1" --json >"$WORK/$1.json"
  python3 - "$1" "$WORK/$1.json" <<'PY'
import json, sys
label, path = sys.argv[1], sys.argv[2]
doc = json.load(open(path))
for p in doc["phases"]:
    if p["phase"] in ("put", "get"):
        print(f"{label:14s} {p['phase']:4s} {p['ops_per_s']:10.0f} ops/s  p50 {p['p50_ms']:.2f} ms  p99 {p['p99_ms']:.2f} ms  errors {p['errors']}")
PY
}
run one-gateway http://127.0.0.1:56401
run two-gateways http://127.0.0.1:56401,http://127.0.0.1:56402
