package fusefs_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"cairn/internal/fusefs"
	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// A probe's answer: the errno (or "ok"), and for what it created, the
// mode, owner and ACLs.
type answers map[string]string

func errName(err error) string {
	if err == nil {
		return "ok"
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return unix.ErrnoName(e)
	}
	return err.Error()
}

// describe reports what the permission model decides about a path: type
// and mode bits, owner, group and both ACLs, as root reads them.
func describe(p string) string {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return errName(err)
	}
	s := fmt.Sprintf("mode=%o uid=%d gid=%d", st.Mode, st.Uid, st.Gid)
	for _, x := range []string{"system.posix_acl_access", "system.posix_acl_default"} {
		buf := make([]byte, 4096)
		if n, err := unix.Lgetxattr(p, x, buf); err == nil {
			s += " " + strings.TrimPrefix(x, "system.posix_acl_") + "=" + hex.EncodeToString(buf[:n])
		}
	}
	return s
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// buildTree lays out, as root, the tree every probe runs against: modes,
// owners, a setgid directory, a sticky one, ACLs and a default ACL.
func buildTree(t *testing.T, root string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	dir := func(name string, mode os.FileMode, uid, gid int) {
		p := filepath.Join(root, name)
		must(os.Mkdir(p, 0o700))
		must(os.Chown(p, uid, gid))
		must(os.Chmod(p, mode))
	}
	file := func(name string, mode os.FileMode, uid, gid int) {
		p := filepath.Join(root, name)
		must(os.WriteFile(p, []byte("content\n"), 0o600))
		must(os.Chown(p, uid, gid))
		must(os.Chmod(p, mode))
	}
	must(os.Chmod(root, 0o755))
	dir("pub", 0o777, 0, 0)
	dir("sticky", 0o777|os.ModeSticky, 0, 0)
	dir("priv", 0o700, 1001, 1001)
	dir("grp", 0o770|os.ModeSetgid, 1001, 2000)
	dir("dacl", 0o770, 1001, 1001)
	dir("mine", 0o755, 1002, 1002)
	file("pub/f644", 0o644, 1001, 1001)
	file("pub/f600", 0o600, 1001, 1001)
	file("pub/f660g", 0o660, 1001, 2000)
	file("pub/f666", 0o666, 1001, 1001)
	file("pub/fexec", 0o750, 1001, 2000)
	file("pub/facl", 0o640, 1001, 1001)
	file("pub/fnone", 0o000, 1001, 1001)
	file("pub/suid", 0o777|os.ModeSetuid|os.ModeSetgid, 1001, 2000)
	file("priv/inner", 0o644, 1001, 1001)
	file("sticky/own1001", 0o666, 1001, 1001)
	file("sticky/own1002", 0o666, 1002, 1002)
	file("mine/f", 0o644, 1002, 1002)
	must(os.Symlink("f600", filepath.Join(root, "pub/link600")))
	run(t, "setfacl", "-m", "u:1002:rw,g:2000:r,m::rw", filepath.Join(root, "pub/facl"))
	run(t, "setfacl", "-m", "u:1002:rwx", filepath.Join(root, "dacl"))
	run(t, "setfacl", "-d", "-m", "u:1002:rwx,g:2000:rx,o::-", filepath.Join(root, "dacl"))
}

type user struct {
	name     string
	uid, gid uint32
	groups   []uint32
}

var users = []user{
	{"u1001", 1001, 1001, []uint32{1001}},
	{"u1002", 1002, 1002, []uint32{1002, 2000}},
	{"u1003", 1003, 1003, []uint32{1003}},
	{"u1004", 1004, 1004, []uint32{1004, 2000}},
	{"root", 0, 0, []uint32{0}},
}

