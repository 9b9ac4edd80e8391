package vfs

import (
	"context"
	"fmt"
	"io"
	"sync"
	"syscall"

	"cairn/internal/chunk"
	"cairn/internal/meta"
	"cairn/internal/posix"
)

// inode is this process's state of one open file: the slice being filled,
// the queue of ended slices waiting to be committed, and cached slice lists.
type inode struct {
	fs   *FS
	ino  posix.Ino
	refs int // open handles; guarded by fs.mu

	mu      sync.Mutex
	cond    *sync.Cond // signalled when the commit queue drains
	length  uint64     // the file's length as this process knows it
	cur     *openSlice // the slice being filled, or nil
	queue   []*openSlice
	running bool  // a committer goroutine is draining queue
	err     error // first failed upload or commit, reported once
	cred    posix.Cred
	views   map[uint32][]meta.Slice
}

// openSlice is a slice being written: bytes [pos, pos+n) of chunk index.
type openSlice struct {
	index uint32
	pos   uint32
	n     uint32
	id    uint64
	w     *chunk.Writer
}

func newInode(fs *FS, ino posix.Ino) *inode {
	in := &inode{fs: fs, ino: ino, views: map[uint32][]meta.Slice{}}
	in.cond = sync.NewCond(&in.mu)
	return in
}

// reopen drops cached slice lists (close-to-open) and learns the length.
func (in *inode) reopen(length uint64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	clear(in.views)
	if in.cur == nil && len(in.queue) == 0 && !in.running {
		in.length = length
	} else if length > in.length {
		in.length = length
	}
}

// invalidate drops cached slice lists after a metadata change of the data
// (truncate, copy, fallocate) and sets the length.
func (in *inode) invalidate(length uint64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	clear(in.views)
	in.length = length
}

// pendingLength is the length including writes not yet committed (0 when
// nothing is pending).
func (in *inode) pendingLength() uint64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cur == nil && len(in.queue) == 0 && !in.running {
		return 0
	}
	return in.length
}

func (in *inode) write(ctx context.Context, cred posix.Cred, p []byte, off uint64, appendMode bool) (int, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if err := in.takeErr(); err != nil {
		return 0, err
	}
	if appendMode {
		off = in.length
	}
	if off+uint64(len(p)) > 1<<50 {
		return 0, syscall.EFBIG
	}
	in.cred = cred
	done := 0
	for done < len(p) {
		idx, pos := uint32(off/meta.ChunkSize), uint32(off%meta.ChunkSize)
		n := len(p) - done
		if room := meta.ChunkSize - int(pos); n > room {
			n = room
		}
		s := in.cur
		if s == nil || s.index != idx || s.pos+s.n != pos {
			in.endCurrent()
			id, err := in.fs.meta.NewSliceID(ctx)
			if err != nil {
				return done, err
			}
			s = &openSlice{index: idx, pos: pos, id: id, w: in.fs.chunks.NewWriter(id)}
			in.cur = s
		}
		// Uploads may block for backpressure; other handles of this inode
		// wait meanwhile, which keeps writes ordered.
		if _, err := s.w.Write(p[done : done+n]); err != nil {
			in.cur = nil
			s.w.Abort(context.WithoutCancel(ctx))
			return done, fmt.Errorf("write of inode %d: %w", in.ino, toEIO(err))
		}
		s.n += uint32(n)
		done += n
		off += uint64(n)
		if off > in.length {
			in.length = off
		}
		if s.pos+s.n == meta.ChunkSize {
			in.endCurrent()
		}
	}
	return done, nil
}

// endCurrent queues the slice being filled for commit. in.mu is held.
func (in *inode) endCurrent() {
	if in.cur == nil {
		return
	}
	in.queue = append(in.queue, in.cur)
	in.cur = nil
	if !in.running {
		in.running = true
		go in.commitLoop()
	}
}

