package fusefs

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"time"
)

// groupCache maps a caller's pid to its supplementary groups, read from
// /proc/PID/status ("Groups:" line). FUSE requests carry only uid, gid and
// pid; without the groups, vfs would deny what a supplementary group
// grants. Entries live for a second: a process that changes its groups
// (newgrp, setgroups) is seen after at most that.
type groupCache struct {
	mu      sync.Mutex
	entries map[uint32]groupEntry
	ttl     time.Duration
	proc    string // "/proc"; tests may point it elsewhere
}

type groupEntry struct {
	uid, gid uint32
	groups   []uint32
	at       time.Time
}

const groupCacheMax = 4096

func newGroupCache() *groupCache {
	return &groupCache{entries: map[uint32]groupEntry{}, ttl: time.Second, proc: "/proc"}
}

// groups returns the supplementary groups of process pid, which runs as
// uid/gid. A process that is gone, or a pid of 0 (requests the kernel
// makes on its own), has none.
func (c *groupCache) groups(pid, uid, gid uint32) []uint32 {
	if pid == 0 {
		return nil
	}
	now := time.Now()
	c.mu.Lock()
	e, ok := c.entries[pid]
	c.mu.Unlock()
	if ok && e.uid == uid && e.gid == gid && now.Sub(e.at) < c.ttl {
		return e.groups
	}
	gs := readGroups(c.proc + "/" + strconv.FormatUint(uint64(pid), 10) + "/status")
	c.mu.Lock()
	if len(c.entries) >= groupCacheMax {
		clear(c.entries)
	}
	c.entries[pid] = groupEntry{uid: uid, gid: gid, groups: gs, at: now}
	c.mu.Unlock()
	return gs
}

// readGroups parses the Groups: line of a /proc/PID/status file.
func readGroups(path string) []uint32 {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return parseGroups(b)
}

func parseGroups(status []byte) []uint32 {
	for line := range bytes.SplitSeq(status, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte("Groups:"))
		if !ok {
			continue
		}
		var gs []uint32
		for f := range bytes.FieldsSeq(rest) {
			g, err := strconv.ParseUint(string(f), 10, 32)
			if err != nil {
				return nil
			}
			gs = append(gs, uint32(g))
		}
		return gs
	}
	return nil
}
