#!/usr/bin/env bash
# What bucket notifications cost: 4 KiB PUTs with warp (v1.0.8, built by
# you from minio/warp's sources; this script never builds it) at
# concurrency 16 against `cairn server` without notifications ("without"),
# with a webhook target and a Redis target defined but no bucket rule
# (every PUT still records its event: "recorded"), and with both targets
# subscribed to every PUT ("with"), in turn, each round on a fresh data
# directory; and how long events took to reach the webhook after their
# change (`cairn bench webhook-sink`), drained. The webhook receiver and Redis run
# on the same machine, on the same cores; with PIN=1, cairn and warp run on
# CPU 0 and the receivers on CPU 1 in every mode (taskset), as if the
# receivers were another host's.
#
# Usage: WARP=/path/to/warp ROUNDS=3 [PIN=1] bench/notify.sh
# Needs redis-server (Debian's) and the aws CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x ${WARP:-} ]] || { echo "set WARP to the path of a warp v1.0.8 binary"; exit 1; }
command -v redis-server >/dev/null || { echo "needs redis-server"; exit 1; }
WORK=$(mktemp -d /tmp/cairn-notify-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
AK=benchadmin SK=benchsecret123 DUR=${WARP_DURATION:-15s}
export AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
go build -o "$WORK/cairn" ./cmd/cairn
SUT=() RCV=()
if [[ ${PIN:-} == 1 ]]; then SUT=(taskset -c 0) RCV=(taskset -c 1); fi
"${RCV[@]}" "$WORK/cairn" bench webhook-sink --address 127.0.0.1:9919 >/dev/null &
"${RCV[@]}" redis-server --port 9920 --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" >/dev/null &
sleep 0.5
URL=http://127.0.0.1:9111
NOTIFY=(MINIO_NOTIFY_WEBHOOK_ENABLE_BENCH=on MINIO_NOTIFY_WEBHOOK_ENDPOINT_BENCH=http://127.0.0.1:9919/
  MINIO_NOTIFY_REDIS_ENABLE_BENCH=on MINIO_NOTIFY_REDIS_ADDRESS_BENCH=127.0.0.1:9920 MINIO_NOTIFY_REDIS_KEY_BENCH=events)

run() { # with|without round
  local mode=$1 round=$2 dir="$WORK/data" env=()
  rm -rf "$dir"; sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
  [[ $mode != without ]] && env=("${NOTIFY[@]}")
  "${SUT[@]}" env CAIRN_ROOT_USER=$AK CAIRN_ROOT_PASSWORD=$SK "${env[@]}" "$WORK/cairn" server "$dir" --address "${URL#http://}" >"$WORK/server.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -s -o /dev/null "$URL/minio/health/ready" && break; sleep 0.1; done
  aws --endpoint-url "$URL" s3api create-bucket --bucket bench >/dev/null
  if [[ $mode == with ]]; then
    aws --endpoint-url "$URL" s3api put-bucket-notification-configuration --bucket bench --notification-configuration \
      '{"QueueConfigurations":[{"Id":"hook","QueueArn":"arn:minio:sqs::BENCH:webhook","Events":["s3:ObjectCreated:*"]},{"Id":"redis","QueueArn":"arn:minio:sqs::BENCH:redis","Events":["s3:ObjectCreated:*"]}]}'
    curl -s "http://127.0.0.1:9919/stats?reset" >/dev/null
  fi
  local out="$WORK/warp.$mode.$round.out"
  "${SUT[@]}" "$WARP" put --obj.size 4KiB --concurrent 16 --duration "$DUR" --host "${URL#http://}" --access-key $AK --secret-key $SK \
    --bucket bench --noclear --no-color --benchdata "$WORK/warp.$mode.$round" >"$out" 2>&1 || echo "warp failed: $(tail -2 "$out")"
  local ops
  ops=$(python3 -c 'import re,sys; m=re.search(r"Operation: PUT\b.*?\n\* Average: (?:[\d.]+ MiB/s, )?([\d.]+) obj/s", open(sys.argv[1]).read(), re.S); print(m.group(1) if m else 0)' "$out")
  local lag=""
  if [[ $mode == with ]]; then
    # Every event delivered: the webhook has one per PUT warp made.
    local want
    want=$(aws --endpoint-url "$URL" s3 ls s3://bench/ --recursive | wc -l)
    for _ in $(seq 600); do
      [[ $(curl -s http://127.0.0.1:9919/stats | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["count"]))') -ge $want ]] && break
      sleep 0.1
    done
    lag=$(curl -s http://127.0.0.1:9919/stats)
    redis=$(redis-cli -p 9920 hlen events)
    redis-cli -p 9920 del events >/dev/null
    lag="$lag objects=$want redis=$redis"
  fi
  kill $pid; wait $pid 2>/dev/null || true
  echo "$mode $round $ops $lag" | tee -a "$WORK/results"
}
for round in $(seq "${ROUNDS:-1}"); do
  if (( round % 2 )); then run without "$round"; run recorded "$round"; run with "$round"
  else run with "$round"; run recorded "$round"; run without "$round"; fi
done
python3 - "$WORK/results" <<'PY'
import json, re, statistics, sys
rows = [l.split(None, 3) for l in open(sys.argv[1]) if l.strip()]
wo = [float(r[2]) for r in rows if r[0] == "without"]
wi = [float(r[2]) for r in rows if r[0] == "with"]
rec = [float(r[2]) for r in rows if r[0] == "recorded"]
print("4 KiB PUT, warp --concurrent 16 (medians of %d rounds): without %.0f obj/s; events recorded, no rule %.0f obj/s: %.2fx; "
      "delivered to webhook + redis %.0f obj/s: %.2fx" % (len(wo), statistics.median(wo), statistics.median(rec),
      statistics.median(rec) / statistics.median(wo), statistics.median(wi), statistics.median(wi) / statistics.median(wo)))
print("per round: recorded %s; delivered %s" % (", ".join("%.2fx" % (b / a) for a, b in zip(wo, rec)),
      ", ".join("%.2fx" % (b / a) for a, b in zip(wo, wi))))
for r in rows:
    if r[0] == "with":
        print("round %s: delivery lag %s" % (r[1], r[3]))
PY
