//go:build linux

package gateway_test

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sys/unix"

	"cairn/internal/object/file"
	"cairn/internal/object/mem"
	"cairn/internal/s3/gateway"
)

// blockFiles lists the block files under dir.
func blockFiles(t *testing.T, dir string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out[p] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLargeObjectsFromBlockFiles: with blocks in local files, GET bodies
// go out by sendfile, each block's checksum checked when it comes from
// the disk. Whole objects and ranges read back exactly, and a block
// corrupted on disk fails the GET where it starts: no corrupt byte is
// sent.
func TestLargeObjectsFromBlockFiles(t *testing.T) {
	dir := t.TempDir()
	obj, err := file.New(dir, file.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessOn(t, obj)
	h.mb(t, "big")
	data := make([]byte, 9<<20+123) // blocks of 4, 4 and 1 MiB
	rand.New(rand.NewSource(5)).Read(data)
	put := func(key string) {
		t.Helper()
		if _, err := h.s3.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String("big"), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
	}
	put("a")
	for _, r := range []struct {
		header   string
		from, to int // inclusive
	}{
		{"", 0, len(data) - 1},
		{"bytes=100-5000000", 100, 5000000},
		{"bytes=4194304-8388607", 4 << 20, 8<<20 - 1},
		{"bytes=-300000", len(data) - 300000, len(data) - 1},
		{"bytes=8000000-", 8000000, len(data) - 1},
		{"bytes=10-20", 10, 20},
	} {
		in := &s3.GetObjectInput{Bucket: aws.String("big"), Key: aws.String("a")}
		if r.header != "" {
			in.Range = aws.String(r.header)
		}
		got, _, err := h.get(t, in)
		if err != nil || got != string(data[r.from:r.to+1]) {
			t.Fatalf("GET %q: %d bytes, %v; want %d bytes of the object", r.header, len(got), err, r.to-r.from+1)
		}
	}

	// A second object, never read, gets its middle block corrupted on disk.
	before := blockFiles(t, dir)
	put("b")
	var victim string
	for p := range blockFiles(t, dir) {
		if !before[p] && strings.Contains(filepath.Base(p), fmt.Sprintf("_1_%d", 4<<20)) {
			victim = p
		}
	}
	if victim == "" {
		t.Fatal("block 1 of the second object not found")
	}
	f, err := os.OpenFile(victim, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{^data[4<<20+1000]}, 1000); err != nil {
		t.Fatal(err)
	}
	// As bit rot would: the bad byte comes from the disk, not from the
	// page cache (pages in the page cache are trusted).
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// Twice: the pages the first check read in must not pass for checked
	// ones the second time.
	for range 2 {
		out, err := h.s3.GetObject(bg, &s3.GetObjectInput{Bucket: aws.String("big"), Key: aws.String("b")})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err == nil {
			t.Fatalf("GET of an object with a corrupt block succeeded (%d bytes)", len(got))
		}
		if len(got) > 4<<20 || !bytes.Equal(got, data[:len(got)]) {
			t.Fatalf("GET sent %d bytes that are not the object's first block", len(got))
		}
	}
	// The intact first block still reads.
	first, _, err := h.get(t, &s3.GetObjectInput{Bucket: aws.String("big"), Key: aws.String("b"), Range: aws.String("bytes=0-4194303")})
	if err != nil || first != string(data[:4<<20]) {
		t.Fatalf("GET of the intact block: %d bytes, %v", len(first), err)
	}
}

// With a console beside it on one origin, objects are served sandboxed:
// an uploaded web page cannot act as the console.
func TestSandboxObjects(t *testing.T) {
	for _, sandbox := range []bool{false, true} {
		h := newHarnessOn(t, mem.New(), func(o *gateway.Options) { o.SandboxObjects = sandbox })
		h.mb(t, "site")
		h.put(t, "site", "page.html", "<script>alert(1)</script>")
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			res, _ := h.do(t, true, method, "/site/page.html", nil, "")
			csp, sniff := res.Header.Get("Content-Security-Policy"), res.Header.Get("X-Content-Type-Options")
			if sandbox != strings.HasPrefix(csp, "sandbox ") || sandbox != (sniff == "nosniff") || strings.Contains(csp, "allow-same-origin") {
				t.Errorf("sandbox %v, %s: CSP %q, X-Content-Type-Options %q", sandbox, method, csp, sniff)
			}
		}
	}
}
