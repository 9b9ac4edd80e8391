#!/usr/bin/env bash
# A cairn mount as Linux users meet it: users made with useradd, the
# setfacl/getfacl examples of POSIX ACL guides (the mask, default ACLs
# inherited by new files and directories, named users and groups, chmod
# moving the mask), root squash and all squash, setcap/getcap, and a
# remount (a new `cairn mount` taking the mount over) under a running
# `tail -f`, an open writer and a shell whose directory is inside.
#
# Needs root. Environment: CAIRN (the binary), WORK (an empty directory).
set -euo pipefail
: "${CAIRN:?}" "${WORK:?}"

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }
# as USER CMD...: run a command as a user made below.
as() { local u=$1; shift; runuser -u "$u" -- "$@"; }
expect_denied() { if "$@" 2>/dev/null; then fail "allowed: $*"; fi; }

for u in cairn-alice cairn-bob cairn-carol; do
  id "$u" >/dev/null 2>&1 || useradd --no-create-home --shell /usr/sbin/nologin "$u"
done
getent group cairn-devs >/dev/null || groupadd cairn-devs
usermod -aG cairn-devs cairn-bob
alice=$(id -u cairn-alice)

chmod 755 "$WORK"
META="sqlite3://$WORK/meta.db"
"$CAIRN" format "$META" aclvol --bucket "$WORK/blocks" >/dev/null
MNT="$WORK/mnt"
mkdir -p "$MNT"
mount_it() { "$CAIRN" mount -d "$META" "$MNT" -o allow_other "$@" >/dev/null; }
umount_it() { "$CAIRN" umount "$MNT"; }
trap '"$CAIRN" umount --force "$MNT" 2>/dev/null || true' EXIT

mount_it
cd "$MNT"

step "a named user entry, and the mask"
mkdir -m 777 shared
echo "plan" > shared/plan.txt
chown cairn-carol: shared/plan.txt
chmod 640 shared/plan.txt
expect_denied as cairn-alice cat shared/plan.txt
setfacl -m u:cairn-alice:rw shared/plan.txt
getfacl -p shared/plan.txt | grep -qx "user:cairn-alice:rw-" || fail "getfacl lacks the named user"
getfacl -p shared/plan.txt | grep -qx "mask::rw-" || fail "the mask is not the union of the group class"
ls -l shared/plan.txt | grep -q '^-rw-rw----+' || fail "ls -l shows no + (or a wrong group class): $(ls -l shared/plan.txt)"
as cairn-alice cat shared/plan.txt >/dev/null || fail "alice cannot read through her entry"
as cairn-alice sh -c 'echo more >> shared/plan.txt' || fail "alice cannot write through her entry"
expect_denied as cairn-bob cat shared/plan.txt

step "chmod sets the mask, which limits named entries"
chmod g-w shared/plan.txt
getfacl -p shared/plan.txt | grep -q "^user:cairn-alice:rw-.*#effective:r--" || fail "chmod g-w did not narrow the mask: $(getfacl -p shared/plan.txt)"
expect_denied as cairn-alice sh -c 'echo x >> shared/plan.txt'
as cairn-alice cat shared/plan.txt >/dev/null || fail "alice lost read"
setfacl -m m::rw shared/plan.txt
ls -l shared/plan.txt | grep -q '^-rw-rw----+' || fail "setting the mask did not show as group bits"
as cairn-alice sh -c 'echo again >> shared/plan.txt' || fail "a widened mask did not give write back"

step "a named group entry"
mkdir -m 750 team
chown cairn-carol:cairn-carol team
expect_denied as cairn-bob ls team
setfacl -m g:cairn-devs:rx team
as cairn-bob ls team >/dev/null || fail "bob (in cairn-devs) cannot list team"
expect_denied as cairn-alice ls team
setfacl -x g:cairn-devs team
expect_denied as cairn-bob ls team

step "default ACLs are inherited by new files and directories"
mkdir -m 770 proj
chown cairn-carol:cairn-carol proj
setfacl -m u:cairn-alice:rwx proj
setfacl -d -m u:cairn-alice:rwx,g:cairn-devs:rx,o::- proj
as cairn-carol sh -c 'umask 077; echo data > proj/new.txt; mkdir proj/sub'
getfacl -p proj/new.txt | grep -q "^user:cairn-alice:rwx.*#effective:rw-" || fail "new file: $(getfacl -p proj/new.txt)"
getfacl -p proj/new.txt | grep -qx "group:cairn-devs:r-x" || getfacl -p proj/new.txt | grep -q "^group:cairn-devs:r-x" || fail "new file lacks the group entry"
stat -c %a proj/new.txt | grep -qx 660 || fail "new file mode $(stat -c %a proj/new.txt): the umask must not apply under a default ACL"
getfacl -p proj/sub | grep -qx "default:user:cairn-alice:rwx" || fail "new directory did not inherit the default ACL"
getfacl -p proj/sub | grep -qx "user:cairn-alice:rwx" || fail "new directory lacks the access entry"
as cairn-alice sh -c 'echo alice > proj/sub/by-alice.txt' || fail "alice cannot write in an inherited directory"
getfacl -p proj/sub/by-alice.txt | grep -q "^user:cairn-alice:rwx" || fail "the grandchild did not inherit"
expect_denied as cairn-bob sh -c 'echo x > proj/sub/by-bob.txt'
setfacl -k proj
as cairn-carol sh -c 'umask 077; echo data > proj/plain.txt'
[ "$(stat -c %a proj/plain.txt)" = 600 ] || fail "without a default ACL the umask applies"
getfacl -p proj/plain.txt | grep -q cairn-alice && fail "setfacl -k did not remove the default ACL"

