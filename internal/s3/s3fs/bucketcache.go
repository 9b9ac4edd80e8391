package s3fs

import (
	"sync"
	"time"
)

// The per-gateway cache of buckets' states: versioning, object lock,
// lifecycle rules, S3 ACL state, whether a quota applies and the
// notification configuration, read together and trusted for a moment.

// versionCacheTTL is how long a gateway trusts the versioning state,
// object lock and lifecycle configuration it read of a bucket: a change
// made through another gateway applies there within it, so within a
// second (AWS documents up to 15 minutes after a change). A change made
// through this FS applies at once.
const versionCacheTTL = 500 * time.Millisecond

type versionCache struct {
	mu sync.Mutex
	m  map[string]versionState
}

type versionState struct {
	status string
	lock   ObjectLockConfig
	rules  []LifecycleRule
	acl    BucketACLState
	quota  bool // the bucket has a quota
	notify []byte
	at     time.Time
}

func (c *versionCache) get(bucket string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[bucket]
	if !ok || time.Since(s.at) > versionCacheTTL {
		return "", false
	}
	return s.status, true
}

func (c *versionCache) put(bucket string, s versionState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]versionState{}
	}
	if len(c.m) > 10000 {
		clear(c.m)
	}
	s.at = time.Now()
	c.m[bucket] = s
}

// hasQuota reports whether bucket had a quota when its state was cached.
func (c *versionCache) hasQuota(bucket string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[bucket].quota
}

// acl returns the cached ACL state of bucket.
func (c *versionCache) acl(bucket string) (BucketACLState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[bucket]
	if !ok || time.Since(s.at) > versionCacheTTL {
		return BucketACLState{}, false
	}
	return s.acl, true
}

// rules returns the cached lifecycle rules of bucket.
func (c *versionCache) rules(bucket string) []LifecycleRule {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[bucket].rules
}

// lock returns the cached object lock configuration of bucket.
func (c *versionCache) lock(bucket string) (ObjectLockConfig, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[bucket]
	return s.lock, ok
}

// notification returns the cached notification configuration of bucket
// (nil: none).
func (c *versionCache) notification(bucket string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[bucket]
	if !ok || time.Since(s.at) > versionCacheTTL {
		return nil, false
	}
	return s.notify, true
}

func (c *versionCache) forget(bucket string) {
	c.mu.Lock()
	delete(c.m, bucket)
	c.mu.Unlock()
}
