package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// Sessions. A client that mounts or serves the volume registers a session
// and refreshes its heartbeat. Inodes unlinked while this client holds them
// open are recorded under the session ('O'), and so are its locks; when a
// session misses heartbeats for Options.SessionTimeout, any live client
// removes it with CleanDeadSessions, freeing those inodes and locks.

// SessionInfo describes a client, as `cairn status` shows it.
type SessionInfo struct {
	ID   uint64 `json:"id"`
	Host string `json:"host"`
	PID  int    `json:"pid"`
	// PIDSpace names the PID namespace PID is a number of (with the
	// kernel's boot): a client judges from PID whether the process
	// ended only when it is in the same one, since two containers of
	// one host, or a container with the host's name, have processes
	// with the same numbers. "" when unknown.
	PIDSpace string `json:"pid_space,omitempty"`
	// Timeout is how long the session may miss heartbeats before the
	// others end it: its client's Options.SessionTimeout, kept with the
	// session so that every client judges it by the beat it keeps.
	// Sessions that do not say are judged by DefaultSessionTimeout.
	Timeout    time.Duration `json:"timeout_ns,omitempty"`
	Version    string        `json:"version,omitempty"`
	Process    string        `json:"process,omitempty"` // "mount /mnt/x", "gateway :9000"...
	Mountpoint string        `json:"mountpoint,omitempty"`
	Started    time.Time     `json:"started"`
	Heartbeat  time.Time     `json:"heartbeat"`
	OpenedDead int           `json:"sustained_inodes,omitempty"`
}

type session struct {
	info SessionInfo // info.ID under m.sessMu: a renewed session changes it
	stop chan struct{}
	done chan struct{}
	// lastBeat is when (Options.Now, unix ns) the session's record was
	// last confirmed: created or refreshed.
	lastBeat atomic.Int64
	// lost: the others ended the session; this client's data changes
	// are refused.
	lost atomic.Bool
}

// ErrSessionLost is the error of a change refused because this client's
// session was ended by the others: it missed heartbeats for longer than
// the session timeout (a network partition, a paused process), they
// released its locks and open files, and what it kept buffered may be
// older than what they wrote since. Errors wrap it together with EIO.
var ErrSessionLost = errors.New("meta: this client's session was ended by the other clients after it missed heartbeats; its changes are refused (restart it)")

// errSessionGone: the heartbeat found the session's record removed.
var errSessionGone = errors.New("meta: session record removed")

// openTable counts this client's open handles per inode.
type openTable struct {
	mu    sync.Mutex
	count map[posix.Ino]int
	// unlinked marks open inodes whose last link may have gone while they
	// were open here (set inside the unlinking transaction, so possibly
	// by one that then failed): only their last Release needs a write.
	unlinked map[posix.Ino]bool
	// dying counts the transactions in flight that free an inode no
	// handle here had open; an open of it waits for them to end, so that
	// it reads what they committed rather than returning an inode they
	// then free.
	dying map[posix.Ino]int
	cond  *sync.Cond // broadcast when a dying count drops
}

// keepOpen decides, inside an unlinking transaction, whether a regular
// file that lost its last link stays for handles open here; if not, the
// inode is marked dying until the transaction ends (tx must be a mutate
// transaction to be marked; others are not coordinated with opens).
func (m *FS) keepOpen(tx kv.Tx, ino posix.Ino) bool {
	t := &m.opens
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.count[ino] > 0 {
		return true
	}
	if at, ok := tx.(*aclTx); ok && at.dying != nil {
		if t.dying == nil {
			t.dying = make(map[posix.Ino]int)
		}
		t.dying[ino]++
		*at.dying = append(*at.dying, ino)
	}
	return false
}

