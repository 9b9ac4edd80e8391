package meta

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// Fuzz tests of the stored encodings of this package (CONVENTIONS §3.13):
// seeds come from the encoders; for arbitrary bytes a decoder never panics
// and what it accepts the encoder re-emits (byte for byte where the format
// is canonical); values built from fuzz arguments survive encode + decode.
//
//	go test -run '^$' -fuzz '^FuzzAttr$' -fuzztime 20s -parallel 1 ./internal/meta/

// mustEIO fails unless err is a decoder's corrupt-data error.
func mustEIO(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("%s: error %v does not wrap EIO", what, err)
	}
}

// --- inode attributes ---

func sampleAttrs() []posix.Attr {
	return []posix.Attr{
		{Type: posix.TypeFile},
		{Type: posix.TypeDir, Mode: 0o755, Nlink: 2, Length: 4096, Parent: posix.RootIno, Atime: 1, Mtime: 2, Ctime: 3},
		{Type: posix.TypeSymlink, Mode: 0o777, Length: 255},
		{Type: posix.TypeFIFO, Mode: posix.ModeMask, UID: 1000, GID: 1000},
		{Type: posix.TypeBlockDev, Rdev: math.MaxUint32},
		{Type: posix.TypeCharDev, Flags: posix.FlagImmutable | posix.FlagAppend},
		{
			Type: posix.TypeSocket, Flags: math.MaxUint8, Mode: posix.ModeMask,
			UID: math.MaxUint32, GID: math.MaxUint32,
			Atime: math.MinInt64, Mtime: math.MaxInt64, Ctime: -1,
			Nlink: math.MaxUint32, Length: math.MaxUint64, Rdev: math.MaxUint32,
			Parent: math.MaxUint64, AccessACL: math.MaxUint32, DefaultACL: math.MaxUint32,
		},
		{Type: posix.TypeDir, Mode: 0o700, Nlink: 2, Quota: 42},
		{Type: posix.TypeFile, Length: 5000, Quota: math.MaxUint64},
	}
}

// FuzzAttr decodes arbitrary bytes as an inode attribute record.
func FuzzAttr(f *testing.F) {
	for _, a := range sampleAttrs() {
		f.Add(encodeAttr(&a))
	}
	f.Add([]byte{})
	f.Add([]byte{attrVersion})
	f.Add(make([]byte, attrSize)) // version 0
	f.Add(append(encodeAttr(&posix.Attr{Type: posix.TypeFile}), 0))
	bad := encodeAttr(&posix.Attr{Type: posix.TypeFile})
	bad[1] = 0 // type 0 is invalid
	f.Add(bad)
	bad = encodeAttr(&posix.Attr{Type: posix.TypeFile})
	bad[1] = byte(posix.TypeSocket + 1)
	f.Add(bad)
	bad = encodeAttr(&posix.Attr{Type: posix.TypeFile})
	bad[3] = 0xff // mode bits outside ModeMask
	f.Add(bad)
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := decodeAttr(b)
		if err != nil {
			mustEIO(t, "decodeAttr", err)
			return
		}
		if a.Mode&^posix.ModeMask != 0 {
			t.Fatalf("decoded mode %o has bits outside ModeMask", a.Mode)
		}
		re := encodeAttr(&a)
		// The format is canonical except for the 4 high bits of the mode
		// field, which no writer sets and the reader ignores.
		want := bytes.Clone(b)
		want[3] &= byte(posix.ModeMask >> 8)
		if !bytes.Equal(re, want) {
			t.Fatalf("re-encoded\n%x\nwant\n%x", re, want)
		}
		a2, err := decodeAttr(re)
		if err != nil || a2 != a {
			t.Fatalf("second decode: %+v, %v; want %+v", a2, err, a)
		}
	})
}

