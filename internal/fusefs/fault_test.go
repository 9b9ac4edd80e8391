package fusefs_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"cairn/internal/fusefs"
	"cairn/internal/vfs"
)

// A full disk under the volume (metadata and blocks on a small ext4 on a
// loop device) is ENOSPC to the writer, never EIO or a hang; what was
// written before is intact, and the volume checks clean.
func TestFullDisk(t *testing.T) {
	requireFuse(t)
	for _, tool := range []string{"mkfs.ext4", "losetup"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is missing", tool)
			}
			t.Skipf("%s is missing", tool)
		}
	}
	base := t.TempDir()
	img, disk := filepath.Join(base, "disk.img"), filepath.Join(base, "disk")
	if err := os.Mkdir(disk, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]string{{"truncate", "-s", "40M", img}, {"mkfs.ext4", "-q", "-F", img}, {"mount", "-o", "loop", img, disk}} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	t.Cleanup(func() { exec.Command("umount", "-l", disk).Run() })
	v := newVolumeAt(t, disk)
	mnt := mount(t, v, fusefs.Options{})

	kept := bytes.Repeat([]byte("kept "), 200<<10/5)
	if err := os.WriteFile(filepath.Join(mnt, "kept"), kept, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(mnt, "big"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte{0xa5}, 1<<20)
	var werr error
	for i := 0; i < 200 && werr == nil; i++ {
		_, werr = f.Write(chunk)
	}
	if werr == nil {
		werr = f.Sync()
	}
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if !errors.Is(werr, syscall.ENOSPC) {
		t.Fatalf("writing 200 MiB to a 40 MiB disk: %v, want ENOSPC", werr)
	}
	if b, err := os.ReadFile(filepath.Join(mnt, "kept")); err != nil || !bytes.Equal(b, kept) {
		t.Fatalf("the file written before the disk filled: %d bytes, %v", len(b), err)
	}
	if err := os.Remove(filepath.Join(mnt, "big")); err != nil {
		t.Fatalf("removing the big file on a full disk: %v", err)
	}
	rep, err := v.Fsck(ctx, vfs.FsckOptions{})
	if err != nil || !rep.Consistent() || rep.Missing+rep.Corrupt > 0 {
		t.Fatalf("fsck after a full disk: %+v %v", rep, err)
	}
}
