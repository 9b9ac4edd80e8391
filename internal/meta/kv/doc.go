// Package kv is the contract between cairn's metadata layer and the engines
// that store it (SQLite, PostgreSQL, MySQL, Redis, memory).
//
// # Model
//
// A Store holds byte-string keys in unsigned-byte order. All access happens in
// transactions passed to Update or View as closures. Transactions are
// serializable: an engine either provides that directly (SQLite's single
// writer, SERIALIZABLE isolation) or detects conflicting concurrent
// transactions and reports ErrConflict, in which case Update runs the closure
// again. Closures therefore must not have side effects outside the Tx;
// work to do after a commit is collected in local variables and done after
// Update returns. A closure that panics fails its transaction with an error
// (nothing it wrote is committed); the panic does not reach the caller.
//
// # Counters
//
// Incr keeps 8-byte big-endian integers, used for inode and slice id
// allocation and for usage counters.
//
// # Conformance
//
// Every engine runs kvtest.Run from its tests; an engine is done when that
// suite passes.
package kv
