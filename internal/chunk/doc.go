// Package chunk stores file data as immutable slices cut into blocks.
//
// A slice (a run of bytes written at once, with a volume-wide id) is stored
// as blocks of at most BlockSize bytes, each one object under
//
//	chunks/HH/ID_INDEX_SIZE
//
// where HH spreads slices over 256 prefixes by a hash of the id, INDEX is the
// block's index in the slice and SIZE its data length. Each object holds the
// block's bytes followed by their CRC-32C (4 bytes, little-endian), so a
// corrupted or truncated block is detected on read, never served.
//
// Writers upload full blocks concurrently while the caller keeps writing,
// bounded by a store-wide limit that applies backpressure. Readers fetch
// whole blocks into a memory LRU cache, with sequential readahead. Blocks are
// never modified; Remove deletes a slice's blocks once the metadata no longer
// references it. The package knows nothing of inodes or paths.
package chunk
