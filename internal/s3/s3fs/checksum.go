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
	md5  hash.Hash
	algs []string
	sums []hash.Hash
	n    int64
}

// simdMD5Min is the body size from which the MD5 runs on the shared
// md5-simd server: it hashes up to 16 streams in the lanes of one core's
// vector unit (AVX-512; 8 with AVX2), which for large PUTs is the
// difference between one core per stream at ~0.8 GB/s and a fraction of
// one for all of them. Small bodies keep crypto/md5: for them the
// server's channel hand-offs cost more than the hashing.
const simdMD5Min = 1 << 20

var md5Server = sync.OnceValue(md5simd.NewServer)

// newHasher returns a hasher for a body of size bytes (-1: unknown);
// close it when done.
func newHasher(expect Checksums, compute []string, size int64) *hasher {
	h := &hasher{}
	if size >= 0 && size < simdMD5Min {
		h.md5 = md5.New()
	} else {
		h.md5 = md5Server().NewHash()
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

// close releases the hasher's lane on the md5-simd server.
func (h *hasher) close() {
	if c, ok := h.md5.(md5simd.Hasher); ok {
		c.Close()
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
