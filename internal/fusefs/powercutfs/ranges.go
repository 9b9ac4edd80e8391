package powercutfs

import "sort"

// span is the half-open byte range [off, end) of a file.
type span struct{ off, end int64 }

// rangeSet is a set of byte offsets kept as sorted, non-overlapping,
// non-adjacent spans. Adding a span that touches the last one (an
// append) costs O(log n) and allocates nothing, so a file that is
// appended to and synced many times costs linear time overall.
//
// The zero value is an empty set. Not safe for concurrent use.
type rangeSet struct{ spans []span }

// add inserts [off, end). Empty or inverted ranges are ignored.
func (s *rangeSet) add(off, end int64) {
	if end <= off {
		return
	}
	// First span that ends at or after off: every span before it lies
	// strictly before the new one and is not adjacent to it.
	i := sort.Search(len(s.spans), func(i int) bool { return s.spans[i].end >= off })
	j := i
	for j < len(s.spans) && s.spans[j].off <= end {
		off = min(off, s.spans[j].off)
		end = max(end, s.spans[j].end)
		j++
	}
	switch {
	case j-i == 1:
		s.spans[i] = span{off, end}
	case j == i:
		s.spans = append(s.spans, span{})
		copy(s.spans[i+1:], s.spans[i:])
		s.spans[i] = span{off, end}
	default:
		s.spans[i] = span{off, end}
		s.spans = append(s.spans[:i+1], s.spans[j:]...)
	}
}

// clip returns the spans cut to [0, size), in order.
func (s *rangeSet) clip(size int64) []span {
	var out []span
	for _, sp := range s.spans {
		if sp.off >= size {
			break
		}
		out = append(out, span{sp.off, min(sp.end, size)})
	}
	return out
}

// reset empties the set, keeping its storage.
func (s *rangeSet) reset() { s.spans = s.spans[:0] }

// empty reports whether the set holds no byte.
func (s *rangeSet) empty() bool { return len(s.spans) == 0 }
