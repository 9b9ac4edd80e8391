package meta

import (
	"context"
	"strings"
	"testing"

	"cairn/internal/meta/kv"
	"cairn/internal/meta/kv/memkv"
	"cairn/internal/posix"
)

// checkVolume is a small volume: a directory d with a file f (inline
// data, 5 bytes) and a file g of 100 KiB in one slice.
func checkVolume(t *testing.T) (*FS, map[string]posix.Ino) {
	t.Helper()
	ctx := context.Background()
	store := memkv.New()
	if _, err := FormatVolume(ctx, store, Format{Name: "c", Storage: "mem", BlockSize: 4 << 20}); err != nil {
		t.Fatal(err)
	}
	m, err := Open(ctx, store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	inos := map[string]posix.Ino{}
	d, err := m.Create(ctx, posix.Root, posix.RootIno, "d", CreateRequest{Type: posix.TypeDir, Mode: 0o755, Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	inos["d"] = d.Ino
	f, err := m.PutFile(ctx, posix.Root, d.Ino, "f", PutFileRequest{Mode: 0o644, Length: 5, Inline: []byte("hello")})
	if err != nil {
		t.Fatal(err)
	}
	inos["f"] = f.Ino
	id, err := m.NewSliceID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g, err := m.PutFile(ctx, posix.Root, d.Ino, "g", PutFileRequest{Mode: 0o644, Length: 100 << 10,
		Slices: []WriteRequest{{Index: 0, Slice: Slice{ID: id, Size: 100 << 10, Len: 100 << 10}}}})
	if err != nil {
		t.Fatal(err)
	}
	inos["g"] = g.Ino
	return m, inos
}

func mutate(t *testing.T, m *FS, fn func(tx kv.Tx) error) {
	t.Helper()
	if err := m.store.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// Check reports each kind of damage done to the metadata on purpose, and
// RepairCounters sets wrong counters right.
func TestCheckFindsDamage(t *testing.T) {
	ctx := context.Background()
	m, _ := checkVolume(t)
	rep, err := m.Check(ctx)
	if err != nil || len(rep.Problems) != 0 || rep.Inodes != 4 || len(rep.Slices) != 1 {
		t.Fatalf("sound volume: %+v %v", rep, err)
	}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, m *FS, inos map[string]posix.Ino)
		want   string
	}{
		{"entry removed: inode unreachable", func(t *testing.T, m *FS, inos map[string]posix.Ino) {
			mutate(t, m, func(tx kv.Tx) error { return tx.Delete(dentryKey(inos["d"], "g")) })
		}, "is not reachable from the root"},
		{"link count", func(t *testing.T, m *FS, inos map[string]posix.Ino) {
			mutate(t, m, func(tx kv.Tx) error {
				a, _ := getAttr(tx, inos["f"])
				a.Nlink = 3
				return putAttr(tx, inos["f"], &a)
			})
		}, "nlink 3, 1 found"},
		{"directory size", func(t *testing.T, m *FS, inos map[string]posix.Ino) {
			mutate(t, m, func(tx kv.Tx) error {
				a, _ := getAttr(tx, inos["d"])
				a.Length = 12345
				return putAttr(tx, inos["d"], &a)
			})
		}, "size 12345, want 4096"},
		{"directory parent", func(t *testing.T, m *FS, inos map[string]posix.Ino) {
			mutate(t, m, func(tx kv.Tx) error {
				a, _ := getAttr(tx, inos["d"])
				a.Parent = inos["f"]
				return putAttr(tx, inos["d"], &a)
			})
		}, "but its entry is in"},
		{"entry naming a missing inode", func(t *testing.T, m *FS, inos map[string]posix.Ino) {
			mutate(t, m, func(tx kv.Tx) error {
				return tx.Put(dentryKey(inos["d"], "ghost"), encodeDentry(posix.TypeFile, 999999))
			})
		}, "names missing inode 999999"},
		{"inline data missing", func(t *testing.T, m *FS, inos map[string]posix.Ino) {
			mutate(t, m, func(tx kv.Tx) error {
				var keys [][]byte
				tx.Scan([]byte{famInline}, []byte{famInline + 1}, kv.ScanOptions{KeysOnly: true}, func(k, _ []byte) bool {
					keys = append(keys, k)
					return true
				})
				for _, k := range keys {
					tx.Delete(k)
				}
				return nil
			})
		}, "is missing"},
		{"corrupt chunk record", func(t *testing.T, m *FS, inos map[string]posix.Ino) {
			mutate(t, m, func(tx kv.Tx) error { return tx.Put(chunkKey(inos["g"], 0), []byte("short")) })
		}, "corrupt chunk record"},
		{"link records of a missing inode", func(t *testing.T, m *FS, inos map[string]posix.Ino) {
			mutate(t, m, func(tx kv.Tx) error { return tx.Put(linkKey(999999, inos["d"], "x"), nil) })
		}, "1 link records of missing inode 999999"},
		{"used space counter", func(t *testing.T, m *FS, inos map[string]posix.Ino) {
			mutate(t, m, func(tx kv.Tx) error { _, err := tx.Incr(configKey(cfgUsedSpace), 777); return err })
		}, "used space counter"},
		{"inode counter", func(t *testing.T, m *FS, inos map[string]posix.Ino) {
			mutate(t, m, func(tx kv.Tx) error { _, err := tx.Incr(configKey(cfgInodes), -2); return err })
		}, "inode counter 2, 4 inodes found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, inos := checkVolume(t)
			tc.damage(t, m, inos)
			rep, err := m.Check(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(rep.Problems, "\n"), tc.want) {
				t.Fatalf("problems %q, want one with %q", rep.Problems, tc.want)
			}
			if rep.CountersWrong() {
				if err := m.RepairCounters(ctx, rep); err != nil {
					t.Fatal(err)
				}
				if rep, _ := m.Check(ctx); len(rep.Problems) != 0 {
					t.Fatalf("after RepairCounters: %q", rep.Problems)
				}
			}
		})
	}
}

// Slice ranges: a batch of slice ids is recorded under the session that
// reserved it; a clean close drops it, a dead session's becomes a dead
// range for the leftover sweep.
func TestSliceRanges(t *testing.T) {
	ctx := context.Background()
	store := memkv.New()
	if _, err := FormatVolume(ctx, store, Format{Name: "r", Storage: "mem"}); err != nil {
		t.Fatal(err)
	}
	open := func(pid int) *FS {
		m, err := Open(ctx, store, Options{IDBatch: 10, ProcessGone: func(s SessionInfo) bool { return s.PID == 1 }})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.NewSession(ctx, SessionInfo{Host: "h", PID: pid}); err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b, c := open(1), open(2), open(3)
	for _, m := range []*FS{a, a, b} {
		for range 11 { // two batches each time round for a
			if _, err := m.NewSliceID(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	live, _ := c.SliceRanges(ctx, false)
	if len(live) != 5 {
		t.Fatalf("live ranges %+v, want 5", live)
	}
	if err := b.CloseSession(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := c.CleanDeadSessions(ctx); err != nil || n != 1 {
		t.Fatalf("CleanDeadSessions = %d %v (a's process is gone)", n, err)
	}
	live, _ = c.SliceRanges(ctx, false)
	dead, _ := c.SliceRanges(ctx, true)
	if len(live) != 0 || len(dead) != 3 {
		t.Fatalf("after b closed and a died: live %+v, dead %+v", live, dead)
	}
	for _, r := range dead {
		if r.End-r.Start != 10 {
			t.Fatalf("dead range %+v", r)
		}
	}
	if err := c.DropDeadRanges(ctx, dead); err != nil {
		t.Fatal(err)
	}
	if dead, _ = c.SliceRanges(ctx, true); len(dead) != 0 {
		t.Fatalf("dropped ranges remain: %+v", dead)
	}
}