// FuzzAttrValues encodes an Attr built from the fuzz arguments and decodes it.
func FuzzAttrValues(f *testing.F) {
	for _, a := range sampleAttrs() {
		f.Add(uint8(a.Type), a.Flags, a.Mode, a.UID, a.GID, a.Atime, a.Mtime, a.Ctime,
			a.Nlink, a.Length, a.Rdev, uint64(a.Parent), a.AccessACL, a.DefaultACL)
	}
	f.Add(uint8(0), uint8(0), uint32(0), uint32(0), uint32(0), int64(0), int64(0), int64(0),
		uint32(0), uint64(0), uint32(0), uint64(0), uint32(0), uint32(0))
	f.Add(uint8(200), uint8(0), uint32(math.MaxUint32), uint32(0), uint32(0), int64(0), int64(0), int64(0),
		uint32(0), uint64(0), uint32(0), uint64(0), uint32(0), uint32(0))
	f.Fuzz(func(t *testing.T, typ, flags uint8, mode, uid, gid uint32, atime, mtime, ctime int64,
		nlink uint32, length uint64, rdev uint32, parent uint64, accACL, defACL uint32) {
		a := posix.Attr{
			Type: posix.FileType(typ), Flags: flags, Mode: mode, UID: uid, GID: gid,
			Atime: atime, Mtime: mtime, Ctime: ctime, Nlink: nlink, Length: length,
			Rdev: rdev, Parent: posix.Ino(parent), AccessACL: accACL, DefaultACL: defACL,
		}
		b := encodeAttr(&a)
		if len(b) != attrSize {
			t.Fatalf("encoded %d bytes, want %d", len(b), attrSize)
		}
		got, err := decodeAttr(b)
		if a.Type < posix.TypeFile || a.Type > posix.TypeSocket {
			if err == nil {
				t.Fatalf("type %d accepted", a.Type)
			}
			mustEIO(t, "decodeAttr", err)
			return
		}
		if err != nil {
			t.Fatalf("decodeAttr(encodeAttr(%+v)): %v", a, err)
		}
		want := a
		want.Mode &= posix.ModeMask // Attr.Mode holds no other bits
		if got != want {
			t.Fatalf("round trip\n got %+v\nwant %+v", got, want)
		}
		if re := encodeAttr(&got); !bytes.Equal(re, b) {
			t.Fatalf("re-encoded %x, want %x", re, b)
		}
	})
}

// --- directory entries ---

// FuzzDentry decodes arbitrary bytes as a directory entry value.
func FuzzDentry(f *testing.F) {
	f.Add(encodeDentry(posix.TypeFile, posix.RootIno))
	f.Add(encodeDentry(posix.TypeDir, 0))
	f.Add(encodeDentry(posix.TypeSocket, math.MaxUint64))
	f.Add(encodeDentry(0, 42))
	f.Add([]byte{})
	f.Add(make([]byte, 8))
	f.Add(make([]byte, 10))
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, ino, err := decodeDentry(b)
		if err != nil {
			mustEIO(t, "decodeDentry", err)
			if len(b) == 9 {
				t.Fatalf("9-byte entry %x rejected: %v", b, err)
			}
			return
		}
		if re := encodeDentry(typ, ino); !bytes.Equal(re, b) {
			t.Fatalf("re-encoded %x, want %x", re, b)
		}
	})
}

// FuzzDentryValues round-trips a directory entry built from the arguments.
func FuzzDentryValues(f *testing.F) {
	f.Add(uint8(posix.TypeFile), uint64(1))
	f.Add(uint8(0), uint64(0))
	f.Add(uint8(math.MaxUint8), uint64(math.MaxUint64))
	f.Fuzz(func(t *testing.T, typ uint8, ino uint64) {
		b := encodeDentry(posix.FileType(typ), posix.Ino(ino))
		gt, gi, err := decodeDentry(b)
		if err != nil || gt != posix.FileType(typ) || gi != posix.Ino(ino) {
			t.Fatalf("decodeDentry(encodeDentry(%d, %d)) = %d, %d, %v", typ, ino, gt, gi, err)
		}
	})
}

// --- chunk slice lists ---

func encodeSlices(ss []Slice) []byte {
	var b []byte
	for _, s := range ss {
		b = appendSlice(b, s)
	}
	return b
}

