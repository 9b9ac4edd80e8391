//go:build linux

package powercutfs

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// fusectlDir is where the kernel's fusectl file system lists FUSE
// connections, one directory per connection, named by the minor device
// number of the mount.
const fusectlDir = "/sys/fs/fuse/connections"

const fusectlMagic = 0x65735543

// ensureFusectl mounts fusectl when it is not mounted yet (root only), so
// that Cut can abort the connection. Failure is logged, not returned: Cut
// then relies on the dead flag alone.
func ensureFusectl(log *slog.Logger) {
	var st unix.Statfs_t
	if err := unix.Statfs(fusectlDir, &st); err == nil && st.Type == fusectlMagic {
		return
	}
	if err := unix.Mount("fusectl", fusectlDir, "fusectl", 0, ""); err != nil {
		log.Info("powercutfs: fusectl not mounted and cannot be; Cut will not abort the connection", "err", err)
	}
}

// abort ends the FUSE connection in the kernel: every request in flight
// or to come fails (ECONNABORTED / ENOTCONN) without reaching the server.
func (f *engine) abort() error {
	if f.connDev == 0 {
		return errors.New("powercutfs: device of the mount unknown")
	}
	p := fmt.Sprintf("%s/%d/abort", fusectlDir, unix.Minor(f.connDev))
	if err := os.WriteFile(p, []byte("1"), 0); err != nil {
		return fmt.Errorf("powercutfs: abort: %w", err)
	}
	return nil
}

// detach removes the mount lazily: it disappears from the namespace now
// and is freed when its last open file is closed.
func (f *engine) detach() error {
	err := unix.Unmount(f.mountpoint, unix.MNT_DETACH)
	if err == nil || errors.Is(err, unix.EINVAL) { // EINVAL: not mounted any more
		return nil
	}
	for _, bin := range []string{"fusermount3", "fusermount"} {
		if path, lerr := exec.LookPath(bin); lerr == nil {
			out, cerr := exec.Command(path, "-u", "-z", f.mountpoint).CombinedOutput()
			if cerr == nil {
				return nil
			}
			err = fmt.Errorf("%s -u -z: %v: %s", bin, cerr, out)
		}
	}
	return fmt.Errorf("powercutfs: unmount %s: %w", f.mountpoint, err)
}

// waitServer waits for the server's loops to end. After an abort they end
// at once; without one, only when the kernel drops the connection, which
// open files may delay, so the wait is bounded.
func (f *engine) waitServer(aborted bool) {
	limit := 10 * time.Second
	if !aborted {
		limit = 2 * time.Second
	}
	done := make(chan struct{})
	go func() {
		f.server.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(limit):
		f.log.Warn("powercutfs: FUSE server still running after unmount", "waited", limit)
	}
}

// closeHandles closes every lower descriptor still open. Caller has
// stopped all operations (dead set, opMu drained).
func (f *engine) closeHandles() {
	f.hmu.Lock()
	defer f.hmu.Unlock()
	for h := range f.handles {
		syscall.Close(h.fd)
	}
	clear(f.handles)
}
