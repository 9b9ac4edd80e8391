package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"cairn/internal/meta"
	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// The crash and power-cut tests share this harness: a load of concurrent
// S3 writes against a `cairn server` process, a model of what it
// acknowledged, and the checks made after the server is started again.

const (
	crashUser   = "crashuser"
	crashSecret = "crash-secret-1"
	crashBucket = "crash"
)

// objState is a key's content as the model knows it: absent, or the hash
// and size of its bytes.
type objState struct {
	present bool
	sum     [32]byte
	size    int
}

// keyModel is what one key may hold: its acknowledged state and, while an
// operation on it is unanswered (or was cut off), the state that
// operation would leave.
type keyModel struct {
	acked   objState
	pending *objState
}

// loadModel tracks every key of a load. Each worker owns its keys, so a
// key has at most one operation in flight.
type loadModel struct {
	mu   sync.Mutex
	keys map[string]*keyModel
	ops  map[string]int // acknowledged operations by kind
}

func newLoadModel() *loadModel {
	return &loadModel{keys: map[string]*keyModel{}, ops: map[string]int{}}
}

func (m *loadModel) get(key string) *keyModel {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := m.keys[key]
	if k == nil {
		k = &keyModel{}
		m.keys[key] = k
	}
	return k
}

func (m *loadModel) begin(key string, next objState) {
	k := m.get(key)
	m.mu.Lock()
	k.pending = &next
	m.mu.Unlock()
}

func (m *loadModel) ack(key, kind string) {
	k := m.get(key)
	m.mu.Lock()
	k.acked, k.pending = *k.pending, nil
	m.ops[kind]++
	m.mu.Unlock()
}

// content returns size deterministic bytes for a key's version.
func content(key string, ver, size int) []byte {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", key, ver)))
	r := rand.New(rand.NewSource(int64(h[0]) | int64(h[1])<<8 | int64(h[2])<<16 | int64(h[3])<<24))
	b := make([]byte, size)
	r.Read(b)
	return b
}

func stateOf(b []byte) objState { return objState{present: true, sum: sha256.Sum256(b), size: len(b)} }

func crashClient(url string) *s3.Client {
	return s3.New(s3.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(url),
		UsePathStyle:     true,
		Credentials:      credentials.NewStaticCredentialsProvider(crashUser, crashSecret, ""),
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{Timeout: 2 * time.Minute},
	})
}

// runLoad runs workers writers against url until ctx ends or the server
// stops answering, recording every operation in m. Worker w owns the
// keys w<w>/k<j>; its choices come from seed.
func runLoad(ctx context.Context, url string, m *loadModel, workers int, seed int64) {
	c := crashClient(url)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewSource(seed*100 + int64(w)))
			for ver := 0; ctx.Err() == nil; ver++ {
				if err := oneOp(ctx, c, m, r, w, ver); err != nil {
					return // the server is gone: its outcome stays pending
				}
			}
		}()
	}
	wg.Wait()
}

func oneOp(ctx context.Context, c *s3.Client, m *loadModel, r *rand.Rand, w, ver int) error {
	key := fmt.Sprintf("w%d/k%d", w, r.Intn(6))
	p := r.Intn(100)
	switch {
	case p < 30: // small, kept inline in the metadata
		return putObject(ctx, c, m, key, content(key, ver, 1+r.Intn(12000)), "put-small")
	case p < 52:
		return putObject(ctx, c, m, key, content(key, ver, 100<<10+r.Intn(1<<20)), "put-1m")
	case p < 55:
		return putObject(ctx, c, m, key, content(key, ver, 16<<20), "put-16m")
	case p < 62:
		return multipart(ctx, c, m, key, ver)
	case p < 78:
		src := fmt.Sprintf("w%d/k%d", w, r.Intn(6))
		return copyObject(ctx, c, m, src, key)
	default:
		m.begin(key, objState{})
		_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(crashBucket), Key: aws.String(key)})
		if err == nil {
			m.ack(key, "delete")
		}
		return err
	}
}

