// Package vfs is the file system as a Go API: open handles, reads and
// writes at any offset, flush/fsync/release, and every namespace operation,
// each taking a context and the caller's posix.Cred. fusefs and the S3 layer
// are thin adapters over it.
//
// # Writes
//
// Bytes written to a file go into slices (package chunk) that are uploaded
// in the background as blocks fill. A slice only grows by appending, so a
// write that does not continue the slice being filled ends it: every
// pending slice of the file is committed to the metadata (in write order,
// so later writes win) before a new one starts. A slice also ends at each
// 64 MiB chunk boundary. Flush, Fsync and Release wait until every slice of
// the file is uploaded and committed; a failed upload is reported by the
// next Write, Flush or Release of that file, and nothing it wrote becomes
// visible.
//
// # Reads and consistency
//
// Reads resolve the chunk's slice list from the metadata (newest slice
// wins; ranges no slice covers read as zeroes) and fetch block ranges
// through the chunk cache. Before reading a file this process is writing,
// pending writes are committed, so a process always reads its own writes.
// Between processes the guarantee is close-to-open: data committed by a
// Flush or Release elsewhere is seen by any Open that follows it, because
// Open drops the cached slice lists of the inode.
//
// # Deleting data
//
// Freed slices are queued in the metadata and deleted from the object
// store by a background sweeper after the volume's delay, so a reader that
// resolved a slice list a moment before still finds the blocks.
package vfs
