package sqlkv

import (
	"sync"
	"sync/atomic"

	"github.com/ncruces/go-sqlite3"
)

// Checkpoints run on a connection of their own, off the writer's path.
//
// SQLite's default copies the WAL back into the database inside the COMMIT
// that grows the WAL past 1,000 pages: that commit then also reads those
// pages, writes them into the database file and syncs it, while every
// Update queued behind it waits. Here the writer's WAL hook only signals
// past walSoftLimit pages, and a checkpointer goroutine runs PASSIVE
// checkpoints (which never block the writer or readers) on its own
// connection. Under a steady stream of writes a background checkpoint
// never catches up with the end of the WAL, and SQLite starts the WAL
// over only when all of it is in the database: once the WAL reaches
// walHardLimit pages the writer checkpoints itself (after waiting for a
// background checkpoint under way), which copies only what was written
// since the checkpointer's last run, and the WAL starts over at the next
// transaction.
const (
	walSoftLimit = 1000 // pages: wake the checkpointer
	walHardLimit = 8000 // pages (32 MiB at 4 KiB): the writer finishes the checkpoint
)

type checkpointer struct {
	conn *sqlite3.Conn
	wake chan struct{}
	quit chan struct{}
	done chan struct{}
	once sync.Once
	mu   sync.Mutex // held by a checkpoint, so that the writer's waits for the checkpointer's

	soft, hard int // walSoftLimit, walHardLimit but in tests
	// Checkpoints run, for tests: by the checkpointer, by the writer.
	background, inline atomic.Int64
}

func startCheckpointer(path string, opt Options, writer *sqlite3.Conn) (*checkpointer, error) {
	rc, err := dialSQLite(path, pragmas(opt), false)
	if err != nil {
		return nil, err
	}
	cp := &checkpointer{conn: rc.c, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}), soft: walSoftLimit, hard: walHardLimit}
	// The hook runs inside the writer's COMMIT, once the transaction is
	// in the WAL, with the WAL's length in pages.
	writer.WALHook(func(c *sqlite3.Conn, schema string, pages int) error {
		if pages >= cp.hard {
			// A checkpoint under way on the checkpointer's connection
			// would make this one fail as busy, and on a loaded machine
			// the checkpointer can be running at every commit, so the
			// WAL grew without bound: wait for it (it copies at most
			// what the WAL held when it started), then finish here.
			cp.mu.Lock()
			_, _, err := c.WALCheckpoint(schema, sqlite3.CHECKPOINT_PASSIVE)
			cp.mu.Unlock()
			if err == nil {
				cp.inline.Add(1)
			}
			return nil
		}
		if pages >= cp.soft {
			select {
			case cp.wake <- struct{}{}:
			default:
			}
		}
		return nil
	})
	go cp.run(rc)
	return cp, nil
}

func (cp *checkpointer) run(rc *rconn) {
	defer close(cp.done)
	defer rc.close()
	for {
		select {
		case <-cp.quit:
			return
		case <-cp.wake:
		}
		// Busy (another checkpoint under way) and other failures are
		// retried at the next wake-up; the writer's inline limit bounds
		// the WAL meanwhile.
		cp.background.Add(1)
		cp.mu.Lock()
		_, _, _ = cp.conn.WALCheckpoint("main", sqlite3.CHECKPOINT_PASSIVE)
		cp.mu.Unlock()
	}
}

func (cp *checkpointer) stop() {
	cp.once.Do(func() { close(cp.quit) })
	<-cp.done
}
