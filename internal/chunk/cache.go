package chunk

import (
	"container/list"
	"sync"
)

// cache is an LRU of whole blocks bounded by total bytes.
type cache struct {
	mu    sync.Mutex
	limit int64
	used  int64
	ll    *list.List
	items map[string]*list.Element
}

type cached struct {
	key  string
	data []byte
}

func newCache(limit int64) *cache {
	return &cache{limit: limit, ll: list.New(), items: make(map[string]*list.Element)}
}

func (c *cache) enabled() bool { return c.limit > 0 }

func (c *cache) get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*cached).data, true
	}
	return nil, false
}

func (c *cache) has(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.items[key]
	return ok
}

func (c *cache) put(key string, data []byte) {
	if int64(len(data)) > c.limit {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[key]; ok {
		return
	}
	c.items[key] = c.ll.PushFront(&cached{key: key, data: data})
	c.used += int64(len(data))
	for c.used > c.limit {
		e := c.ll.Back()
		it := e.Value.(*cached)
		c.ll.Remove(e)
		delete(c.items, it.key)
		c.used -= int64(len(it.data))
	}
}

func (c *cache) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.ll.Remove(e)
		delete(c.items, key)
		c.used -= int64(len(e.Value.(*cached).data))
	}
}

func (c *cache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ll.Init()
	clear(c.items)
	c.used = 0
}
