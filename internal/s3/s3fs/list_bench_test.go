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
	"cairn/internal/object"
	"cairn/internal/object/file"
	"cairn/internal/object/mem"
	"cairn/internal/s3/s3fs"
	"cairn/internal/vfs"
)

// BenchmarkListPage lists 1,000-key pages from random points of a bucket
// of 5,000 objects on SQLite metadata.
func BenchmarkListPage(b *testing.B) {
	ctx := context.Background()
	f := benchFS(b, false)
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

// BenchmarkListVersionsPage lists 1,000-version pages of a versioned
// bucket of 5,000 objects, against BenchmarkListPage's object pages.
func BenchmarkListVersionsPage(b *testing.B) {
	ctx := context.Background()
	f := benchFS(b, false)
	if err := f.PutBucketVersioning(ctx, root, "bkt", s3fs.VersioningEnabled); err != nil {
		b.Fatal(err)
	}
	const n = 5000
	for i := 0; i < n; i++ {
		if _, err := f.PutObject(ctx, root, "bkt", fmt.Sprintf("p/%06d", i), strings.NewReader("x"), s3fs.PutOptions{Size: 1}); err != nil {
			b.Fatal(err)
		}
	}
	for _, versions := range []bool{false, true} {
		b.Run(fmt.Sprintf("versions=%v", versions), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				after := fmt.Sprintf("p/%06d", (i*7919)%(n-1000))
				if versions {
					res, err := f.ListObjectVersions(ctx, root, "bkt", s3fs.ListVersionsOptions{Prefix: "p/", KeyMarker: after, MaxKeys: 1000})
					if err != nil || len(res.Versions) != 1000 {
						b.Fatalf("%d versions, %v", len(res.Versions), err)
					}
					continue
				}
				res, err := f.ListObjects(ctx, root, "bkt", s3fs.ListOptions{Prefix: "p/", StartAfter: after, MaxKeys: 1000})
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
	f := benchFS(b, true)
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
	f := benchFS(b, true)
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

// benchFS returns an s3fs over SQLite metadata with bucket "bkt", its
// blocks in memory or (fileStore) in a directory, closed with the test.
func benchFS(b *testing.B, fileStore bool) *s3fs.FS {
	ctx := context.Background()
	dir := b.TempDir()
	store, err := sqlkv.Open(ctx, "sqlite3://"+filepath.Join(dir, "meta.db"), sqlkv.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	if _, err := meta.FormatVolume(ctx, store, meta.Format{Name: "bench", Storage: "mem"}); err != nil {
		b.Fatal(err)
	}
	m, err := meta.Open(ctx, store, meta.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var objs object.Store = mem.New()
	if fileStore {
		if objs, err = file.New(filepath.Join(dir, "blocks"), file.Options{NoSync: os.Getenv("NOSYNC") != ""}); err != nil {
			b.Fatal(err)
		}
	}
	v := vfs.New(m, chunk.New(objs, chunk.Options{}), vfs.Options{SweepInterval: -1})
	b.Cleanup(func() { v.Close() })
	f := s3fs.New(v, s3fs.Options{})
	if err := f.CreateBucket(ctx, root, "bkt"); err != nil {
		b.Fatal(err)
	}
	return f
}
