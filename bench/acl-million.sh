#!/usr/bin/env bash
# What POSIX ACLs cost at scale, in the shape of the published JuiceFS ACL
# benchmark: a Redis volume, 1,000,000 entries in directories of 100,
# and, in the acl_on tree, an access and a default ACL naming 400 users and
# 200 groups (inherited by every directory and file made below it).
# `cairn bench meta` runs create, mkdir, open/close, rename and readdir
# (ls with attributes) in both trees, taking turns in 20 slices of each
# operation so that what drifts in a long run (the database growing)
# falls on both, and reports the overhead of ACLs. Redis is started here
# on loopback in a temporary directory, its append-only file never
# rewritten during the run (a rewrite forks a multi-GiB process).
#
# Usage: bench/acl-million.sh CAIRN-BINARY [ENTRIES] [DURABILITY] [ROUNDS] [SLICES]
# ENTRIES: default 1000000. DURABILITY: full (Redis appendfsync always,
# cairn --durability full) or relaxed (appendfsync everysec, cairn
# --durability relaxed; the default: commits do not wait for the disk, so
# the ACL checks' own cost is a larger share of each operation). ROUNDS:
# default 1; with more, each round runs on a fresh tree. SLICES (default
# 20): how many slices each operation is cut into; the overhead reported
# is the median, over every slice of every round, of the two trees' speed
# ratio in that slice, with its quartiles. It never builds cairn.
set -euo pipefail
CAIRN=$(realpath "${1:?cairn binary}")
ENTRIES=${2:-1000000}
DURABILITY=${3:-relaxed}
ROUNDS=${4:-1}
SLICES=${5:-20}
case $DURABILITY in
  full) FSYNC=always ;;
  relaxed) FSYNC=everysec ;;
  *) echo "DURABILITY is full or relaxed" >&2; exit 2 ;;
esac
WORK=$(mktemp -d /tmp/acl-million.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

redis-server --port 56394 --bind 127.0.0.1 --save "" --appendonly yes --appendfsync "$FSYNC" --auto-aof-rewrite-percentage 0 --dir "$WORK" >"$WORK/redis.log" 2>&1 &
PID=$!
until redis-cli -p 56394 ping >/dev/null 2>&1; do sleep 0.1; done
URL=redis://127.0.0.1:56394/0
"$CAIRN" format "$URL" acl-million --storage file --bucket "$WORK/blocks" --enable-acl --durability "$DURABILITY" >/dev/null
# The scratch trees are kept (--keep): the volume is thrown away with the
# server, and removing two million entries would take as long as making them.
"$CAIRN" bench meta "$URL" --entries "$ENTRIES" --files-per-dir 100 --acl-users 400 --acl-groups 200 \
  --ops create,mkdir,open_close,rename,readdir --threads 4 --slices "$SLICES" --rounds "$ROUNDS" --durability "$DURABILITY" --keep
echo "redis used_memory: $(redis-cli -p 56394 info memory | grep -m1 '^used_memory_human' | cut -d: -f2)"