// doneDying clears the marks of a finished transaction.
func (t *openTable) doneDying(inos []posix.Ino) {
	if len(inos) == 0 {
		return
	}
	t.mu.Lock()
	for _, ino := range inos {
		if t.dying[ino]--; t.dying[ino] <= 0 {
			delete(t.dying, ino)
		}
	}
	if t.cond != nil {
		t.cond.Broadcast()
	}
	t.mu.Unlock()
}

// register counts one more open handle of ino, after any transaction in
// flight that frees it has ended.
func (t *openTable) register(ino posix.Ino) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for t.dying[ino] > 0 {
		if t.cond == nil {
			t.cond = sync.NewCond(&t.mu)
		}
		t.cond.Wait()
	}
	if t.count == nil {
		t.count = make(map[posix.Ino]int)
	}
	t.count[ino]++
}

// NewSession registers this client and starts its heartbeat (every
// SessionTimeout/5, at most every 12 s), which also cleans up dead sessions
// and trims the change feed. Close ends it.
func (m *FS) NewSession(ctx context.Context, info SessionInfo) (uint64, error) {
	m.sessMu.Lock()
	defer m.sessMu.Unlock()
	if m.sess != nil {
		return m.sess.info.ID, nil
	}
	var id int64
	err := m.store.Update(ctx, func(tx kv.Tx) error {
		var err error
		id, err = tx.Incr(configKey(cfgNextSess), 1)
		if err != nil {
			return err
		}
		info.ID = uint64(id)
		now := m.opts.Now().UTC()
		info.Started, info.Heartbeat, info.Timeout = now, now, m.opts.SessionTimeout
		b, err := json.Marshal(info)
		if err != nil {
			return err
		}
		return tx.Put(sessionKey(info.ID), b)
	})
	if err != nil {
		return 0, err
	}
	s := &session{info: info, stop: make(chan struct{}), done: make(chan struct{})}
	s.lastBeat.Store(info.Heartbeat.UnixNano())
	m.sess = s
	go m.heartbeat(s)
	return info.ID, nil
}

// SessionID returns this client's session id, or 0 without a session.
func (m *FS) SessionID() uint64 {
	m.sessMu.Lock()
	defer m.sessMu.Unlock()
	if m.sess == nil {
		return 0
	}
	return m.sess.info.ID
}

func (m *FS) heartbeat(s *session) {
	defer close(s.done)
	// A beat under way ends when the session is closed: an engine that
	// does not answer must not hold up a client's shutdown for the
	// beat's whole timeout.
	stopped, stopAll := context.WithCancel(context.Background())
	defer stopAll()
	go func() {
		select {
		case <-s.stop:
			stopAll()
		case <-stopped.Done():
		}
	}()
	// A beat every 12 s at most (JuiceFS's default heartbeat), so that
	// a client that died on this host is cleaned up by the others soon,
	// whatever the timeout for those whose fate is unknown.
	t := time.NewTicker(min(m.opts.SessionTimeout/5, 12*time.Second))
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(stopped, m.opts.SessionTimeout/5)
		if err := m.touchSession(ctx, s); errors.Is(err, errSessionGone) {
			if !m.opts.RenewLostSession {
				s.lost.Store(true)
				m.log.Error("this client's session was ended by the other clients after it missed heartbeats; changes are refused until it is restarted", "session", s.info.ID)
				cancel()
				return
			}
			if id, err := m.renewSession(ctx, s); err != nil {
				m.log.Warn("renewing the session failed", "err", err)
			} else {
				m.log.Warn("this client's session was ended by the other clients after it missed heartbeats; it goes on under a new one", "session", id)
			}
		} else if err != nil {
			m.log.Warn("session heartbeat failed", "session", m.SessionID(), "err", err)
		}
		if n, err := m.CleanDeadSessions(ctx); err != nil {
			m.log.Warn("cleaning dead sessions failed", "err", err)
		} else if n > 0 {
			m.log.Info("cleaned dead sessions", "count", n)
		}
		if _, err := m.TrimFeed(ctx, 10000); err != nil {
			m.log.Warn("trimming the change feed failed", "err", err)
		}
		cancel()
	}
}

