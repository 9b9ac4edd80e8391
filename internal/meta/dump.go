package meta

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"cairn/internal/meta/kv"
)

// Dump and load: a volume's metadata as JSON, to move it between engines.
//
// A dump is every key of the store (the namespace, ACLs, identities,
// bucket settings, notification targets, the change feed and its
// consumers' positions, counters) except a live process's state (sessions,
// open-file marks and locks), in key order, one key per line:
//
//	{"cairn_dump": 1, "volume": "NAME", "uuid": "UUID", "keys": [
//	["KEY", "VALUE"],
//	...
//	], "count": N}
//
// KEY is the key's bytes with every byte outside printable ASCII, and
// '%' and '"' and '\', written %XX (hex); VALUE is standard base64. The
// volume counters are written as their totals and the change feed's
// sequence as its newest number, so the same volume dumps to the same
// bytes, whatever its engine and however many clients moved it.

// dumpVersion is the dump format this code writes and reads.
const dumpVersion = 1

// dumpSkipped reports whether a key is a live process's state.
func dumpSkipped(k []byte) bool {
	switch k[0] {
	case famSession, famOpen, famLock, famSessLock:
		return true
	}
	return false
}

// dumpPage is the keys read per View while dumping.
const dumpPage = 1000

// Dump writes the store's metadata to w, calling progress (when not nil)
// with the keys written so far after each page. The store should be
// quiet: each page is read in a View of its own, so changes made during
// the dump may be partly in it.
func Dump(ctx context.Context, store kv.Store, w io.Writer, progress func(keys int)) error {
	f, err := ReadFormat(ctx, store)
	if err != nil {
		return err
	}
	// Counters are written as their totals (a client's shards mean
	// nothing in another store) and the feed's sequence as its head (an
	// engine with a sequence of its own leaves the row behind).
	var fixed [][2][]byte
	if err := settleFeed(ctx, store); err != nil {
		return err
	}
	err = store.View(ctx, func(tx kv.Tx) error {
		fixed = fixed[:0]
		head, err := feedHead(tx)
		if err != nil {
			return err
		}
		fixed = append(fixed, [2][]byte{configKey(cfgFeedSeq), putU64(head)})
		for _, name := range volumeCounters {
			n, err := counterTotal(tx, name)
			if err != nil {
				return err
			}
			fixed = append(fixed, [2][]byte{configKey(name), putU64(uint64(n))})
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(fixed, func(a, b [2][]byte) int { return bytes.Compare(a[0], b[0]) })
	bw := bufio.NewWriterSize(w, 1<<20)
	head, _ := json.Marshal(map[string]any{"cairn_dump": dumpVersion, "volume": f.Name, "uuid": f.UUID})
	bw.Write(head[:len(head)-1])
	bw.WriteString(`, "keys": [`)
	n := 0
	writePair := func(k, v []byte) {
		if n > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n[\"")
		bw.WriteString(escapeKey(k))
		bw.WriteString("\", \"")
		bw.WriteString(base64.StdEncoding.EncodeToString(v))
		bw.WriteString("\"]")
		n++
	}
	var next []byte // the first key of the next page
	for done := false; !done; {
		type pair struct{ k, v []byte }
		var page []pair
		err := store.View(ctx, func(tx kv.Tx) error {
			page = page[:0]
			return tx.Scan(next, nil, kv.ScanOptions{Limit: dumpPage}, func(k, v []byte) bool {
				page = append(page, pair{bytes.Clone(k), bytes.Clone(v)})
				return true
			})
		})
		if err != nil {
			return err
		}
		if len(page) < dumpPage {
			done = true
		} else {
			next = append(bytes.Clone(page[len(page)-1].k), 0)
		}
		for _, p := range page {
			if len(p.k) == 0 || dumpSkipped(p.k) || isCounterShard(p.k) {
				continue
			}
			for len(fixed) > 0 && bytes.Compare(fixed[0][0], p.k) <= 0 {
				if bytes.Equal(fixed[0][0], p.k) {
					p.v = fixed[0][1]
				} else {
					writePair(fixed[0][0], fixed[0][1])
				}
				fixed = fixed[1:]
			}
			writePair(p.k, p.v)
		}
		if progress != nil {
			progress(n)
		}
	}
	for _, p := range fixed {
		writePair(p[0], p[1])
	}
	fmt.Fprintf(bw, "\n], \"count\": %d}\n", n)
	return bw.Flush()
}

// escapeKey writes a key as printable ASCII, other bytes as %XX.
func escapeKey(k []byte) string {
	var b strings.Builder
	for _, c := range k {
		if c < 0x20 || c >= 0x7f || c == '%' || c == '"' || c == '\\' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// unescapeKey reverses escapeKey.
func unescapeKey(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			if c < 0x20 || c >= 0x7f {
				return nil, fmt.Errorf("key %q: byte %#x should be escaped", s, c)
			}
			out = append(out, c)
			continue
		}
		if i+2 >= len(s) {
			return nil, fmt.Errorf("key %q: %% without two hex digits", s)
		}
		var v byte
		for _, h := range []byte(s[i+1 : i+3]) {
			v <<= 4
			switch {
			case h >= '0' && h <= '9':
				v |= h - '0'
			case h >= 'A' && h <= 'F':
				v |= h - 'A' + 10
			default:
				return nil, fmt.Errorf("key %q: bad escape", s)
			}
		}
		out = append(out, v)
		i += 2
	}
	return out, nil
}

// loadBatch is the keys written per transaction while loading.
const loadBatch = 500

// Load reads a dump from r into store, which must be empty, calling
// progress (when not nil) with the keys loaded so far after each batch.
// The volume's settings are written last, so that a load that fails
// leaves no volume that looks whole (format the store's tables again, or
// empty it, before retrying).
func Load(ctx context.Context, store kv.Store, r io.Reader, progress func(keys int)) error {
	empty := true
	if err := store.View(ctx, func(tx kv.Tx) error {
		return tx.Scan(nil, nil, kv.ScanOptions{Limit: 1, KeysOnly: true}, func(k, _ []byte) bool {
			empty = false
			return false
		})
	}); err != nil {
		return err
	}
	if !empty {
		return errors.New("meta: the target store is not empty (load needs a new, empty one)")
	}
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	bad := func(format string, a ...any) error {
		return fmt.Errorf("meta: not a cairn dump: "+format, a...)
	}
	expect := func(want json.Delim) error {
		tok, err := dec.Token()
		if err != nil {
			return bad("%v", err)
		}
		if d, ok := tok.(json.Delim); !ok || d != want {
			return bad("found %v where %v was expected", tok, want)
		}
		return nil
	}
	if err := expect('{'); err != nil {
		return err
	}
	var (
		version    int
		sawKeys    bool
		count      = -1
		n          int
		formatVal  []byte
		batch      [][2][]byte
		flush      func() error
		haveFormat bool
	)
	flush = func() error {
		if len(batch) == 0 {
			return nil
		}
		err := store.Update(ctx, func(tx kv.Tx) error {
			for _, p := range batch {
				if err := tx.Put(p[0], p[1]); err != nil {
					return err
				}
			}
			return nil
		})
		batch = batch[:0]
		if err == nil && progress != nil {
			progress(n)
		}
		return err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bad("%v", err)
		}
		name, _ := tok.(string)
		switch name {
		case "cairn_dump":
			if err := dec.Decode(&version); err != nil || version != dumpVersion {
				return fmt.Errorf("meta: dump format %d, this cairn reads %d (%v)", version, dumpVersion, err)
			}
		case "keys":
			if version != dumpVersion {
				return bad("no cairn_dump version before the keys")
			}
			sawKeys = true
			if err := expect('['); err != nil {
				return err
			}
			var prev []byte
			for dec.More() {
				var pair [2]string
				if err := dec.Decode(&pair); err != nil {
					return bad("key %d: %v", n+1, err)
				}
				k, err := unescapeKey(pair[0])
				if err != nil || len(k) == 0 {
					return bad("key %d: %v", n+1, err)
				}
				if prev != nil && bytes.Compare(prev, k) >= 0 {
					return bad("key %d (%s) is out of order", n+1, pair[0])
				}
				prev = k
				v, err := base64.StdEncoding.DecodeString(pair[1])
				if err != nil {
					return bad("key %d (%s): value: %v", n+1, pair[0], err)
				}
				n++
				if bytes.Equal(k, configKey(cfgFormat)) {
					formatVal, haveFormat = v, true
					continue
				}
				batch = append(batch, [2][]byte{k, v})
				if len(batch) == loadBatch {
					if err := flush(); err != nil {
						return err
					}
				}
			}
			if err := expect(']'); err != nil {
				return err
			}
		case "count":
			if err := dec.Decode(&count); err != nil {
				return bad("count: %v", err)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return bad("%v", err)
			}
		}
	}
	if err := expect('}'); err != nil {
		return err
	}
	switch {
	case !sawKeys:
		return bad("no keys")
	case count != n:
		return bad("%d keys where the dump says %d (cut short?)", n, count)
	case !haveFormat:
		return bad("no volume settings among the keys")
	}
	var f Format
	if err := json.Unmarshal(formatVal, &f); err != nil {
		return bad("volume settings: %v", err)
	}
	batch = append(batch, [2][]byte{configKey(cfgFormat), formatVal})
	return flush()
}
