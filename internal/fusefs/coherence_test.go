package fusefs_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"cairn/internal/fusefs"
	"cairn/internal/meta"
)

// Two mounts of one volume, by two clients, with attributes cached for
// a minute: what one writes and closes, the other reads whole at its
// next open (close-to-open), not cut at the size it had cached.
func TestCloseToOpen(t *testing.T) {
	requireFuse(t)
	v1, dir := newVolumeDir(t)
	v2 := openVolume(t, dir)
	opts := fusefs.Options{AttrTimeout: time.Minute, EntryTimeout: time.Minute}
	a, b := mount(t, v1, opts), mount(t, v2, opts)
	pa, pb := filepath.Join(a, "f"), filepath.Join(b, "f")
	if err := os.WriteFile(pa, []byte("short"), 0o644); err != nil {
		t.Fatal(err)
	}
	for round, content := range []string{"a longer content", "tiny", "the last and longest content of all"} {
		// b caches the attributes (a stat needs no open) ...
		if _, err := os.Stat(pb); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pa, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		// ... and its next open must not go by them.
		got, err := os.ReadFile(pb)
		if err != nil || string(got) != content {
			t.Fatalf("round %d: b read %q after a wrote %q: %v", round, got, content, err)
		}
		if fi, err := os.Stat(pb); err != nil || fi.Size() != int64(len(content)) {
			t.Fatalf("round %d: b's stat after the open: %v %v", round, fi.Size(), err)
		}
	}
}