// validSlice is the reader's rule, restated: a run lies inside its slice
// (holes excepted) and inside the chunk.
func validSlice(s Slice) bool {
	return (s.ID == 0 || uint64(s.Off)+uint64(s.Len) <= uint64(s.Size)) &&
		uint64(s.Pos)+uint64(s.Len) <= ChunkSize
}

func sampleSliceLists() [][]Slice {
	return [][]Slice{
		nil,
		{{ID: 1, Size: 4096, Len: 4096}},
		{{ID: 0, Size: 0, Off: 0, Len: ChunkSize, Pos: 0}}, // hole over the whole chunk
		{{ID: 0, Off: math.MaxUint32, Len: 1, Pos: 7}},     // holes need no Off/Size
		{{ID: 7, Size: ChunkSize, Len: ChunkSize}, {ID: 8, Size: 10, Off: 3, Len: 7, Pos: ChunkSize - 7}},
		{{ID: InlineBit | 5, Size: 100, Len: 100}, {ID: math.MaxUint64, Size: math.MaxUint32, Off: math.MaxUint32, Len: 0, Pos: ChunkSize}},
	}
}

// FuzzSlices decodes arbitrary bytes as a chunk's slice list.
func FuzzSlices(f *testing.F) {
	for _, ss := range sampleSliceLists() {
		f.Add(encodeSlices(ss))
	}
	f.Add(make([]byte, sliceRecordSize-1))
	f.Add(encodeSlices([]Slice{{ID: 1, Size: 1, Off: 1, Len: 1}}))             // past the slice end
	f.Add(encodeSlices([]Slice{{ID: 1, Size: 2, Len: 2, Pos: ChunkSize - 1}})) // past the chunk end
	f.Fuzz(func(t *testing.T, b []byte) {
		ss, err := decodeSlices(b)
		if err != nil {
			mustEIO(t, "decodeSlices", err)
			return
		}
		if len(ss)*sliceRecordSize != len(b) {
			t.Fatalf("%d records from %d bytes", len(ss), len(b))
		}
		for i, s := range ss {
			if !validSlice(s) || s.Data != nil {
				t.Fatalf("record %d accepted: %+v", i, s)
			}
		}
		re := encodeSlices(ss)
		if !bytes.Equal(re, b) {
			t.Fatalf("re-encoded\n%x\nwant\n%x", re, b)
		}
		ss2, err := decodeSlices(re)
		if err != nil || !reflect.DeepEqual(ss2, ss) {
			t.Fatalf("second decode: %+v, %v; want %+v", ss2, err, ss)
		}
	})
}

// FuzzSliceValues round-trips a list of up to 4 slices built from the
// arguments: record i is the argument slice with its id, position and
// offset moved by i.
func FuzzSliceValues(f *testing.F) {
	for _, ss := range sampleSliceLists() {
		for _, s := range ss {
			f.Add(s.ID, s.Size, s.Off, s.Len, s.Pos, uint8(0))
		}
	}
	f.Add(uint64(3), uint32(10), uint32(0), uint32(10), uint32(0), uint8(3))
	f.Add(uint64(3), uint32(10), uint32(5), uint32(10), uint32(0), uint8(1)) // invalid
	f.Fuzz(func(t *testing.T, id uint64, size, off, n, pos uint32, count uint8) {
		ss := make([]Slice, int(count%4)+1)
		valid := true
		for i := range ss {
			d := uint32(i)
			ss[i] = Slice{ID: id + uint64(i), Size: size, Off: off + d, Len: n, Pos: pos + d*n}
			valid = valid && validSlice(ss[i])
		}
		b := encodeSlices(ss)
		if len(b) != len(ss)*sliceRecordSize {
			t.Fatalf("encoded %d bytes for %d slices", len(b), len(ss))
		}
		got, err := decodeSlices(b)
		if !valid {
			if err == nil {
				t.Fatalf("invalid list accepted: %+v", ss)
			}
			mustEIO(t, "decodeSlices", err)
			return
		}
		if err != nil || !reflect.DeepEqual(got, ss) {
			t.Fatalf("round trip of %+v: %+v, %v", ss, got, err)
		}
	})
}