// probe runs every operation as u under root, recording each answer.
func probe(root string, u user, a answers) {
	p := func(name string) string { return filepath.Join(root, name) }
	rec := func(key string, err error) { a[u.name+" "+key] = errName(err) }
	created := func(key, name string, err error) {
		rec(key, err)
		if err == nil {
			a[u.name+" "+key+" made"] = "" // filled in by root afterwards
			a["path "+u.name+" "+key] = name
		}
	}
	for _, f := range []string{"pub/f644", "pub/f600", "pub/f660g", "pub/f666", "pub/facl", "pub/fnone", "pub/link600", "priv/inner", "sticky/own1002", "mine/f"} {
		for _, mode := range []struct {
			name string
			flag int
		}{{"read", unix.O_RDONLY}, {"write", unix.O_WRONLY}, {"rdwr", unix.O_RDWR}} {
			fd, err := unix.Open(p(f), mode.flag, 0)
			if err == nil {
				unix.Close(fd)
			}
			rec("open "+mode.name+" "+f, err)
		}
	}
	for _, f := range []string{"pub/fexec", "pub/f644", "pub/facl", "priv", "dacl", "grp"} {
		for _, m := range []struct {
			name string
			bits uint32
		}{{"r", unix.R_OK}, {"w", unix.W_OK}, {"x", unix.X_OK}} {
			rec("access "+m.name+" "+f, unix.Faccessat(unix.AT_FDCWD, p(f), m.bits, unix.AT_EACCESS))
		}
	}
	for _, d := range []string{"priv", "dacl", "grp", "sticky"} {
		_, err := os.ReadDir(p(d))
		rec("readdir "+d, err)
	}
	// Creation, with what it makes.
	for _, d := range []string{"pub", "dacl", "grp", "priv", "mine"} {
		name := d + "/new-" + u.name
		fd, err := unix.Open(p(name), unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY, 0o666)
		if err == nil {
			unix.Close(fd)
		}
		created("create "+d, name, err)
		name = d + "/dir-" + u.name
		created("mkdir "+d, name, unix.Mkdir(p(name), 0o777))
		name = d + "/fifo-" + u.name
		created("mkfifo "+d, name, unix.Mkfifo(p(name), 0o640))
		name = d + "/sym-" + u.name
		created("symlink "+d, name, unix.Symlink("target", p(name)))
	}
	created("mkdir in new dacl dir", "dacl/dir-"+u.name+"/sub", unix.Mkdir(p("dacl/dir-"+u.name+"/sub"), 0o750))
	// Changes of attributes.
	rec("chmod own f644 0640", unix.Chmod(p("pub/f644"), 0o640))
	rec("chmod setgid f660g", unix.Chmod(p("pub/f660g"), 0o2660))
	rec("chown f666 to self", unix.Chown(p("pub/f666"), int(u.uid), -1))
	rec("chgrp f644 to 2000", unix.Chown(p("pub/f644"), -1, 2000))
	rec("chgrp f644 to 1001", unix.Chown(p("pub/f644"), -1, 1001))
	a[u.name+" f644 after"] = ""
	rec("utime now f666", unix.UtimesNanoAt(unix.AT_FDCWD, p("pub/f666"), []unix.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_NOW}}, 0))
	rec("utime set f666", unix.UtimesNanoAt(unix.AT_FDCWD, p("pub/f666"), []unix.Timespec{unix.NsecToTimespec(1e18), unix.NsecToTimespec(1e18)}, 0))
	rec("utime now f644", unix.UtimesNanoAt(unix.AT_FDCWD, p("pub/f644"), []unix.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_NOW}}, 0))
	rec("truncate f666", unix.Truncate(p("pub/f666"), 3))
	rec("truncate f644", unix.Truncate(p("pub/f644"), 3))
	rec("setxattr user f666", unix.Setxattr(p("pub/f666"), "user.k", []byte(u.name), 0))
	rec("setxattr user f644", unix.Setxattr(p("pub/f644"), "user.k", []byte(u.name), 0))
	rec("setxattr trusted f666", unix.Setxattr(p("pub/f666"), "trusted.k", []byte(u.name), 0))
	rec("setfacl f644", unix.Setxattr(p("pub/f644"), "system.posix_acl_access", aclBytes(), 0))
	buf := make([]byte, 256)
	_, err := unix.Getxattr(p("pub/f600"), "user.k", buf)
	rec("getxattr f600", err)
	// Writing a setuid file clears its setuid bit (and setgid, group-exec).
	if fd, err := unix.Open(p("pub/suid"), unix.O_WRONLY, 0); err == nil {
		_, err = unix.Write(fd, []byte("x"))
		// What the writer sees at once, asking only for the mode (so
		// that no other invalidated attribute makes the kernel ask).
		var stx unix.Statx_t
		if serr := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_MODE, &stx); serr == nil {
			a[u.name+" suid mode after write"] = fmt.Sprintf("%o", stx.Mode)
		}
		unix.Close(fd)
		rec("write suid", err)
	} else {
		rec("write suid", err)
	}
	a[u.name+" suid after"] = ""
	// Names: unlink and rename in sticky and ordinary directories.
	rec("unlink sticky own1001", unix.Unlink(p("sticky/own1001")))
	if u.name != "u1001" { // put it back for the next user
		if _, err := os.Lstat(p("sticky/own1001")); err != nil {
			a[u.name+" restore"] = "gone"
		}
	}
	rec("rename sticky own1002", unix.Rename(p("sticky/own1002"), p("sticky/own1002-"+u.name)))
	if u.name != "u1003" && u.name != "u1001" && u.name != "u1004" {
		unix.Rename(p("sticky/own1002-"+u.name), p("sticky/own1002"))
	}
	rec("rename pub f600", unix.Rename(p("pub/f600"), p("pub/f600-"+u.name)))
	unix.Rename(p("pub/f600-"+u.name), p("pub/f600"))
	rec("rename priv inner", unix.Rename(p("priv/inner"), p("pub/inner-"+u.name)))
	unix.Rename(p("pub/inner-"+u.name), p("priv/inner"))
	rec("link f644", unix.Link(p("pub/f644"), p("pub/hard-"+u.name)))
	rec("link f600", unix.Link(p("pub/f600"), p("pub/hard600-"+u.name)))
	rec("rmdir mine dir", unix.Rmdir(p("mine/dir-u1002")))
	rec("unlink mine f", unix.Unlink(p("mine/f")))
}