// commitLoop finishes queued slices and records them in the metadata, in
// the order they were written.
func (in *inode) commitLoop() {
	ctx := context.Background()
	in.mu.Lock()
	for len(in.queue) > 0 {
		batch := in.queue
		in.queue = nil
		cred := in.cred
		in.mu.Unlock()
		err := in.commit(ctx, cred, batch)
		in.mu.Lock()
		if err != nil && in.err == nil {
			in.err = err
		}
		clear(in.views)
	}
	in.running = false
	in.cond.Broadcast()
	in.mu.Unlock()
}

func (in *inode) commit(ctx context.Context, cred posix.Cred, batch []*openSlice) error {
	reqs := make([]meta.WriteRequest, 0, len(batch))
	var first error
	for _, s := range batch {
		n, err := s.w.Finish(ctx)
		if err != nil {
			if first == nil {
				first = fmt.Errorf("upload of slice %d: %w", s.id, toEIO(err))
			}
			continue
		}
		if first != nil {
			// A later slice must not be committed without an earlier one
			// that failed: it would make newer data visible out of order.
			_ = in.fs.chunks.Remove(ctx, s.id, n)
			continue
		}
		reqs = append(reqs, meta.WriteRequest{Index: s.index, Slice: meta.Slice{ID: s.id, Size: n, Len: n, Pos: s.pos}})
	}
	if len(reqs) > 0 {
		if _, err := in.fs.meta.Write(ctx, cred, in.ino, reqs...); err != nil {
			for _, r := range reqs {
				_ = in.fs.chunks.Remove(ctx, r.Slice.ID, r.Slice.Size)
			}
			if first == nil {
				first = err
			}
		}
	}
	return first
}

// flush commits everything pending and reports the first error since the
// last report.
func (in *inode) flush(ctx context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.endCurrent()
	for in.running || len(in.queue) > 0 {
		in.cond.Wait()
	}
	return in.takeErr()
}

func (in *inode) takeErr() error {
	err := in.err
	in.err = nil
	return err
}

// read fills p from the file at off.
func (in *inode) read(ctx context.Context, p []byte, off uint64) (int, error) {
	fill := &fillWriter{p: p}
	_, err := in.readTo(ctx, off, uint64(len(p)), fill)
	return fill.n, err
}

// fillWriter copies what it is given into p.
type fillWriter struct {
	p []byte
	n int
}

func (f *fillWriter) Write(b []byte) (int, error) {
	k := copy(f.p[f.n:], b)
	f.n += k
	if k < len(b) {
		return k, io.ErrShortWrite
	}
	return k, nil
}

// countWriter counts the bytes its writer took and keeps its first error,
// so that a failing writer is told from a failing read.
type countWriter struct {
	w   io.Writer
	n   uint64
	err error
}

func (c *countWriter) Write(b []byte) (int, error) {
	k, err := c.w.Write(b)
	c.n += uint64(k)
	if err != nil && c.err == nil {
		c.err = err
	}
	return k, err
}

// countReaderFrom is a countWriter over an io.ReaderFrom, which it keeps
// visible (the block store sends files through it).
type countReaderFrom struct {
	*countWriter
	rf io.ReaderFrom
}

func (c countReaderFrom) ReadFrom(r io.Reader) (int64, error) {
	k, err := c.rf.ReadFrom(r)
	c.n += uint64(k)
	if err != nil && c.err == nil {
		c.err = err
	}
	return k, err
}

// readTo writes the file's bytes from off to w, n of them or up to the
// end of the file, and returns how many w took. Errors of w are returned
// as they are.
func (in *inode) readTo(ctx context.Context, off, n uint64, w io.Writer) (uint64, error) {
	if err := in.flushIfPending(ctx); err != nil {
		return 0, err
	}
	in.mu.Lock()
	length := in.length
	in.mu.Unlock()
	if off >= length {
		return 0, nil
	}
	n = min(n, length-off)
	cw := &countWriter{w: w}
	var sink io.Writer = cw
	if rf, ok := w.(io.ReaderFrom); ok {
		sink = countReaderFrom{cw, rf}
	}
	for done := uint64(0); done < n; {
		idx, pos := uint32(off/meta.ChunkSize), uint32(off%meta.ChunkSize)
		k := min(n-done, uint64(meta.ChunkSize-pos))
		view, err := in.view(ctx, idx)
		if err != nil {
			return cw.n, err
		}
		if err := in.visitChunk(ctx, view, pos, uint32(k), sink); err != nil {
			if cw.err != nil {
				err = cw.err
			}
			return cw.n, err
		}
		done += k
		off += k
	}
	return cw.n, nil
}

