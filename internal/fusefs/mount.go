package fusefs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hanwen/go-fuse/v2/fuse"

	"cairn/internal/vfs"
)

// Server is a mounted volume.
type Server struct {
	srv        *fuse.Server
	fs         *rawFS
	mountpoint string
	// resumed: this process took the mount over (Resume); go-fuse does
	// not know its mountpoint.
	resumed bool
}

var _ fuse.RawFileSystem = counted{}

// Mount mounts v at mountpoint and starts serving it. The caller owns v;
// it must stay open until Wait returns.
func Mount(mountpoint string, v *vfs.FS, opts Options) (*Server, error) {
	if opts.WritebackCache && !opts.kernelChecks() {
		return nil, errors.New("fusefs: the writeback cache needs the kernel's permission checks (no squash, no userspace checks)")
	}
	fs := newRawFS(v, opts)
	srv, err := fuse.NewServer(counted{fs}, mountpoint, mountOptions(v, opts))
	if err != nil {
		return nil, fmt.Errorf("fusefs: mount %s: %w", mountpoint, err)
	}
	go srv.Serve()
	if err := srv.WaitMount(); err != nil {
		srv.Unmount()
		return nil, fmt.Errorf("fusefs: mount %s: %w", mountpoint, err)
	}
	s := &Server{srv: srv, fs: fs, mountpoint: mountpoint}
	s.setReadAhead()
	s.startFollowing()
	return s, nil
}

// startFollowing follows other clients' changes until the file system is
// unmounted.
func (s *Server) startFollowing() {
	if s.fs.followEvery <= 0 {
		return
	}
	stop := make(chan struct{})
	go s.fs.follow(stop)
	go func() {
		s.srv.Wait()
		close(stop)
	}()
}

// mountOptions are go-fuse's options for a mount of v with opts.
func mountOptions(v *vfs.FS, opts Options) *fuse.MountOptions {
	mo := &fuse.MountOptions{
		FsName:       opts.FsName,
		Name:         "cairn",
		AllowOther:   opts.AllowOther,
		MaxWrite:     defaultMaxWrite,
		MaxReadAhead: opts.readAhead(), // only a smaller window than the kernel's is taken here; see raiseReadAhead
		EnableLocks:  true,
		Debug:        opts.Debug,
		// The kernel does not apply the umask itself: vfs does, unless the
		// parent's default ACL replaces it.
		ExtraCapabilities: fuse.CAP_DONT_MASK | fuse.CAP_HANDLE_KILLPRIV,
		MaxBackground:     64,
	}
	if opts.MaxWrite > 0 {
		mo.MaxWrite = opts.MaxWrite
	}
	if mo.FsName == "" {
		mo.FsName = "cairn"
	}
	if opts.kernelChecks() {
		mo.Options = append(mo.Options, "default_permissions")
		mo.EnableAcl = v.Meta().Format().EnableACL
	}
	if opts.ReadOnly {
		mo.Options = append(mo.Options, "ro")
	}
	if opts.WritebackCache && opts.kernelChecks() {
		mo.ExtraCapabilities |= fuse.CAP_WRITEBACK_CACHE
	}
	return mo
}

// Mountpoint returns where the volume is mounted.
func (s *Server) Mountpoint() string { return s.mountpoint }

// Unmount unmounts the file system; it fails with EBUSY while it is in
// use. Wait returns once it is unmounted.
func (s *Server) Unmount() error {
	var err error
	for range 5 {
		if s.resumed {
			err = Unmount(s.mountpoint, false)
		} else {
			err = s.srv.Unmount()
		}
		if err == nil || !strings.Contains(err.Error(), "busy") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err == nil && s.resumed {
		s.srv.Wait()
	}
	return err
}

// Wait blocks until the file system is unmounted (by Unmount, by
// fusermount -u or umount, or because the kernel ended the connection).
func (s *Server) Wait() { s.srv.Wait() }

// Detach unmounts lazily (umount -l): the mount leaves the namespace at
// once and the kernel ends the connection when the last open file closes;
// until then this server goes on serving those files.
func (s *Server) Detach() error { return Unmount(s.mountpoint, true) }

// Unmount unmounts whatever FUSE file system is at mountpoint, lazily if
// lazy is set. It works for a mount whose server is gone too (the
// mountpoint answers ENOTCONN until then). As root it unmounts directly;
// others go through fusermount3.
func Unmount(mountpoint string, lazy bool) error {
	if os.Geteuid() == 0 {
		flags := 0
		if lazy {
			flags = unix.MNT_DETACH
		}
		err := unix.Unmount(mountpoint, flags)
		if err == nil {
			return nil
		}
		if errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("fusefs: unmount %s: %w", mountpoint, err)
		}
	}
	bin := "fusermount3"
	if _, err := exec.LookPath(bin); err != nil {
		bin = "fusermount"
	}
	args := []string{"-u"}
	if lazy {
		args = append(args, "-z")
	}
	out, err := exec.Command(bin, append(args, mountpoint)...).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if strings.Contains(msg, "busy") {
			return fmt.Errorf("fusefs: unmount %s: %w", mountpoint, unix.EBUSY)
		}
		return fmt.Errorf("fusefs: unmount %s: %s (%w)", mountpoint, msg, err)
	}
	return nil
}

// Busy reports whether err is an unmount refused because the file system
// is in use.
func Busy(err error) bool {
	return errors.Is(err, unix.EBUSY) || (err != nil && strings.Contains(err.Error(), "busy"))
}