step "setfacl --restore of a saved ACL, and numeric ids"
getfacl -p -R shared > "$WORK/acl.txt"
setfacl -b shared/plan.txt
getfacl -p shared/plan.txt | grep -q cairn-alice && fail "setfacl -b kept the entry"
setfacl --restore="$WORK/acl.txt"
getfacl -p shared/plan.txt | grep -qx "user:cairn-alice:rw-" || fail "restore"
getfacl -n shared/plan.txt | grep -qx "user:$alice:rw-" || fail "getfacl -n"

step "an invalid ACL is refused"
if setfattr -n system.posix_acl_access -v 0x02000000ff "$MNT/shared/plan.txt" 2>"$WORK/err"; then fail "a malformed ACL was stored"; fi
grep -q "Invalid argument" "$WORK/err" || fail "malformed ACL: $(cat "$WORK/err")"
cd /
umount_it

step "root squash"
mount_it --root-squash 65534:65534
as cairn-alice sh -c "echo secret > $MNT/shared/alice-only; chmod 600 $MNT/shared/alice-only"
if cat "$MNT/shared/alice-only" 2>/dev/null; then fail "squashed root read another user's 0600 file"; fi
as cairn-alice cat "$MNT/shared/alice-only" >/dev/null || fail "the owner cannot read it"
touch "$MNT/shared/by-root"
[ "$(stat -c %u:%g "$MNT/shared/by-root")" = 65534:65534 ] || fail "a file root made under root squash: $(stat -c %u:%g "$MNT/shared/by-root")"
umount_it

step "all squash"
mount_it --all-squash "$alice:$alice"
as cairn-bob touch "$MNT/shared/by-bob"
touch "$MNT/shared/by-root2"
for f in by-bob by-root2; do
  [ "$(stat -c %u:%g "$MNT/shared/$f")" = "$alice:$alice" ] || fail "$f under all squash belongs to $(stat -c %u:%g "$MNT/shared/$f")"
done
as cairn-carol touch "$MNT/shared/by-bob" || fail "touch of an existing file under all squash"
as cairn-carol cat "$MNT/shared/alice-only" >/dev/null || fail "all squash maps carol to alice, who owns the file"
umount_it

step "file capabilities need --enable-cap"
mount_it
cp /bin/true "$MNT/shared/tool"
if setcap cap_net_raw+ep "$MNT/shared/tool" 2>/dev/null; then fail "setcap without --enable-cap"; fi
umount_it
mount_it --enable-cap
setcap cap_net_raw+ep "$MNT/shared/tool"
getcap "$MNT/shared/tool" | grep -q "cap_net_raw=ep" || fail "getcap: $(getcap "$MNT/shared/tool")"
"$MNT/shared/tool" || fail "the file with a capability does not run"
cat /bin/true > "$MNT/shared/tool"
[ -z "$(getcap "$MNT/shared/tool")" ] || fail "a write did not clear the capability"
setcap cap_net_raw+ep "$MNT/shared/tool"
chown cairn-alice "$MNT/shared/tool"
[ -z "$(getcap "$MNT/shared/tool")" ] || fail "chown did not clear the capability"
umount_it

step "SELinux labels need --enable-selinux"
mount_it --enable-selinux
setfattr -n security.selinux -v "system_u:object_r:tmp_t:s0" "$MNT/shared/tool"
getfattr --only-values -n security.selinux "$MNT/shared/tool" | grep -q "tmp_t" || fail "security.selinux"
umount_it

step "remount under a running tail -f, an open writer and a shell inside"
mount_it
mkdir -p "$MNT/shared/logs"
( exec 3>"$MNT/shared/logs/app.log"
  for i in $(seq 1 60); do echo "entry $i" >&3 || exit 1; sleep 0.05; done ) &
writer=$!
sleep 0.3
tail -n +1 -f "$MNT/shared/logs/app.log" >"$WORK/tail.out" &
tailer=$!
( cd "$MNT/shared/logs" && for i in $(seq 1 60); do ls >/dev/null && [ -e app.log ] || exit 1; sleep 0.05; done ) &
shell=$!
old=$(cat "/run/cairn/mount-$(echo "${MNT#/}" | tr / -).pid")
sleep 0.5
"$CAIRN" mount -d "$META" "$MNT" -o allow_other >/dev/null || fail "the remount"
new=$(cat "/run/cairn/mount-$(echo "${MNT#/}" | tr / -).pid")
[ "$old" != "$new" ] || fail "the same mount process after the remount"
kill -0 "$old" 2>/dev/null && { sleep 2; kill -0 "$old" 2>/dev/null; } && fail "the old mount process ($old) is still running"
wait "$writer" || fail "the writer saw an error"
wait "$shell" || fail "the shell inside the mount saw an error"
# tail -f polls a FUSE file once a second (coreutils treats fuse as
# remote, without inotify): give it up to 5 s to print the last lines.
for _ in $(seq 50); do [ "$(wc -l <"$WORK/tail.out")" = 60 ] && break; sleep 0.1; done
kill "$tailer"; wait "$tailer" 2>/dev/null || true
[ "$(wc -l <"$WORK/tail.out")" = 60 ] || fail "tail -f printed $(wc -l <"$WORK/tail.out") lines, want 60"
[ "$(tail -1 "$MNT/shared/logs/app.log")" = "entry 60" ] || fail "the log's last line: $(tail -1 "$MNT/shared/logs/app.log")"
cd "$WORK"
umount_it

echo "mount.sh: all passed"