func putObject(ctx context.Context, c *s3.Client, m *loadModel, key string, b []byte, kind string) error {
	m.begin(key, stateOf(b))
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(crashBucket), Key: aws.String(key), Body: bytes.NewReader(b)})
	if err == nil {
		m.ack(key, kind)
	}
	return err
}

func multipart(ctx context.Context, c *s3.Client, m *loadModel, key string, ver int) error {
	parts := [][]byte{content(key, ver, 5<<20), content(key+"#2", ver, 100<<10)}
	m.begin(key, stateOf(append(append([]byte{}, parts[0]...), parts[1]...)))
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(crashBucket), Key: aws.String(key)})
	if err != nil {
		return err
	}
	var done []types.CompletedPart
	for i, b := range parts {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(crashBucket), Key: aws.String(key),
			UploadId: up.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(b)})
		if err != nil {
			return err
		}
		done = append(done, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(crashBucket), Key: aws.String(key),
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	if err == nil {
		m.ack(key, "multipart")
	}
	return err
}

func copyObject(ctx context.Context, c *s3.Client, m *loadModel, src, dst string) error {
	s := m.get(src)
	m.mu.Lock()
	st := s.acked
	m.mu.Unlock()
	if !st.present || src == dst {
		return nil
	}
	m.begin(dst, st)
	_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(crashBucket), Key: aws.String(dst), CopySource: aws.String(crashBucket + "/" + src)})
	if err == nil {
		m.ack(dst, "copy")
	}
	return err
}

// verifyModel checks every key against the model: each holds its
// acknowledged state, or the state of the operation that was cut off.
// Once checked, a cut-off operation's outcome becomes the key's state.
func verifyModel(t *testing.T, url string, m *loadModel) {
	t.Helper()
	c := crashClient(url)
	ctx := context.Background()
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, k := range m.keys {
		var got objState
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(crashBucket), Key: aws.String(key)})
		if err == nil {
			b, rerr := io.ReadAll(out.Body)
			out.Body.Close()
			if rerr != nil {
				t.Fatalf("GET %s: %v", key, rerr)
			}
			got = stateOf(b)
		} else if !strings.Contains(err.Error(), "NoSuchKey") {
			t.Fatalf("GET %s: %v", key, err)
		}
		switch {
		case got == k.acked:
		case k.pending != nil && got == *k.pending:
		default:
			t.Fatalf("%s: holds %s; acknowledged %s%s", key, describe(got), describe(k.acked), pendingNote(k.pending))
		}
		k.acked, k.pending = got, nil
	}
}

func describe(s objState) string {
	if !s.present {
		return "nothing"
	}
	return fmt.Sprintf("%d bytes %x", s.size, s.sum[:4])
}

func pendingNote(p *objState) string {
	if p == nil {
		return ""
	}
	return ", cut off while writing " + describe(*p)
}

// fsckReport runs `cairn fsck --json` on the server's data dir.
func fsckReport(t *testing.T, bin, dir string) vfs.FsckReport {
	t.Helper()
	out, err := exec.Command(bin, "fsck", "--json", "sqlite3://"+filepath.Join(dir, "meta.db")).Output()
	var rep vfs.FsckReport
	if jerr := json.Unmarshal(out, &rep); jerr != nil {
		t.Fatalf("cairn fsck: %v %v\n%s", err, jerr, out)
	}
	return rep
}