// FuzzSlicesDropData checks that an inline slice's Data is not part of the
// stored record: encoding ignores it and decoding leaves it nil.
func FuzzSlicesDropData(f *testing.F) {
	f.Add(InlineBit|1, uint32(3), []byte("abc"))
	f.Add(uint64(0), uint32(0), []byte(nil))
	f.Fuzz(func(t *testing.T, id uint64, size uint32, data []byte) {
		s := Slice{ID: id, Size: size, Len: size % (ChunkSize + 1), Data: data}
		if !validSlice(s) {
			return
		}
		got, err := decodeSlices(appendSlice(nil, s))
		s.Data = nil
		if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], s) {
			t.Fatalf("round trip of %+v: %+v, %v", s, got, err)
		}
	})
}

// --- lock tables ---

func sampleLockTables() [][]lockRec {
	return [][]lockRec{
		nil,
		{{sid: 1, owner: 2, Lock: Lock{Type: LockWrite, Start: 0, End: math.MaxUint64, PID: 100}}},
		{
			{sid: 1, owner: 1, Lock: Lock{Type: LockRead, Start: 0, End: 99, PID: 1}},
			{sid: 2, owner: math.MaxUint64, Lock: Lock{Type: LockRead, Start: 100, End: 199, PID: math.MaxUint32}},
			{sid: math.MaxUint64, owner: 0, Lock: Lock{Type: LockUnlock, Start: math.MaxUint64, End: math.MaxUint64}},
		},
	}
}

// FuzzLocks decodes arbitrary bytes as an inode's lock table.
func FuzzLocks(f *testing.F) {
	for _, ls := range sampleLockTables() {
		f.Add(encodeLocks(ls))
	}
	f.Add(make([]byte, lockRecSize-1))
	f.Add(make([]byte, lockRecSize+1))
	f.Fuzz(func(t *testing.T, b []byte) {
		ls, err := decodeLocks(b)
		if err != nil {
			mustEIO(t, "decodeLocks", err)
			return
		}
		re := encodeLocks(ls)
		if !bytes.Equal(re, b) {
			t.Fatalf("re-encoded\n%x\nwant\n%x", re, b)
		}
		ls2, err := decodeLocks(re)
		if err != nil || !reflect.DeepEqual(ls2, ls) {
			t.Fatalf("second decode: %+v, %v; want %+v", ls2, err, ls)
		}
	})
}

// FuzzLockValues round-trips a table of up to 4 locks built from the
// arguments.
func FuzzLockValues(f *testing.F) {
	for _, ls := range sampleLockTables() {
		for _, l := range ls {
			f.Add(l.sid, l.owner, uint8(l.Type), l.Start, l.End, l.PID, uint8(0))
		}
	}
	f.Add(uint64(0), uint64(0), uint8(math.MaxUint8), uint64(0), uint64(0), uint32(0), uint8(3))
	f.Fuzz(func(t *testing.T, sid, owner uint64, typ uint8, start, end uint64, pid uint32, count uint8) {
		ls := make([]lockRec, int(count%4)+1)
		for i := range ls {
			d := uint64(i)
			ls[i] = lockRec{sid: sid + d, owner: owner ^ d, Lock: Lock{Type: LockType(typ), Start: start + d, End: end - d, PID: pid + uint32(i)}}
		}
		b := encodeLocks(ls)
		if len(b) != len(ls)*lockRecSize {
			t.Fatalf("encoded %d bytes for %d locks", len(b), len(ls))
		}
		got, err := decodeLocks(b)
		if err != nil || !reflect.DeepEqual(got, ls) {
			t.Fatalf("round trip of %+v: %+v, %v", ls, got, err)
		}
	})
}

// --- change-feed records (JSON) ---

// normRecord returns r with Extra in compact form, which is what
// json.Marshal writes for a RawMessage.
func normRecord(t *testing.T, r Record) Record {
	t.Helper()
	if r.Extra != nil {
		var c bytes.Buffer
		if err := json.Compact(&c, r.Extra); err != nil {
			t.Fatalf("decoded Extra %q is not JSON: %v", r.Extra, err)
		}
		r.Extra = c.Bytes()
	}
	return r
}

