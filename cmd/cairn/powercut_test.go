package main

import (
	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"cairn/internal/fusefs/powercutfs"
)

// powerCutRounds is how many cuts TestPowerCut makes: a fixed list of
// seeds (0, 1, ...), so that a failure in CI replays. CAIRN_POWERCUT_ROUNDS
// runs a longer list (bench/powercut.sh).
func powerCutRounds(t *testing.T) int {
	if v := os.Getenv("CAIRN_POWERCUT_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("CAIRN_POWERCUT_ROUNDS=%q: want a positive number", v)
		}
		return n
	}
	return 50
}

// mountPowerCut mounts the power-cut layer over lower at mnt, skipping
// the test where FUSE cannot be mounted (outside CI).
func mountPowerCut(t *testing.T, lower, mnt string) *powercutfs.FS {
	t.Helper()
	fs, err := powercutfs.Mount(lower, mnt, powercutfs.Options{ShadowDir: filepath.Dir(lower)})
	if err != nil {
		if os.Getenv("CI") == "" && (errors.Is(err, os.ErrPermission) || errors.Is(err, os.ErrNotExist)) {
			t.Skipf("cannot mount FUSE here: %v", err)
		}
		t.Fatalf("mount the power-cut layer: %v", err)
	}
	return fs
}

// TestPowerCut runs `cairn server` with its whole data directory (SQLite
// and blocks) on a file system that forgets, at a cut, everything that
// was not made durable (powercutfs: what ext4 may lose on power loss),
// under concurrent PUTs (inline, 1 MiB, 16 MiB, multipart), overwrites,
// copies and deletes, and cuts the power at a random moment, round after
// round. After each cut and restart: every acknowledged write is there
// with its bytes, every acknowledged delete gone, nothing shows bytes it
// never had, and once the restarted server's first sweep has run, fsck
// finds the volume consistent with nothing unreferenced left.
func TestPowerCut(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("/dev/fuse is missing")
		}
		t.Skip("no /dev/fuse")
	}
	bin := buildCairn(t)
	base := t.TempDir()
	lower, mnt := filepath.Join(base, "lower"), filepath.Join(base, "mnt")
	for _, d := range []string{lower, mnt} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(mnt, "data")
	pfs := mountPowerCut(t, lower, mnt)
	t.Cleanup(func() { pfs.Unmount() })
	url, srv := startServer(t, bin, data, crashEnv...)
	createCrashBucket(t, url)
	m := newLoadModel()
	rounds := powerCutRounds(t)
	var forgotten int64
	for round := range rounds {
		r := rand.New(rand.NewSource(int64(round)))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { runLoad(ctx, url, m, 6, int64(round)); close(done) }()
		time.Sleep(time.Duration(200+r.Intn(1300)) * time.Millisecond)
		if err := pfs.Cut(); err != nil {
			t.Fatalf("round %d: cut: %v", round, err)
		}
		killServer(srv)
		cancel()
		<-done
		forgotten += pfs.Stats().ForgottenBytes
		pfs = mountPowerCut(t, lower, mnt)
		url, srv = startServer(t, bin, data, crashEnv...)
		verifyModel(t, url, m)
		waitReclaimed(t, bin, data, false)
	}
	checkFinal(t, bin, data, srv)
	if err := pfs.Unmount(); err != nil {
		t.Fatal(err)
	}
	if names := systemTempEntries(t, filepath.Join(lower, "data")); len(names) != 0 {
		t.Fatalf("temporary files of cut servers left: %v", names)
	}
	t.Logf("%d cuts, %d unsynced bytes forgotten; acknowledged operations: %v", rounds, forgotten, m.ops)
}
