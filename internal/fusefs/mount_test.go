package fusefs_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"cairn/internal/chunk"
	"cairn/internal/fusefs"
	"cairn/internal/meta"
	"cairn/internal/meta/kv/sqlkv"
	"cairn/internal/object"
	"cairn/internal/object/file"
	"cairn/internal/vfs"
)

var ctx = context.Background()

// requireFuse skips a test that needs FUSE outside CI and fails it in CI
// (where .ci/run installs fuse3), so the mount tests never pass unrun.
func requireFuse(t *testing.T) {
	t.Helper()
	_, err := os.Stat("/dev/fuse")
	if err == nil {
		_, err = exec.LookPath("fusermount3")
	}
	if err == nil && os.Geteuid() != 0 {
		err = os.ErrPermission
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("FUSE tests need /dev/fuse, fusermount3 and root: %v", err)
		}
		t.Skipf("no FUSE here: %v", err)
	}
}

// newVolume formats a fresh volume on SQLite and a local folder.
func newVolume(t *testing.T) *vfs.FS {
	t.Helper()
	v, _ := newVolumeDir(t)
	return v
}

// newVolumeDir is newVolume that also returns the volume's directory.
func newVolumeDir(t *testing.T) (*vfs.FS, string) {
	t.Helper()
	dir := t.TempDir()
	return newVolumeAt(t, dir), dir
}

// newVolumeAt formats a fresh volume in dir.
func newVolumeAt(t *testing.T, dir string) *vfs.FS {
	t.Helper()
	store, err := sqlkv.Open(ctx, "sqlite3://"+filepath.Join(dir, "meta.db"), sqlkv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := meta.FormatVolume(ctx, store, meta.Format{Name: "t", Storage: "file", BlockSize: 1 << 20, EnableACL: true}); err != nil {
		t.Fatal(err)
	}
	store.Close()
	return openVolume(t, dir)
}

// openVolume opens the volume newVolume made in dir, as one more client.
func openVolume(t *testing.T, dir string) *vfs.FS {
	t.Helper()
	return openVolumeWith(t, dir, nil, chunk.Options{BlockSize: 1 << 20})
}

// openVolumeWith is openVolume with the object store wrapped by wrap (nil:
// as it is) and the given chunk options.
func openVolumeWith(t *testing.T, dir string, wrap func(object.Store) object.Store, co chunk.Options) *vfs.FS {
	t.Helper()
	store, err := sqlkv.Open(ctx, "sqlite3://"+filepath.Join(dir, "meta.db"), sqlkv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := meta.Open(ctx, store, meta.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.NewSession(ctx, meta.SessionInfo{Process: "fusefs test"}); err != nil {
		t.Fatal(err)
	}
	obj, err := file.New(filepath.Join(dir, "data"), file.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	var st object.Store = obj
	if wrap != nil {
		st = wrap(obj)
	}
	c := chunk.New(st, co)
	v := vfs.New(m, c, vfs.Options{})
	t.Cleanup(func() {
		v.Close()
		c.Close()
		m.CloseSession(ctx)
		m.Close()
		store.Close()
	})
	return v
}

// mount mounts v on a fresh directory until the test ends.
func mount(t *testing.T, v *vfs.FS, opts fusefs.Options) string {
	t.Helper()
	requireFuse(t)
	mnt := t.TempDir()
	srv, err := fusefs.Mount(mnt, v, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
			exec.Command("fusermount3", "-uz", mnt).Run()
		}
		srv.Wait()
	})
	return mnt
}

// asUser runs fn on an OS thread whose file system identity is uid/gid
// with the supplementary groups given: setfsuid drops the capabilities
// that bypass permission checks, so the kernel (and, through the FUSE
// request and /proc, the mount) sees an ordinary user. The thread is
// never given back to the Go scheduler, so no other code runs as that
// user.
func asUser(t *testing.T, uid, gid uint32, groups []uint32, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		gs := groups
		if len(gs) == 0 {
			gs = []uint32{gid}
		}
		if _, _, e := syscall.RawSyscall(syscall.SYS_SETGROUPS, uintptr(len(gs)), uintptr(unsafe.Pointer(&gs[0])), 0); e != 0 {
			t.Errorf("setgroups: %v", e)
			return
		}
		syscall.RawSyscall(syscall.SYS_SETFSGID, uintptr(gid), 0, 0)
		syscall.RawSyscall(syscall.SYS_SETFSUID, uintptr(uid), 0, 0)
		if uid != 0 {
			// setfsuid drops only the file system capabilities; an
			// ordinary user has none (CAP_SYS_ADMIN allows trusted.*).
			hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
			var data [2]unix.CapUserData
			if err := unix.Capset(&hdr, &data[0]); err != nil {
				t.Errorf("capset: %v", err)
				return
			}
		}
		fn()
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("asUser: timed out")
	}
}

func TestMountSmoke(t *testing.T) {
	mnt := mount(t, newVolume(t), fusefs.Options{})
	p := filepath.Join(mnt, "hello")
	if err := os.WriteFile(p, []byte("hello, world\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "hello, world\n" {
		t.Fatalf("read back %q, %v", b, err)
	}
	ents, err := os.ReadDir(mnt)
	if err != nil || len(ents) != 1 || ents[0].Name() != "hello" {
		t.Fatalf("readdir: %v %v", ents, err)
	}
}

// readAheadKB is the kernel's read-ahead window of the mount at mnt.
func readAheadKB(t *testing.T, mnt string) int {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(mnt, &st); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev)))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMountReadAhead(t *testing.T) {
	small := mount(t, newVolume(t), fusefs.Options{MaxReadAhead: 64 << 10})
	if got := readAheadKB(t, small); got != 64 {
		t.Errorf("MaxReadAhead 64K: read_ahead_kb %d, want 64", got)
	}
	if os.Geteuid() != 0 {
		t.Log("not root: a window over the kernel's is not tried")
		return
	}
	def := mount(t, newVolume(t), fusefs.Options{})
	if got := readAheadKB(t, def); got != 4096 {
		t.Errorf("default: read_ahead_kb %d, want 4096", got)
	}
	big := mount(t, newVolume(t), fusefs.Options{MaxReadAhead: 16 << 20})
	if got := readAheadKB(t, big); got != 16384 {
		t.Errorf("MaxReadAhead 16M: read_ahead_kb %d, want 16384", got)
	}
}