func (in *inode) flushIfPending(ctx context.Context) error {
	in.mu.Lock()
	pending := in.cur != nil || len(in.queue) > 0 || in.running
	in.mu.Unlock()
	if !pending {
		return nil
	}
	return in.flush(ctx)
}

// prime caches the slice records ss of chunk idx, read by the caller in
// the transaction that opened the file, unless writes of this process are
// pending (their commit would make ss stale).
func (in *inode) prime(idx uint32, ss []meta.Slice) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cur == nil && len(in.queue) == 0 && !in.running {
		in.views[idx] = meta.ResolveSlices(ss)
	}
}

// view returns the resolved slice list of chunk idx, cached until the next
// change made through this process or the next open.
func (in *inode) view(ctx context.Context, idx uint32) ([]meta.Slice, error) {
	in.mu.Lock()
	v, ok := in.views[idx]
	in.mu.Unlock()
	if ok {
		return v, nil
	}
	ss, err := in.fs.meta.ReadChunk(ctx, in.ino, idx)
	if err != nil {
		return nil, err
	}
	v = meta.ResolveSlices(ss)
	in.mu.Lock()
	in.views[idx] = v
	in.mu.Unlock()
	return v, nil
}

// zeroes are what holes read as.
var zeroes [64 << 10]byte

// emitZeroes writes n zero bytes to w.
func emitZeroes(n uint32, w io.Writer) error {
	for n > 0 {
		k := min(n, uint32(len(zeroes)))
		if _, err := w.Write(zeroes[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// visitChunk writes the chunk's bytes [pos, pos+n) to w in order: slice
// data where a run covers it, zeroes elsewhere. Failures to read a slice
// wrap EIO (the caller tells them from w's own).
func (in *inode) visitChunk(ctx context.Context, view []meta.Slice, pos, n uint32, w io.Writer) error {
	end := pos + n
	at := pos
	for _, s := range view {
		send := s.Pos + s.Len
		if send <= at || s.Pos >= end {
			continue
		}
		if s.Pos > at {
			if err := emitZeroes(s.Pos-at, w); err != nil {
				return err
			}
			at = s.Pos
		}
		stop := min(send, end)
		cnt := stop - at
		switch {
		case s.ID == 0:
			if err := emitZeroes(cnt, w); err != nil {
				return err
			}
		case meta.IsInline(s.ID):
			from := s.Off + (at - s.Pos)
			if uint64(from)+uint64(cnt) > uint64(len(s.Data)) {
				return fmt.Errorf("read of inode %d: inline slice %x is short (%d bytes): %w", in.ino, s.ID, len(s.Data), syscall.EIO)
			}
			if _, err := w.Write(s.Data[from : from+cnt]); err != nil {
				return err
			}
		default:
			got, err := in.fs.chunks.WriteTo(ctx, s.ID, s.Size, s.Off+(at-s.Pos), int(cnt), w)
			if err != nil {
				return fmt.Errorf("read of inode %d slice %d: %w", in.ino, s.ID, toEIO(err))
			}
			if got < int(cnt) {
				return fmt.Errorf("read of inode %d: slice %d is short (%d of %d bytes): %w", in.ino, s.ID, got, cnt, syscall.EIO)
			}
		}
		at = stop
	}
	if at < end {
		return emitZeroes(end-at, w)
	}
	return nil
}

// toEIO keeps errnos and context errors, and turns anything else (object
// store failures) into an error that wraps EIO.
func toEIO(err error) error {
	var e syscall.Errno
	if asErrno(err, &e) || isCtxErr(err) {
		return err
	}
	return fmt.Errorf("%w: %w", err, syscall.EIO)
}
