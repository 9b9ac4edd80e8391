package s3fs

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"strings"
	"sync"
	"sync/atomic"

	md5simd "github.com/minio/md5-simd"
)

// crc64NVME is the CRC-64/NVME polynomial in the reflected form hash/crc64
// expects (0xAD93D23594C93659 bit-reversed).
var crc64NVMETable = crc64.MakeTable(0x9A6C9329AC4BC9B5)

var crc32cTable = crc32.MakeTable(crc32.Castagnoli)

// Algorithm names as S3 spells them in x-amz-checksum-algorithm.
const (
	AlgCRC32     = "CRC32"
	AlgCRC32C    = "CRC32C"
	AlgCRC64NVME = "CRC64NVME"
	AlgSHA1      = "SHA1"
	AlgSHA256    = "SHA256"
)

func newChecksum(alg string) hash.Hash {
	switch strings.ToUpper(alg) {
	case AlgCRC32:
		return crc32.NewIEEE()
	case AlgCRC32C:
		return crc32.New(crc32cTable)
	case AlgCRC64NVME:
		return crc64.New(crc64NVMETable)
	case AlgSHA1:
		return sha1.New()
	case AlgSHA256:
		return sha256.New()
	}
	return nil
}

// ValidAlgorithm reports whether alg names a supported checksum.
func ValidAlgorithm(alg string) bool { return newChecksum(alg) != nil }

// field returns a pointer to the Checksums field of alg.
func (c *Checksums) field(alg string) *string {
	switch strings.ToUpper(alg) {
	case AlgCRC32:
		return &c.CRC32
	case AlgCRC32C:
		return &c.CRC32C
	case AlgCRC64NVME:
		return &c.CRC64NVME
	case AlgSHA1:
		return &c.SHA1
	case AlgSHA256:
		return &c.SHA256
	}
	return nil
}

// Get returns the base64 checksum of alg ("" if absent).
func (c *Checksums) Get(alg string) string {
	if p := c.field(alg); p != nil {
		return *p
	}
	return ""
}

// Set stores the base64 checksum of alg.
func (c *Checksums) Set(alg, v string) {
	if p := c.field(alg); p != nil {
		*p = v
	}
}

var allAlgs = []string{AlgCRC32, AlgCRC32C, AlgCRC64NVME, AlgSHA1, AlgSHA256}

// hasher computes the MD5 (for the ETag) and the additional checksums of a
// body as it streams through.
type hasher struct {
	md5   hash.Hash
	large bool // counted in largeMD5s
	algs  []string
	sums  []hash.Hash
	n     int64
}

// The MD5 of large bodies runs on a shared md5-simd server when many run
// at once: it hashes 16 streams in the lanes of one core's vector unit
// (AVX-512; 8 with AVX2), but every round costs the same however few lanes
// are busy, so with a handful of uploads crypto/md5 (a core per stream,
// ~0.8 GB/s each) costs less CPU. Measured here: 16 uploads of 256 MiB
// 402 -> 687 MiB/s with md5-simd; 4 uploads of 16 MiB slower with it.
// Small bodies always use crypto/md5.
const (
	simdMD5Min  = 1 << 20 // body size from which md5-simd may be used
	simdMD5Busy = 6       // large hashers already running before it is
)

var (
	md5Server = sync.OnceValue(md5simd.NewServer)
	largeMD5s atomic.Int32 // large-body hashers running
)

// newHasher returns a hasher for a body of size bytes (-1: unknown);
// close it when done.
func newHasher(expect Checksums, compute []string, size int64) *hasher {
	h := &hasher{}
	switch {
	case size >= 0 && size < simdMD5Min:
		h.md5 = md5.New()
	case largeMD5s.Add(1) > simdMD5Busy:
		h.md5, h.large = md5Server().NewHash(), true
	default:
		h.md5, h.large = md5.New(), true
	}
	seen := map[string]bool{}
	add := func(a string) {
		a = strings.ToUpper(a)
		if seen[a] || newChecksum(a) == nil {
			return
		}
		seen[a] = true
		h.algs = append(h.algs, a)
		h.sums = append(h.sums, newChecksum(a))
	}
	for _, a := range allAlgs {
		if expect.Get(a) != "" {
			add(a)
		}
	}
	for _, a := range compute {
		add(a)
	}
	return h
}

func (h *hasher) Write(p []byte) (int, error) {
	h.md5.Write(p)
	for _, s := range h.sums {
		s.Write(p)
	}
	h.n += int64(len(p))
	return len(p), nil
}

// close releases the hasher (its lane on the md5-simd server).
func (h *hasher) close() {
	if c, ok := h.md5.(md5simd.Hasher); ok {
		c.Close()
	}
	if h.large {
		h.large = false
		largeMD5s.Add(-1)
	}
}

// result returns the computed checksums.
func (h *hasher) result() Checksums {
	var c Checksums
	for i, a := range h.algs {
		c.Set(a, base64.StdEncoding.EncodeToString(h.sums[i].Sum(nil)))
	}
	if len(h.algs) > 0 {
		c.Type = "FULL_OBJECT"
	}
	return c
}

// verify compares the expected checksums with the computed ones.
func verifyChecksums(expect, got Checksums) error {
	for _, a := range allAlgs {
		if e := expect.Get(a); e != "" && e != got.Get(a) {
			return ErrChecksumMismatch
		}
	}
	return nil
}