func sampleRecords() []Record {
	return []Record{
		{},
		{Seq: 1, Time: 1700000000000000000, Op: OpCreate, Ino: 2, Type: posix.TypeFile, Parent: 1, Name: "a", Mode: 0o644, Nlink: 1,
			Origin: Origin{Principal: "AKIDEXAMPLE", SourceIP: "192.0.2.1", RequestID: "r1", Session: 3, Agent: "s3"}},
		{Seq: math.MaxUint64, Time: math.MinInt64, Op: OpRename, Ino: math.MaxUint64, Parent: 1, Name: strings.Repeat("n", MaxNameLen),
			NewParent: math.MaxUint64, NewName: "b\u00e9\u2603", Length: math.MaxUint64, Mode: math.MaxUint32,
			UID: math.MaxUint32, GID: math.MaxUint32, Nlink: math.MaxUint32},
		{Seq: 9, Op: OpSetXattr, Ino: 5, Xattr: "user.k", Extra: json.RawMessage(`{"a":[1,2,null]}`)},
		{Seq: 10, Op: OpUnlink, Ino: 6, Parent: 1, Name: "caf\xe9", NewName: "\xff\xfe", Xattr: "user.\x80"}, // not UTF-8
		{Seq: 11, Op: OpLink, Name: "quote\"back\\slash\ttab<>&\u2028", Origin: Origin{Agent: "fuse"}},
	}
}

func mustMarshal(t *testing.T, r Record) []byte {
	t.Helper()
	b, err := json.Marshal(&r)
	if err != nil {
		t.Fatalf("json.Marshal(%+v): %v", r, err)
	}
	return b
}

// FuzzFeedRecord decodes arbitrary bytes as ReadFeed does.
func FuzzFeedRecord(f *testing.F) {
	for _, r := range sampleRecords() {
		b, err := json.Marshal(&r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"seq":1,"extra": { "x" : 1 } ,"name":"\u00e9\ud800"}`))
	f.Add([]byte(`{"SEQ":2,"Seq":3,"name":null,"extra":null}`))
	f.Add([]byte(`{"seq":-1}`))
	f.Add([]byte(`{"seq":1e3}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Record
		if err := json.Unmarshal(b, &r); err != nil {
			return
		}
		r = normRecord(t, r)
		re := mustMarshal(t, r)
		var r2 Record
		if err := json.Unmarshal(re, &r2); err != nil {
			t.Fatalf("decoding re-encoded %s: %v", re, err)
		}
		if !reflect.DeepEqual(r2, r) {
			t.Fatalf("re-encoded %s decodes to\n%+v\nwant\n%+v", re, r2, r)
		}
		// The writer's output is a fixed point.
		if re2 := mustMarshal(t, r2); !bytes.Equal(re2, re) {
			t.Fatalf("second encoding\n%s\nfirst\n%s", re2, re)
		}
	})
}

// FuzzFeedRecordValues round-trips a Record built from the arguments.
// Entry and xattr names may be any bytes; Origin strings (principal, address,
// request id, agent) come from HTTP and the program and are taken as UTF-8.
func FuzzFeedRecordValues(f *testing.F) {
	for _, r := range sampleRecords() {
		f.Add(r.Seq, r.Time, string(r.Op), uint64(r.Ino), uint8(r.Type), uint64(r.Parent), r.Name,
			uint64(r.NewParent), r.NewName, r.Length, r.Mode, r.UID, r.GID, r.Nlink, r.Xattr,
			r.Origin.Principal, r.Origin.SourceIP, r.Origin.RequestID, r.Origin.Session, r.Origin.Agent, []byte(r.Extra))
	}
	f.Fuzz(func(t *testing.T, seq uint64, tm int64, op string, ino uint64, typ uint8, parent uint64, name string,
		nparent uint64, nname string, length uint64, mode, uid, gid, nlink uint32, xattr string,
		principal, ip, req string, sess uint64, agent string, extra []byte) {
		r := Record{
			Seq: seq, Time: tm, Op: Op(strings.ToValidUTF8(op, "?")), Ino: posix.Ino(ino), Type: posix.FileType(typ),
			Parent: posix.Ino(parent), Name: name, NewParent: posix.Ino(nparent), NewName: nname,
			Length: length, Mode: mode, UID: uid, GID: gid, Nlink: nlink, Xattr: xattr,
			Origin: Origin{
				Principal: strings.ToValidUTF8(principal, "?"), SourceIP: strings.ToValidUTF8(ip, "?"),
				RequestID: strings.ToValidUTF8(req, "?"), Session: sess, Agent: strings.ToValidUTF8(agent, "?"),
			},
		}
		if len(extra) > 0 && json.Valid(extra) {
			r.Extra = extra
			r = normRecord(t, r)
		}
		b := mustMarshal(t, r)
		var got Record
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("decoding %s: %v", b, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("%s decodes to\n%+v\nwant\n%+v", b, got, r)
		}
	})
}

