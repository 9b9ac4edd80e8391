package metatest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"cairn/internal/meta"
	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// countingStore counts a client's Updates and the runs of their
// closures: every run beyond the first of an Update is a conflict retry.
type countingStore struct {
	kv.Store
	updates, runs atomic.Int64
}

func (c *countingStore) Update(ctx context.Context, fn func(kv.Tx) error) error {
	c.updates.Add(1)
	return c.Store.Update(ctx, func(tx kv.Tx) error {
		c.runs.Add(1)
		return fn(tx)
	})
}

func (c *countingStore) retries() int64 { return c.runs.Load() - c.updates.Load() }

// Settle passes kv.Settle on to the store (etcd numbers its feed there).
func (c *countingStore) Settle(ctx context.Context, counter, prefix []byte) error {
	return kv.Settle(ctx, c.Store, counter, prefix)
}

// testIndependentClients: two clients of one volume, each with two
// writers, create and grow files in four different directories at once,
// then resize their own files. Their changes share nothing but the
// volume's counters and change feed, which must not make them conflict:
// no transaction runs twice. The counters and the feed still add up.
//
// The SQL servers lock more than the keys a transaction reads, so there a
// few unrelated transactions still meet. PostgreSQL's serializable
// isolation locks what was read by index page, and in a small volume the
// four directories' entries and the new inodes share pages: its creates
// conflict as if related, and the test reports how many. InnoDB locks the
// gap around a key found absent, which the next directory's first entry
// may share: at most 2 % of its creates may conflict. The resizes, which
// move the counters and the feed and add no index entries, may conflict
// on neither beyond 2 % (an update that finds its page full and adds an
// index entry; a counter shard's first row). On etcd, which has no
// server-side increment, the feed is numbered after the commits
// (kv.Settler), so there too no change conflicts; but TestEtcd kills a
// member while this test may run, and a transaction that meets the
// leader change runs again: 2 % are allowed there (with the feed's
// counter read by every change, nearly two runs per create).
func testIndependentClients(t *testing.T, ns func(t *testing.T) kv.Store) {
	store := ns(t)
	e, _ := store.(interface{ Engine() string })
	engine := ""
	if e != nil {
		engine = e.Engine()
	}
	defer store.Close()
	if _, err := meta.FormatVolume(bg, store, meta.Format{Name: "c", Storage: "mem"}); err != nil {
		t.Fatal(err)
	}
	var clients [2]*meta.FS
	var counts [2]*countingStore
	for i := range clients {
		counts[i] = &countingStore{Store: store}
		m, err := meta.Open(bg, counts[i], meta.Options{SliceDeleteDelay: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if _, err := m.NewSession(bg, meta.SessionInfo{Process: fmt.Sprint("client ", i)}); err != nil {
			t.Fatal(err)
		}
		clients[i] = m
	}
	var dirs [4]posix.Ino
	for i := range dirs {
		dirs[i] = mk(t, clients[i/2], posix.Root, posix.RootIno, fmt.Sprint("d", i), posix.TypeDir, 0o755).Ino
	}
	head0, _ := clients[0].FeedHead(bg)
	const files = 60
	// run runs op on each of the first n files of each directory, a
	// writer per directory, and returns the retries of each client.
	inos := make([][]posix.Ino, len(dirs))
	run := func(op func(m *meta.FS, d, i int) error) [2]int64 {
		t.Helper()
		for _, c := range counts {
			c.updates.Store(0)
			c.runs.Store(0)
		}
		parallel(t, len(dirs), files, func(d, i int) error { return op(clients[d/2], d, i) })
		return [2]int64{counts[0].retries(), counts[1].retries()}
	}
	created := run(func(m *meta.FS, d, i int) error {
		r, err := m.Create(bg, posix.Root, dirs[d], fmt.Sprint("f", i), meta.CreateRequest{Type: posix.TypeFile, Mode: 0o644, Exclusive: true})
		if err == nil {
			inos[d] = append(inos[d], r.Entry.Ino)
			_, err = m.SetAttr(bg, posix.Root, r.Entry.Ino, meta.SetAttrRequest{Valid: meta.SetSize, Size: 5000})
		}
		return err
	})
	resized := run(func(m *meta.FS, d, i int) error {
		for _, size := range []uint64{9000, 100, 5000} {
			if _, err := m.SetAttr(bg, posix.Root, inos[d][i], meta.SetAttrRequest{Valid: meta.SetSize, Size: size}); err != nil {
				return err
			}
		}
		return nil
	})
	// few is the conflicts allowed where locks cover more than a key:
	// 2 % of the transactions; 5 % of the resizes on PostgreSQL, whose
	// serializable isolation also locks heap pages (a resize's writes
	// reach the server together just before COMMIT: over two clients'
	// twenty runs under load, 1.2 % ran again on average and 2.5 % at
	// most; with sharded counters undone, nearly all would).
	few := func(n int64, of int) bool { return n*50 <= int64(of) }
	if engine == "postgres" {
		few = func(n int64, of int) bool { return n*20 <= int64(of) }
	}
	for i := range clients {
		switch {
		case engine == "postgres":
			t.Logf("client %d: %d of %d creates and %d of %d resizes ran again (PostgreSQL's page-granular predicate locks)", i, created[i], 2*2*files, resized[i], 2*3*files)
		case created[i] != 0 && (engine != "mysql" && engine != "etcd" || !few(created[i], 2*2*files)):
			t.Errorf("client %d: %d of %d transactions creating files ran again after a conflict", i, created[i], 2*2*files)
		}
		if resized[i] != 0 && (engine == "" || !few(resized[i], 2*3*files)) {
			t.Errorf("client %d: %d of %d transactions resizing files ran again after a conflict", i, resized[i], 2*3*files)
		}
	}
	st, err := clients[1].StatFS(bg)
	if err != nil {
		t.Fatal(err)
	}
	n := uint64(len(dirs) * files)
	if st.UsedInodes != 1+uint64(len(dirs))+n || st.Used != n*8192 {
		t.Fatalf("statfs: %d inodes, %d bytes used; want %d, %d", st.UsedInodes, st.Used, 1+uint64(len(dirs))+n, n*8192)
	}
	recs, err := clients[0].ReadFeed(bg, head0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != int(5*n) {
		t.Fatalf("%d feed records after the creates and resizes, want %d", len(recs), 5*n)
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].Seq <= recs[i-1].Seq {
			t.Fatalf("feed numbers %d then %d", recs[i-1].Seq, recs[i].Seq)
		}
	}
	// A client that ends its session folds its shards into the totals.
	if err := clients[0].CloseSession(bg); err != nil {
		t.Fatal(err)
	}
	if st2, _ := clients[1].StatFS(bg); st2 != st {
		t.Fatalf("statfs after a session ended: %+v, was %+v", st2, st)
	}
}

// testLostSession: a client cut off for longer than the session timeout
// is cleaned up by the others, who may then write what it had locked;
// when it comes back its data changes (writes, truncates) fail with
// ErrSessionLost and EIO instead of overwriting theirs, and its heartbeat
// does not bring the session back. A client that renews lost sessions (a
// gateway) goes on under a new one.
func testLostSession(t *testing.T, ns func(t *testing.T) kv.Store) {
	store := ns(t)
	defer store.Close()
	if _, err := meta.FormatVolume(bg, store, meta.Format{Name: "l", Storage: "mem"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	later := func() time.Time { return now.Add(time.Hour) }
	open := func(clock func() time.Time, renew bool) *meta.FS {
		m, err := meta.Open(bg, store, meta.Options{Now: clock, SessionTimeout: 10 * time.Minute, RenewLostSession: renew, SliceDeleteDelay: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		if _, err := m.NewSession(bg, meta.SessionInfo{}); err != nil {
			t.Fatal(err)
		}
		return m
	}
	// a and g are cut off; when they come back, an hour has passed on
	// their clocks too.
	var back atomic.Bool
	backClock := func() time.Time {
		if back.Load() {
			return later()
		}
		return now
	}
	a, g := open(backClock, false), open(backClock, true)
	aID, gID := a.SessionID(), g.SessionID()
	f := mk(t, a, posix.Root, posix.RootIno, "f", posix.TypeFile, 0o644)
	write := func(m *meta.FS, id uint64, size uint32) error {
		_, err := m.Write(bg, posix.Root, f.Ino, meta.WriteRequest{Slice: meta.Slice{ID: id, Size: size, Len: size}})
		return err
	}
	if err := write(a, 1, 100); err != nil {
		t.Fatal(err)
	}
	// b, whose clock is an hour on, finds a and g dead and cleans up.
	b := open(later, false)
	if n, err := b.CleanDeadSessions(bg); err != nil || n != 2 {
		t.Fatalf("CleanDeadSessions = %d, %v", n, err)
	}
	if err := write(b, 2, 5000); err != nil {
		t.Fatal(err)
	}
	back.Store(true)
	// a comes back: refused, and b's data stays.
	for what, err := range map[string]error{
		"write": write(a, 3, 100),
		"truncate": func() error {
			_, err := a.SetAttr(bg, posix.Root, f.Ino, meta.SetAttrRequest{Valid: meta.SetSize, Size: 10})
			return err
		}(),
	} {
		if !errors.Is(err, meta.ErrSessionLost) || !errors.Is(err, syscall.EIO) {
			t.Fatalf("%s by a client whose session was ended: %v", what, err)
		}
	}
	if at, _ := b.GetAttr(bg, f.Ino); at.Length != 5000 {
		t.Fatalf("length %d after the lost client's refused changes, want b's 5000", at.Length)
	}
	// Its session stays ended; g, at its next write, renews its own.
	if err := write(g, 4, 6000); err != nil {
		t.Fatalf("write under the renewed session: %v", err)
	}
	ss, err := b.ListSessions(bg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		if s.ID == aID || s.ID == gID {
			t.Fatalf("session %d, ended by b, is back", s.ID)
		}
	}
	if id := g.SessionID(); id == gID || id == 0 {
		t.Fatalf("the renewing client's session is %d (was %d)", id, gID)
	}
}

// testOneDirectory: one client's writers creating and removing entries of
// one directory at once queue for it rather than conflict (see meta's
// dirlock.go): no transaction runs again, on any engine. Then renames both
// ways between two directories must not deadlock on their queues.
func testOneDirectory(t *testing.T, ns func(t *testing.T) kv.Store) {
	store := ns(t)
	defer store.Close()
	if _, err := meta.FormatVolume(bg, store, meta.Format{Name: "o", Storage: "mem"}); err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{Store: store}
	m, err := meta.Open(bg, cs, meta.Options{SliceDeleteDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	d1 := mk(t, m, posix.Root, posix.RootIno, "d1", posix.TypeDir, 0o755).Ino
	d2 := mk(t, m, posix.Root, posix.RootIno, "d2", posix.TypeDir, 0o755).Ino
	const writers, files = 4, 25
	cs.updates.Store(0)
	cs.runs.Store(0)
	parallel(t, writers, files, func(w, i int) error {
		name := fmt.Sprintf("w%d-%d", w, i)
		_, err := m.Create(bg, posix.Root, d1, name, meta.CreateRequest{Type: posix.TypeFile, Mode: 0o644, Exclusive: true})
		if err == nil && i%2 == 0 {
			err = m.Unlink(bg, posix.Root, d1, name)
		}
		return err
	})
	if n := cs.retries(); n != 0 {
		t.Errorf("%d of %d transactions ran again: one client's changes to one directory conflicted", n, cs.updates.Load())
	}
	// Renames d1 -> d2 and d2 -> d1 at once take both queues, in order.
	parallel(t, writers, files, func(w, i int) error {
		name := fmt.Sprintf("w%d-%d", w, i)
		if i%2 == 0 {
			return nil // removed above
		}
		if w%2 == 1 {
			if err := m.Rename(bg, posix.Root, d1, name, d2, name, 0); err != nil {
				return err
			}
			return m.Rename(bg, posix.Root, d2, name, d1, name, 0)
		}
		return m.Rename(bg, posix.Root, d1, name, d2, name, 0)
	})
	for d, want := range map[posix.Ino]int{d1: writers / 2 * (files / 2), d2: writers / 2 * (files / 2)} {
		ents, err := m.ReadDir(bg, posix.Root, d, meta.ReadDirOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(ents); n != want {
			t.Fatalf("directory %d holds %d entries after the renames, want %d", d, n, want)
		}
	}
}
