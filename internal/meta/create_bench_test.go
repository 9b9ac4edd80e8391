package meta_test

import (
	"context"
	"fmt"
	"testing"

	"cairn/internal/meta"
	"cairn/internal/meta/kv/memkv"
	"cairn/internal/posix"
)

// BenchmarkCreateRenameUnlink times a file's life in one directory —
// create, rename, unlink — on the in-memory store: the metadata work of
// each, without a disk (what a new record per change costs shows here).
func BenchmarkCreateRenameUnlink(b *testing.B) {
	ctx := context.Background()
	store := memkv.New()
	if _, err := meta.FormatVolume(ctx, store, meta.Format{Name: "b", Storage: "mem"}); err != nil {
		b.Fatal(err)
	}
	m, err := meta.Open(ctx, store, meta.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	d, err := m.Create(ctx, posix.Root, posix.RootIno, "d", meta.CreateRequest{Type: posix.TypeDir, Mode: 0o755, Exclusive: true})
	if err != nil {
		b.Fatal(err)
	}
	dir := d.Entry.Ino
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprintf("f%08d", i)
		if _, err := m.Create(ctx, posix.Root, dir, name, meta.CreateRequest{Type: posix.TypeFile, Mode: 0o644, Exclusive: true}); err != nil {
			b.Fatal(err)
		}
		if err := m.Rename(ctx, posix.Root, dir, name, dir, name+"r", 0); err != nil {
			b.Fatal(err)
		}
		if err := m.Unlink(ctx, posix.Root, dir, name+"r"); err != nil {
			b.Fatal(err)
		}
	}
}
