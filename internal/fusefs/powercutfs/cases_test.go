//go:build linux

package powercutfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// fsCase is one scenario on a fresh mount: lower starts with files (path →
// contents; a path ending in "/" is a directory), ops run on the mount,
// then a cut (or, with unmount, a clean unmount), then check looks at
// lower.
type fsCase struct {
	name    string
	files   map[string]string
	ops     func(t *testing.T, mnt string)
	unmount bool
	check   func(t *testing.T, lower string)
}

func runCases(t *testing.T, cases []fsCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lower := newLower(t, tc.files)
			f, mnt := mountT(t, lower)
			tc.ops(t, mnt)
			if tc.unmount {
				mustNil(t, f.Unmount())
			} else {
				cut(t, f)
			}
			tc.check(t, lower)
		})
	}
}

// contentCases: contents, length and attributes of files.
var contentCases = []fsCase{
	{
		name:  "unsynced write is lost",
		files: map[string]string{"a": "old"},
		ops: func(t *testing.T, mnt string) {
			replace(t, filepath.Join(mnt, "a"), "new contents", false)
			wantFile(t, filepath.Join(mnt, "a"), "new contents")
		},
		check: func(t *testing.T, lower string) {
			wantFile(t, filepath.Join(lower, "a"), "old")
		},
	},
	{
		name:  "synced write is kept",
		files: map[string]string{"a": "old"},
		ops: func(t *testing.T, mnt string) {
			replace(t, filepath.Join(mnt, "a"), "new contents", true)
		},
		check: func(t *testing.T, lower string) {
			wantFile(t, filepath.Join(lower, "a"), "new contents")
		},
	},
	{
		name:  "synced overwrite kept, later write lost",
		files: map[string]string{"a": strings.Repeat("a", 8192)},
		ops: func(t *testing.T, mnt string) {
			p := filepath.Join(mnt, "a")
			writeAt(t, p, 100, strings.Repeat("b", 100), true)
			writeAt(t, p, 300, strings.Repeat("c", 100), false)
			writeAt(t, p, 8192, "appended", false)
		},
		check: func(t *testing.T, lower string) {
			want := strings.Repeat("a", 100) + strings.Repeat("b", 100) + strings.Repeat("a", 7992)
			wantFile(t, filepath.Join(lower, "a"), want)
		},
	},
	{
		name:  "truncate and extend without fsync revert",
		files: map[string]string{"short": "hello world", "long": "hello world"},
		ops: func(t *testing.T, mnt string) {
			mustNil(t, os.Truncate(filepath.Join(mnt, "short"), 3))
			mustNil(t, os.Truncate(filepath.Join(mnt, "long"), 100000))
		},
		check: func(t *testing.T, lower string) {
			wantFile(t, filepath.Join(lower, "short"), "hello world")
			wantFile(t, filepath.Join(lower, "long"), "hello world")
		},
	},
	{
		name:  "synced truncate kept, later extension lost",
		files: map[string]string{"a": "hello world"},
		ops: func(t *testing.T, mnt string) {
			p := filepath.Join(mnt, "a")
			fh, err := os.OpenFile(p, os.O_RDWR, 0)
			mustNil(t, err)
			mustNil(t, fh.Truncate(3))
			mustNil(t, unix.Fdatasync(int(fh.Fd())))
			mustNil(t, fh.Truncate(10))
			_, err = fh.WriteAt([]byte("XY"), 20)
			mustNil(t, err)
			fh.Close()
		},
		check: func(t *testing.T, lower string) {
			wantFile(t, filepath.Join(lower, "a"), "hel")
		},
	},
	{
		name:  "truncate to zero then rewrite, synced",
		files: map[string]string{"a": "0123456789"},
		ops: func(t *testing.T, mnt string) {
			p := filepath.Join(mnt, "a")
			mustNil(t, os.Truncate(p, 0))
			writeAt(t, p, 6, "zz", true) // bytes 0..5 must come back as zeros
		},
		check: func(t *testing.T, lower string) {
			wantFile(t, filepath.Join(lower, "a"), "\x00\x00\x00\x00\x00\x00zz")
		},
	},
	{
		name:  "O_SYNC writes are durable without fsync",
		files: map[string]string{"a": "old"},
		ops: func(t *testing.T, mnt string) {
			fh, err := os.OpenFile(filepath.Join(mnt, "a"), os.O_WRONLY|os.O_TRUNC|os.O_SYNC, 0)
			mustNil(t, err)
			_, err = fh.Write([]byte("synchronous"))
			mustNil(t, err)
			fh.Close()
		},
		check: func(t *testing.T, lower string) {
			wantFile(t, filepath.Join(lower, "a"), "synchronous")
		},
	},
	{
		name:  "attributes follow fsync",
		files: map[string]string{"synced": "x", "unsynced": "x"},
		ops: func(t *testing.T, mnt string) {
			mustNil(t, os.Chmod(filepath.Join(mnt, "synced"), 0o600))
			fsyncPath(t, filepath.Join(mnt, "synced"))
			mustNil(t, os.Chmod(filepath.Join(mnt, "unsynced"), 0o600))
		},
		check: func(t *testing.T, lower string) {
			for name, want := range map[string]os.FileMode{"synced": 0o600, "unsynced": 0o644} {
				fi, err := os.Stat(filepath.Join(lower, name))
				mustNil(t, err)
				if fi.Mode().Perm() != want {
					t.Errorf("%s: mode %v, want %v", name, fi.Mode().Perm(), want)
				}
			}
		},
	},
	{
		name:  "fallocate",
		files: map[string]string{"a": strings.Repeat("a", 8192)},
		ops: func(t *testing.T, mnt string) {
			fh, err := os.OpenFile(filepath.Join(mnt, "a"), os.O_RDWR, 0)
			mustNil(t, err)
			defer fh.Close()
			err = unix.Fallocate(int(fh.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 0, 4096)
			if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
				t.Skipf("fallocate: %v", err)
			}
			mustNil(t, err)
			mustNil(t, fh.Sync())
			mustNil(t, unix.Fallocate(int(fh.Fd()), 0, 8192, 4096)) // extends, not synced
			mustNil(t, unix.Fallocate(int(fh.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 4096, 100))
		},
		check: func(t *testing.T, lower string) {
			wantFile(t, filepath.Join(lower, "a"), strings.Repeat("\x00", 4096)+strings.Repeat("a", 4096))
		},
	},
	{
		name:  "unmount keeps everything",
		files: map[string]string{"a": "old"},
		ops: func(t *testing.T, mnt string) {
			replace(t, filepath.Join(mnt, "a"), "new", false)
			writeAt(t, filepath.Join(mnt, "b"), 0, "created", false)
		},
		unmount: true,
		check: func(t *testing.T, lower string) {
			wantFile(t, filepath.Join(lower, "a"), "new")
			wantFile(t, filepath.Join(lower, "b"), "created")
		},
	},
}

// entryCases: directory entries.
var entryCases = []fsCase{
	{
		name:  "created and synced file without dir fsync is gone",
		files: nil,
		ops: func(t *testing.T, mnt string) {
			writeAt(t, filepath.Join(mnt, "new"), 0, "data", true)
		},
		check: func(t *testing.T, lower string) {
			wantAbsent(t, filepath.Join(lower, "new"))
		},
	},
	{
		name:  "created file with dir fsync but no file fsync is empty",
		files: nil,
		ops: func(t *testing.T, mnt string) {
			writeAt(t, filepath.Join(mnt, "new"), 0, "data", false)
			fsyncPath(t, mnt)
		},
		check: func(t *testing.T, lower string) {
			wantFile(t, filepath.Join(lower, "new"), "")
		},
	},
	{
		name:  "rename tmp to final with fsyncs",
		files: map[string]string{"d/": ""},
		ops: func(t *testing.T, mnt string) {
			tmp, final := filepath.Join(mnt, "d", "tmp"), filepath.Join(mnt, "d", "final")
			writeAt(t, tmp, 0, "block", true)
			mustNil(t, os.Rename(tmp, final))
			fsyncPath(t, filepath.Join(mnt, "d"))
		},
		check: func(t *testing.T, lower string) {
			wantFile(t, filepath.Join(lower, "d", "final"), "block")
			wantAbsent(t, filepath.Join(lower, "d", "tmp"))
		},
	},
	{
		name:  "rename without dir fsync reverts to old name",
		files: map[string]string{"x": "v1"},
		ops: func(t *testing.T, mnt string) {
			replace(t, filepath.Join(mnt, "x"), "v2", true)
			mustNil(t, os.Rename(filepath.Join(mnt, "x"), filepath.Join(mnt, "y")))
		},
		check: func(t *testing.T, lower string) {
			wantFile(t, filepath.Join(lower, "x"), "v2")
			wantAbsent(t, filepath.Join(lower, "y"))
		},
	},
	{
		name:  "rename over a file without dir fsync brings the target back",
		files: map[string]string{"src": "s", "dst": "d"},
		ops: func(t *testing.T, mnt string) {
			mustNil(t, os.Rename(filepath.Join(mnt, "src"), filepath.Join(mnt, "dst")))
			wantFile(t, filepath.Join(mnt, "dst"), "s")
		},
		check: func(t *testing.T, lower string) {
			wantFile(t, filepath.Join(lower, "src"), "s")
			wantFile(t, filepath.Join(lower, "dst"), "d")
		},
	},
	{
		name:  "unlink without dir fsync brings the file back",
		files: map[string]string{"synced": "v1", "untouched": "original"},
		ops: func(t *testing.T, mnt string) {
			replace(t, filepath.Join(mnt, "synced"), "v2", true)
			mustNil(t, os.Remove(filepath.Join(mnt, "synced")))
			mustNil(t, os.Remove(filepath.Join(mnt, "untouched")))
		},
		check: func(t *testing.T, lower string) {
			wantFile(t, filepath.Join(lower, "synced"), "v2")
			wantFile(t, filepath.Join(lower, "untouched"), "original")
		},
	},
	{
		name:  "unlink with dir fsync is durable",
		files: map[string]string{"a": "x"},
		ops: func(t *testing.T, mnt string) {
			mustNil(t, os.Remove(filepath.Join(mnt, "a")))
			fsyncPath(t, mnt)
		},
		check: func(t *testing.T, lower string) {
			wantAbsent(t, filepath.Join(lower, "a"))
		},
	},
	{
		name:  "hard links",
		files: map[string]string{"a": "shared", "d/": ""},
		ops: func(t *testing.T, mnt string) {
			mustNil(t, os.Link(filepath.Join(mnt, "a"), filepath.Join(mnt, "b")))
			mustNil(t, os.Link(filepath.Join(mnt, "a"), filepath.Join(mnt, "d", "c")))
			fsyncPath(t, mnt) // b durable, d/c not
			fa, err := os.Stat(filepath.Join(mnt, "a"))
			mustNil(t, err)
			fb, err := os.Stat(filepath.Join(mnt, "b"))
			mustNil(t, err)
			if !os.SameFile(fa, fb) {
				t.Fatal("a and b are not one inode on the mount")
			}
		},
		check: func(t *testing.T, lower string) {
			la, err := os.Stat(filepath.Join(lower, "a"))
			mustNil(t, err)
			lb, err := os.Stat(filepath.Join(lower, "b"))
			mustNil(t, err)
			if !os.SameFile(la, lb) {
				t.Fatal("a and b are not one inode after the cut")
			}
			wantFile(t, filepath.Join(lower, "b"), "shared")
			wantAbsent(t, filepath.Join(lower, "d", "c"))
		},
	},
	{
		name:  "hard link survives unlink of the original",
		files: nil,
		ops: func(t *testing.T, mnt string) {
			writeAt(t, filepath.Join(mnt, "a"), 0, "data", true)
			mustNil(t, os.Link(filepath.Join(mnt, "a"), filepath.Join(mnt, "b")))
			mustNil(t, os.Remove(filepath.Join(mnt, "a")))
			fsyncPath(t, mnt)
		},
		check: func(t *testing.T, lower string) {
			wantAbsent(t, filepath.Join(lower, "a"))
			wantFile(t, filepath.Join(lower, "b"), "data")
		},
	},
	{
		name:  "nested mkdir with fsync at each level",
		files: nil,
		ops: func(t *testing.T, mnt string) {
			mustNil(t, os.MkdirAll(filepath.Join(mnt, "a", "b", "c"), 0o755))
			writeAt(t, filepath.Join(mnt, "a", "b", "c", "f"), 0, "deep", true)
			for _, d := range []string{"a/b/c", "a/b", "a", ""} {
				fsyncPath(t, filepath.Join(mnt, d))
			}
		},
		check: func(t *testing.T, lower string) {
			wantFile(t, filepath.Join(lower, "a", "b", "c", "f"), "deep")
		},
	},
	{
		name:  "nested mkdir missing the middle fsync",
		files: nil,
		ops: func(t *testing.T, mnt string) {
			mustNil(t, os.MkdirAll(filepath.Join(mnt, "a", "b", "c"), 0o755))
			writeAt(t, filepath.Join(mnt, "a", "b", "c", "f"), 0, "deep", true)
			for _, d := range []string{"a/b/c", "a", ""} { // not a/b
				fsyncPath(t, filepath.Join(mnt, d))
			}
		},
		check: func(t *testing.T, lower string) {
			ents, err := os.ReadDir(filepath.Join(lower, "a", "b"))
			mustNil(t, err)
			if len(ents) != 0 {
				t.Fatalf("a/b has %d entries, want none", len(ents))
			}
		},
	},
	{
		name:  "directory without durable entry vanishes with its subtree",
		files: nil,
		ops: func(t *testing.T, mnt string) {
			mustNil(t, os.MkdirAll(filepath.Join(mnt, "a", "b"), 0o755))
			writeAt(t, filepath.Join(mnt, "a", "b", "f"), 0, "x", true)
			fsyncPath(t, filepath.Join(mnt, "a", "b"))
			fsyncPath(t, filepath.Join(mnt, "a"))
		},
		check: func(t *testing.T, lower string) {
			wantAbsent(t, filepath.Join(lower, "a"))
		},
	},
	{
		name:  "rename exchange and noreplace",
		files: map[string]string{"p": "P", "q": "Q", "d/": ""},
		ops: func(t *testing.T, mnt string) {
			err := unix.Renameat2(unix.AT_FDCWD, filepath.Join(mnt, "p"), unix.AT_FDCWD, filepath.Join(mnt, "q"), unix.RENAME_EXCHANGE)
			if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSYS) {
				t.Skipf("RENAME_EXCHANGE not passed through: %v", err)
			}
			mustNil(t, err)
			wantFile(t, filepath.Join(mnt, "p"), "Q")
			err = unix.Renameat2(unix.AT_FDCWD, filepath.Join(mnt, "p"), unix.AT_FDCWD, filepath.Join(mnt, "q"), unix.RENAME_NOREPLACE)
			if !errors.Is(err, syscall.EEXIST) {
				t.Fatalf("RENAME_NOREPLACE onto an existing name: %v, want EEXIST", err)
			}
			fsyncPath(t, mnt)
		},
		check: func(t *testing.T, lower string) {
			wantFile(t, filepath.Join(lower, "p"), "Q")
			wantFile(t, filepath.Join(lower, "q"), "P")
		},
	},
	{
		name:  "symlink",
		files: nil,
		ops: func(t *testing.T, mnt string) {
			mustNil(t, os.Symlink("target", filepath.Join(mnt, "kept")))
			fsyncPath(t, mnt)
			mustNil(t, os.Symlink("target", filepath.Join(mnt, "lost")))
		},
		check: func(t *testing.T, lower string) {
			got, err := os.Readlink(filepath.Join(lower, "kept"))
			mustNil(t, err)
			if got != "target" {
				t.Fatalf("link target %q", got)
			}
			wantAbsent(t, filepath.Join(lower, "lost"))
		},
	},
}
