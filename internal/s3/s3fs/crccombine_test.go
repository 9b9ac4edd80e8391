package s3fs

import (
	"hash/crc32"
	"hash/crc64"
	"math/rand"
	"testing"
)

func TestCRCCombine(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	for i := 0; i < 300; i++ {
		data := make([]byte, r.Intn(5000))
		r.Read(data)
		cut := 0
		if len(data) > 0 {
			cut = r.Intn(len(data) + 1)
		}
		a, b := data[:cut], data[cut:]
		n := int64(len(b))
		if got, want := crcCombine(uint64(crc32.ChecksumIEEE(a)), uint64(crc32.ChecksumIEEE(b)), n, 0xEDB88320, 32), uint64(crc32.ChecksumIEEE(data)); got != want {
			t.Fatalf("CRC32 cut %d of %d: %x, want %x", cut, len(data), got, want)
		}
		if got, want := crcCombine(uint64(crc32.Checksum(a, castagnoli)), uint64(crc32.Checksum(b, castagnoli)), n, 0x82F63B78, 32), uint64(crc32.Checksum(data, castagnoli)); got != want {
			t.Fatalf("CRC32C cut %d of %d: %x, want %x", cut, len(data), got, want)
		}
		if got, want := crcCombine(crc64.Checksum(a, crc64NVMETable), crc64.Checksum(b, crc64NVMETable), n, 0x9A6C9329AC4BC9B5, 64), crc64.Checksum(data, crc64NVMETable); got != want {
			t.Fatalf("CRC64NVME cut %d of %d: %x, want %x", cut, len(data), got, want)
		}
	}
}