// waitReclaimed waits until the running server has reclaimed what its
// killed predecessor left: no leftover or in-flight block, no temporary
// block file.
func waitReclaimed(t *testing.T, bin, dir string, checkTemp bool) vfs.FsckReport {
	t.Helper()
	var rep vfs.FsckReport
	deadline := time.Now().Add(60 * time.Second)
	for {
		rep = fsckReport(t, bin, dir)
		temps := tempBlockFiles(t, dir)
		var names []string
		if checkTemp {
			names = systemTempEntries(t, dir)
		}
		if rep.Leftovers == 0 && rep.InFlight == 0 && len(temps) == 0 && len(names) == 0 {
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute: %d leftover blocks, %d in flight, temporary block files %v, temporary S3 files %v", rep.Leftovers, rep.InFlight, temps, names)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tempBlockFiles(t *testing.T, dir string) []string {
	var out []string
	filepath.WalkDir(filepath.Join(dir, "blocks"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".tmp-") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// systemTempEntries lists the volume's S3 temporary files (.cairn/tmp),
// reading its metadata beside the server (SQLite takes several
// processes). Not on a FUSE mount served by this process: SQLite maps its
// -shm file, and a page fault this process must serve itself can
// deadlock it.
func systemTempEntries(t *testing.T, dir string) []string {
	t.Helper()
	ctx := context.Background()
	store, err := openStore(ctx, "sqlite3://"+filepath.Join(dir, "meta.db"), durabilityFull)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	m, err := meta.Open(ctx, store, meta.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	sys, err := m.Lookup(ctx, posix.Root, posix.RootIno, ".cairn")
	if errors.Is(err, syscall.ENOENT) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	tmp, err := m.Lookup(ctx, posix.Root, sys.Ino, "tmp")
	if err != nil {
		t.Fatal(err)
	}
	ents, err := m.ReadDir(ctx, posix.Root, tmp.Ino, meta.ReadDirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name)
	}
	return names
}

// stopServer ends a server with SIGTERM and waits for it.
func stopServer(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("server did not stop on SIGTERM")
	}
}

// killServer ends a server with SIGKILL and waits for it.
func killServer(cmd *exec.Cmd) {
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
}

// crashEnv holds the root credentials the crash-load clients sign with.
var crashEnv = []string{"CAIRN_ROOT_USER=" + crashUser, "CAIRN_ROOT_PASSWORD=" + crashSecret}

// checkFinal stops the server and checks with fsck that the volume in dir
// is consistent with nothing unreferenced left.
func checkFinal(t *testing.T, bin, dir string, srv *exec.Cmd) {
	t.Helper()
	stopServer(t, srv)
	if rep := fsckReport(t, bin, dir); !rep.Consistent() || rep.Leftovers != 0 || rep.InFlight != 0 {
		t.Fatalf("fsck after the last round: %+v", rep)
	}
}

func createCrashBucket(t *testing.T, url string) {
	t.Helper()
	if _, err := crashClient(url).CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(crashBucket)}); err != nil {
		t.Fatal(err)
	}
}

// TestKillUnderLoad kills `cairn server` with SIGKILL under a load of
// concurrent writes, again and again: after each restart every
// acknowledged write is there with its bytes, every acknowledged delete
// gone, and the restarted server reclaims, unasked, every block and
// temporary file the killed one left; fsck finds the volume consistent.
func TestKillUnderLoad(t *testing.T) {
	bin := buildCairn(t)
	dir := t.TempDir()
	url, srv := startServer(t, bin, dir, crashEnv...)
	createCrashBucket(t, url)
	m := newLoadModel()
	for round := range 16 {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { runLoad(ctx, url, m, 6, int64(round)); close(done) }()
		time.Sleep(time.Duration(300+rand.New(rand.NewSource(int64(round))).Intn(1200)) * time.Millisecond)
		killServer(srv)
		cancel()
		<-done
		url, srv = startServer(t, bin, dir, crashEnv...)
		verifyModel(t, url, m)
		waitReclaimed(t, bin, dir, true)
	}
	checkFinal(t, bin, dir, srv)
	if names := systemTempEntries(t, dir); len(names) != 0 {
		t.Fatalf("temporary files of killed servers left: %v", names)
	}
	t.Logf("acknowledged operations: %v", m.ops)
}
