#!/usr/bin/env bash
# pjdfstest, the POSIX conformance suite, against a cairn mount in both
# permission modes: the kernel's checks (default_permissions), then cairn's
# own (--userspace-checks). Each mode gets a freshly formatted volume
# (SQLite metadata, blocks in a local folder) in WORKDIR/MODE, the suite
# runs as root from inside the mount (prove -rv), and the totals of each
# mode are printed with the failing files and test numbers; the whole
# output is in WORKDIR/MODE/prove.log, the mount's log in WORKDIR/MODE/mount.log.
#
# Usage: bench/pjdfstest.sh PJDFSTEST-DIR CAIRN-BINARY [WORKDIR]
#   PJDFSTEST-DIR  an already-built pjdfstest source tree (github.com/pjd/pjdfstest:
#                  autoreconf -ifs && ./configure && make pjdfstest); never built here
#   CAIRN-BINARY   e.g. from go build -o /tmp/cairn ./cmd/cairn
#   TIMEOUT=40m    bounds each mode's run (a hang names the file it was in)
# Run as root; needs /dev/fuse, fusermount3 and prove. CI does not run it.
set -euo pipefail
PJD=$(realpath "${1:?pjdfstest source tree}")
CAIRN=$(realpath "${2:?cairn binary}")
WORK=${3:-$(mktemp -d /tmp/pjdfstest.XXXXXX)}
[ -x "$PJD/pjdfstest" ] || { echo "$PJD/pjdfstest is not built" >&2; exit 1; }

MNT=
trap '[ -z "$MNT" ] || "$CAIRN" umount --force "$MNT" 2>/dev/null || true' EXIT

run() { # run MODE [MOUNT-FLAG...]
  local mode=$1 dir=$WORK/$1 rc=0
  shift
  mkdir -p "$dir/mnt"
  "$CAIRN" format "sqlite3://$dir/meta.db" "pjd-$mode" --bucket "$dir/blocks" >/dev/null
  "$CAIRN" mount -d "sqlite3://$dir/meta.db" "$dir/mnt" -o allow_other --log-file "$dir/mount.log" "$@" >/dev/null
  MNT=$dir/mnt
  (cd "$dir/mnt" && timeout "${TIMEOUT:-40m}" prove -rv "$PJD/tests") >"$dir/prove.log" 2>&1 || rc=$?
  "$CAIRN" umount "$dir/mnt" 2>/dev/null || "$CAIRN" umount --force "$dir/mnt"
  MNT=
  echo "== $mode ($*)"
  if [ "$rc" = 124 ]; then
    echo "   timed out in $(grep -oE '[^ ]*/tests/[^ ]*\.t' "$dir/prove.log" | tail -1)"
  fi
  grep -E '^(Files=|Result:)' "$dir/prove.log" | sed 's/^/   /' || true
  # The summary's files with failures (not TODO passes), and their test numbers.
  awk '/^Test Summary Report/ { on = 1 } !on { next } /^Files=/ { exit }
    /\(Wstat: / { show = !/Wstat: 0 Tests: [0-9]+ Failed: 0\)/; if (show) { n++; f = $0; sub(/.*Failed: /, "", f); sum += f + 0 } }
    /TODO passed/ { show = 0 } show { print "   " $0 }
    END { printf "   failing files: %d, failing tests: %d\n", n, sum }' "$dir/prove.log"
}

run kernel-checks
run userspace-checks --userspace-checks
echo "(logs in $WORK)"
