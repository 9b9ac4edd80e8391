package chunk

import (
	"container/list"
	"sync"
)

// cache is an LRU of whole blocks bounded by total bytes. Readers hold a
// reference to a block while they copy from it; a full-size block's buffer
// goes back to a free list once it is both evicted and released, so that
// steady streaming reads reuse a few buffers instead of allocating (and
// zeroing, and faulting in) 4 MiB per block read.
type cache struct {
	mu    sync.Mutex
	limit int64
	used  int64
	ll    *list.List
	items map[string]*list.Element
	free  chan []byte // recycled buffers, all of bufSize bytes
	// bufSize is the length of recyclable buffers (0: none).
	bufSize int
}

// item is one block: data is the block's bytes inside buf.
type item struct {
	key     string
	data    []byte
	buf     []byte
	refs    int
	evicted bool // not (or no longer) in the cache
}

func newCache(limit int64, bufSize int) *cache {
	return &cache{limit: limit, ll: list.New(), items: make(map[string]*list.Element),
		free: make(chan []byte, 8), bufSize: bufSize}
}

func (c *cache) enabled() bool { return c.limit > 0 }

// get returns the cached block with a reference the caller must release.
func (c *cache) get(key string) (*item, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.ll.MoveToFront(e)
		it := e.Value.(*item)
		it.refs++
		return it, true
	}
	return nil, false
}

func (c *cache) has(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.items[key]
	return ok
}

// put adds it (held by its creator: refs >= 1); a block too large for the
// cache, or already there, stays out of it.
func (c *cache) put(it *item) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if int64(len(it.data)) > c.limit {
		it.evicted = true
		return
	}
	if _, ok := c.items[it.key]; ok {
		it.evicted = true
		return
	}
	c.items[it.key] = c.ll.PushFront(it)
	c.used += int64(len(it.data))
	for c.used > c.limit {
		c.evictLocked(c.ll.Back())
	}
}

// ref adds n references to it.
func (c *cache) ref(it *item, n int) {
	c.mu.Lock()
	it.refs += n
	c.mu.Unlock()
}

// release drops one reference to it.
func (c *cache) release(it *item) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it.refs--
	c.recycleLocked(it)
}

func (c *cache) evictLocked(e *list.Element) {
	it := e.Value.(*item)
	c.ll.Remove(e)
	delete(c.items, it.key)
	c.used -= int64(len(it.data))
	it.evicted = true
	c.recycleLocked(it)
}

func (c *cache) recycleLocked(it *item) {
	if !it.evicted || it.refs > 0 || it.buf == nil || len(it.buf) != c.bufSize {
		return
	}
	buf := it.buf
	it.buf, it.data = nil, nil
	select {
	case c.free <- buf:
	default:
	}
}

// buffer returns a recycled buffer of bufSize bytes, or nil.
func (c *cache) buffer() []byte {
	select {
	case b := <-c.free:
		return b
	default:
		return nil
	}
}

func (c *cache) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.evictLocked(e)
	}
}

func (c *cache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.ll.Len() > 0 {
		c.evictLocked(c.ll.Back())
	}
	c.used = 0
}
