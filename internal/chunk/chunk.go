package chunk

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"cairn/internal/object"
)

// Default sizes.
const (
	DefaultBlockSize = 4 << 20
	DefaultCacheSize = 256 << 20
	DefaultReadahead = 8
	DefaultUploads   = 16
)

// ErrCorrupt is returned (wrapped) for a block whose length or checksum is
// wrong.
var ErrCorrupt = errors.New("chunk: corrupt block")

// Options configure a Store. The zero value gives the defaults.
type Options struct {
	// BlockSize is the most bytes per block (default 4 MiB). It must be the
	// value the volume was formatted with.
	BlockSize int
	// CacheSize bounds the memory block cache in bytes (default 256 MiB;
	// negative disables caching).
	CacheSize int64
	// Readahead is how many blocks a sequential reader fetches ahead
	// (default 8; negative disables).
	Readahead int
	// MaxUploads bounds concurrent block uploads of the whole store, and so
	// the memory held by blocks in flight (default 16).
	MaxUploads int
	// Logger receives background failures (readahead); nil discards.
	Logger *slog.Logger
}

// Store reads and writes slices on an object store.
type Store struct {
	obj       object.Store
	blockSize int
	readahead int
	uploads   chan struct{}
	warming   chan struct{} // background block warm-ups (WriteTo)
	// Capabilities of obj, looked up once: blocks in local files (nil
	// otherwise), and streamed block writes (nil when obj has no Append
	// or cannot sync a batch of blocks).
	files    object.LocalFiles
	batch    object.BatchSyncer // nil: every Put is durable on its own
	app      object.Appender
	noAppend atomic.Bool // the store refused Append (object.ErrNoAppend)
	cache    *cache
	// checked holds the block files this process wrote or checked, the
	// only ones WriteTo sends from their file without checking them.
	checked *checkedFiles
	log     *slog.Logger
	bufs    sync.Pool

	mu       sync.Mutex
	inflight map[string]*fetch
	bg       sync.WaitGroup
	closed   chan struct{}
	// ctx is the parent of every Writer's context: Close cancels the
	// uploads still in flight.
	ctx    context.Context
	cancel context.CancelFunc
}