// aclBytes is an access ACL (user::rw- user:1003:rw- group::r-- mask::rw-
// other::r--) in the kernel's xattr form.
func aclBytes() []byte {
	b := []byte{2, 0, 0, 0}
	entry := func(tag, perm uint16, id uint32) {
		b = append(b, byte(tag), byte(tag>>8), byte(perm), byte(perm>>8), byte(id), byte(id>>8), byte(id>>16), byte(id>>24))
	}
	entry(0x01, 6, ^uint32(0))
	entry(0x02, 6, 1003)
	entry(0x04, 4, ^uint32(0))
	entry(0x10, 6, ^uint32(0))
	entry(0x20, 4, ^uint32(0))
	return b
}

// runProbes builds the tree under root and probes it as every user, then
// describes, as root, what each probe made.
func runProbes(t *testing.T, root string) answers {
	buildTree(t, root)
	a := answers{}
	for _, u := range users {
		asUser(t, u.uid, u.gid, u.groups, func() { probe(root, u, a) })
		a[u.name+" f644 after"] = describe(filepath.Join(root, "pub/f644"))
		a[u.name+" suid after"] = describe(filepath.Join(root, "pub/suid"))
		// Put back what the next user's probes expect.
		os.WriteFile(filepath.Join(root, "sticky/own1001"), []byte("content\n"), 0o666)
		os.Chown(filepath.Join(root, "sticky/own1001"), 1001, 1001)
		os.Chmod(filepath.Join(root, "sticky/own1001"), 0o666)
		os.Chown(filepath.Join(root, "pub/f644"), 1001, 1001)
		os.Chmod(filepath.Join(root, "pub/f644"), 0o644)
		os.Chown(filepath.Join(root, "pub/suid"), 1001, 2000)
		os.Chmod(filepath.Join(root, "pub/suid"), 0o777|os.ModeSetuid|os.ModeSetgid)
		os.Chmod(filepath.Join(root, "pub/f660g"), 0o660)
		unix.Removexattr(filepath.Join(root, "pub/f644"), "system.posix_acl_access")
	}
	for k, v := range a {
		if rest, ok := strings.CutPrefix(k, "path "); ok {
			a[rest+" made"] = describe(filepath.Join(root, v))
			delete(a, k)
		}
	}
	return a
}