// --- session records and the volume format (JSON) ---

// FuzzSessionInfo decodes arbitrary bytes as ListSessions does.
func FuzzSessionInfo(f *testing.F) {
	for _, si := range []SessionInfo{
		{},
		{ID: 1, Host: "h", PID: 42, Version: "v1", Process: "mount /mnt/x",
			Started: time.Unix(1700000000, 5).UTC(), Heartbeat: time.Unix(1700000001, 0).UTC(), OpenedDead: 3},
		{ID: math.MaxUint64, PID: math.MinInt, OpenedDead: math.MaxInt,
			Started: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("", -12*3600))},
	} {
		b, err := json.Marshal(si)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"started":"2000-01-01T00:00:00+23:59"}`))
	f.Add([]byte(`{"heartbeat":"0000-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var si SessionInfo
		if err := json.Unmarshal(b, &si); err != nil {
			return
		}
		re, err := json.Marshal(si)
		if err != nil {
			t.Fatalf("json.Marshal of decoded %+v: %v", si, err)
		}
		var si2 SessionInfo
		if err := json.Unmarshal(re, &si2); err != nil {
			t.Fatalf("decoding re-encoded %s: %v", re, err)
		}
		if !sameSession(si, si2) {
			t.Fatalf("re-encoded %s decodes to\n%+v\nwant\n%+v", re, si2, si)
		}
	})
}

func sameSession(a, b SessionInfo) bool {
	if !a.Started.Equal(b.Started) || !a.Heartbeat.Equal(b.Heartbeat) {
		return false
	}
	a.Started, a.Heartbeat, b.Started, b.Heartbeat = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return a == b
}

// FuzzSessionInfoValues round-trips a session record built from the
// arguments. Host and process strings are taken as UTF-8 (they are shown,
// never used as names).
func FuzzSessionInfoValues(f *testing.F) {
	f.Add(uint64(1), "host", int64(42), "v", "mount /mnt/x", int64(1700000000000000005), int64(0), int64(0))
	f.Add(uint64(math.MaxUint64), "", int64(math.MinInt64), "", "", int64(math.MinInt64), int64(math.MaxInt64), int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, id uint64, host string, pid int64, version, process string, started, heartbeat, dead int64) {
		si := SessionInfo{
			ID: id, Host: strings.ToValidUTF8(host, "?"), PID: int(pid), Version: strings.ToValidUTF8(version, "?"),
			Process: strings.ToValidUTF8(process, "?"), Started: time.Unix(0, started), Heartbeat: time.Unix(0, heartbeat),
			OpenedDead: int(dead),
		}
		b, err := json.Marshal(si)
		if err != nil {
			t.Fatalf("json.Marshal(%+v): %v", si, err)
		}
		var got SessionInfo
		if err := json.Unmarshal(b, &got); err != nil || !sameSession(got, si) {
			t.Fatalf("%s decodes to %+v, %v; want %+v", b, got, err, si)
		}
	})
}

