package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"cairn/internal/s3/notify"
)

// TestStore: targets and volume-wide rules kept in the volume's KV store
// are read back by another client of it; bad definitions are refused
// with nothing stored; secrets are hidden in listings.
func TestStore(t *testing.T) {
	store, _ := volume(t, 0)
	s := notify.NewStore(store)
	hookCfg := notify.TargetConfig{Type: "webhook", ID: "thumbs", Params: map[string]string{"endpoint": "http://h/", "auth_token": "s3cret"}}
	if err := s.PutTarget(bg, hookCfg); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTarget(bg, notify.TargetConfig{Type: "redis", ID: "a", Params: map[string]string{"address": "r:6379", "key": "k"}}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []notify.TargetConfig{
		{Type: "carrier-pigeon", ID: "x"},
		{Type: "webhook", ID: "a/b"},
		{Type: "webhook", ID: ""},
		{Type: "webhook", ID: "x", Params: map[string]string{"colour": "blue"}},
	} {
		var te *notify.TargetError
		if err := s.PutTarget(bg, bad); !errors.As(err, &te) {
			t.Errorf("%+v: %v, want a TargetError", bad, err)
		}
	}
	got, err := notify.NewStore(store).Targets(bg)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[{redis a map[address:r:6379 key:k]} {webhook thumbs map[auth_token:s3cret endpoint:http://h/]}]" {
		t.Fatalf("targets %v", got)
	}
	if r := got[1].Redacted(); r.Params["auth_token"] != "*redacted*" || r.Params["endpoint"] != "http://h/" || got[1].Params["auth_token"] != "s3cret" {
		t.Fatalf("redacted %v (from %v)", r, got[1])
	}
	if err := s.DeleteTarget(bg, "redis", "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTarget(bg, "redis", "a"); !errors.Is(err, notify.ErrNoSuchTarget) {
		t.Fatalf("deleting it again: %v", err)
	}
	if got, _ := s.Targets(bg); len(got) != 1 || got[0].ID != "thumbs" {
		t.Fatalf("after the delete: %v", got)
	}
	if raw, err := s.Rules(bg); raw != nil || err != nil {
		t.Fatalf("rules of a new volume: %q %v", raw, err)
	}
	c, err := notify.ParseXML([]byte(`<NotificationConfiguration><QueueConfiguration><Queue>`+hookARN+`</Queue><Event>s3:Bucket*</Event></QueueConfiguration></NotificationConfiguration>`), nil)
	if err == nil {
		t.Fatalf("s3:Bucket* is no event name: %+v", c)
	}
	c, err = notify.ParseXML([]byte(`<NotificationConfiguration><QueueConfiguration><Queue>`+hookARN+`</Queue><Event>s3:BucketCreated</Event></QueueConfiguration></NotificationConfiguration>`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetRules(bg, c); err != nil {
		t.Fatal(err)
	}
	raw, _ := s.Rules(bg)
	var back notify.Config
	if err := json.Unmarshal(raw, &back); err != nil || len(back.Rules) != 1 || back.Rules[0].Events[0] != "s3:BucketCreated" {
		t.Fatalf("rules stored %s: %v", raw, err)
	}
	if err := s.SetRules(bg, &notify.Config{}); err != nil {
		t.Fatal(err)
	}
	if raw, _ := s.Rules(bg); raw != nil {
		t.Fatalf("rules after clearing them: %s", raw)
	}
}

// TestDeliverVolumeRules: the volume-wide rules route every bucket's
// events, bucket creations and removals included, beside (not instead
// of) each bucket's own rules.
func TestDeliverVolumeRules(t *testing.T) {
	_, m := volume(t, 0)
	h, tg := newHook(t, "")
	vol, err := notify.ParseXML([]byte(`<NotificationConfiguration><QueueConfiguration><Id>vol</Id><Queue>`+hookARN+`</Queue>`+
		`<Event>s3:BucketCreated</Event><Event>s3:BucketRemoved</Event><Event>s3:ObjectRemoved:*</Event></QueueConfiguration></NotificationConfiguration>`), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(vol)
	src := configs(`<QueueConfiguration><Id>own</Id><Queue>` + hookARN + `</Queue><Event>s3:ObjectCreated:*</Event></QueueConfiguration>`)
	d, _ := start(t, m, src, notify.Options{Workers: 1, VolumeRules: func(ctx context.Context) ([]byte, error) { return raw, nil }}, tg)
	active(t, d)
	publish(t, m, "BucketCreated", "other", "")
	publish(t, m, "ObjectCreated:Put", "other", "a") // no rule of other's
	publish(t, m, "ObjectCreated:Put", "photos", "b")
	publish(t, m, "ObjectRemoved:Delete", "other", "a")
	publish(t, m, "ObjectTagging:Put", "photos", "b") // no rule at all
	publish(t, m, "BucketRemoved", "other", "")
	want := "[BucketCreated  ObjectCreated:Put b ObjectRemoved:Delete a BucketRemoved ]"
	waitFor(t, "4 events", 5*time.Second, func() bool { return len(h.keys()) >= 4 })
	time.Sleep(100 * time.Millisecond)
	if got := h.keys(); fmt.Sprint(got) != want {
		t.Fatalf("received %v, want %v", got, want)
	}
}