// groundRoot is a directory on the local file system that supports
// POSIX ACLs, as the reference.
func groundRoot(t *testing.T, base string) string {
	root := filepath.Join(base, "local")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(root, "system.posix_acl_access", aclBytes(), 0); err != nil {
		msg := fmt.Sprintf("the reference file system under %s has no POSIX ACLs: %v", base, err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	unix.Removexattr(root, "system.posix_acl_access")
	return root
}

// openTempDir is a t.TempDir() that every user may enter (the testing
// package makes it and its parent 0700).
func openTempDir(t *testing.T) string {
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return base
}

// mountAt mounts a fresh volume on dir until the test ends.
func mountAt(t *testing.T, dir string, v *vfs.FS, opts fusefs.Options) {
	t.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	srv, err := fusefs.Mount(dir, v, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			fusefs.Unmount(dir, true)
		}
		srv.Wait()
	})
}

// The same tree and the same operations, as five users, on the local file
// system, on a mount where the kernel checks and on one where cairn
// checks: every answer, and every mode, owner and ACL created, must be
// the local file system's.
func TestPermissionsMatchLocalFS(t *testing.T) {
	requireFuse(t)
	if _, err := exec.LookPath("setfacl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("setfacl is not installed (.ci/run installs acl)")
		}
		t.Skip("setfacl is not installed")
	}
	old := unix.Umask(0o022)
	defer unix.Umask(old)
	base := openTempDir(t)
	want := runProbes(t, groundRoot(t, base))
	for _, mode := range []struct {
		name string
		opts fusefs.Options
	}{
		{"kernel", fusefs.Options{AllowOther: true, AttrTimeout: time.Second}},
		{"userspace", fusefs.Options{AllowOther: true, UserspaceChecks: true}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			dir := filepath.Join(base, mode.name)
			mountAt(t, dir, newVolume(t), mode.opts)
			got := runProbes(t, dir)
			var diffs []string
			for k, w := range want {
				if g := got[k]; g != w {
					diffs = append(diffs, fmt.Sprintf("%s: local %s, cairn %s", k, w, g))
				}
			}
			for k, g := range got {
				if _, ok := want[k]; !ok {
					diffs = append(diffs, fmt.Sprintf("%s: not on local, cairn %s", k, g))
				}
			}
			slices.Sort(diffs)
			if len(diffs) > 0 {
				t.Errorf("%d of %d answers differ from the local file system:\n%s", len(diffs), len(want), strings.Join(diffs, "\n"))
			}
			if len(want) < 300 {
				t.Fatalf("only %d probes ran", len(want))
			}
		})
	}
}