// FuzzFormat decodes arbitrary bytes as ReadFormat does.
func FuzzFormat(f *testing.F) {
	for _, ft := range []Format{
		{},
		{Name: "vol", UUID: "0b6c1d9e-0000-4000-8000-000000000000", Storage: "s3", Bucket: "b", BlockSize: 4 << 20,
			Capacity: math.MaxUint64, Inodes: 1, EnableACL: true, Version: formatVersion, CreatedAt: time.Unix(1700000000, 1).UTC()},
		{Version: math.MaxInt, BlockSize: math.MinInt},
	} {
		b, err := json.Marshal(ft)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"version":2,"created_at":"2024-02-29T12:00:00.5-07:00"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var ft Format
		if err := json.Unmarshal(b, &ft); err != nil {
			return
		}
		re, err := json.Marshal(ft)
		if err != nil {
			t.Fatalf("json.Marshal of decoded %+v: %v", ft, err)
		}
		var ft2 Format
		if err := json.Unmarshal(re, &ft2); err != nil {
			t.Fatalf("decoding re-encoded %s: %v", re, err)
		}
		if !ft.CreatedAt.Equal(ft2.CreatedAt) {
			t.Fatalf("created_at %v, want %v", ft2.CreatedAt, ft.CreatedAt)
		}
		ft.CreatedAt, ft2.CreatedAt = time.Time{}, time.Time{}
		if ft != ft2 {
			t.Fatalf("re-encoded %s decodes to\n%+v\nwant\n%+v", re, ft2, ft)
		}
	})
}

// --- key layouts ---

