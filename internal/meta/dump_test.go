package meta

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"cairn/internal/meta/kv"
	"cairn/internal/meta/kv/memkv"
	"cairn/internal/posix"
)

// TestDumpLoadRoundTrip: a dump loaded into an empty store dumps to the
// same bytes; live state (sessions) stays behind; the loaded volume opens
// and checks clean.
func TestDumpLoadRoundTrip(t *testing.T) {
	ctx := context.Background()
	m, inos := checkVolume(t)
	if err := m.SetXattr(ctx, posix.Root, inos["f"], "user.note", []byte{0, 1, 2, '%', '"', 0xff}, XattrOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.NewSession(ctx, SessionInfo{Host: "h", PID: 1}); err != nil {
		t.Fatal(err)
	}
	var d1 bytes.Buffer
	var seen int
	if err := Dump(ctx, m.store, &d1, func(n int) { seen = n }); err != nil {
		t.Fatal(err)
	}
	if seen == 0 || !strings.HasPrefix(d1.String(), `{"cairn_dump":1,"uuid":`) || !strings.Contains(d1.String(), `"volume":"c"`) {
		t.Fatalf("dump (progress %d):\n%s", seen, d1.String())
	}
	if strings.Contains(d1.String(), "\n[\"S%") {
		t.Fatal("the dump holds a session")
	}
	target := memkv.New()
	if err := Load(ctx, target, bytes.NewReader(d1.Bytes()), nil); err != nil {
		t.Fatal(err)
	}
	var d2 bytes.Buffer
	if err := Dump(ctx, target, &d2, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d1.Bytes(), d2.Bytes()) {
		t.Fatalf("dump after load differs:\n%s\n---\n%s", d1.String(), d2.String())
	}
	m2, err := Open(ctx, target, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	v, err := m2.GetXattr(ctx, posix.Root, inos["f"], "user.note", XattrOptions{})
	if err != nil || !bytes.Equal(v, []byte{0, 1, 2, '%', '"', 0xff}) {
		t.Fatalf("xattr after load: %q %v", v, err)
	}
	if err := Load(ctx, target, bytes.NewReader(d1.Bytes()), nil); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("load into a volume: %v", err)
	}
}

// TestLoadRejects: damaged dumps are refused, and a refused load leaves
// no volume settings behind.
func TestLoadRejects(t *testing.T) {
	ctx := context.Background()
	m, _ := checkVolume(t)
	var d bytes.Buffer
	if err := Dump(ctx, m.store, &d, nil); err != nil {
		t.Fatal(err)
	}
	good := d.String()
	lines := strings.Split(good, "\n")
	for name, dump := range map[string]string{
		"empty":        "",
		"not json":     "hello",
		"cut short":    good[:len(good)*2/3],
		"no count":     strings.Replace(good, `, "count"`, `, "cnt"`, 1),
		"wrong count":  strings.Replace(good, `"count": `, `"count": 1`, 1),
		"version":      strings.Replace(good, `"cairn_dump":1`, `"cairn_dump":9`, 1),
		"bad base64":   strings.Replace(good, `", "`, `", "!!`, 1),
		"bad escape":   strings.Replace(good, `["A%00`, `["A%0G`, 1),
		"raw byte":     strings.Replace(good, `["A%00`, "[\"A\x01", 1),
		"out of order": strings.Join(append(append([]string{lines[0], lines[2] + ","}, strings.TrimSuffix(lines[1], ",")+","), lines[3:]...), "\n"),
	} {
		target := memkv.New()
		err := Load(ctx, target, strings.NewReader(dump), nil)
		if err == nil {
			t.Errorf("%s: loaded", name)
			continue
		}
		err = target.View(ctx, func(tx kv.Tx) error {
			_, err := tx.Get(configKey(cfgFormat))
			return err
		})
		if !errors.Is(err, kv.ErrNotFound) {
			t.Errorf("%s: a refused load left volume settings (%v)", name, err)
		}
	}
}

// FuzzLoad: no input makes Load panic.
func FuzzLoad(f *testing.F) {
	f.Add(`{"cairn_dump":1,"keys":[["Cformat","e30="]],"count":1}`)
	f.Add(`{"cairn_dump":1,"keys":[["A%00%0","AA=="]],"count":1}`)
	f.Add(`{"keys":[],"count":0}`)
	f.Fuzz(func(t *testing.T, in string) {
		Load(context.Background(), memkv.New(), strings.NewReader(in), nil)
	})
}
