package meta

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"syscall"
	"testing"

	"cairn/internal/meta/kv"
	"cairn/internal/meta/kv/memkv"
	"cairn/internal/posix"
)

// Random links, renames, exchanges, replacements (kept and dropped) and
// unlinks among a few directories: after each step, every file's
// recorded paths (InodePaths) are exactly the entries that name it, and
// Check finds nothing to mend.
func TestLinkPathsFollowRandomChanges(t *testing.T) {
	ctx := context.Background()
	m := memVolume(t)
	root := posix.Root
	var dirs []posix.Ino
	for _, n := range []string{"a", "b", "c", "keep"} {
		e, err := m.Create(ctx, root, posix.RootIno, n, CreateRequest{Type: posix.TypeDir, Mode: 0o755, Exclusive: true})
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, e.Ino)
	}
	keepDir := dirs[3]
	dirs = append(dirs[:3], posix.RootIno)
	names := []string{"x", "y", "z", "w"}
	rng := rand.New(rand.NewPCG(1, uint64(len(names))))
	pick := func() (posix.Ino, string) { return dirs[rng.IntN(len(dirs))], names[rng.IntN(len(names))] }
	kept := 0
	keep := &Keep{Dir: keepDir, Name: func(posix.Attr, []byte) string {
		if rng.IntN(2) == 0 {
			return ""
		}
		kept++
		return "v" + strconv.Itoa(kept)
	}}
	for step := range 3000 {
		d1, n1 := pick()
		d2, n2 := pick()
		var err error
		var what string
		switch op := rng.IntN(8); op {
		case 0:
			what = "create"
			_, err = m.Create(ctx, root, d1, n1, CreateRequest{Type: posix.TypeFile, Mode: 0o644, Exclusive: true})
		case 1, 2:
			what = "link"
			var ino posix.Ino
			if ino, err = entryIno(ctx, m, d1, n1); err == nil {
				_, err = m.Link(ctx, root, ino, d2, n2)
			}
		case 3:
			what = "unlink"
			err = m.Unlink(ctx, root, d1, n1)
		case 4:
			what = "rename"
			err = m.Rename(ctx, root, d1, n1, d2, n2, 0)
		case 5:
			what = "exchange"
			err = m.Rename(ctx, root, d1, n1, d2, n2, RenameExchange)
		case 6:
			what = "rename keeping"
			err = m.RenameKeep(ctx, root, d1, n1, d2, n2, 0, keep)
		case 7:
			what = "put"
			_, err = m.PutFile(ctx, root, d1, n1, PutFileRequest{Mode: 0o644, Keep: keep})
		}
		if err != nil && !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.EEXIST) && !errors.Is(err, syscall.EISDIR) {
			t.Fatalf("step %d %s %d/%s %d/%s: %v", step, what, d1, n1, d2, n2, err)
		}
		if step%25 != 0 && step != 2999 {
			continue
		}
		if err := checkPaths(ctx, m); err != nil {
			t.Fatalf("after step %d (%s %d/%s %d/%s): %v", step, what, d1, n1, d2, n2, err)
		}
	}
}

// memVolume is a fresh volume on the in-memory store.
func memVolume(t *testing.T) *FS {
	t.Helper()
	ctx := context.Background()
	store := memkv.New()
	if _, err := FormatVolume(ctx, store, Format{Name: "p", Storage: "mem"}); err != nil {
		t.Fatal(err)
	}
	m, err := Open(ctx, store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func entryIno(ctx context.Context, m *FS, dir posix.Ino, name string) (posix.Ino, error) {
	var ino posix.Ino
	err := m.store.View(ctx, func(tx kv.Tx) error {
		b, err := tx.Get(dentryKey(dir, name))
		if errors.Is(err, kv.ErrNotFound) {
			return syscall.ENOENT
		}
		if err != nil {
			return err
		}
		typ, child, err := decodeDentry(b)
		if err == nil && typ == posix.TypeDir {
			return syscall.EISDIR
		}
		ino = child
		return err
	})
	return ino, err
}

// checkPaths compares every file's InodePaths with the entries naming it
// and runs Check.
func checkPaths(ctx context.Context, m *FS) error {
	want := map[posix.Ino][]string{}
	err := m.store.View(ctx, func(tx kv.Tx) error {
		var scanErr error
		err := tx.Scan([]byte{famInode}, []byte{famInode + 1}, kv.ScanOptions{}, func(k, v []byte) bool {
			if len(k) < 10 || k[9] != subDentry {
				return true
			}
			typ, child, err := decodeDentry(v)
			if err != nil || typ != posix.TypeFile {
				return err == nil
			}
			p, err := underPath(tx, posix.Ino(u64(k[1:9])), string(k[10:]))
			if err != nil {
				scanErr = err
				return false
			}
			want[child] = append(want[child], p)
			return true
		})
		if err != nil {
			return err
		}
		return scanErr
	})
	if err != nil {
		return err
	}
	for ino, w := range want {
		got, err := m.InodePaths(ctx, ino)
		if err != nil {
			return fmt.Errorf("inode %d: %v (want %q)", ino, err, w)
		}
		slices.Sort(got)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			return fmt.Errorf("inode %d: paths %q, want %q", ino, got, w)
		}
	}
	rep, err := m.Check(ctx)
	if err != nil {
		return err
	}
	if len(rep.Problems) > 0 || len(rep.Names) > 0 || len(rep.LinkSets) > 0 {
		return fmt.Errorf("check: %q names %v link sets %v", rep.Problems, rep.Names, rep.LinkSets)
	}
	return nil
}

// A file deeper than InodePath climbs has no path to record: its changes
// go on without one rather than fail.
func TestDeepFileChangesRecordNoPath(t *testing.T) {
	ctx := context.Background()
	m := memVolume(t)
	dir := posix.Ino(posix.RootIno)
	for range maxDepth + 2 {
		e, err := m.Create(ctx, posix.Root, dir, "d", CreateRequest{Type: posix.TypeDir, Mode: 0o755, Exclusive: true})
		if err != nil {
			t.Fatal(err)
		}
		dir = e.Ino
	}
	pctx := WithPaths(ctx)
	f, err := m.Create(pctx, posix.Root, dir, "f", CreateRequest{Type: posix.TypeFile, Mode: 0o644, Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.SetAttr(pctx, posix.Root, f.Ino, SetAttrRequest{Valid: SetSize, Size: 3}); err != nil {
		t.Fatalf("truncate: %v", err)
	}
	if _, err := m.Link(pctx, posix.Root, f.Ino, dir, "g"); err != nil {
		t.Fatalf("link: %v", err)
	}
	if err := m.NoteWritten(pctx, f.Ino); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := m.Unlink(pctx, posix.Root, dir, "g"); err != nil {
		t.Fatalf("unlink: %v", err)
	}
	head, _ := m.FeedHead(ctx)
	recs, err := m.ReadFeed(ctx, head-4, 10)
	if err != nil || len(recs) != 4 {
		t.Fatalf("feed: %d records, %v", len(recs), err)
	}
	for _, r := range recs {
		if r.Path != "" || len(r.Paths) != 0 {
			t.Fatalf("%s recorded a path: %q %q", r.Op, r.Path, r.Paths)
		}
	}
}
