#!/usr/bin/env bash
# Metadata operations of cairn and JuiceFS side by side on each server
# engine: Redis (appendonly yes, appendfsync always: the setting cairn
# needs for --durability full, given to both), PostgreSQL and MariaDB, each
# started here on loopback in a temporary directory. JuiceFS runs its own
# `juicefs mdtest` (its VFS without a mount, attribute cache off), cairn
# `cairn bench meta` (meta without a mount), on a freshly formatted volume
# each time:
#   - mkdir, 1 thread: JuiceFS a tree of 4,033 directories (63 per level,
#     depth 2); cairn 4,000 directories;
#   - create, 4 threads: 4,000 files each (JuiceFS 2 directories of 500
#     per thread).
#
# Usage: bench/meta-engines.sh CAIRN-BINARY JUICEFS-BINARY [ENGINE...]
# ENGINE: redis, postgres, mysql (default: all three). Run as root (the
# PostgreSQL server runs as the postgres user). Needs redis-server,
# PostgreSQL and MariaDB from Debian. It never builds either binary.
set -euo pipefail
CAIRN=$(realpath "${1:?cairn binary}")
JUICEFS=$(realpath "${2:?juicefs binary}")
shift 2
ENGINES=${*:-redis postgres mysql}
WORK=$(mktemp -d /tmp/meta-engines.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

start_redis() {
  redis-server --port 56391 --bind 127.0.0.1 --save "" --appendonly yes --appendfsync always --dir "$WORK" >"$WORK/redis.log" 2>&1 &
  PIDS+=($!)
  until redis-cli -p 56391 ping >/dev/null 2>&1; do sleep 0.1; done
}
start_postgres() {
  local bin; bin=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
  mkdir -p "$WORK/pg" && chown postgres "$WORK/pg"
  runuser -u postgres -- "$bin/initdb" -D "$WORK/pg/data" -A trust -U postgres >/dev/null
  runuser -u postgres -- "$bin/postgres" -D "$WORK/pg/data" -k "$WORK/pg" -p 56392 -c listen_addresses=127.0.0.1 >"$WORK/pg.log" 2>&1 &
  PIDS+=($!)
  until "$bin/pg_isready" -h 127.0.0.1 -p 56392 >/dev/null 2>&1; do sleep 0.1; done
}
start_mysql() {
  mariadb-install-db --no-defaults --datadir="$WORK/my" --user=root --auth-root-authentication-method=normal --skip-test-db >/dev/null
  mariadbd --no-defaults --datadir="$WORK/my" --port=56393 --bind-address=127.0.0.1 --socket="$WORK/my.sock" --user=root \
    --skip-log-bin --innodb-buffer-pool-size=256M >"$WORK/my.log" 2>&1 &
  PIDS+=($!)
  until mariadb -h 127.0.0.1 -P 56393 -u root -e 'select 1' >/dev/null 2>&1; do sleep 0.2; done
}
# fresh ENGINE N: a URL of an empty store for each system (JuiceFS, cairn)
fresh() {
  case $1 in
    redis) echo "redis://127.0.0.1:56391/$2" ;;
    postgres)
      psql -h 127.0.0.1 -p 56392 -U postgres -qc "CREATE DATABASE v$2" >/dev/null
      echo "postgres://postgres@127.0.0.1:56392/v$2?sslmode=disable" ;;
    mysql)
      mariadb -h 127.0.0.1 -P 56393 -u root -e "CREATE DATABASE v$2"
      echo "mysql://root@(127.0.0.1:56393)/v$2" ;;
  esac
}
# rate LOG WHAT: JuiceFS mdtest's "Created N WHAT in Ts (R WHAT/s)"
rate() { grep -o "Created [0-9]* $2 in [^(]*([0-9.]* $2/s)" "$1" | sed 's/.*(\([0-9.]*\) .*/\1/'; }

n=0
printf '%-9s %-7s %12s %12s %8s\n' engine op juicefs cairn ratio
for e in $ENGINES; do
  "start_$e"
  for op in mkdir create; do
    n=$((n + 1)); ju=$(fresh "$e" "$n")
    j=0
    if ! "$JUICEFS" format "$ju" jv$n --storage file --bucket "$WORK/jblocks$n" >"$WORK/jf$n.log" 2>&1; then
      # JuiceFS 1.3.1 sets MySQL 8's transaction_isolation, which MariaDB
      # before 11.1 does not know: cairn's figure is printed alone (a
      # JuiceFS build whose DSN sets tx_isolation instead runs; see
      # docs/benchmarks.md).
      echo "juicefs format on $e failed: $(grep -o 'Error [0-9]*[^[]*' "$WORK/jf$n.log" | head -1)" >&2
    elif [ $op = mkdir ]; then
      "$JUICEFS" mdtest "$ju" /t --dirs 63 --depth 2 --files 0 --threads 1 --attr-cache 0 --no-bgjob >"$WORK/j$n.log" 2>&1
      j=$(rate "$WORK/j$n.log" dirs)
    else
      "$JUICEFS" mdtest "$ju" /t --dirs 1 --depth 1 --files 500 --threads 4 --attr-cache 0 --no-bgjob >"$WORK/j$n.log" 2>&1
      j=$(rate "$WORK/j$n.log" files)
    fi
    n=$((n + 1)); cu=$(fresh "$e" "$n")
    "$CAIRN" format "$cu" cv$n --bucket "$WORK/cblocks$n" >/dev/null
    threads=1; [ $op = create ] && threads=4
    if ! "$CAIRN" bench meta "$cu" --entries 4000 --threads $threads --json >"$WORK/c$n.json" 2>"$WORK/c$n.log"; then
      cat "$WORK/c$n.log" >&2; exit 1
    fi
    c=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["acl_off"][sys.argv[2]]))' "$WORK/c$n.json" $op)
    if [ "$j" = 0 ]; then
      printf '%-9s %-7s %12s %12.0f %8s\n' "$e" "$op" n/a "$c" -
    else
      printf '%-9s %-7s %12.0f %12.0f %7.2fx\n' "$e" "$op" "$j" "$c" "$(python3 -c "print($c/$j)")"
    fi
  done
done
