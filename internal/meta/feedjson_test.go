package meta

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"

	"cairn/internal/posix"
)

// randomRecord returns a record with some fields set; with plain, every
// string in it is printable ASCII without quotes or backslashes.
func randomRecord(rng *rand.Rand, plain bool) Record {
	str := func() string {
		if rng.IntN(3) == 0 {
			return ""
		}
		alphabet := "abc/._-+ 019XYZ~"
		if !plain {
			alphabet += "\"\\\x00\x1f<>&é€\xff\xfe\u2028"
		}
		r := []rune(alphabet)
		b := make([]rune, rng.IntN(20))
		for i := range b {
			b[i] = r[rng.IntN(len(r))]
		}
		if !plain && rng.IntN(4) == 0 {
			return string(b) + "\xc3" // invalid UTF-8
		}
		return string(b)
	}
	num := func() uint64 {
		switch rng.IntN(4) {
		case 0:
			return 0
		case 1:
			return rng.Uint64()
		}
		return uint64(rng.IntN(1000))
	}
	r := Record{Seq: num(), Time: int64(num()), Op: Op(str()), Ino: posix.Ino(num()), Type: posix.FileType(num()),
		Parent: posix.Ino(num()), Name: str(), NewParent: posix.Ino(num()), NewName: str(), Length: num(),
		Mode: uint32(num()), UID: uint32(num()), GID: uint32(num()), Nlink: uint32(num()), Xattr: str(),
		Path: str(), NewPath: str(), Handle: rng.IntN(2) == 0,
		Origin: Origin{Principal: str(), SourceIP: str(), RequestID: str(), Session: num(), Agent: str(), Op: str()}}
	for range rng.IntN(3) {
		r.Paths = append(r.Paths, str())
	}
	if rng.IntN(2) == 0 {
		r.S3 = &Publish{Event: str(), Bucket: str(), Key: str(), Size: int64(num()), ETag: str(), VersionID: str()}
	}
	return r
}

// TestFastRecord: records as stored decode by the fast path when their
// strings are plain, to what encoding/json makes of them; and whatever
// the path, to what was stored.
func TestFastRecord(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	fast := 0
	for i := range 5000 {
		plain := i%2 == 0
		want := randomRecord(rng, plain)
		b, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		if slow, err := want.marshalSlow(); err != nil || string(slow) != string(b) {
			t.Fatalf("MarshalJSON gave %s, encoding/json %s", b, slow)
		}
		var got, slow Record
		if fastRecord(b, &got) {
			fast++
		} else if plain {
			t.Fatalf("a plain record took the slow path: %s", b)
		}
		if err := slowRecord(b, &slow); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, slow) {
			t.Fatalf("%s:\nfast %+v\nslow %+v", b, got, slow)
		}
		if plain && !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\ngot  %+v\nwant %+v", b, got, want)
		}
	}
	if fast < 2500 {
		t.Fatalf("%d of 5000 records decoded fast", fast)
	}
}

// FuzzRecordEncode: a record is encoded by hand as encoding/json
// encodes it.
func FuzzRecordEncode(f *testing.F) {
	f.Add("create", "name", "", "/a/b", "p", "10.0.0.1", "s3", "ObjectCreated:Put", "bucket", "key", "etag", uint64(7), int64(-1), true)
	f.Add("rename", "\xff", "<&>", "\u2028", "", "", "", "", "", "", "", uint64(0), int64(0), false)
	f.Fuzz(func(t *testing.T, op, name, xattr, path, principal, ip, agent, ev, bucket, key, etag string, n uint64, size int64, pub bool) {
		r := Record{Seq: n, Time: size, Op: Op(op), Ino: posix.Ino(n), Type: posix.FileType(n), Name: name, NewName: name + path,
			Length: n, Mode: uint32(n), UID: uint32(n >> 32), Xattr: xattr, Path: path, NewPath: path + key, Paths: []string{path, key}[:n%3%2*2],
			Handle: n%2 == 1, Origin: Origin{Principal: principal, SourceIP: ip, Session: n, Agent: agent}}
		if pub {
			r.S3 = &Publish{Event: ev, Bucket: bucket, Key: key, Size: size, ETag: etag}
		}
		got, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		want, err := r.marshalSlow()
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("by hand\n%s\nencoding/json\n%s", got, want)
		}
	})
}

// FuzzFastRecord: whatever input the fast path accepts, encoding/json
// decodes without error to the same record.
func FuzzFastRecord(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range 20 {
		b, _ := json.Marshal(randomRecord(rng, i%2 == 0))
		f.Add(b)
	}
	f.Add([]byte(`{"seq":1,"seq":2,"s3":{"b":"x"},"s3":{"k":"y"},"origin":{"ip":"a"},"origin":{"req":"b"},"paths":["a"],"paths":[]}`))
	f.Add([]byte(`{"t":-9223372036854775808,"type":255,"mode":4294967295,"fh":false}`))
	f.Add([]byte(`{"t":-0,"type":256,"len":18446744073709551616,"seq":01,"ino":1.5,"SEQ":3}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast Record
		if !fastRecord(b, &fast) {
			return
		}
		var slow Record
		if err := slowRecord(b, &slow); err != nil {
			t.Fatalf("%q: the fast path accepted what encoding/json refuses: %v", b, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q:\nfast %+v\nslow %+v", b, fast, slow)
		}
	})
}

func BenchmarkRecordEncode(b *testing.B) {
	r := Record{Seq: 1234, Time: 1_700_000_000_123_000_000, Op: OpPublish, Ino: 99,
		Origin: Origin{Principal: "benchadmin", SourceIP: "127.0.0.1", RequestID: "18A2B3C4D5E6F708", Session: 3, Agent: "s3", Op: "PutObject"},
		S3:     &Publish{Event: "ObjectCreated:Put", Bucket: "bench", Key: "dir/obj.rnd", Size: 4096, ETag: "0123456789abcdef0123456789abcdef"}}
	for _, c := range []struct {
		name string
		enc  func() ([]byte, error)
	}{{"by hand", r.MarshalJSON}, {"encoding/json", r.marshalSlow}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.enc(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRecordDecode(b *testing.B) {
	r := Record{Seq: 1234, Time: 1_700_000_000_123_000_000, Op: OpPublish, Ino: 99,
		Origin: Origin{Principal: "benchadmin", SourceIP: "127.0.0.1", RequestID: "18A2B3C4D5E6F708", Session: 3, Agent: "s3", Op: "PutObject"},
		S3:     &Publish{Event: "ObjectCreated:Put", Bucket: "bench", Key: "dir/obj.rnd", Size: 4096, ETag: "0123456789abcdef0123456789abcdef"}}
	v, _ := json.Marshal(r)
	for _, c := range []struct {
		name string
		dec  func([]byte, *Record) error
	}{{"fast", func(b []byte, r *Record) error { fastRecord(b, r); return nil }}, {"encoding/json", slowRecord}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var x Record
				if err := c.dec(v, &x); err != nil || x.S3 == nil {
					b.Fatal(err)
				}
			}
		})
	}
}
