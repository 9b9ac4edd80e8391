#!/usr/bin/env bash
# Mount memory with many files: formats a fresh volume (SQLite metadata, a
# local folder for blocks), mounts it, creates FILES empty files (default
# 1,000,000) from 4 processes in 1,000-file directories, then lists the
# whole tree with `ls -lR` three times (the last after dropping the
# kernel's caches, so that every entry is looked up again), printing the
# mount process's resident memory (VmRSS) and its peak (VmHWM) after each
# step.
#
# Usage: bench/mount-rss.sh CAIRN-BINARY [FILES]   (as root; never builds cairn)
set -euo pipefail
CAIRN=$(realpath "${1:?cairn binary}")
FILES=${2:-1000000}
W=$(mktemp -d /tmp/cairn-rss.XXXXXX)
trap '"$CAIRN" umount "$W/mnt" >/dev/null 2>&1 || true; rm -rf "$W"' EXIT
mkdir -p "$W/mnt"
"$CAIRN" format "sqlite3://$W/meta.db" rss --bucket "$W/blocks" >/dev/null
"$CAIRN" mount -d "sqlite3://$W/meta.db" "$W/mnt" --log-file "$W/mount.log" >/dev/null
pid=$(pgrep -f "mount.*sqlite3://$W/meta.db" | head -1)
[[ -n $pid ]] || { echo "no mount process found"; exit 1; }
mem() { printf '%-28s %s\n' "$1" "$(awk '/^VmRSS|^VmHWM/{printf "%s %d MiB  ", $1, $2/1024}' /proc/"$pid"/status)"; }
mem "mounted"
start=$(date +%s)
python3 - "$W/mnt" "$FILES" <<'PY'
import os, sys
from multiprocessing import Pool
root, n = sys.argv[1], int(sys.argv[2])
def make(d):
    p = os.path.join(root, "d%04d" % d)
    os.mkdir(p)
    for i in range(min(1000, n - d * 1000)):
        os.close(os.open(os.path.join(p, "f%04d" % i), os.O_CREAT | os.O_WRONLY, 0o644))
with Pool(4) as pool:
    pool.map(make, range((n + 999) // 1000), chunksize=1)
PY
echo "created $FILES files in $(( $(date +%s) - start )) s"
mem "after creating"
for pass in 1 2 3; do
  [[ $pass == 3 ]] && { sync; echo 3 >/proc/sys/vm/drop_caches; }
  start=$(date +%s)
  n=$(ls -lR "$W/mnt" | wc -l)
  mem "after ls -lR pass $pass ($(( $(date +%s) - start )) s)"
done
echo "($n lines listed)"
