// Package s3fs is the S3 object model on the file system: buckets are the
// directories under the volume root, object keys are paths below them, and
// object metadata (ETag, Content-Type, user metadata, checksums) lives in
// internal xattrs that FUSE never shows. Objects written over S3 are
// ordinary files on a mount; files written on a mount are objects (their
// ETag is computed on first access and cached with the file state it
// describes).
//
// # Atomic writes
//
// A PUT streams into a hidden temporary file under .cairn/tmp and renames
// it into place only when the body is complete and verified (length,
// Content-MD5, checksums), so readers see the old object or the new one,
// never a mix, and a failed upload leaves nothing. CopyObject and
// CompleteMultipartUpload build their temporary file by reference
// (copy_file_range of slices): no bytes are copied.
//
// # Keys that cannot be paths
//
// Keys with empty, "." or ".." segments, NUL bytes or over 1024 bytes are
// refused with ErrInvalidKey / ErrKeyTooLong rather than stored under a
// different name. A key that is also a prefix of other keys is folded
// (fold.go); ErrKeyConflict remains only for a write that loses a race
// with a change of the key's name from file to directory.
//
// # Permissions
//
// Every call takes the posix.Cred the S3 principal maps to, and performs
// its file operations as that identity: search permission on each
// directory of the key, read permission to GET, write permission on the
// parent (and on a replaced object) to PUT or DELETE.
package s3fs
