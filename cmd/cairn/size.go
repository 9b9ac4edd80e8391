package main

import (
	"fmt"
	"strconv"
	"strings"
)

// parseSize reads a byte count with an optional binary unit: 4096, 4K,
// 4KiB, 64M, 1G, 2T (K/M/G/T are powers of 1024, as dd and JuiceFS use).
func parseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "i")
	mult := uint64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		case 't', 'T':
			mult = 1 << 40
		case 'p', 'P':
			mult = 1 << 50
		}
		if mult != 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil || (n > 0 && n*mult/mult != n) {
		return 0, fmt.Errorf("bad size %q (use a number with an optional K, M, G or T suffix)", s)
	}
	return n * mult, nil
}

// sizeValue is a pflag.Value for sizes.
type sizeValue uint64

func (v *sizeValue) String() string { return strconv.FormatUint(uint64(*v), 10) }
func (v *sizeValue) Type() string   { return "size" }
func (v *sizeValue) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	*v = sizeValue(n)
	return nil
}
