// Package meta implements the file-system metadata of a cairn volume —
// every POSIX namespace operation, written once over the narrow
// transactional key-value contract of package kv, so that each engine
// (SQLite, PostgreSQL, MySQL, Redis, memory) only stores bytes.
//
// # Key schema
//
// keys.go documents the layout. Keys are byte strings with one family byte
// and big-endian numbers, so a directory's entries are one contiguous range
// in name order (listing and S3 prefix scans are range scans) and so are an
// inode's chunks and xattrs.
//
// # Transactions and checks
//
// Every operation is one kv transaction (a closure that may run more than
// once when the engine reports a conflict). Permission checks run inside
// that transaction, with the rules of package posix and package acl, on
// the attributes the transaction read — so a check and the change it
// guards cannot be split by a concurrent chmod. Inode numbers and slice ids
// are reserved in batches outside the transactions.
//
// # ACLs
//
// Each distinct ACL is stored once under an increasing id; inodes hold ids.
// Ids are never reused and a stored ACL never changes, so the id→ACL cache
// in FS only grows. A minimal access ACL (one equal to the mode) is never
// stored.
//
// # Data
//
// A file is cut into ChunkSize chunks; each chunk lists the slices written
// to it, newest last; ResolveSlices computes what a read sees. Slices are
// shared by reference (CopyFileRange) with reference counts, and freed
// through a delayed-delete queue (SweepDeletedSlices).
//
// # Change feed
//
// Every mutation appends a Record in its own transaction, numbered in
// commit order, carrying the caller's Origin (WithOrigin). Consumers keep
// their own positions; retention is bounded and a consumer that falls
// behind is told so (ErrFeedTruncated).
//
// # Sessions
//
// Clients register sessions with heartbeats. An inode unlinked while open
// in this client survives until its last handle is released; if the client
// dies, any other client's CleanDeadSessions frees it and the dead
// session's locks.
package meta