// touchSession refreshes the session's heartbeat; errSessionGone when its
// record was removed (never written back: the others have cleaned up
// after it).
func (m *FS) touchSession(ctx context.Context, s *session) error {
	m.sessMu.Lock()
	info := s.info
	m.sessMu.Unlock()
	err := m.store.Update(ctx, func(tx kv.Tx) error {
		if _, err := tx.Get(sessionKey(info.ID)); errors.Is(err, kv.ErrNotFound) {
			return errSessionGone
		} else if err != nil {
			return err
		}
		info.Heartbeat = m.opts.Now().UTC()
		b, err := json.Marshal(info)
		if err != nil {
			return err
		}
		return tx.Put(sessionKey(info.ID), b)
	})
	if err == nil {
		s.lastBeat.Store(info.Heartbeat.UnixNano())
	}
	return err
}

// renewSession registers s again under a new id, after the others ended
// it: for a client that keeps nothing across requests (a gateway), whose
// later changes are its own.
func (m *FS) renewSession(ctx context.Context, s *session) (uint64, error) {
	m.sessMu.Lock()
	info := s.info
	m.sessMu.Unlock()
	err := m.store.Update(ctx, func(tx kv.Tx) error {
		id, err := tx.Incr(configKey(cfgNextSess), 1)
		if err != nil {
			return err
		}
		info.ID = uint64(id)
		now := m.opts.Now().UTC()
		info.Heartbeat = now
		b, err := json.Marshal(info)
		if err != nil {
			return err
		}
		return tx.Put(sessionKey(info.ID), b)
	})
	if err != nil {
		return 0, err
	}
	m.sessMu.Lock()
	s.info.ID = info.ID
	m.sessMu.Unlock()
	s.lastBeat.Store(info.Heartbeat.UnixNano())
	return info.ID, nil
}

// checkLease fails with ErrSessionLost when this client's session was
// ended by the others. Called before a change that commits data (a
// write, a truncate), it keeps a client that was cut off, and whose locks
// and open files the others then released, from writing over what they
// wrote since. The others end a session once its heartbeat is
// SessionTimeout old; so while this client's last confirmed heartbeat is
// younger than four fifths of that, nothing needs checking (no read in
// the transaction, which on PostgreSQL would lock a page of the index
// that every change writes to); past it, the heartbeat is refreshed
// first, which finds the record gone if the others removed it.
func (m *FS) checkLease(ctx context.Context) error {
	m.sessMu.Lock()
	s := m.sess
	m.sessMu.Unlock()
	if s == nil {
		return nil
	}
	if s.lost.Load() {
		return m.lostError(s)
	}
	if m.opts.Now().UnixNano()-s.lastBeat.Load() < int64(m.opts.SessionTimeout)*4/5 {
		return nil
	}
	err := m.touchSession(ctx, s)
	if errors.Is(err, errSessionGone) {
		if !m.opts.RenewLostSession {
			s.lost.Store(true)
			m.log.Error("this client's session was ended by the other clients after it missed heartbeats; changes are refused until it is restarted", "session", m.SessionID())
			return m.lostError(s)
		}
		_, err = m.renewSession(ctx, s)
	}
	if err != nil {
		return fmt.Errorf("meta: cannot confirm this client's session before a write: %v: %w", err, syscall.EIO)
	}
	return nil
}

func (m *FS) lostError(s *session) error {
	m.sessMu.Lock()
	id := s.info.ID
	m.sessMu.Unlock()
	return fmt.Errorf("%w (session %d): %w", ErrSessionLost, id, syscall.EIO)
}

// CloseSession ends this client's session: inodes it kept for open handles
// are freed, its locks released, its record removed.
func (m *FS) CloseSession(ctx context.Context) error {
	m.sessMu.Lock()
	s := m.sess
	m.sess = nil
	m.sessMu.Unlock()
	if s == nil {
		return nil
	}
	close(s.stop)
	<-s.done
	return m.removeSession(ctx, s.info.ID, false)
}