// A file written on a mount, in many writes, is one write record in the
// change feed, made at close by the mount's session.
func TestMountWriteIsOneFeedRecord(t *testing.T) {
	v := newVolume(t)
	mnt := mount(t, v, fusefs.Options{})
	head, err := v.Meta().FeedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(mnt, "log.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if _, err := f.Write([]byte{byte('a' + i%26)}); err != nil {
			t.Fatal(err)
		}
	}
	recs, _ := v.Meta().ReadFeed(ctx, head, 1000)
	for _, r := range recs {
		if r.Op == meta.OpWrite {
			t.Fatalf("a write record before close: %+v", r)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	var writes []meta.Record
	for len(writes) == 0 && time.Now().Before(deadline) {
		recs, err = v.Meta().ReadFeed(ctx, head, 1000)
		if err != nil {
			t.Fatal(err)
		}
		writes = writes[:0]
		for _, r := range recs {
			if r.Op == meta.OpWrite {
				writes = append(writes, r)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(writes) != 1 || writes[0].Length != 50 || writes[0].Origin.Agent != "fuse" || writes[0].Origin.Session != v.Meta().SessionID() {
		t.Fatalf("write records after close: %+v", writes)
	}
}

// flock and fcntl locks hold between two mounts of one volume (two
// clients): the metadata engine keeps them.
func TestLocksAcrossMounts(t *testing.T) {
	requireFuse(t)
	v1, dir := newVolumeDir(t)
	v2 := openVolume(t, dir)
	a, b := mount(t, v1, fusefs.Options{}), mount(t, v2, fusefs.Options{})
	if err := os.WriteFile(filepath.Join(a, "lock"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	fa, err := os.OpenFile(filepath.Join(a, "lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := os.OpenFile(filepath.Join(b, "lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()

	if err := unix.Flock(int(fa.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(fb.Fd()), unix.LOCK_EX|unix.LOCK_NB); !errors.Is(err, unix.EWOULDBLOCK) {
		t.Fatalf("flock on the second mount while the first holds it: %v", err)
	}
	unix.Flock(int(fa.Fd()), unix.LOCK_UN)
	if err := unix.Flock(int(fb.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatalf("flock after the first mount let go: %v", err)
	}
	unix.Flock(int(fb.Fd()), unix.LOCK_UN)

	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 10}
	if err := unix.FcntlFlock(fa.Fd(), unix.F_SETLK, &lk); err != nil {
		t.Fatal(err)
	}
	other := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 5, Len: 10}
	if err := unix.FcntlFlock(fb.Fd(), unix.F_SETLK, &other); !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EACCES) {
		t.Fatalf("an overlapping fcntl lock on the second mount: %v", err)
	}
	probe := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 1}
	if err := unix.FcntlFlock(fb.Fd(), unix.F_GETLK, &probe); err != nil || probe.Type != unix.F_WRLCK || probe.Start != 0 || probe.Len != 10 {
		t.Fatalf("F_GETLK on the second mount: %+v %v", probe, err)
	}
	free := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 10, Len: 5}
	if err := unix.FcntlFlock(fb.Fd(), unix.F_SETLK, &free); err != nil {
		t.Fatalf("a lock beyond the first mount's range: %v", err)
	}
	fa.Close() // close drops the process's fcntl locks
	if err := unix.FcntlFlock(fb.Fd(), unix.F_SETLK, &other); err != nil {
		t.Fatalf("after the first mount's file closed: %v", err)
	}
}

// Two mounts of one volume with attributes and names cached for an hour:
// what one changes, the other shows within a second or two all the same,
// because each follows the other's changes in the change feed and tells
// its kernel to drop what they made stale.
func TestFollowOtherClients(t *testing.T) {
	requireFuse(t)
	v1, dir := newVolumeDir(t)
	v2 := openVolume(t, dir)
	opts := fusefs.Options{AttrTimeout: time.Hour, EntryTimeout: time.Hour, NegativeTimeout: time.Hour}
	a, b := mount(t, v1, opts), mount(t, v2, opts)
	pa, pb := filepath.Join(a, "f"), filepath.Join(b, "f")
	if err := os.WriteFile(pa, []byte("first"), 0o644); err != nil {
		t.Fatal(err)
	}
	// eventually waits for cond on b's side.
	eventually := func(what string, cond func() (bool, string)) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for {
			ok, got := cond()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: b still shows %s", what, got)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	stat := func(p string) (os.FileInfo, error) { return os.Lstat(p) }
	if _, err := stat(pb); err != nil { // b caches f's name and attributes
		t.Fatal(err)
	}
	if _, err := stat(filepath.Join(b, "g")); !errors.Is(err, os.ErrNotExist) { // and g's absence
		t.Fatal(err)
	}
	if err := os.Chmod(pa, 0o600); err != nil {
		t.Fatal(err)
	}
	eventually("a chmod", func() (bool, string) {
		fi, err := stat(pb)
		return err == nil && fi.Mode().Perm() == 0o600, fmt.Sprint(fi.Mode(), err)
	})
	if err := os.WriteFile(pa, []byte("a longer second content"), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually("a write", func() (bool, string) {
		fi, err := stat(pb)
		return err == nil && fi.Size() == 23, fmt.Sprint(fi.Size(), err)
	})
	// b's kernel caches the file's ACL (none) ...
	buf := make([]byte, 256)
	if _, err := unix.Getxattr(pb, "system.posix_acl_access", buf); !errors.Is(err, unix.ENODATA) {
		t.Fatalf("ACL before setfacl: %v", err)
	}
	if err := unix.Setxattr(pa, "system.posix_acl_access", aclBytes(), 0); err != nil {
		t.Fatal(err)
	}
	eventually("a setfacl", func() (bool, string) {
		n, err := unix.Getxattr(pb, "system.posix_acl_access", buf)
		return err == nil && string(buf[:n]) == string(aclBytes()), fmt.Sprint(n, err)
	})
	if err := os.Rename(pa, filepath.Join(a, "g")); err != nil {
		t.Fatal(err)
	}
	eventually("a rename", func() (bool, string) {
		_, errF := stat(pb)
		fi, errG := stat(filepath.Join(b, "g"))
		return errors.Is(errF, os.ErrNotExist) && errG == nil && fi.Size() == 23, fmt.Sprint(errF, errG)
	})
	if err := os.Mkdir(filepath.Join(a, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(a, "g")); err != nil {
		t.Fatal(err)
	}
	eventually("an unlink", func() (bool, string) {
		_, err := stat(filepath.Join(b, "g"))
		return errors.Is(err, os.ErrNotExist), fmt.Sprint(err)
	})
	// b's own changes need no notice, and a's mount follows b's.
	if err := os.WriteFile(filepath.Join(b, "d", "h"), []byte("from b"), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually("b's create, on a", func() (bool, string) {
		got, err := os.ReadFile(filepath.Join(a, "d", "h"))
		return err == nil && string(got) == "from b", fmt.Sprint(string(got), err)
	})
}
