package fusefs

import (
	"bytes"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// defaultReadAhead is the kernel's read-ahead window for a mount's files
// unless Options.MaxReadAhead says otherwise: one block. The kernel's own
// default (128 KiB) has a sequential reader wait for each request in
// turn; a window of a block keeps several requests under way, which the
// block store's own read-ahead then serves from memory (a 1 GiB
// sequential read after a remount: 421–535 → 528–572 MiB/s, 2026-12-07).
const defaultReadAhead = 4 << 20

// readAhead is the window opts ask for, in bytes; 0 leaves the kernel's.
func (o *Options) readAhead() int {
	switch {
	case o.MaxReadAhead == 0:
		return defaultReadAhead
	case o.MaxReadAhead < 0:
		return 0
	}
	return o.MaxReadAhead
}

// raiseReadAhead sets the read-ahead window of the file system mounted at
// mountpoint to n bytes when that is more than it has. The kernel offers
// a FUSE server its default (128 KiB) at INIT and takes only smaller
// values there; a larger window is set afterwards, as for any other
// device, in the mount's backing device's read_ahead_kb in sysfs (root
// only).
func raiseReadAhead(mountpoint string, n int) error {
	if n <= 0 {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Stat(mountpoint, &st); err != nil {
		return err
	}
	p := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev))
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	kb := (n + 1023) >> 10
	if cur, err := strconv.Atoi(string(bytes.TrimSpace(b))); err == nil && cur >= kb {
		return nil
	}
	return os.WriteFile(p, []byte(strconv.Itoa(kb)), 0)
}

// setReadAhead applies opts' read-ahead window to the mount s serves, and
// logs why when it cannot (not root, a read-only /sys): the mount then
// keeps the kernel's window.
func (s *Server) setReadAhead() {
	n := s.fs.opts.readAhead()
	if err := raiseReadAhead(s.mountpoint, n); err != nil {
		s.fs.log.Info("fusefs: the kernel's read-ahead window stays as it was", "want", n, "err", err)
	}
}
