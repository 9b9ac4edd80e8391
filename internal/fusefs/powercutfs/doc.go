// Package powercutfs is a test-only FUSE file system that simulates power
// cuts, to find lost writes the way LazyFS is used for PostgreSQL and etcd.
//
// Mount passes a real directory (lower) through at a mount point and
// remembers what has not been made durable; Cut aborts the FUSE connection
// at once, removes the mount, and rewrites lower to what a conservative
// ext4 would still hold after losing power. A test runs `cairn server`
// with its data directory on the mount, kills it with SIGKILL at a random
// moment, calls Cut, restarts the server on lower (or on a new mount of
// it) and checks what survived.
//
// # Durability model
//
// Everything in lower at Mount counts as durable. After that:
//
//   - A regular file's contents and length (write, truncate, ftruncate,
//     fallocate, O_TRUNC) and its attributes (mode, owner, times) become
//     durable at fsync or fdatasync of any open file of the inode, or at
//     each write when the file was opened O_SYNC or O_DSYNC. After a cut,
//     a file has the contents, length and attributes of its last sync; a
//     file created after Mount and never synced is empty and has the
//     attributes it was created with.
//   - Directory entries (create, mkdir, mknod, symlink, link, unlink,
//     rmdir, rename, including RENAME_NOREPLACE and RENAME_EXCHANGE)
//     become durable only at fsync of the directory that holds them. A
//     rename from A to B is two changes: the removal from A, durable at
//     fsync of A, and the new entry in B, durable at fsync of B. After a
//     cut each directory has exactly the entries of its last fsync; a
//     directory whose entry was never durable vanishes with its subtree;
//     an inode with several durable entries comes back hard-linked.
//   - Syncing a file does not make its name durable, and syncing a
//     directory does not make its files' contents durable.
//   - Reads always see the current state: until Cut this is an ordinary
//     file system.
//
// # Server process
//
// By default the mount is served by a separate process: Mount starts this
// program's own executable again with an environment variable that the
// package's init recognises (it then serves the mount and exits without
// running main or any test), and Cut, Unmount and Stats are requests to
// it over a pipe. Serving from the process that also uses the mount is
// unsafe in Go: a thread that page-faults on a memory-mapped file of the
// mount (SQLite maps its WAL index, the -shm file) or a forked child that
// chdirs into it before exec waits for the server while the runtime
// stops the world for the garbage collector, which waits for that thread:
// a deadlock (seen as a GC stuck for minutes). With a server process the
// user may map files, start children in the mount, and die. The server's
// log lines go to Options.Logger; a crash or race report of the server
// makes Cut or Unmount fail. Options.InProcess keeps everything in one
// process for users that do none of these.
//
// # Not modelled
//
// Extended attributes pass straight through: after a cut a file restored
// from a shadow has none, one linked from lower keeps lower's. Partial
// writes (torn sectors) and reordering within one file's unsynced writes
// are not simulated: a cut loses all of a file's unsynced changes or, for
// changes racing with a sync, includes them. The ordering ext4's journal
// actually gives (an fsync of a file also committing earlier directory
// changes) is deliberately not relied on. Directory renames between
// parents synced at different times can leave a directory with two
// durable names; it comes back at the first in lexical depth-first order.
// ctime and inode numbers are not preserved. Lower is never really
// fsynced: the host does not lose power.
//
// # Implementation
//
// Every operation is applied to lower as a loopback file system does.
// Each inode has a record under an id of its own (lower's inode numbers are
// reused after unlink; a fresh id is assigned at every create), used as
// the FUSE inode number. Each directory record holds its current and its
// durable entries; fsyncdir copies the changed names across, so it costs
// O(changes). A file's durable contents are lower's own while it is
// unchanged since Mount. Before its first change they are copied into a
// shadow file (so the first write after Mount to a large file costs a
// copy of it); before its last name goes, the file is hard-linked into the
// shadow directory instead (copied if that is on another file system).
// From then on the shadow holds the durable contents, and each sync copies
// into it only the byte ranges written since the previous sync, so a log
// appended and fdatasynced many times costs linear time. Cut rebuilds the
// tree from the root's durable entries in a staging directory inside
// lower, moving and linking rather than copying, and swaps it in.
//
// Every FUSE operation holds a shared lock and checks a dead flag; a cut
// sets the flag, aborts the connection through
// /sys/fs/fuse/connections/<minor>/abort (mounting fusectl if needed),
// and takes the lock exclusively to wait for operations already running
// before it touches lower.
package powercutfs
