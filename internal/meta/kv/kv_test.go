package kv

import (
	"bytes"
	"testing"
)

func TestPrefixEnd(t *testing.T) {
	cases := []struct {
		name   string
		prefix []byte
		want   []byte
	}{
		{"simple", []byte("ab"), []byte("ac")},
		{"carry", []byte{0x01, 0xff}, []byte{0x02}},
		{"all-ff", []byte{0xff, 0xff}, nil},
		{"empty", nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := PrefixEnd(tc.prefix)
			if !bytes.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
				t.Fatalf("PrefixEnd(%x) = %x, want %x", tc.prefix, got, tc.want)
			}
		})
	}
}
