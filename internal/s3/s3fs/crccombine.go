package s3fs

// CRC combination: the CRC of A||B from crc(A), crc(B) and len(B), without
// the bytes. Appending len(B) zero bytes to A advances its CRC register by
// a linear map over GF(2); the map for 2^k zero bits is built by squaring
// the one-bit map, and applied to crc(A) for each bit set in len(B)*8.
// Works for any reflected CRC of up to 64 bits whose init and final XOR are
// both all ones (CRC-32, CRC-32C and CRC-64/NVME are), since those terms
// cancel. Used for FULL_OBJECT checksums of multipart uploads.

// gf2Apply multiplies the square bit matrix m by the vector v.
func gf2Apply(m []uint64, v uint64) uint64 {
	var out uint64
	for i := 0; v != 0; i, v = i+1, v>>1 {
		if v&1 != 0 {
			out ^= m[i]
		}
	}
	return out
}

// gf2Square sets dst to m×m.
func gf2Square(dst, m []uint64) {
	for i := range m {
		dst[i] = gf2Apply(m, m[i])
	}
}

// crcCombine returns the CRC (reflected polynomial poly, width bits) of
// A||B given crcA, crcB and the length of B.
func crcCombine(crcA, crcB uint64, lenB int64, poly uint64, width int) uint64 {
	if lenB <= 0 {
		return crcA
	}
	odd := make([]uint64, width)  // the map for one zero bit, then 4, 16, ...
	even := make([]uint64, width) // 2, 8, 32, ... zero bits
	odd[0] = poly
	for i, row := 1, uint64(1); i < width; i, row = i+1, row<<1 {
		odd[i] = row
	}
	gf2Square(even, odd) // 2 bits
	gf2Square(odd, even) // 4 bits
	// Each step below squares once more: the first applies 8 bits (one
	// zero byte), the next 16, and so on, for each bit of lenB.
	for {
		gf2Square(even, odd)
		if lenB&1 != 0 {
			crcA = gf2Apply(even, crcA)
		}
		if lenB >>= 1; lenB == 0 {
			break
		}
		gf2Square(odd, even)
		if lenB&1 != 0 {
			crcA = gf2Apply(odd, crcA)
		}
		if lenB >>= 1; lenB == 0 {
			break
		}
	}
	return crcA ^ crcB
}
