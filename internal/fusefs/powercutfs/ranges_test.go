package powercutfs

import (
	"slices"
	"testing"
)

func TestRangeSet(t *testing.T) {
	tests := []struct {
		name string
		add  []span
		want []span
	}{
		{"empty", nil, nil},
		{"one", []span{{0, 10}}, []span{{0, 10}}},
		{"ignores empty", []span{{5, 5}, {7, 3}}, nil},
		{"append merges", []span{{0, 10}, {10, 20}, {20, 25}}, []span{{0, 25}}},
		{"disjoint sorted", []span{{30, 40}, {0, 10}, {15, 20}}, []span{{0, 10}, {15, 20}, {30, 40}}},
		{"bridge", []span{{0, 10}, {20, 30}, {5, 25}}, []span{{0, 30}}},
		{"cover many", []span{{1, 2}, {3, 4}, {5, 6}, {0, 100}}, []span{{0, 100}}},
		{"inside", []span{{0, 100}, {10, 20}}, []span{{0, 100}}},
		{"touch before", []span{{10, 20}, {5, 10}}, []span{{5, 20}}},
		{"between", []span{{0, 10}, {40, 50}, {20, 30}}, []span{{0, 10}, {20, 30}, {40, 50}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s rangeSet
			for _, sp := range tc.add {
				s.add(sp.off, sp.end)
			}
			if !slices.Equal(s.spans, tc.want) {
				t.Fatalf("spans %v, want %v", s.spans, tc.want)
			}
		})
	}
}

func TestRangeSetClip(t *testing.T) {
	var s rangeSet
	s.add(0, 10)
	s.add(20, 30)
	s.add(40, 50)
	got := s.clip(25)
	want := []span{{0, 10}, {20, 25}}
	if !slices.Equal(got, want) {
		t.Fatalf("clip %v, want %v", got, want)
	}
	s.reset()
	if !s.empty() {
		t.Fatal("not empty after reset")
	}
}