// ListSessions returns the registered sessions.
func (m *FS) ListSessions(ctx context.Context) ([]SessionInfo, error) {
	var out []SessionInfo
	err := m.store.View(ctx, func(tx kv.Tx) error {
		out = out[:0]
		var derr error
		err := tx.Scan([]byte{famSession}, []byte{famSession + 1}, kv.ScanOptions{}, func(_, v []byte) bool {
			var si SessionInfo
			if derr = json.Unmarshal(v, &si); derr != nil {
				return false
			}
			out = append(out, si)
			return true
		})
		if err == nil {
			err = derr
		}
		return err
	})
	return out, err
}

// CleanDeadSessions removes sessions whose heartbeat is older than their
// timeout (SessionInfo.Timeout), or whose process Options.ProcessGone
// knows to have ended, and returns how many it removed.
func (m *FS) CleanDeadSessions(ctx context.Context) (int, error) {
	ss, err := m.ListSessions(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	now := m.opts.Now()
	for _, s := range ss {
		if s.ID == m.SessionID() {
			continue
		}
		timeout := s.Timeout
		if timeout <= 0 {
			timeout = DefaultSessionTimeout
		}
		gone := m.opts.ProcessGone != nil && m.opts.ProcessGone(s)
		if s.Heartbeat.Before(now.Add(-timeout)) || gone {
			if err := m.removeSession(ctx, s.ID, true); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// removeSession frees what session sid held and deletes its record; the
// slice ranges it reserved are dropped, or kept as dead ranges for the
// leftover sweep when it died.
func (m *FS) removeSession(ctx context.Context, sid uint64, dead bool) error {
	prefix := openKey(sid, 0)[:9]
	for {
		inos, err := m.sessionInos(ctx, prefix)
		if err != nil {
			return err
		}
		if len(inos) == 0 {
			break
		}
		for _, ino := range inos {
			if err := m.freeSustained(ctx, sid, ino); err != nil {
				return err
			}
		}
	}
	if err := m.releaseSessionLocks(ctx, sid); err != nil {
		return err
	}
	if err := m.retireRanges(ctx, sid, dead); err != nil {
		return err
	}
	if err := m.foldShards(ctx, sid); err != nil {
		return err
	}
	return m.store.Update(ctx, func(tx kv.Tx) error { return tx.Delete(sessionKey(sid)) })
}

// freeSustained deletes an unlinked inode that session sid kept open.
func (m *FS) freeSustained(ctx context.Context, sid uint64, ino posix.Ino) error {
	return m.update(ctx, func(tx kv.Tx) error {
		if err := tx.Delete(openKey(sid, ino)); err != nil {
			return err
		}
		a, err := getAttr(tx, ino)
		if errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if err != nil {
			return err
		}
		if a.Nlink > 0 {
			return nil // linked again meanwhile (not possible today, but safe)
		}
		return m.deleteInode(tx, ino, &a)
	})
}

// Open flags understood by OpenCheck (the O_ACCMODE values and O_TRUNC,
// O_APPEND as in fcntl.h).
const (
	ORdonly = syscall.O_RDONLY
	OWronly = syscall.O_WRONLY
	ORdwr   = syscall.O_RDWR
	OTrunc  = syscall.O_TRUNC
	OAppend = syscall.O_APPEND
)

// OpenInode checks that cred may open ino with flags and registers the
// open handle with this client, so that unlinking the last name keeps the
// data until Release. It returns the attributes.
func (m *FS) OpenInode(ctx context.Context, cred posix.Cred, ino posix.Ino, flags int) (posix.Attr, error) {
	// The handle counts as open before the inode is read, and only once
	// no transaction freeing it is in flight: an unlink deciding after
	// that keeps the inode for this handle, and one that decided before
	// has committed or failed by the time it is read. (Counted after the
	// read, an unlink between the two would free an inode this open then
	// returns.)
	m.opens.register(ino)
	var a posix.Attr
	err := m.store.View(ctx, func(tx kv.Tx) error {
		var err error
		if a, err = getAttr(tx, ino); err != nil {
			return err
		}
		return m.checkOpen(tx, cred, &a, flags)
	})
	if err != nil {
		// Take the count back, freeing the inode if an unlink kept it
		// for this open meanwhile.
		return a, errors.Join(err, m.Release(context.WithoutCancel(ctx), ino))
	}
	return a, nil
}

// OpenCreated registers an open handle of an inode the caller has just
// created: the creator may open it whatever its mode, as with open(2)
// O_CREAT. It is also how an open whose permission check was done by Walk
// (WalkRequest.Want) is registered.
func (m *FS) OpenCreated(ino posix.Ino) { m.opens.register(ino) }

func (m *FS) checkOpen(tx kv.Tx, cred posix.Cred, a *posix.Attr, flags int) error {
	var want uint16
	switch flags & syscall.O_ACCMODE {
	case ORdonly:
		want = posix.MayRead
	case OWronly:
		want = posix.MayWrite
	case ORdwr:
		want = posix.MayRead | posix.MayWrite
	default:
		return syscall.EINVAL
	}
	if flags&OTrunc != 0 {
		want |= posix.MayWrite
	}
	if want&posix.MayWrite != 0 {
		if a.Type == posix.TypeDir {
			return syscall.EISDIR
		}
		if a.Flags&posix.FlagImmutable != 0 || (a.Flags&posix.FlagAppend != 0 && (flags&OAppend == 0 || flags&OTrunc != 0)) {
			return syscall.EPERM
		}
	}
	return m.access(tx, cred, a, want)
}

// Release drops one open handle of ino registered by OpenInode; when the
// last one goes and the inode has no links left, it is freed.
func (m *FS) Release(ctx context.Context, ino posix.Ino) error {
	m.opens.mu.Lock()
	m.opens.count[ino]--
	last := m.opens.count[ino] <= 0
	unlinked := false
	if last {
		delete(m.opens.count, ino)
		unlinked = m.opens.unlinked[ino]
		delete(m.opens.unlinked, ino)
		if unlinked {
			// Freed below: an open meanwhile waits for that.
			if m.opens.dying == nil {
				m.opens.dying = make(map[posix.Ino]int)
			}
			m.opens.dying[ino]++
		}
	}
	m.opens.mu.Unlock()
	if !last || !unlinked {
		return nil
	}
	defer m.opens.doneDying([]posix.Ino{ino})
	sid := m.SessionID()
	return m.update(ctx, func(tx kv.Tx) error {
		if _, err := tx.Get(unlinkedKey(ino)); errors.Is(err, kv.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		a, err := getAttr(tx, ino)
		if errors.Is(err, syscall.ENOENT) {
			return tx.Delete(unlinkedKey(ino))
		}
		if err != nil || a.Nlink > 0 {
			return err
		}
		if err := tx.Delete(openKey(sid, ino)); err != nil {
			return err
		}
		return m.deleteInode(tx, ino, &a)
	})
}

// sessionInos returns up to 100 inodes listed under a session's key
// prefix (open inodes 'O' or locked inodes 'M').
func (m *FS) sessionInos(ctx context.Context, prefix []byte) ([]posix.Ino, error) {
	var inos []posix.Ino
	err := m.store.View(ctx, func(tx kv.Tx) error {
		inos = inos[:0]
		return tx.Scan(prefix, kv.PrefixEnd(prefix), kv.ScanOptions{Limit: 100, KeysOnly: true}, func(k, _ []byte) bool {
			inos = append(inos, posix.Ino(u64(k[9:])))
			return true
		})
	})
	return inos, err
}
