package notify

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	"cairn/internal/meta"
)

// TestWindow: whatever reads are added, in whatever order, from returns
// exactly the records of the feed after the position asked for, up to
// the last it reports.
func TestWindow(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// The records a dispatcher wants: some sequence numbers have none (not
	// for it), some two (a mount's rename).
	var feed []meta.Record
	for seq := uint64(1); seq <= 20000; seq++ {
		switch rng.IntN(4) {
		case 0:
		case 1:
			feed = append(feed, meta.Record{Seq: seq, Length: 1}, meta.Record{Seq: seq, Length: 2})
		default:
			feed = append(feed, meta.Record{Seq: seq, Length: 1})
		}
	}
	read := func(after, last uint64) []meta.Record {
		i, _ := slices.BinarySearchFunc(feed, after+1, bySeq)
		j, _ := slices.BinarySearchFunc(feed, last+1, bySeq)
		return feed[i:j]
	}
	// Three readers going through the feed at their own pace, now and
	// then one going back (a dispatcher restarted from a saved position).
	var w window
	pos := make([]uint64, 3)
	hits := 0
	for pos[0] < 19000 || pos[1] < 19000 || pos[2] < 19000 {
		r := rng.IntN(len(pos))
		if rng.IntN(200) == 0 {
			pos[r] -= min(pos[r], uint64(rng.IntN(5000)))
		}
		// Any position the window says it covers, it covers.
		if q := w.after + uint64(rng.IntN(int(w.last-w.after)+3)); q >= 2 {
			if recs, last, ok := w.from(q - 2); ok && !slices.EqualFunc(recs, read(q-2, last), same) {
				t.Fatalf("from(%d): %d records to %d, want %d", q-2, len(recs), last, len(read(q-2, last)))
			}
		}
		p := pos[r]
		recs, last, ok := w.from(p)
		if ok {
			hits++
			if last <= p || !slices.EqualFunc(recs, read(p, last), same) {
				t.Fatalf("from(%d): %d records to %d, want %d", p, len(recs), last, len(read(p, last)))
			}
		} else {
			last = p + 1 + uint64(rng.IntN(readLimit))
			w.add(p, last, read(p, last), slices.Min(pos))
			if len(w.recs) > windowMax+2 {
				t.Fatalf("the window keeps %d records", len(w.recs))
			}
		}
		// The reader is done with all, or (a failed delivery) part.
		pos[r] = last
		if rng.IntN(5) == 0 {
			pos[r] = p + uint64(rng.IntN(int(last-p)))
		}
	}
	if hits < 20 {
		t.Fatalf("only %d reads from the window", hits)
	}
	t.Logf("%d reads from the window", hits)
}

func bySeq(r meta.Record, seq uint64) int { return cmp.Compare(r.Seq, seq) }

func same(a, b meta.Record) bool { return a.Seq == b.Seq && a.Length == b.Length }

// TestWindowTrim: the window gives up what every reader is past, and what
// is beyond its bound, and then says so.
func TestWindowTrim(t *testing.T) {
	recs := func(from, to uint64) []meta.Record {
		var out []meta.Record
		for s := from; s <= to; s++ {
			out = append(out, meta.Record{Seq: s})
		}
		return out
	}
	var w window
	w.add(0, 10, recs(1, 10), 0)
	w.add(10, 20, recs(11, 20), 5)
	if _, _, ok := w.from(4); ok {
		t.Fatal("from(4) after the readers passed 5")
	}
	if got, last, ok := w.from(5); !ok || last != 20 || len(got) != 15 || got[0].Seq != 6 {
		t.Fatalf("from(5): %d records from %v, last %d, %v", len(got), got[0].Seq, last, ok)
	}
	w.add(20, 20+windowMax, recs(21, 20+windowMax), 5)
	if len(w.recs) > windowMax {
		t.Fatalf("%d records kept", len(w.recs))
	}
	if _, _, ok := w.from(19); ok {
		t.Fatal("from(19) after the bound dropped it")
	}
	if got, _, ok := w.from(20); !ok || got[0].Seq != 21 {
		t.Fatalf("from(20): %v", ok)
	}
	if _, _, ok := w.from(20 + windowMax); ok {
		t.Fatal("from(last)")
	}
}
