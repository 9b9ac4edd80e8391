#!/usr/bin/env bash
# Runs `cairn bench s3` against cairn (on --durability full, the default,
# and on relaxed), versitygw (POSIX backend) and MinIO (single drive), each
# alone on loopback with a fresh data directory, and prints the figures,
# cairn's (full) ratio to the better anchor and the cost of full durability
# (full / relaxed).
#
# Needs the anchors on PATH (they install from the Go module proxy):
#   go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
#   go install github.com/minio/minio@latest
#
# Usage: bench/s3-compare.sh [small|large|list|rss|all]   (default all)
#        WARP=/path/to/warp bench/s3-compare.sh curve   (4 KiB PUT, GET at c1..256)
#        bench/s3-compare.sh list1m   (one directory of 1,000,000 keys, listed whole)
#        ROUNDS=3 bench/s3-compare.sh large   (small or large parts n times)
#        WARP=/path/to/warp ROUNDS=3 bench/s3-compare.sh warp
#        (WARP_SERVERS="cairn cairn-relaxed versitygw minio" adds cairn on
#        --durability relaxed; WARP_CASES="put-4k delete-4k" runs only those)
#        WARP=/path/to/warp ROUNDS=3 bench/s3-compare.sh versions   (versions-list: the listing part alone)
#        (cairn and MinIO: 4 KiB PUT and GET at c16 on a bucket without and
#        with versioning; ListObjectVersions of 100,000 versions against
#        ListObjectsV2 of the same 100,000 objects, parsed by encoding/xml
#        and by cairn bench's scanner)
#        WARP=/path/to/warp ROUNDS=3 bench/s3-compare.sh iam
#        (4 KiB PUT and GET at c16 against one cairn server, as root and as a
#        user with three attached policies and one group, in turn)
#   The warp part runs MinIO's warp (v1.0.8, built by you from its own
#   sources; this script never builds it) against each server alone, case
#   by case: PUT, GET, STAT, DELETE of 4 KiB at concurrency 16; PUT and GET
#   of 16 MiB at 4; LIST of 10,000 objects at 16; MIXED 4 KiB at 16; each
#   15 s, and prints warp's command lines and cairn's ratio to each anchor.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:$(go env GOPATH)/bin"
WHAT=${1:-all}
WORK=$(mktemp -d /tmp/cairn-s3-compare.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
AK=benchadmin SK=benchsecret123
export AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK
go build -o "$WORK/cairn" ./cmd/cairn
if [[ $WHAT != iam && $WHAT != curve && $WHAT != list1m && $WHAT != versions && $WHAT != versions-list ]]; then
  for tool in versitygw minio; do
    command -v $tool >/dev/null || { echo "missing $tool (see the header of this script)"; exit 1; }
  done
fi

wait_up() { for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "$1 did not start"; exit 1; }

start() { # name -> sets URL and PID
  local name=$1 dir="$WORK/$1-data"
  # Every server starts from the same state: no earlier server's files, an
  # empty page cache (when we may drop it, as root).
  rm -rf "$WORK"/*-data
  sync
  echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
  mkdir -p "$dir"
  case $name in
    cairn) CAIRN_ROOT_USER=$AK CAIRN_ROOT_PASSWORD=$SK "$WORK/cairn" server "$dir" --address 127.0.0.1:9101 >"$WORK/$name.log" 2>&1 &
           URL=http://127.0.0.1:9101 ;;
    cairn-relaxed) CAIRN_ROOT_USER=$AK CAIRN_ROOT_PASSWORD=$SK "$WORK/cairn" server "$dir" --address 127.0.0.1:9104 --durability relaxed >"$WORK/$name.log" 2>&1 &
           URL=http://127.0.0.1:9104 ;;
    versitygw) ROOT_ACCESS_KEY=$AK ROOT_SECRET_KEY=$SK versitygw --port 127.0.0.1:9102 posix "$dir" >"$WORK/$name.log" 2>&1 &
           URL=http://127.0.0.1:9102 ;;
    minio) MINIO_ROOT_USER=$AK MINIO_ROOT_PASSWORD=$SK minio server "$dir" --address 127.0.0.1:9103 --console-address 127.0.0.1:9113 >"$WORK/$name.log" 2>&1 &
           URL=http://127.0.0.1:9103 ;;
  esac
  PID=$!
  wait_up "$URL"
  sleep 1
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; }

bench() { "$WORK/cairn" bench s3 --endpoint "$URL" --json "$@"; }

summary() { # file... : phase table with ratios cairn / max(anchors), full / relaxed
  python3 - "$@" <<'PY'
import json, sys
res = {}
for f in sys.argv[1:]:
    name = f.rsplit('/', 1)[-1].split('.')[0]
    res[name] = {p["phase"]: p for p in json.load(open(f))["phases"]}
names = ("cairn", "cairn-relaxed", "versitygw", "minio")
phases = list(res["cairn"].keys())
metric = lambda p: "mib_per_s" if res["cairn"][p]["mib_per_s"] > 50 else "ops_per_s"
print("%-7s %-10s %10s %10s %10s %10s %8s %9s   %s" % ("phase", "metric", "cairn", "relaxed", "versitygw", "minio", "ratio", "full/rel", "p50 ms (cairn/relaxed/versitygw/minio)"))
for p in phases:
    m = metric(p)
    vals = {n: res.get(n, {}).get(p, {}).get(m, 0) for n in names}
    best = max(vals["versitygw"], vals["minio"]) or 1
    p50 = "/".join("%.1f" % res.get(n, {}).get(p, {}).get("p50_ms", 0) for n in names)
    fr = "%8.2fx" % (vals["cairn"] / vals["cairn-relaxed"]) if vals["cairn-relaxed"] else "%9s" % "-"
    print("%-7s %-10s %10.1f %10.1f %10.1f %10.1f %7.2fx %s   %s" % (p, m, vals["cairn"], vals["cairn-relaxed"], vals["versitygw"], vals["minio"],
          vals["cairn"] / best, fr, p50))
    for n in vals:
        r = res.get(n, {}).get(p, {})
        if r.get("errors"):
            print("   %s: %d errors: %s" % (n, r["errors"], r.get("first_error", "")))
PY
}
# A VM's disk and CPU drift from minute to minute: ROUNDS=n runs the small
# and large parts n times, the three servers in turn each time.
if [[ $WHAT == small || $WHAT == all ]]; then
  for r in $(seq "${ROUNDS:-1}"); do
    echo "== 4 KiB objects, concurrency 16 (round $r)"
    for s in cairn cairn-relaxed versitygw minio; do
      start $s
      bench --size 4K --concurrency 16 --duration 15s --phases put,get,stat,delete --bucket small >"$WORK/$s.small.json"
      stop
    done
    (cd "$WORK" && summary cairn.small.json cairn-relaxed.small.json versitygw.small.json minio.small.json)
  done
fi
if [[ $WHAT == large || $WHAT == all ]]; then
  for r in $(seq "${ROUNDS:-1}"); do
    echo "== 16 MiB objects, concurrency 4 (round $r)"
    for s in cairn cairn-relaxed versitygw minio; do
      start $s
      bench --size 16M --concurrency 4 --duration 20s --phases put,get --bucket large >"$WORK/$s.large.json"
      stop
    done
    (cd "$WORK" && summary cairn.large.json cairn-relaxed.large.json versitygw.large.json minio.large.json)
  done
fi
# warp_figure OUT OP: the measured operation's MiB/s and obj/s in warp's
# output OUT (warp first reports the PUTs that prepare a GET, STAT,
# DELETE or LIST run; a mixed run is read from its cluster total).
warp_figure() {
  python3 - "$1" "$2" <<'PY'
import re, sys
out, op = open(sys.argv[1], errors="replace").read(), sys.argv[2]
if op == "mixed":
    m = re.search(r"Cluster Total: (?:([\d.]+) MiB/s, )?([\d.]+) obj/s", out)
else:
    m = re.search(r"Operation: " + op.upper() + r"\b.*?\n\* Average: (?:([\d.]+) MiB/s, )?([\d.]+) obj/s", out, re.S)
print("%s %s" % (m.group(1) or 0, m.group(2)) if m else "0 0")
PY
}
run_warp() { # server name args: runs one warp case against a fresh server
  local s=$1 name=$2 args=$3 out
  start "$s"
  out="$WORK/$s.$name.r$ROUND.out"
  # shellcheck disable=SC2086
  "$WARP" $args --duration "$DUR" --host "${URL#http://}" --access-key $AK --secret-key $SK \
    --no-color --benchdata "$WORK/$s.$name" >"$out" 2>&1 || echo "   $s: warp failed: $(tail -2 "$out" | tr '\n' ' ')"
  stop
  echo "$s $name $ROUND $(warp_figure "$out" "${args%% *}")" >>"$WORK/warp.results"
}
if [[ $WHAT == warp ]]; then
  [[ -x ${WARP:-} ]] || { echo "set WARP to the path of a warp v1.0.8 binary"; exit 1; }
  export DUR=${WARP_DURATION:-15s}
  SERVERS=${WARP_SERVERS:-cairn versitygw minio}
  cases=(
    "put-4k|put --obj.size 4KiB --concurrent 16"
    "get-4k|get --obj.size 4KiB --concurrent 16"
    "stat-4k|stat --obj.size 4KiB --concurrent 16"
    "delete-4k|delete --obj.size 4KiB --concurrent 16"
    "put-16m|put --obj.size 16MiB --concurrent 4"
    "get-16m|get --obj.size 16MiB --concurrent 4 --objects 64"
    "list-10k|list --obj.size 1KiB --objects 10000 --concurrent 16"
    "mixed-4k|mixed --obj.size 4KiB --concurrent 16"
  )
  # WARP_CASES="put-4k delete-4k": only those cases.
  if [[ -n ${WARP_CASES:-} ]]; then
    keep=()
    for c in "${cases[@]}"; do [[ " $WARP_CASES " == *" ${c%%|*} "* ]] && keep+=("$c"); done
    cases=("${keep[@]}")
  fi
  : >"$WORK/warp.results"
  # ROUNDS=n: every case n times, the servers in turn each time; the
  # figures are the medians.
  for ROUND in $(seq "${ROUNDS:-1}"); do
    for c in "${cases[@]}"; do
      name=${c%%|*} args=${c#*|}
      echo "== round $ROUND: warp $args --duration $DUR"
      for s in $SERVERS; do run_warp "$s" "$name" "$args"; done
    done
  done
  python3 - "$WORK/warp.results" "$SERVERS" "${cases[@]}" <<'PY'
import os, statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
servers = sys.argv[2].split()
anchors = [s for s in servers if not s.startswith("cairn")]
ours = [s for s in servers if s.startswith("cairn")]
print("\nmedian of %d round(s); MiB/s for 16 MiB cases, obj/s otherwise" % max(int(r[2]) for r in rows))
print("%-10s" % "case" + "".join("%14s" % s for s in servers) + "".join("   %s/%s" % (o, a) for o in ours for a in anchors))
for c in sys.argv[3:]:
    name, args = c.split("|", 1)
    i = 3 if name.endswith("16m") else 4
    med, each = {}, {}
    for s in servers:
        v = [float(r[i]) for r in rows if r[0] == s and r[1] == name]
        med[s], each[s] = (statistics.median(v) if v else 0.0), v
    line = "%-10s" % name + "".join("%14.1f" % med[s] for s in servers)
    line += "".join("   %.2fx" % (med[o] / med[a]) if med[a] else "   -" for o in ours for a in anchors)
    print(line)
    print("%-10s" % "" + "  rounds: " + "; ".join("%s %s" % (s, "/".join("%.0f" % x for x in each[s])) for s in servers))
    print("%-10s" % "" + "  warp " + args + " --duration " + os.environ["DUR"])
PY
fi
if [[ $WHAT == iam ]]; then
  # What authorization costs: the same server, warp as root (never
  # evaluated) and as a user whose requests go through its three policies
  # and its group's, in turn, each on its own bucket.
  [[ -x ${WARP:-} ]] || { echo "set WARP to the path of a warp v1.0.8 binary"; exit 1; }
  DUR=${WARP_DURATION:-15s}
  start cairn
  ca() { "$WORK/cairn" admin --endpoint "$URL" --access-key $AK --secret-key $SK "$@" >/dev/null; }
  cat >"$WORK/p1.json" <<'P'
{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::iam-user/*"}]}
P
  cat >"$WORK/p2.json" <<'P'
{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::*","Condition":{"NotIpAddress":{"aws:SourceIp":["127.0.0.0/8","::1/128"]}}}]}
P
  cat >"$WORK/p3.json" <<'P'
{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home/${aws:username}/*"},{"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"arn:aws:s3:::prod*"}]}
P
  ca user add benchuser benchuser-secret
  for p in p1 p2 p3; do ca policy create "iam-$p" "$WORK/$p.json"; done
  ca policy attach readwrite iam-p2 iam-p3 --user benchuser
  ca group add benchers benchuser
  ca policy attach iam-p1 --group benchers
  : >"$WORK/iam.results"
  for ROUND in $(seq "${ROUNDS:-1}"); do
    order="root user"
    (( ROUND % 2 == 0 )) && order="user root" # alternate, so neither always runs on the other's leftovers
    for op in put get; do
      for who in $order; do
        ak=$AK sk=$SK bucket=iam-root
        [[ $who == user ]] && ak=benchuser sk=benchuser-secret bucket=iam-user
        out="$WORK/iam.$op.$who.$ROUND.out"
        echo "== round $ROUND: warp $op --obj.size 4KiB --concurrent 16 --duration $DUR as $who"
        "$WARP" $op --obj.size 4KiB --concurrent 16 --duration "$DUR" --host "${URL#http://}" --access-key $ak --secret-key $sk \
          --bucket $bucket --no-color --benchdata "$WORK/iam.$op.$who.$ROUND" >"$out" 2>&1 || echo "   warp failed: $(tail -2 "$out" | tr '\n' ' ')"
        echo "$op $who $ROUND $(warp_figure "$out" $op)" >>"$WORK/iam.results"
      done
    done
  done
  stop
  python3 - "$WORK/iam.results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
for op in ("put", "get"):
    v = {w: [float(r[4]) for r in rows if r[0] == op and r[1] == w] for w in ("root", "user")}
    m = {w: statistics.median(x) for w, x in v.items()}
    pairs = [u / r for r, u in zip(v["root"], v["user"])]
    print("%s 4KiB c16: root %.0f obj/s, user %.0f obj/s (rounds %s / %s): user/root %.3f; median of the rounds' ratios %.3f" % (
        op, m["root"], m["user"], "/".join("%.0f" % x for x in v["root"]), "/".join("%.0f" % x for x in v["user"]),
        m["user"] / m["root"], statistics.median(pairs)))
PY
fi
if [[ $WHAT == versions || $WHAT == versions-list ]]; then
  command -v minio >/dev/null || { echo "missing minio (see the header of this script)"; exit 1; }
fi
if [[ $WHAT == versions ]]; then
  [[ -x ${WARP:-} ]] || { echo "set WARP to the path of a warp v1.0.8 binary"; exit 1; }
  DUR=${WARP_DURATION:-15s}
  : >"$WORK/ver.results"
  for ROUND in $(seq "${ROUNDS:-1}"); do
    for op in put get; do
      for s in cairn minio; do
        for mode in plain versioned; do
          start $s
          aws --endpoint-url "$URL" s3api create-bucket --bucket verbench >/dev/null
          [[ $mode == versioned ]] && aws --endpoint-url "$URL" s3api put-bucket-versioning --bucket verbench --versioning-configuration Status=Enabled
          out="$WORK/ver.$op.$s.$mode.$ROUND.out"
          echo "== round $ROUND: $s, $mode bucket: warp $op --obj.size 4KiB --concurrent 16 --duration $DUR --bucket verbench --noclear"
          "$WARP" $op --obj.size 4KiB --concurrent 16 --duration "$DUR" --host "${URL#http://}" --access-key $AK --secret-key $SK \
            --bucket verbench --noclear --no-color --benchdata "$WORK/ver.$op.$s.$mode.$ROUND" >"$out" 2>&1 || echo "   warp failed: $(tail -2 "$out" | tr '\n' ' ')"
          echo "$op $s $mode $ROUND $(warp_figure "$out" $op)" >>"$WORK/ver.results"
          stop
        done
      done
    done
  done
  python3 - "$WORK/ver.results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
for op in ("put", "get"):
    for s in ("cairn", "minio"):
        v = {m: [float(r[5]) for r in rows if r[0] == op and r[1] == s and r[2] == m] for m in ("plain", "versioned")}
        med = {m: statistics.median(x) for m, x in v.items()}
        print("%s 4KiB c16 %-6s plain %8.0f obj/s  versioned %8.0f obj/s  versioned/plain %.3f  (rounds %s / %s)" % (
            op, s, med["plain"], med["versioned"], med["versioned"] / med["plain"],
            "/".join("%.0f" % x for x in v["plain"]), "/".join("%.0f" % x for x in v["versioned"])))
PY
fi
if [[ $WHAT == versions || $WHAT == versions-list ]]; then
  echo "== ListObjectVersions of 100,000 versions vs ListObjectsV2 of 100,000 objects (versioned bucket, encoding/xml)"
  for s in cairn minio; do
    start $s
    aws --endpoint-url "$URL" s3api create-bucket --bucket verlist >/dev/null
    aws --endpoint-url "$URL" s3api put-bucket-versioning --bucket verlist --versioning-configuration Status=Enabled
    bench --size 1 --concurrency 32 --count 100000 --phases put --prefix obj/ --bucket verlist >/dev/null
    for r in 1 2 3; do
      for parser in std scan; do
        v2=$("$WORK/cairn" bench s3 --endpoint "$URL" --bucket verlist --list-all --prefix obj/ --xml $parser --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print("%d %.3f" % (d["keys"], d["seconds"]))')
        vv=$("$WORK/cairn" bench s3 --endpoint "$URL" --bucket verlist --list-all --versions --prefix obj/ --xml $parser --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print("%d %.3f" % (d["versions"], d["seconds"]))')
        echo "$s run $r, --xml $parser: ListObjectsV2 ${v2% *} keys in ${v2#* } s; ListObjectVersions ${vv% *} versions in ${vv#* } s"
      done
    done
    stop
  done
fi
if [[ $WHAT == curve ]]; then
  # ops/s of 4 KiB PUT and GET against cairn at rising concurrency.
  [[ -x ${WARP:-} ]] || { echo "set WARP to the path of a warp v1.0.8 binary"; exit 1; }
  DUR=${WARP_DURATION:-15s} ROUND=1
  : >"$WORK/warp.results"
  for op in put get; do
    for c in 1 4 16 64 256; do
      echo "== warp $op --obj.size 4KiB --concurrent $c --duration $DUR"
      run_warp cairn "$op-c$c" "$op --obj.size 4KiB --concurrent $c"
    done
  done
  awk '{split($2, a, "-c"); printf "%-4s concurrency %4s  %10.1f obj/s\n", a[1], a[2], $5}' "$WORK/warp.results"
fi
if [[ $WHAT == list || $WHAT == all ]]; then
  echo "== LIST: 1,000-key pages from a 100,000-object bucket (concurrency 1)"
  for s in cairn versitygw minio; do
    start $s
    bench --size 1 --concurrency 32 --count 100000 --phases put --prefix obj/ --bucket list >/dev/null
    bench --concurrency 1 --duration 15s --phases list --prefix obj/ --bucket list >"$WORK/$s.list.json"
    bench --concurrency 1 --duration 15s --phases list --prefix obj/ --delimiter / --bucket list >"$WORK/$s.listd.json"
    # The whole listing as a user gets it: the aws CLI (its XML parsed by
    # Python's standard library), every page in turn.
    t0=$(date +%s.%N)
    n=$(aws --endpoint-url "$URL" s3api list-objects-v2 --bucket list --prefix obj/ --output json |
      python3 -c 'import json, sys; print(len(json.load(sys.stdin)["Contents"]))')
    echo "$s: aws s3api list-objects-v2 of $n keys: $(echo "$(date +%s.%N) - $t0" | bc) s" >>"$WORK/awslist.txt"
    stop
  done
  cat "$WORK/awslist.txt"
  (cd "$WORK" && summary cairn.list.json versitygw.list.json minio.list.json)
  echo "-- with delimiter /"
  (cd "$WORK" && summary cairn.listd.json versitygw.listd.json minio.listd.json)
fi
if [[ $WHAT == list1m ]]; then
  # One directory of 1,000,000 keys, listed whole (delimiter /) by a client
  # parsing with encoding/xml (every field, as the SDKs do) and by cairn
  # bench's own scanner.
  echo "== LIST: every key of one directory of 1,000,000 objects"
  start cairn
  bench --size 1 --concurrency 32 --count 1000000 --phases put --prefix dir/ --bucket big >/dev/null
  peak=0
  for parser in std scan; do
    "$WORK/cairn" bench s3 --endpoint "$URL" --bucket big --list-all --prefix dir/ --delimiter / --xml $parser &
    B=$!
    while kill -0 $B 2>/dev/null; do
      r=$(awk '/VmRSS/{print $2}' /proc/$PID/status); [[ $r -gt $peak ]] && peak=$r; sleep 0.2
    done
    wait $B
  done
  echo "server peak RSS while listing $((peak / 1024)) MiB"
  stop
fi
if [[ $WHAT == rss || $WHAT == all ]]; then
  echo "== gateway RSS during 16 concurrent 256 MiB PUTs"
  start cairn
  bench --size 256M --concurrency 16 --count 16 --phases put --bucket rss >"$WORK/rss.json" &
  B=$!
  peak=0
  while kill -0 $B 2>/dev/null; do
    r=$(awk '/VmRSS/{print $2}' /proc/$PID/status); [[ $r -gt $peak ]] && peak=$r; sleep 0.2
  done
  wait $B
  python3 -c "import json;p=json.load(open('$WORK/rss.json'))['phases'][0];print('PUT %.0f MiB/s, errors %d'%(p['mib_per_s'],p['errors']))"
  echo "peak RSS $((peak / 1024)) MiB"
  stop
fi