// Root squash: root acts as the squash identity, so it cannot read
// another user's 0600 file, and what it creates belongs to that identity.
// All squash: every caller is U:G; files created belong to U:G, touch of
// an existing file works, and nobody (root neither) writes another's
// 0644 file. Each squashed mount shares its volume with a plain one, to
// set up and to look.
func TestSquash(t *testing.T) {
	requireFuse(t)
	base := openTempDir(t)
	v := newVolume(t)
	plain := filepath.Join(base, "plain")
	mountAt(t, plain, v, fusefs.Options{AllowOther: true, AttrTimeout: -1, EntryTimeout: -1})
	rs := filepath.Join(base, "rootsquash")
	mountAt(t, rs, v, fusefs.Options{AllowOther: true, AttrTimeout: -1, EntryTimeout: -1, Squash: posix.Squash{Root: &posix.Ident{UID: 65534, GID: 65534}}})
	as := filepath.Join(base, "allsquash")
	mountAt(t, as, v, fusefs.Options{AllowOther: true, AttrTimeout: -1, EntryTimeout: -1, Squash: posix.Squash{All: &posix.Ident{UID: 1500, GID: 1500}}})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	file := func(p string, mode os.FileMode, uid, gid int) {
		must(os.WriteFile(p, []byte("content"), mode))
		must(os.Chown(p, uid, gid))
		must(os.Chmod(p, mode))
	}
	owner := func(p string) string {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			return errName(err)
		}
		return fmt.Sprintf("%d:%d", st.Uid, st.Gid)
	}
	must(os.Mkdir(filepath.Join(plain, "d"), 0o777))
	must(os.Chmod(filepath.Join(plain, "d"), 0o777))
	file(filepath.Join(plain, "d/secret"), 0o600, 1001, 1001)
	file(filepath.Join(plain, "d/open"), 0o644, 1001, 1001)
	file(filepath.Join(plain, "d/squashed"), 0o644, 1500, 1500)

	// Root squash, as root.
	if _, err := os.ReadFile(filepath.Join(rs, "d/secret")); !errors.Is(err, syscall.EACCES) {
		t.Errorf("root squash: root reading another's 0600 file: %v", err)
	}
	if _, err := os.ReadFile(filepath.Join(rs, "d/open")); err != nil {
		t.Errorf("root squash: root reading a 0644 file: %v", err)
	}
	must(os.WriteFile(filepath.Join(rs, "d/byroot"), nil, 0o644))
	if o := owner(filepath.Join(plain, "d/byroot")); o != "65534:65534" {
		t.Errorf("root squash: a file root made belongs to %s", o)
	}
	if err := os.Chown(filepath.Join(rs, "d/open"), 0, 0); !errors.Is(err, syscall.EPERM) {
		t.Errorf("root squash: root chown: %v", err)
	}
	asUser(t, 1001, 1001, nil, func() {
		if _, err := os.ReadFile(filepath.Join(rs, "d/secret")); err != nil {
			t.Errorf("root squash: the owner reading its 0600 file: %v", err)
		}
	})

	// All squash, as three callers.
	for _, u := range []user{users[0], users[1], users[4]} {
		asUser(t, u.uid, u.gid, u.groups, func() {
			name := filepath.Join(as, "d/by-"+u.name)
			if err := os.WriteFile(name, []byte("x"), 0o644); err != nil {
				t.Errorf("all squash: %s creating: %v", u.name, err)
			}
			fd, err := unix.Open(filepath.Join(as, "d/squashed"), unix.O_WRONLY|unix.O_CREAT, 0o644)
			if err == nil {
				unix.Close(fd)
				err = unix.UtimesNano(filepath.Join(as, "d/squashed"), nil)
			}
			if err != nil {
				t.Errorf("all squash: %s touching an existing file: %v", u.name, err)
			}
			if err := unix.UtimesNano(filepath.Join(as, "d/open"), nil); !errors.Is(err, syscall.EACCES) {
				t.Errorf("all squash: %s touching another's 0644 file: %v", u.name, err)
			}
			if _, err := os.ReadFile(filepath.Join(as, "d/secret")); !errors.Is(err, syscall.EACCES) {
				t.Errorf("all squash: %s reading another's 0600 file: %v", u.name, err)
			}
		})
		if o := owner(filepath.Join(plain, "d/by-"+u.name)); o != "1500:1500" {
			t.Errorf("all squash: a file %s made belongs to %s", u.name, o)
		}
	}
}
