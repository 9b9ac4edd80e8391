package adminapi

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func TestSealOpen(t *testing.T) {
	for _, n := range []int{0, 1, fragmentSize - 1, fragmentSize, fragmentSize + 1, 3*fragmentSize + 7} {
		plain := make([]byte, n)
		rand.Read(plain)
		s, err := seal("the-secret", plain)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := open("the-secret", s); err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if _, err := open("other-secret", s); err == nil {
			t.Fatalf("%d bytes opened with another secret", n)
		}
		// Every byte matters: flip one anywhere after the header, or cut
		// the stream at a fragment boundary, and it no longer opens.
		bad := append([]byte(nil), s...)
		bad[len(bad)-1] ^= 1
		if _, err := open("the-secret", bad); err == nil {
			t.Fatalf("%d bytes: a tampered payload opened", n)
		}
		if n > fragmentSize {
			if _, err := open("the-secret", s[:headerSize+fragmentSize+16]); err == nil {
				t.Fatalf("%d bytes: a truncated stream opened", n)
			}
		}
	}
	if _, err := open("s", []byte("short")); err == nil {
		t.Fatal("a short payload opened")
	}
}

func FuzzOpen(f *testing.F) {
	s, _ := seal("k", []byte(`{"secretKey":"x"}`))
	f.Add(s)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		open("k", b) // must not panic
	})
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
