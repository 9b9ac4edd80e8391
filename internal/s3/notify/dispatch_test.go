package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"cairn/internal/meta"
	"cairn/internal/meta/kv"
	"cairn/internal/meta/kv/memkv"
	"cairn/internal/posix"
	"cairn/internal/s3/notify"
	"cairn/internal/s3/notify/webhook"
)

var bg = context.Background()

// volume returns a formatted volume's store and a client of it with a
// session (as a gateway has), with feed retention retain.
func volume(t *testing.T, retain uint64) (kv.Store, *meta.FS) {
	t.Helper()
	store := memkv.New()
	if _, err := meta.FormatVolume(bg, store, meta.Format{Name: "n", Storage: "mem"}); err != nil {
		t.Fatal(err)
	}
	return store, client(t, store, retain)
}

func client(t *testing.T, store kv.Store, retain uint64) *meta.FS {
	t.Helper()
	m, err := meta.Open(bg, store, meta.Options{FeedRetention: retain})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.NewSession(bg, meta.SessionInfo{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// hook is a webhook endpoint that records what it receives; fail, while
// positive, makes it answer that status instead (and counts down).
type hook struct {
	mu     sync.Mutex
	got    []map[string]any
	fail   int
	status int
	auth   string
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.auth = r.Header.Get("Authorization")
	if h.fail > 0 {
		h.fail--
		w.WriteHeader(h.status)
		return
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		w.WriteHeader(400)
		return
	}
	h.got = append(h.got, m)
}

// keys returns "event key" of each event received.
func (h *hook) keys() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, m := range h.got {
		rec := m["Records"].([]any)[0].(map[string]any)
		obj := rec["s3"].(map[string]any)["object"].(map[string]any)
		out = append(out, fmt.Sprint(rec["eventName"], " ", obj["key"]))
	}
	return out
}

func waitFor(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const hookARN = "arn:minio:sqs::h:webhook"

func configs(rules string) notify.ConfigSource {
	return func(ctx context.Context, bucket string) ([]byte, error) {
		if bucket != "photos" {
			return nil, nil
		}
		c, err := notify.ParseXML([]byte(`<NotificationConfiguration>`+rules+`</NotificationConfiguration>`), nil)
		if err != nil {
			return nil, err
		}
		return json.Marshal(c)
	}
}

func publish(t *testing.T, m *meta.FS, ev, bucket, key string) {
	t.Helper()
	ctx := meta.WithOrigin(bg, meta.Origin{Principal: "alice", SourceIP: "10.1.2.3", RequestID: "R1", Agent: "s3"})
	if err := m.AppendPublish(ctx, meta.Publish{Event: ev, Bucket: bucket, Key: key, Size: 5, ETag: "abc"}); err != nil {
		t.Fatal(err)
	}
}

func start(t *testing.T, m *meta.FS, src notify.ConfigSource, opt notify.Options, targets ...notify.Target) (*notify.Dispatcher, context.CancelFunc) {
	t.Helper()
	if opt.MinBackoff == 0 {
		opt.MinBackoff, opt.MaxBackoff = 5*time.Millisecond, 50*time.Millisecond
	}
	d := notify.New(m, src, targets, opt)
	ctx, cancel := context.WithCancel(bg)
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return d, stop
}

// active waits until d holds the delivery lease (its targets' positions
// are set by then).
func active(t *testing.T, d *notify.Dispatcher) {
	t.Helper()
	waitFor(t, "the delivery lease", 5*time.Second, func() bool { return d.Status()[0].Active })
}

func newHook(t *testing.T, token string) (*hook, notify.Target) {
	t.Helper()
	h := &hook{}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	tg, err := webhook.New(webhook.Config{ID: "h", Endpoint: srv.URL, AuthToken: token})
	if err != nil {
		t.Fatal(err)
	}
	return h, tg
}

// TestDeliverFiltered: the events a bucket's rules route to the target
// arrive, in order, as AWS event records; the others do not.
func TestDeliverFiltered(t *testing.T) {
	_, m := volume(t, 0)
	h, tg := newHook(t, "tok")
	src := configs(`<QueueConfiguration><Id>jpg</Id><Queue>` + hookARN + `</Queue><Event>s3:ObjectCreated:*</Event><Event>s3:ObjectRemoved:Delete</Event>` +
		`<Filter><S3Key><FilterRule><Name>suffix</Name><Value>.jpg</Value></FilterRule></S3Key></Filter></QueueConfiguration>`)
	d, _ := start(t, m, src, notify.Options{Region: "eu-west-1", Workers: 1}, tg) // one at a time: in feed order
	active(t, d)
	publish(t, m, "ObjectCreated:Put", "photos", "a b.jpg")
	publish(t, m, "ObjectCreated:Put", "photos", "a.png")      // suffix
	publish(t, m, "ObjectCreated:Put", "other", "a.jpg")       // bucket without rules
	publish(t, m, "ObjectTagging:Put", "photos", "a b.jpg")    // event not asked
	publish(t, m, "ObjectCreated:Copy", "photos", "c/d.jpg")   // wildcard
	publish(t, m, "ObjectRemoved:Delete", "photos", "a b.jpg") // listed
	publish(t, m, "ObjectRemoved:DeleteMarkerCreated", "photos", "c/d.jpg")
	want := []string{"ObjectCreated:Put a+b.jpg", "ObjectCreated:Copy c/d.jpg", "ObjectRemoved:Delete a+b.jpg"}
	waitFor(t, "3 events", 5*time.Second, func() bool { return len(h.keys()) >= 3 })
	time.Sleep(100 * time.Millisecond)
	if got := h.keys(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("received %v, want %v", got, want)
	}
	h.mu.Lock()
	rec := h.got[0]["Records"].([]any)[0].(map[string]any)
	auth := h.auth
	h.mu.Unlock()
	s3 := rec["s3"].(map[string]any)
	if rec["awsRegion"] != "eu-west-1" || rec["eventSource"] != "aws:s3" || rec["userIdentity"].(map[string]any)["principalId"] != "alice" ||
		rec["requestParameters"].(map[string]any)["sourceIPAddress"] != "10.1.2.3" || s3["configurationId"] != "jpg" ||
		s3["bucket"].(map[string]any)["name"] != "photos" || s3["object"].(map[string]any)["eTag"] != "abc" || s3["object"].(map[string]any)["size"] != 5.0 {
		t.Fatalf("record %v", rec)
	}
	if auth != "Bearer tok" {
		t.Fatalf("Authorization %q", auth)
	}
}

// TestDeliverOutageAndRestart: a target that fails gets every event when
// it recovers, and a dispatcher started again resumes where the last one
// stopped.
func TestDeliverOutageAndRestart(t *testing.T) {
	store, m := volume(t, 0)
	h, tg := newHook(t, "")
	h.fail, h.status = 5, http.StatusServiceUnavailable
	src := configs(`<QueueConfiguration><Queue>` + hookARN + `</Queue><Event>s3:ObjectCreated:*</Event></QueueConfiguration>`)
	d, stop := start(t, m, src, notify.Options{}, tg)
	active(t, d)
	for i := range 10 {
		publish(t, m, "ObjectCreated:Put", "photos", fmt.Sprint("k", i))
	}
	waitFor(t, "10 events after the outage", 5*time.Second, func() bool { return len(h.keys()) == 10 && d.Status()[0].Delivered == 10 })
	if st := d.Status()[0]; st.Failed < 5 || st.Delivered != 10 {
		t.Fatalf("status %+v", st)
	}
	stop()
	for i := 10; i < 15; i++ {
		publish(t, m, "ObjectCreated:Put", "photos", fmt.Sprint("k", i))
	}
	// The same target, a new dispatcher on another client of the volume.
	m2 := client(t, store, 0)
	start(t, m2, src, notify.Options{}, tg)
	waitFor(t, "15 events", 5*time.Second, func() bool { return len(h.keys()) == 15 })
	time.Sleep(100 * time.Millisecond)
	sameSet(t, h.keys(), 15)
}

// sameSet checks that got is "ObjectCreated:Put k0" … k(n-1), each once,
// in any order (events of different keys may pass each other).
func sameSet(t *testing.T, got []string, n int) {
	t.Helper()
	seen := map[string]int{}
	for _, k := range got {
		seen[k]++
	}
	for i := range n {
		if k := fmt.Sprint("ObjectCreated:Put k", i); seen[k] != 1 {
			t.Fatalf("%s received %d times (all: %v)", k, seen[k], got)
		}
	}
	if len(got) != n {
		t.Fatalf("%d events, want %d: %v", len(got), n, got)
	}
}

// TestDeliverKeyOrder: with several messages in flight, the events of
// one key still arrive in the order they happened.
func TestDeliverKeyOrder(t *testing.T) {
	_, m := volume(t, 0)
	h, tg := newHook(t, "")
	src := configs(`<QueueConfiguration><Queue>` + hookARN + `</Queue><Event>s3:ObjectCreated:*</Event><Event>s3:ObjectRemoved:*</Event></QueueConfiguration>`)
	d, stop := start(t, m, src, notify.Options{Workers: 8}, tg)
	active(t, d)
	stop() // a backlog, delivered in batches when it starts again
	for i := range 300 {
		ev := "ObjectCreated:Put"
		if i%3 == 2 {
			ev = "ObjectRemoved:Delete"
		}
		publish(t, m, ev, "photos", fmt.Sprint("key", i%7))
	}
	d, _ = start(t, m, src, notify.Options{Workers: 8}, tg)
	waitFor(t, "300 events", 10*time.Second, func() bool { return len(h.keys()) == 300 })
	h.mu.Lock()
	defer h.mu.Unlock()
	last := map[string]string{}
	for _, doc := range h.got {
		obj := doc["Records"].([]any)[0].(map[string]any)["s3"].(map[string]any)["object"].(map[string]any)
		k, seq := obj["key"].(string), obj["sequencer"].(string)
		if seq <= last[k] {
			t.Fatalf("key %s: sequencer %s after %s", k, seq, last[k])
		}
		last[k] = seq
	}
	if len(last) != 7 {
		t.Fatalf("%d keys", len(last))
	}
}

// TestDeliverRejected: an event the target rejects is skipped after the
// retries, and the next ones go on.
func TestDeliverRejected(t *testing.T) {
	_, m := volume(t, 0)
	h, tg := newHook(t, "")
	src := configs(`<QueueConfiguration><Queue>` + hookARN + `</Queue><Event>s3:ObjectCreated:*</Event></QueueConfiguration>`)
	d, _ := start(t, m, src, notify.Options{Retries: 2}, tg)
	active(t, d)
	h.mu.Lock()
	h.fail, h.status = 2, http.StatusBadRequest
	h.mu.Unlock()
	publish(t, m, "ObjectCreated:Put", "photos", "bad")
	publish(t, m, "ObjectCreated:Put", "photos", "good")
	waitFor(t, "the next event", 5*time.Second, func() bool { return len(h.keys()) == 1 })
	if got := h.keys(); got[0] != "ObjectCreated:Put good" {
		t.Fatalf("got %v", got)
	}
	if st := d.Status()[0]; st.Skipped != 1 || st.LastError == "" {
		t.Fatalf("status %+v", st)
	}
}

// TestDeliverTruncated: a backlog the feed's retention passed is reported
// as dropped, never silently, and delivery goes on from the oldest kept.
func TestDeliverTruncated(t *testing.T) {
	_, m := volume(t, 5)
	h, tg := newHook(t, "")
	h.fail, h.status = 1<<30, http.StatusServiceUnavailable
	src := configs(`<QueueConfiguration><Queue>` + hookARN + `</Queue><Event>s3:ObjectCreated:*</Event></QueueConfiguration>`)
	d, stop := start(t, m, src, notify.Options{}, tg)
	active(t, d)
	for i := range 20 {
		publish(t, m, "ObjectCreated:Put", "photos", fmt.Sprint("k", i))
	}
	stop()
	if _, err := m.TrimFeed(bg, 100); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.fail = 0
	h.mu.Unlock()
	d, _ = start(t, m, src, notify.Options{}, tg)
	waitFor(t, "the kept events", 5*time.Second, func() bool { return len(h.keys()) >= 1 && d.Status()[0].Dropped > 0 })
	time.Sleep(100 * time.Millisecond)
	st := d.Status()[0]
	if got := len(h.keys()); uint64(got)+st.Dropped < 20 || got > 5 {
		t.Fatalf("received %d, dropped %d of 20 (5 kept)", got, st.Dropped)
	}
	if st.LastError == "" {
		t.Fatalf("no error in the status: %+v", st)
	}
}

// TestDeliverLease: with two gateways on one volume, one delivers; when it
// stops, the other takes over, and no event is missed.
func TestDeliverLease(t *testing.T) {
	store, m1 := volume(t, 0)
	m2 := client(t, store, 0)
	h, tg1 := newHook(t, "")
	src := configs(`<QueueConfiguration><Queue>` + hookARN + `</Queue><Event>s3:ObjectCreated:*</Event></QueueConfiguration>`)
	opt := notify.Options{LeaseTerm: 400 * time.Millisecond}
	d1, stop1 := start(t, m1, src, opt, tg1)
	active(t, d1)
	// The second gateway's target is the same endpoint.
	srvTarget, _ := newHookTarget(t, h)
	d2, _ := start(t, m2, src, opt, srvTarget)
	time.Sleep(100 * time.Millisecond)
	if d2.Status()[0].Active {
		t.Fatal("two gateways hold the lease")
	}
	for i := range 5 {
		publish(t, m1, "ObjectCreated:Put", "photos", fmt.Sprint("k", i))
	}
	waitFor(t, "5 events", 5*time.Second, func() bool { return len(h.keys()) == 5 })
	stop1()
	for i := 5; i < 10; i++ {
		publish(t, m2, "ObjectCreated:Put", "photos", fmt.Sprint("k", i))
	}
	waitFor(t, "d2 to take over and deliver the rest", 5*time.Second, func() bool { return len(h.keys()) >= 10 })
	if !d2.Status()[0].Active {
		t.Fatal("d2 delivered without the lease")
	}
	sameSet(t, h.keys(), 10)
}

func newHookTarget(t *testing.T, h *hook) (notify.Target, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	tg, err := webhook.New(webhook.Config{ID: "h", Endpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return tg, srv
}

// TestDeliverMountChanges: files written, truncated, renamed, hard-linked
// and removed on a mount (records of the "fuse" agent) make the events an S3 client's
// changes would, with keys from their paths (a write to a file with two
// links, one per key); files outside the buckets, and
// changes made by the S3 layer itself (which records its own events), make
// none.
func TestDeliverMountChanges(t *testing.T) {
	_, m := volume(t, 0)
	h, tg := newHook(t, "")
	src := configs(`<QueueConfiguration><Queue>` + hookARN + `</Queue><Event>s3:ObjectCreated:*</Event><Event>s3:ObjectRemoved:*</Event></QueueConfiguration>`)
	d, _ := start(t, m, src, notify.Options{Workers: 1}, tg)
	active(t, d)
	fuse := meta.WithPaths(meta.WithOrigin(bg, meta.Origin{Agent: "fuse", Session: 7})) // as a mount's
	cred := posix.Cred{UID: 1000, GID: 1000}
	mkdir := func(parent posix.Ino, name string) posix.Ino {
		r, err := m.Create(bg, posix.Root, parent, name, meta.CreateRequest{Type: posix.TypeDir, Mode: 0o777, Exclusive: true})
		if err != nil {
			t.Fatal(err)
		}
		return r.Entry.Ino
	}
	bucket := mkdir(posix.RootIno, "photos")
	sub := mkdir(bucket, "2026")
	write := func(parent posix.Ino, name string) posix.Ino {
		r, err := m.Create(fuse, cred, parent, name, meta.CreateRequest{Type: posix.TypeFile, Mode: 0o644, Exclusive: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.SetAttr(fuse, cred, r.Entry.Ino, meta.SetAttrRequest{Valid: meta.SetSize, Size: 10, ByHandle: true}); err != nil { // as a write through its handle
			t.Fatal(err)
		}
		if err := m.NoteWritten(fuse, r.Entry.Ino); err != nil {
			t.Fatal(err)
		}
		return r.Entry.Ino
	}
	write(sub, "cat.jpg")
	write(posix.RootIno, "stray.txt") // not in a bucket
	if err := m.Rename(fuse, cred, sub, "cat.jpg", bucket, "dog.jpg", 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Unlink(fuse, cred, bucket, "dog.jpg"); err != nil {
		t.Fatal(err)
	}
	a := write(bucket, "a.txt")
	if _, err := m.Link(fuse, cred, a, sub, "b.txt"); err != nil {
		t.Fatal(err)
	}
	if err := m.NoteWritten(fuse, a); err != nil {
		t.Fatal(err)
	}
	if err := m.Unlink(fuse, cred, bucket, "a.txt"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.SetAttr(fuse, cred, a, meta.SetAttrRequest{Valid: meta.SetSize, Size: 4}); err != nil { // truncate(1)
		t.Fatal(err)
	}
	// The S3 layer's own file changes are not events: it records its own.
	s3ctx := meta.WithOrigin(bg, meta.Origin{Agent: "s3"})
	r, err := m.Create(s3ctx, posix.Root, sub, "tmp", meta.CreateRequest{Type: posix.TypeFile, Mode: 0o644, Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.NoteWritten(s3ctx, r.Entry.Ino); err != nil {
		t.Fatal(err)
	}
	want := []string{"ObjectCreated:Put 2026/cat.jpg", "ObjectRemoved:Delete 2026/cat.jpg", "ObjectCreated:Put dog.jpg", "ObjectRemoved:Delete dog.jpg",
		"ObjectCreated:Put a.txt", "ObjectCreated:Put 2026/b.txt", "ObjectCreated:Put a.txt", "ObjectCreated:Put 2026/b.txt", "ObjectRemoved:Delete a.txt", "ObjectCreated:Put 2026/b.txt"}
	recs, _ := m.ReadFeed(bg, 0, 100)
	for _, r := range recs {
		t.Logf("%d %s %+v type=%v parent=%d name=%s", r.Seq, r.Op, r.Origin, r.Type, r.Parent, r.Name)
	}
	t.Logf("status %+v keys %v", d.Status()[0], h.keys())
	waitFor(t, "10 events", 5*time.Second, func() bool { return len(h.keys()) >= len(want) })
	time.Sleep(100 * time.Millisecond)
	if got := h.keys(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	h.mu.Lock()
	rec := h.got[0]["Records"].([]any)[0].(map[string]any)
	h.mu.Unlock()
	if rec["userIdentity"].(map[string]any)["principalId"] != "uid:1000" || rec["s3"].(map[string]any)["object"].(map[string]any)["size"] != 10.0 ||
		rec["source"].(map[string]any)["agent"] != "fuse" {
		t.Fatalf("record %v", rec)
	}
}

// countingFeed counts the records the feed hands out.
type countingFeed struct {
	*meta.FS
	mu   sync.Mutex
	recs int
}

func (f *countingFeed) ReadFeedOps(ctx context.Context, after uint64, limit int, ops []meta.Op) ([]meta.Record, uint64, error) {
	recs, last, err := f.FS.ReadFeedOps(ctx, after, limit, ops)
	f.mu.Lock()
	f.recs += len(recs)
	f.mu.Unlock()
	return recs, last, err
}

// slowTarget takes each message after a pause, one at a time.
type slowTarget struct {
	arn   string
	pause time.Duration
	mu    sync.Mutex
	n     int
}

func (s *slowTarget) ARN() string { return s.arn }
func (s *slowTarget) Send(ctx context.Context, m *notify.Message) error {
	time.Sleep(s.pause)
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
	return nil
}
func (s *slowTarget) Close() error { return nil }
func (s *slowTarget) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// TestDeliverSharedReads: targets that deliver at different speeds from
// a live stream read the feed once between them, not once each.
func TestDeliverSharedReads(t *testing.T) {
	_, m := volume(t, 0)
	feed := &countingFeed{FS: m}
	fast := &slowTarget{arn: "arn:minio:sqs::fast:webhook"}
	slow := &slowTarget{arn: "arn:minio:sqs::slow:webhook", pause: 3 * time.Millisecond}
	src := configs(`<QueueConfiguration><Queue>` + fast.arn + `</Queue><Event>s3:ObjectCreated:*</Event></QueueConfiguration>` +
		`<QueueConfiguration><Queue>` + slow.arn + `</Queue><Event>s3:ObjectCreated:*</Event></QueueConfiguration>`)
	d := notify.New(feed, src, []notify.Target{fast, slow}, notify.Options{Poll: 2 * time.Millisecond, Workers: 1})
	ctx, cancel := context.WithCancel(bg)
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	active(t, d)
	const n = 400
	for i := range n {
		publish(t, m, "ObjectCreated:Put", "photos", fmt.Sprint("k", i))
		if i%4 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	waitFor(t, "every event at both targets", 20*time.Second, func() bool { return fast.count() == n && slow.count() == n })
	feed.mu.Lock()
	read := feed.recs
	feed.mu.Unlock()
	t.Logf("%d records read for %d events and two targets", read, n)
	if read > n*5/4 {
		t.Fatalf("the feed handed out %d records for %d events: the targets did not share their reads", read, n)
	}
}
