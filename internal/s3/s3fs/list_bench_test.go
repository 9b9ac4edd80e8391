package s3fs_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"cairn/internal/chunk"
	"cairn/internal/meta"
	"cairn/internal/meta/kv/sqlkv"
	"cairn/internal/object/file"
	"cairn/internal/object/mem"
	"cairn/internal/s3/s3fs"
	"cairn/internal/vfs"
)

// BenchmarkListPage lists 1,000-key pages from random points of a bucket
// of 5,000 objects on SQLite metadata.
func BenchmarkListPage(b *testing.B) {
	ctx := context.Background()
	store, err := sqlkv.Open(ctx, "sqlite3://"+filepath.Join(b.TempDir(), "meta.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	if _, err := meta.FormatVolume(ctx, store, meta.Format{Name: "bench", Storage: "mem"}); err != nil {
		b.Fatal(err)
	}
	m, err := meta.Open(ctx, store, meta.Options{})
	if err != nil {
		b.Fatal(err)
	}
	c := chunk.New(mem.New(), chunk.Options{})
	v := vfs.New(m, c, vfs.Options{SweepInterval: -1})
	defer v.Close()
	f := s3fs.New(v, s3fs.Options{})
	if err := f.CreateBucket(ctx, root, "bkt"); err != nil {
		b.Fatal(err)
	}
	const n = 5000
	for i := 0; i < n; i++ {
		if _, err := f.PutObject(ctx, root, "bkt", fmt.Sprintf("p/%06d", i), strings.NewReader("x"), s3fs.PutOptions{Size: 1}); err != nil {
			b.Fatal(err)
		}
	}
	for _, delim := range []string{"", "/"} {
		b.Run("delim="+delim, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				after := fmt.Sprintf("p/%06d", (i*7919)%(n-1000))
				res, err := f.ListObjects(ctx, root, "bkt", s3fs.ListOptions{Prefix: "p/", Delimiter: delim, StartAfter: after, MaxKeys: 1000})
				if err != nil || len(res.Objects) != 1000 {
					b.Fatalf("%d objects, %v", len(res.Objects), err)
				}
			}
		})
	}
}

// BenchmarkPutSmall stores 4 KiB objects on SQLite metadata and a file
// object store, as `cairn server` does.
func BenchmarkPutSmall(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	store, err := sqlkv.Open(ctx, "sqlite3://"+filepath.Join(dir, "meta.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	if _, err := meta.FormatVolume(ctx, store, meta.Format{Name: "bench", Storage: "file"}); err != nil {
		b.Fatal(err)
	}
	m, err := meta.Open(ctx, store, meta.Options{})
	if err != nil {
		b.Fatal(err)
	}
	objs, err := file.New(filepath.Join(dir, "blocks"), file.Options{NoSync: os.Getenv("NOSYNC") != ""})
	if err != nil {
		b.Fatal(err)
	}
	c := chunk.New(objs, chunk.Options{})
	v := vfs.New(m, c, vfs.Options{SweepInterval: -1})
	defer v.Close()
	f := s3fs.New(v, s3fs.Options{})
	if err := f.CreateBucket(ctx, root, "bkt"); err != nil {
		b.Fatal(err)
	}
	body := strings.Repeat("x", 4096)
	b.SetParallelism(8)
	var seq atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := fmt.Sprintf("p/%08d", seq.Add(1))
			if _, err := f.PutObject(ctx, root, "bkt", k, strings.NewReader(body), s3fs.PutOptions{Size: 4096}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPutLarge stores 16 MiB objects from 4 goroutines on SQLite and
// a file object store.
func BenchmarkPutLarge(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	store, err := sqlkv.Open(ctx, "sqlite3://"+filepath.Join(dir, "meta.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	if _, err := meta.FormatVolume(ctx, store, meta.Format{Name: "bench", Storage: "file"}); err != nil {
		b.Fatal(err)
	}
	m, _ := meta.Open(ctx, store, meta.Options{})
	objs, _ := file.New(filepath.Join(dir, "blocks"), file.Options{NoSync: os.Getenv("NOSYNC") != ""})
	c := chunk.New(objs, chunk.Options{})
	v := vfs.New(m, c, vfs.Options{SweepInterval: -1})
	defer v.Close()
	f := s3fs.New(v, s3fs.Options{})
	f.CreateBucket(ctx, root, "bkt")
	body := make([]byte, 16<<20)
	b.SetBytes(int64(len(body)))
	b.SetParallelism(2)
	var seq atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := fmt.Sprintf("p/%08d", seq.Add(1))
			if _, err := f.PutObject(ctx, root, "bkt", k, bytes.NewReader(body), s3fs.PutOptions{Size: int64(len(body))}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
