package meta_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"cairn/internal/acl"
	"cairn/internal/meta"
	"cairn/internal/meta/kv/memkv"
	"cairn/internal/posix"
)

// BenchmarkCreateRenameUnlink times a file's life in one directory —
// create, rename, unlink — on the in-memory store: the metadata work of
// each, without a disk (what a new record per change costs shows here).
// It runs as a user in a directory of its own, without ACLs and with an
// access and a default ACL naming 400 users and 200 groups (what POSIX
// ACLs cost the client, shown without a server's noise; see
// bench/acl-million.sh for the same on Redis).
func BenchmarkCreateRenameUnlink(b *testing.B) {
	for _, c := range []struct {
		name          string
		users, groups int
	}{{"acl_off", -1, 0}, {"acl_on_600", 400, 200}} {
		b.Run(c.name, func(b *testing.B) { benchFileLife(b, c.users, c.groups) })
	}
}

func benchFileLife(b *testing.B, users, groups int) {
	ctx := context.Background()
	store := memkv.New()
	if _, err := meta.FormatVolume(ctx, store, meta.Format{Name: "b", Storage: "mem", EnableACL: true}); err != nil {
		b.Fatal(err)
	}
	m, err := meta.Open(ctx, store, meta.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	user := posix.Cred{UID: 1000, GID: 1000, Umask: 0o022}
	d, err := m.Create(ctx, posix.Root, posix.RootIno, "d", meta.CreateRequest{Type: posix.TypeDir, Mode: 0o755, Exclusive: true})
	if err != nil {
		b.Fatal(err)
	}
	dir := d.Entry.Ino
	if _, err := m.SetAttr(ctx, posix.Root, dir, meta.SetAttrRequest{Valid: meta.SetUID | meta.SetGID, UID: 1000, GID: 1000}); err != nil {
		b.Fatal(err)
	}
	if users >= 0 {
		text := []string{"u::rwx", "g::r-x", "m::rwx", "o::r-x"}
		for i := 0; i < users; i++ {
			text = append(text, fmt.Sprintf("u:%d:rwx", 2001+i))
		}
		for i := 0; i < groups; i++ {
			text = append(text, fmt.Sprintf("g:%d:r-x", 3001+i))
		}
		r, err := acl.Parse(strings.Join(text, ","), nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, typ := range []meta.ACLType{meta.ACLAccess, meta.ACLDefault} {
			if err := m.SetACL(ctx, user, dir, typ, r); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprintf("f%08d", i)
		if _, err := m.Create(ctx, user, dir, name, meta.CreateRequest{Type: posix.TypeFile, Mode: 0o644, Exclusive: true}); err != nil {
			b.Fatal(err)
		}
		if _, err := m.Create(ctx, user, dir, name+"d", meta.CreateRequest{Type: posix.TypeDir, Mode: 0o755, Exclusive: true}); err != nil {
			b.Fatal(err)
		}
		if err := m.Rename(ctx, user, dir, name, dir, name+"r", 0); err != nil {
			b.Fatal(err)
		}
		if err := m.Unlink(ctx, user, dir, name+"r"); err != nil {
			b.Fatal(err)
		}
		if err := m.Rmdir(ctx, user, dir, name+"d"); err != nil {
			b.Fatal(err)
		}
	}
}