type fetch struct {
	done    chan struct{}
	it      *item
	err     error
	waiters int // readers waiting for it, each owed a reference
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// New returns a Store over obj.
func New(obj object.Store, opt Options) *Store {
	if opt.BlockSize <= 0 {
		opt.BlockSize = DefaultBlockSize
	}
	if opt.CacheSize == 0 {
		opt.CacheSize = DefaultCacheSize
	}
	if opt.Readahead == 0 {
		opt.Readahead = DefaultReadahead
	}
	if opt.MaxUploads <= 0 {
		opt.MaxUploads = DefaultUploads
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		obj:       obj,
		blockSize: opt.BlockSize,
		readahead: max(opt.Readahead, 0),
		uploads:   make(chan struct{}, opt.MaxUploads),
		warming:   make(chan struct{}, 4),
		cache:     newCache(max(opt.CacheSize, 0), alignedLen(opt.BlockSize+4)),
		checked:   newCheckedFiles(1 << 16),
		log:       opt.Logger,
		inflight:  make(map[string]*fetch),
		closed:    make(chan struct{}),
	}
	s.files = object.LocalFilesOf(obj)
	if s.batch = object.BatchSyncerOf(obj); s.batch != nil {
		s.app = object.AppenderOf(obj)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	bs := opt.BlockSize
	s.bufs.New = func() any { b := make([]byte, 0, bs+4); return &b }
	return s
}

// BlockSize returns the block size in bytes.
func (s *Store) BlockSize() int { return s.blockSize }

// Object returns the underlying object store.
func (s *Store) Object() object.Store { return s.obj }

// Close cancels the uploads of Writers still in flight, waits for
// background fetches and drops the cache.
func (s *Store) Close() error {
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
	s.cancel()
	s.bg.Wait()
	s.cache.reset()
	return nil
}

// Key returns the object key of block index (holding size bytes) of slice id.
func Key(id uint64, index, size int) string {
	h := (id * 0x9E3779B97F4A7C15) >> 56
	return fmt.Sprintf("chunks/%02x/%d_%d_%d", h, id, index, size)
}

// blockLen returns the data length of block i of a slice of length l.
func (s *Store) blockLen(l uint32, i int) int {
	return min(s.blockSize, int(l)-i*s.blockSize)
}

// ReadAt fills p with bytes of slice id (of total length l) starting at
// off, and returns how many it read: fewer than len(p) only at the end of
// the slice. A missing, short or corrupt block is an error.
func (s *Store) ReadAt(ctx context.Context, id uint64, l uint32, p []byte, off uint32) (int, error) {
	n := 0
	_, err := s.View(ctx, id, l, off, len(p), func(b []byte) error {
		n += copy(p[n:], b)
		return nil
	})
	return n, err
}

// View calls fn with the bytes of slice id (of total length l) from off,
// n of them or up to the end of the slice, in order, and returns how many
// it passed on. The pieces are the cached blocks themselves (no copy):
// fn must not change them or keep them after it returns. View stops at
// the first error of fn or of a block (missing, short or corrupt).
func (s *Store) View(ctx context.Context, id uint64, l uint32, off uint32, n int, fn func([]byte) error) (int, error) {
	if off >= l || n <= 0 {
		return 0, nil
	}
	n = min(n, int(l-off))
	done := 0
	for done < n {
		at := int(off) + done
		i := at / s.blockSize
		from := at - i*s.blockSize
		if cnt := min(s.blockLen(l, i)-from, n-done); cnt < fileReadMax && s.files != nil {
			// A small read of a block not in the cache (a random read):
			// from the block's file, checked, rather than the whole block
			// into the cache for a few KiB of it.
			key := Key(id, i, s.blockLen(l, i))
			if !s.cache.has(key) {
				if used, err := s.readFromFile(ctx, key, s.blockLen(l, i), from, cnt, fn); used {
					if err != nil {
						return done, err
					}
					done += cnt
					continue
				}
			}
		}
		// Start the read-ahead before waiting for this block, so that the
		// first blocks of a sequential read are fetched side by side.
		s.prefetch(id, l, i)
		it, err := s.block(ctx, id, l, i)
		if err != nil {
			return done, err
		}
		b := it.data[from:min(len(it.data), from+n-done)]
		err = fn(b)
		s.cache.release(it)
		if err != nil {
			return done, err
		}
		done += len(b)
	}
	return done, nil
}

// fileReadMax bounds the reads View serves from a block's file rather
// than from the block cache: below it, a read of a block the cache does
// not hold reads those bytes alone (after the file's checksum is
// checked, once while its pages stay cached), instead of the whole block.
const fileReadMax = 128 << 10

// readFromFile passes cnt bytes from from of the block stored under key
// (size data bytes) to fn, read from its file once its checksum matches.
// used=false means nothing was passed and the caller must read the block
// the usual way (which also reports a missing or corrupt block).
func (s *Store) readFromFile(ctx context.Context, key string, size, from, cnt int, fn func([]byte) error) (used bool, err error) {
	f, err := s.files.OpenFile(ctx, key)
	if err != nil {
		return false, nil
	}
	defer f.Close()
	buf := make([]byte, cnt)
	if readChecked(f, size, s.checked, buf, int64(from)) {
		return true, fn(buf)
	}
	if !verifyFile(f, size, s.checked) {
		return false, nil
	}
	if k, _ := f.ReadAt(buf, int64(from)); k < cnt {
		return false, nil
	}
	return true, fn(buf)
}

// sendMin is the fewest bytes of a block that WriteTo sends straight from
// its file; less is read through the block cache.
const sendMin = 256 << 10

// WriteTo writes the bytes of slice id (of total length l) from off to w,
// n of them or up to the end of the slice, and returns how many it wrote.
// Cached blocks are written from memory as they are. When the store keeps
// blocks in local files (object.LocalFiles) and w is an io.ReaderFrom (an
// HTTP response: sendfile), other blocks are checked against their
// checksum where they lie in the page cache (unless this process checked
// that very file before and its pages are still cached), then handed to
// w.ReadFrom as files, so their bytes never pass through this process; they do not
// enter the block cache. Everything else goes through View.
func (s *Store) WriteTo(ctx context.Context, id uint64, l uint32, off uint32, n int, w io.Writer) (int, error) {
	write := func(b []byte) error {
		_, err := w.Write(b)
		return err
	}
	rf, ok := w.(io.ReaderFrom)
	if !ok || s.files == nil {
		return s.View(ctx, id, l, off, n, write)
	}
	if off >= l || n <= 0 {
		return 0, nil
	}
	n = min(n, int(l-off))
	done, hinted := 0, -1
	for done < n {
		at := int(off) + done
		i := at / s.blockSize
		size := s.blockLen(l, i)
		from := at - i*s.blockSize
		cnt := min(size-from, n-done)
		key := Key(id, i, size)
		if cnt >= sendMin && !s.cache.has(key) {
			// Warm the next blocks of the range before sending this one,
			// so that reads from the disk overlap the sending.
			last := (int(off) + n - 1) / s.blockSize
			for j := max(i+1, hinted+1); j <= min(i+2, last); j++ {
				s.warm(Key(id, j, s.blockLen(l, j)), s.blockLen(l, j))
				hinted = j
			}
			sent, used, err := s.sendBlock(ctx, rf, key, size, from, cnt)
			if used {
				done += sent
				if err != nil {
					return done, err
				}
				continue
			}
		}
		k, err := s.View(ctx, id, l, uint32(at), cnt, write)
		done += k
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// warm reads a block file into the page cache in the background, checking
// it on the way, unless as many warm-ups as allowed are running.
func (s *Store) warm(key string, size int) {
	select {
	case s.warming <- struct{}{}:
	default:
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		defer func() { <-s.warming }()
		f, err := s.files.OpenFile(context.Background(), key)
		if err != nil {
			return
		}
		verifyFile(f, size, s.checked) // reads what is not cached, and checks it
		f.Close()
	}()
}

// sendBlock sends cnt bytes from from of the block stored under key (size
// data bytes) to w.ReadFrom from its file, once its checksum matches.
// used=false means nothing was sent and the caller must read the block
// the usual way (which also reports a missing or corrupt block).
func (s *Store) sendBlock(ctx context.Context, w io.ReaderFrom, key string, size, from, cnt int) (sent int, used bool, err error) {
	f, err := s.files.OpenFile(ctx, key)
	if err != nil {
		return 0, false, nil
	}
	defer f.Close()
	if !verifyFile(f, size, s.checked) {
		return 0, false, nil
	}
	if _, err := f.Seek(int64(from), io.SeekStart); err != nil {
		return 0, false, nil
	}
	k, err := w.ReadFrom(&io.LimitedReader{R: f, N: int64(cnt)})
	if err == nil && k < int64(cnt) {
		err = fmt.Errorf("%w: %s ended after %d bytes", ErrCorrupt, key, from+int(k))
	}
	return int(k), true, err
}

// block returns block i of slice id, from the cache or the object store,
// sharing one fetch among concurrent readers. The caller must release it.
func (s *Store) block(ctx context.Context, id uint64, l uint32, i int) (*item, error) {
	key := Key(id, i, s.blockLen(l, i))
	if it, ok := s.cache.get(key); ok {
		return it, nil
	}
	s.mu.Lock()
	f, ok := s.inflight[key]
	if !ok {
		f = &fetch{done: make(chan struct{})}
		s.inflight[key] = f
		s.mu.Unlock()
		f.it, f.err = s.load(context.WithoutCancel(ctx), key, s.blockLen(l, i))
		if f.err == nil {
			s.cache.put(f.it)
		}
		s.mu.Lock()
		delete(s.inflight, key)
		waiters := f.waiters
		s.mu.Unlock()
		if f.err == nil && waiters > 0 {
			s.cache.ref(f.it, waiters)
		}
		close(f.done)
		return f.it, f.err
	}
	f.waiters++
	s.mu.Unlock()
	select {
	case <-f.done:
	case <-ctx.Done():
		// The reference owed to this reader is never released: the
		// buffer is then left to the garbage collector, not recycled.
		return nil, ctx.Err()
	}
	return f.it, f.err
}

// load reads and verifies one block, retrying once when it arrives short
// or corrupt (a transient fault must not fail the read).
func (s *Store) load(ctx context.Context, key string, size int) (*item, error) {
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		var it *item
		if it, err = s.loadOnce(ctx, key, size); err == nil {
			return it, nil
		}
		if errors.Is(err, object.ErrNotExist) || ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

// loadOnce reads and verifies one block into a (recycled, when possible)
// buffer; the item comes with one reference, its caller's.
func (s *Store) loadOnce(ctx context.Context, key string, size int) (*item, error) {
	var buf []byte
	if alignedLen(size+4) == s.cache.bufSize {
		buf = s.cache.buffer()
	}
	if buf == nil {
		buf = alignedBuffer(size + 4)
	}
	// The checksum is computed piece by piece as the data lands, while it
	// is still in the CPU cache: a second pass over the whole block costs
	// several times more (memory bandwidth).
	var crc uint32
	n, err := object.ReadFull(ctx, s.obj, key, buf, func(off int, piece []byte) {
		if off == 0 {
			crc = 0
		}
		if off < size {
			crc = crc32.Update(crc, castagnoli, piece[:min(len(piece), size-off)])
		}
	})
	if err != nil {
		return nil, fmt.Errorf("chunk: get %s: %w", key, err)
	}
	if n != size+4 {
		return nil, fmt.Errorf("%w: %s has %d bytes, want %d", ErrCorrupt, key, n, size+4)
	}
	data := buf[:size]
	if crc != binary.LittleEndian.Uint32(buf[size:size+4]) {
		s.evict(ctx, key)
		return nil, fmt.Errorf("%w: %s fails its checksum", ErrCorrupt, key)
	}
	return &item{key: key, data: data, buf: buf, refs: 1}, nil
}

// evict drops a corrupt block's file from the page cache (a local-file
// store), so that the next read of it comes from the disk again (the
// fault may have been in memory).
func (s *Store) evict(ctx context.Context, key string) {
	if s.files != nil {
		if f, err := s.files.OpenFile(ctx, key); err == nil {
			evict(f)
			f.Close()
		}
	}
}

// alignedLen is the length of alignedBuffer(n).
func alignedLen(n int) int { return (n/4096 + 1) * 4096 }

// alignedBuffer returns a buffer of at least n bytes whose address and
// length are multiples of 4 KiB, one byte longer than n at least (so that
// an object longer than expected is noticed), for O_DIRECT reads.
func alignedBuffer(n int) []byte {
	const align = 4096
	l := alignedLen(n)
	raw := make([]byte, l+align)
	off := int(uintptr(unsafe.Pointer(&raw[0])) % align)
	if off != 0 {
		off = align - off
	}
	return raw[off : off+l]
}

// prefetch starts background fetches of the blocks after i when the read
// looks sequential (block i-1 is cached, or i is the first block).
func (s *Store) prefetch(id uint64, l uint32, i int) {
	if s.readahead == 0 || !s.cache.enabled() {
		return
	}
	if i > 0 && !s.cache.has(Key(id, i-1, s.blockLen(l, i-1))) {
		return
	}
	last := (int(l) - 1) / s.blockSize
	for j := i + 1; j <= min(last, i+s.readahead); j++ {
		key := Key(id, j, s.blockLen(l, j))
		if s.cache.has(key) {
			continue
		}
		s.mu.Lock()
		_, busy := s.inflight[key]
		s.mu.Unlock()
		if busy {
			continue
		}
		select {
		case <-s.closed:
			return
		default:
		}
		s.bg.Add(1)
		go func(j int) {
			defer s.bg.Done()
			it, err := s.block(context.Background(), id, l, j)
			if err != nil {
				s.log.Debug("readahead failed", "slice", id, "block", j, "err", err)
				return
			}
			s.cache.release(it)
		}(j)
	}
}

// SweepTemp removes blocks left half-written under temporary names by
// writers that died, once untouched for olderThan, when the object store
// has such names (object.TempSweeper); otherwise it does nothing.
func (s *Store) SweepTemp(ctx context.Context, olderThan time.Duration) (int, error) {
	if ts := object.TempSweeperOf(s.obj); ts != nil {
		return ts.SweepTemp(ctx, olderThan)
	}
	return 0, nil
}

// Remove deletes the blocks of slice id of length l. Missing blocks are not
// an error; the first other failure is returned after trying every block.
func (s *Store) Remove(ctx context.Context, id uint64, l uint32) error {
	var first error
	n := (int(l) + s.blockSize - 1) / s.blockSize
	for i := 0; i < n; i++ {
		key := Key(id, i, s.blockLen(l, i))
		s.cache.remove(key)
		if err := s.obj.Delete(ctx, key); err != nil && first == nil {
			first = fmt.Errorf("chunk: delete %s: %w", key, err)
		}
	}
	return first
}

// putBlock uploads one block (data plus checksum trailer).
// Unsynced blocks go through the store's BatchSyncer capability (the
// caller checked s.batch) and must be synced before they are relied on.
func (s *Store) putBlock(ctx context.Context, key string, buf []byte, unsynced bool) error {
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(buf, castagnoli))
	var err error
	if unsynced {
		err = s.batch.PutUnsynced(ctx, key, object.NewBytesBody(buf))
	} else {
		err = s.obj.Put(ctx, key, object.NewBytesBody(buf))
	}
	if err != nil {
		return fmt.Errorf("chunk: put %s: %w", key, err)
	}
	s.written(ctx, key)
	return nil
}

// written notes that this process wrote block key from memory whose
// checksum it computed, so that its first send from the file needs no
// check (a local-file store).
func (s *Store) written(ctx context.Context, key string) {
	if s.files == nil {
		return
	}
	if f, err := s.files.OpenFile(ctx, key); err == nil {
		remember(f, s.checked)
		f.Close()
	}
}
