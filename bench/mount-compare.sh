#!/usr/bin/env bash
# Side-by-side FUSE benchmark of cairn and JuiceFS on the same machine, both
# on SQLite metadata and a local folder for blocks, each freshly formatted
# (with, first, the same fio jobs on the disk itself for reference):
#   - fio: sequential write of 1 GiB (bs 1M, end_fsync=1), sequential read
#     after a remount, random 4 KiB reads of the then-cached file;
#   - `cairn bench fs` through the mount with attribute and entry caches
#     off: create, stat, readdir, rename, unlink of 20,000 files on 4
#     threads, and 1,000 small files (128 KiB) written, read, stat'ed;
#   - cairn with ACLs (a default ACL on every directory) against a volume
#     formatted without them.
#
# Usage: bench/mount-compare.sh CAIRN-BINARY JUICEFS-BINARY [WORKDIR]
# (Run as root; needs fio and python3. It never builds either binary.)
set -euo pipefail
CAIRN=$(realpath "${1:?cairn binary}")
JUICEFS=$(realpath "${2:?juicefs binary}")
WORK=${3:-$(mktemp -d /tmp/mount-compare.XXXXXX)}
FILES=${FILES:-20000}
SIZE=${SIZE:-1G}
mkdir -p "$WORK"

fiojson() { python3 -c 'import json,sys; j=json.load(sys.stdin)["jobs"][0]; k=sys.argv[1]; print("%.1f MiB/s  %.0f IOPS" % (j[k]["bw_bytes"]/2**20, j[k]["iops"]))' "$1"; }

# mount_fs NAME DIR CACHE(on|off): mounts the volume in DIR on DIR/mnt
mount_fs() {
  local name=$1 dir=$2 cache=$3
  mkdir -p "$dir/mnt"
  case $name in
    cairn*)
      local o=""
      [ "$cache" = off ] && o="-o attr_timeout=0,entry_timeout=0"
      "$CAIRN" mount -d "sqlite3://$dir/meta.db" "$dir/mnt" $o --log-file "$dir/mount.log" >/dev/null ;;
    juicefs)
      local o=""
      [ "$cache" = off ] && o="--attr-cache 0 --entry-cache 0 --dir-entry-cache 0"
      "$JUICEFS" mount -d "sqlite3://$dir/meta.db" "$dir/mnt" $o --no-usage-report --cache-dir "$dir/cache" --log "$dir/mount.log" >/dev/null 2>&1 ;;
  esac
}
umount_fs() {
  case $1 in
    cairn*) "$CAIRN" umount "$2/mnt" ;;
    juicefs) "$JUICEFS" umount "$2/mnt" >/dev/null 2>&1 ;;
  esac
}
format_fs() {
  local name=$1 dir=$2
  rm -rf "$dir"; mkdir -p "$dir"
  case $name in
    cairn) "$CAIRN" format "sqlite3://$dir/meta.db" bench --bucket "$dir/blocks" >/dev/null ;;
    cairn-noacl) "$CAIRN" format "sqlite3://$dir/meta.db" bench --bucket "$dir/blocks" --enable-acl=false >/dev/null ;;
    juicefs) "$JUICEFS" format "sqlite3://$dir/meta.db" bench --storage file --bucket "$dir/blocks/" >/dev/null 2>&1 ;;
  esac
}

echo "# $(date -u +%F) $(uname -r), $(nproc) cores; cairn $("$CAIRN" --version | awk '{print $3}'), $("$JUICEFS" --version)"
# The disk itself, for reference: the same fio jobs on WORKDIR's file
# system, without FUSE (a durable write there is what end_fsync=1 waits
# for on cairn's blocks; JuiceFS's file storage never syncs its blocks).
echo "## the disk (fio on $WORK's file system)"
cmd="fio --name=seq --directory=$WORK --rw=write --bs=1M --size=$SIZE --end_fsync=1 --output-format=json"
echo "  seq write  $(sync; $cmd | fiojson write)   ($cmd)"
sync; echo 3 > /proc/sys/vm/drop_caches
cmd="fio --name=seq --directory=$WORK --rw=read --bs=1M --size=$SIZE --output-format=json"
echo "  seq read   $($cmd | fiojson read)   ($cmd, caches dropped)"
rm -f "$WORK"/seq.0.0
for fs in cairn juicefs; do
  dir="$WORK/$fs"
  format_fs "$fs" "$dir"
  mount_fs "$fs" "$dir" on
  echo "## $fs"
  cmd="fio --name=seq --directory=$dir/mnt --rw=write --bs=1M --size=$SIZE --end_fsync=1 --output-format=json"
  echo "  seq write  $(sync; $cmd | fiojson write)   ($cmd)"
  umount_fs "$fs" "$dir"; sync; echo 3 > /proc/sys/vm/drop_caches
  mount_fs "$fs" "$dir" on
  cmd="fio --name=seq --directory=$dir/mnt --rw=read --bs=1M --size=$SIZE --output-format=json"
  echo "  seq read   $($cmd | fiojson read)   ($cmd, after a remount)"
  cmd="fio --name=seq --directory=$dir/mnt --rw=randread --bs=4k --size=$SIZE --time_based --runtime=15 --output-format=json"
  echo "  rand read  $($cmd | fiojson read)   ($cmd, cached)"
  umount_fs "$fs" "$dir"
  mount_fs "$fs" "$dir" off
  echo "  metadata, caches off: $CAIRN bench fs MOUNT --files $FILES --threads 4"
  "$CAIRN" bench fs "$dir/mnt" --files "$FILES" --threads 4 | tail -n +2
  umount_fs "$fs" "$dir"
  rm -rf "$dir"
done

echo "## cairn, ACLs on (default ACL on every directory) vs a volume without ACLs, caches off"
for fs in cairn-noacl cairn; do
  dir="$WORK/$fs"
  format_fs "$fs" "$dir"
  mount_fs "$fs" "$dir" off
  flag=""; [ "$fs" = cairn ] && flag="--acl"
  echo "  $fs: $CAIRN bench fs MOUNT --files $FILES --threads 4 --small-files 0 $flag"
  "$CAIRN" bench fs "$dir/mnt" --files "$FILES" --threads 4 --small-files 0 $flag | tail -n +2
  umount_fs "$fs" "$dir"
  rm -rf "$dir"
done
