#!/usr/bin/env bash
# What ACLs cost on the mount: two volumes on SQLite and a local folder,
# one formatted with ACLs (and `cairn bench fs --acl`: an access and a
# default ACL naming several users and groups on each scratch directory,
# so every file created inherits one), one with --enable-acl=false, both
# mounted at once with attribute and entry caches off. Each round runs
# `cairn bench fs` (create, stat, readdir, rename, unlink of FILES empty
# files on 4 threads) on one mount and then the other, the order
# alternating between rounds; the figure for each operation is the median
# over the rounds of the pair's ratio (ACLs on / off), with its quartiles,
# so that the VM's drift between rounds cancels out.
#
# Usage: bench/mount-acl.sh CAIRN-BINARY [ROUNDS=9] [FILES=8000] [WORKDIR]
# (Run as root; needs python3 and /dev/fuse. It never builds cairn.)
set -euo pipefail
CAIRN=$(realpath "${1:?cairn binary}")
ROUNDS=${2:-9}
FILES=${3:-8000}
WORK=${4:-$(mktemp -d /tmp/mount-acl.XXXXXX)}
mkdir -p "$WORK"
cleanup() {
  for v in on off; do "$CAIRN" umount "$WORK/$v/mnt" 2>/dev/null || true; done
}
trap cleanup EXIT
for v in on off; do
  dir="$WORK/$v"
  rm -rf "$dir"; mkdir -p "$dir/mnt"
  acl=true; [ "$v" = off ] && acl=false
  "$CAIRN" format "sqlite3://$dir/meta.db" bench --bucket "$dir/blocks" --enable-acl=$acl >/dev/null
  "$CAIRN" mount -d "sqlite3://$dir/meta.db" "$dir/mnt" -o attr_timeout=0,entry_timeout=0 --log-file "$dir/mount.log" >/dev/null
done
echo "# $(date -u '+%F %H:%M UTC') $(uname -r), $(nproc) cores; cairn $("$CAIRN" --version | awk '{print $3}'); $ROUNDS rounds of $FILES files, 4 threads, caches off"
run() { # on|off round
  local flag=""
  [ "$1" = on ] && flag="--acl"
  "$CAIRN" bench fs "$WORK/$1/mnt" --files "$FILES" --threads 4 --small-files 0 $flag --json >"$WORK/$1.$2.json"
}
for r in $(seq "$ROUNDS"); do
  if (( r % 2 )); then run on "$r"; run off "$r"; else run off "$r"; run on "$r"; fi
  echo "round $r done"
done
python3 - "$WORK" "$ROUNDS" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
ops = ["create", "stat", "readdir", "rename", "unlink"]
rows = {op: [] for op in ops}
rate = {op: {"on": [], "off": []} for op in ops}
for r in range(1, rounds + 1):
    got = {v: json.load(open(f"{work}/{v}.{r}.json"))["ops_per_s"] for v in ("on", "off")}
    for op in ops:
        rows[op].append(got["on"][op] / got["off"][op])
        for v in ("on", "off"):
            rate[op][v].append(got[v][op])
print("| operation | ACLs off (median /s) | ACLs on (median /s) | on − off: median of the rounds' ratios | quartiles |")
print("|---|---:|---:|---:|---|")
for op in ops:
    q = statistics.quantiles(rows[op], n=4) if len(rows[op]) > 1 else [rows[op][0]] * 3
    print("| %s | %s | %s | %+.1f %% | %+.1f %% … %+.1f %% |" % (op, f"{statistics.median(rate[op]['off']):,.0f}", f"{statistics.median(rate[op]['on']):,.0f}",
          (statistics.median(rows[op]) - 1) * 100, (q[0] - 1) * 100, (q[2] - 1) * 100))
PY
