package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"syscall"

	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// Handing a session over. A mount taken over by a new process (a smooth
// remount) keeps its session: the new process resumes it, so that the
// locks the session holds and the inodes it keeps for open files stay
// valid, and the old one detaches from it without ending it.

// ErrNoSession is a session to resume that the volume does not have.
var ErrNoSession = errors.New("meta: no such session")

// ResumeSession makes this client the holder of the live session id (which
// another process detached from), with info as its new description, and
// starts its heartbeat.
func (m *FS) ResumeSession(ctx context.Context, id uint64, info SessionInfo) error {
	m.sessMu.Lock()
	defer m.sessMu.Unlock()
	if m.sess != nil {
		return fmt.Errorf("meta: this client already has session %d", m.sess.info.ID)
	}
	err := m.store.Update(ctx, func(tx kv.Tx) error {
		b, err := tx.Get(sessionKey(id))
		if errors.Is(err, kv.ErrNotFound) {
			return ErrNoSession
		}
		if err != nil {
			return err
		}
		var old SessionInfo
		if err := json.Unmarshal(b, &old); err != nil {
			return err
		}
		info.ID, info.Started, info.Timeout = id, old.Started, m.opts.SessionTimeout
		info.Heartbeat = m.opts.Now().UTC()
		nb, err := json.Marshal(info)
		if err != nil {
			return err
		}
		return tx.Put(sessionKey(id), nb)
	})
	if err != nil {
		return err
	}
	s := &session{info: info, stop: make(chan struct{}), done: make(chan struct{})}
	s.lastBeat.Store(info.Heartbeat.UnixNano())
	m.sess = s
	go m.heartbeat(s)
	return nil
}

// DetachSession stops this client's heartbeat and forgets its session
// without ending it (its locks and kept inodes stay), for another process
// to resume within Options.SessionTimeout. Close then leaves it alone.
func (m *FS) DetachSession() {
	m.sessMu.Lock()
	s := m.sess
	m.sess = nil
	m.sessMu.Unlock()
	if s != nil {
		close(s.stop)
		<-s.done
	}
}

// RestoreOpen counts a handle of ino that this client took over open (a
// smooth remount), as OpenInode would have; an inode whose last link has
// gone is freed at its last Release, as it would have been.
func (m *FS) RestoreOpen(ctx context.Context, ino posix.Ino) error {
	unlinked := false
	err := m.store.View(ctx, func(tx kv.Tx) error {
		a, err := getAttr(tx, ino)
		if errors.Is(err, syscall.ENOENT) {
			return nil
		}
		unlinked = err == nil && a.Nlink == 0
		return err
	})
	if err != nil {
		return err
	}
	m.opens.register(ino)
	if unlinked {
		m.opens.mu.Lock()
		if m.opens.unlinked == nil {
			m.opens.unlinked = make(map[posix.Ino]bool)
		}
		m.opens.unlinked[ino] = true
		m.opens.mu.Unlock()
	}
	return nil
}