// FuzzKeys checks the key layouts against the inline parsers that read
// them back (Check, readdir, the slice reaper, sessionInos) and that numeric
// order is key order, which scans rely on.
func FuzzKeys(f *testing.F) {
	f.Add(uint64(0), uint64(1), uint32(0), "", int64(0))
	f.Add(uint64(1), uint64(math.MaxUint64), uint32(math.MaxUint32), strings.Repeat("x", MaxNameLen), int64(math.MaxInt64))
	f.Add(uint64(0xff), uint64(0x100), uint32(0xff), "\xff\xff", int64(1700000000000000000))
	f.Fuzz(func(t *testing.T, a, b uint64, n uint32, name string, at int64) {
		ia, ib := posix.Ino(a), posix.Ino(b)

		// 'A' ino sub ...: Check and readdir take the inode from k[1:9] and
		// the sub-family from k[9].
		for _, k := range [][]byte{attrKey(ia), dentryKey(ia, name), chunkKey(ia, n), symlinkKey(ia), xattrKey(ia, name)} {
			if len(k) < 10 || k[0] != famInode || posix.Ino(u64(k[1:9])) != ia {
				t.Fatalf("inode key %x of %d", k, a)
			}
		}
		if k := attrKey(ia); len(k) != 10 || k[9] != subAttr {
			t.Fatalf("attr key %x", k)
		}
		dk, dp := dentryKey(ia, name), dentryPrefix(ia)
		if !bytes.HasPrefix(dk, dp) || string(dk[len(dp):]) != name || dk[9] != subDentry {
			t.Fatalf("dentry key %x, prefix %x, name %q", dk, dp, name)
		}
		if end := kv.PrefixEnd(dp); end != nil && bytes.Compare(dk, end) >= 0 {
			t.Fatalf("dentry key %x not below prefix end %x", dk, end)
		}
		if ck := chunkKey(ia, n); len(ck) != 14 || !bytes.HasPrefix(ck, chunkPrefix(ia)) || binary.BigEndian.Uint32(ck[10:]) != n {
			t.Fatalf("chunk key %x of %d/%d", ck, a, n)
		}
		xk := xattrKey(ia, name)
		if !bytes.HasPrefix(xk, xattrPrefix(ia)) || string(xk[10:]) != name || xk[9] != subXattr {
			t.Fatalf("xattr key %x", xk)
		}
		if k := symlinkKey(ia); len(k) != 10 || k[9] != subSymlink {
			t.Fatalf("symlink key %x", k)
		}

		// 'Z' time slice size: the reaper and Check parse k[9:17], k[17:21].
		dk2 := delSliceKey(at, b, n)
		if len(dk2) != 21 || dk2[0] != famDelSlice || int64(u64(dk2[1:9])) != at || u64(dk2[9:17]) != b ||
			uint32(dk2[17])<<24|uint32(dk2[18])<<16|uint32(dk2[19])<<8|uint32(dk2[20]) != n {
			t.Fatalf("delete key %x of %d/%d/%d", dk2, at, b, n)
		}
		if k := sliceRefKey(b, n); len(k) != 13 || k[0] != famSliceRef || u64(k[1:9]) != b || binary.BigEndian.Uint32(k[9:]) != n {
			t.Fatalf("slice ref key %x", k)
		}
		// 'B' id: Check reads u64(k[1:]) of 9-byte keys.
		if k := inlineKey(b); len(k) != 9 || k[0] != famInline || u64(k[1:]) != b {
			t.Fatalf("inline key %x", k)
		}
		// 'O'/'M' session ino: sessionInos reads u64(k[9:]) under the
		// session's 9-byte prefix.
		for _, k := range [][]byte{openKey(a, ib), sessLockKey(a, ib)} {
			if len(k) != 17 || u64(k[1:9]) != a || posix.Ino(u64(k[9:])) != ib {
				t.Fatalf("session key %x", k)
			}
		}
		if openKey(a, ib)[0] != famOpen || sessLockKey(a, ib)[0] != famSessLock {
			t.Fatal("session key families")
		}
		if k := lockKey(ia, kindPosix); len(k) != 10 || k[0] != famLock || posix.Ino(u64(k[1:9])) != ia || k[9] != kindPosix {
			t.Fatalf("lock key %x", k)
		}
		if k := feedKey(b); len(k) != 9 || k[0] != famFeed || u64(k[1:]) != b {
			t.Fatalf("feed key %x", k)
		}
		if k := sessionKey(b); len(k) != 9 || k[0] != famSession || u64(k[1:]) != b {
			t.Fatalf("session key %x", k)
		}
		if k := unlinkedKey(ib); len(k) != 9 || k[0] != famUnlinked || posix.Ino(u64(k[1:])) != ib {
			t.Fatalf("unlinked key %x", k)
		}
		if k := aclKey(n); len(k) != 5 || k[0] != famACL || binary.BigEndian.Uint32(k[1:]) != n {
			t.Fatalf("acl key %x", k)
		}
		if k := configKey(name); k[0] != famConfig || string(k[1:]) != name {
			t.Fatalf("config key %x", k)
		}
		if k := feedPosKey(name); k[0] != famFeedPos || string(k[1:]) != name {
			t.Fatalf("feed position key %x", k)
		}
		if v := putU64(b); u64(v) != b {
			t.Fatalf("putU64(%d) = %x", b, v)
		}

		// Numeric order is key order.
		cmp := func(x, y uint64) int {
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		}
		want := cmp(a, b)
		for _, p := range [][2][]byte{
			{attrKey(ia), attrKey(ib)},
			{feedKey(a), feedKey(b)},
			{sessionKey(a), sessionKey(b)},
			{inlineKey(a), inlineKey(b)},
			{openKey(7, ia), openKey(7, ib)},
			{sliceRefKey(a, n), sliceRefKey(b, n)},
			{delSliceKey(at, a, n), delSliceKey(at, b, n)},
		} {
			if got := bytes.Compare(p[0], p[1]); got != want {
				t.Fatalf("keys %x, %x compare %d; %d, %d compare %d", p[0], p[1], got, a, b, want)
			}
		}
		// Deletion times (unix ns, not negative) sort by time.
		if at >= 0 && a <= math.MaxInt64 {
			if got := bytes.Compare(delSliceKey(int64(a), 0, 0), delSliceKey(at, 0, 0)); got != cmp(a, uint64(at)) {
				t.Fatalf("delete keys at %d and %d compare %d", a, at, got)
			}
		}
		// Every key of an inode lies before the next inode's keys.
		if a < math.MaxUint64 {
			next := inodePrefix(ia + 1)
			for _, k := range [][]byte{attrKey(ia), dentryKey(ia, name), chunkKey(ia, n), xattrKey(ia, name)} {
				if bytes.Compare(k, next) >= 0 {
					t.Fatalf("key %x of %d not below inode %d", k, a, a+1)
				}
			}
		}
	})
}
