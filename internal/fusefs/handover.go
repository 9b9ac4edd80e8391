package fusefs

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hanwen/go-fuse/v2/fuse"

	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// Smooth remount: a new process takes over a live mount.
//
// The old process hands the new one its descriptor of the FUSE
// connection and its state (open files and directories, with their
// numbers; its session, which holds the locks and the inodes kept for
// open files), so that programs using the mount see no error: the
// kernel's connection, and every file descriptor open on it, stay.
//
// Stopping the old process's readers without losing a request: go-fuse
// reads requests on one descriptor number N from several threads. The old
// process keeps a duplicate of the connection, puts one end of a socket
// pair in place of N (dup3), and interrupts its threads with a signal
// whose handler restarts system calls: a read blocked on the connection
// restarts on N, now the socket, where no request comes. A request that
// a thread had already taken is served as usual; its reply, written to N,
// arrives at the other end of the socket pair, whence it is copied to the
// connection. Once no request is left being served, the state is final.
//
// Starting the new process's go-fuse on a connection whose INIT exchange
// is done: go-fuse reads INIT first. The new process gives it a socket
// pair end as its descriptor (go-fuse's /dev/fd/N form), writes the INIT
// request the old process got from the kernel into the other end, reads
// go-fuse's reply from there and drops it (the kernel has the old one),
// then puts the received connection in place of that descriptor number
// (dup3) and starts serving.
//
// What the kernel settled at mount time stays: the mount options
// (default_permissions, ro, allow_other) and what INIT negotiated (POSIX
// ACLs, locks, the writeback cache, the largest write). The new process must be started with
// the same permission mode, read-only setting and allow_other.

// State is what a mount hands to the process that takes it over.
type State struct {
	Init    []byte             `json:"init"` // the kernel's INIT request, as go-fuse read it
	Session uint64             `json:"session"`
	Handles []vfs.HandleState  `json:"handles"`
	Files   []FileState        `json:"files"`
	Dirs    []DirState         `json:"dirs"`
	NextDh  uint64             `json:"next_dh"`
	Locked  map[string]int     `json:"locked,omitempty"` // inode (decimal) → locks taken through the mount
	Kernel  KernelMountOptions `json:"kernel"`
}

// FileState is an open file of the mount.
type FileState struct {
	FH       uint64    `json:"fh"`
	Ino      posix.Ino `json:"ino"`
	Flags    uint32    `json:"flags"`
	UID      uint32    `json:"uid"` // its opener, for writable files
	Privs    bool      `json:"privs,omitempty"`
	CapsGone bool      `json:"caps_gone,omitempty"`
}

// DirState is an open directory of the mount.
type DirState struct {
	DH     uint64    `json:"dh"`
	Ino    posix.Ino `json:"ino"`
	Parent posix.Ino `json:"parent"`
}

// KernelMountOptions are the options the kernel fixed when the volume
// was mounted.
type KernelMountOptions struct {
	KernelChecks bool `json:"kernel_checks"`
	ReadOnly     bool `json:"read_only"`
	AllowOther   bool `json:"allow_other"`
	Writeback    bool `json:"writeback_cache,omitempty"`
}

// KernelOptions are the options of opts that the kernel fixes at mount
// time.
func KernelOptions(opts Options) KernelMountOptions {
	return KernelMountOptions{KernelChecks: opts.kernelChecks(), ReadOnly: opts.ReadOnly, AllowOther: opts.AllowOther,
		Writeback: opts.WritebackCache && opts.kernelChecks()}
}

// KernelOptions are the options the kernel fixed for this mount.
func (s *Server) KernelOptions() KernelMountOptions { return KernelOptions(s.fs.opts) }

// CheckTakeover tells whether a process whose options' kernel part is k
// may take over a mount that has.
func CheckTakeover(has, k KernelMountOptions) error {
	switch {
	case k.KernelChecks != has.KernelChecks:
		return errors.New("the permission mode (kernel checks, or --userspace-checks/--root-squash/--all-squash) cannot change on a live mount; unmount it first")
	case k.ReadOnly != has.ReadOnly:
		return errors.New("--read-only cannot change on a live mount; unmount it first")
	case k.AllowOther != has.AllowOther:
		return errors.New("allow_other cannot change on a live mount; unmount it first")
	case k.Writeback != has.Writeback:
		return errors.New("--writeback-cache cannot change on a live mount (the kernel settled it at mount time); unmount it first")
	}
	return nil
}

// A Handover is a mount that stopped taking requests for another process
// to take it over: Commit when that process serves it, Rollback if it
// could not.
type Handover struct {
	State State
	// FD is a descriptor of the FUSE connection, for the other process.
	FD int

	s     *Server
	n     int    // go-fuse's descriptor number
	sp    [2]int // the socket pair: sp[0] was put in place of n
	fwd   chan struct{}
	moved bool
}

// ErrBusy is a handover that gave up: a request went on being served (a
// lock wait, a slow read) for longer than the handover waits.
var ErrBusy = errors.New("fusefs: a request is still being served; the mount goes on as it was")

// Handover stops taking requests and returns the mount's state, waiting
// up to wait for the requests being served to end (else ErrBusy, and the
// mount serves on). It needs root (the socket buffer that carries the
// replies of the last requests must hold the largest).
func (s *Server) Handover(ctx context.Context, wait time.Duration) (*Handover, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("fusefs: a smooth remount needs root")
	}
	v := s.fs.v
	if err := v.FlushAll(ctx); err != nil {
		return nil, fmt.Errorf("fusefs: committing pending writes: %w", err)
	}
	fds := fuseFDs()
	if len(fds) != 1 {
		return nil, fmt.Errorf("fusefs: %d FUSE descriptors in this process, want 1", len(fds))
	}
	h := &Handover{s: s, n: fds[0], fwd: make(chan struct{})}
	var err error
	if h.FD, err = unix.FcntlInt(uintptr(h.n), unix.F_DUPFD_CLOEXEC, 0); err != nil {
		return nil, err
	}
	if h.sp, err = unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0); err != nil {
		unix.Close(h.FD)
		return nil, err
	}
	for _, fd := range h.sp {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 64<<20)
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 64<<20)
	}
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	go h.forward(&last)
	if err := unix.Dup3(h.sp[0], h.n, unix.O_CLOEXEC); err != nil {
		h.closeAll()
		return nil, err
	}
	unix.Close(h.sp[0])
	h.moved = true
	kickThreads()
	// Wait until nothing is being served and the last replies are out.
	start := time.Now()
	for {
		time.Sleep(10 * time.Millisecond)
		idle := time.Since(time.Unix(0, last.Load()))
		if s.fs.active.Load() == 0 && idle > 100*time.Millisecond && time.Since(start) > 100*time.Millisecond {
			break
		}
		if time.Since(start) > wait {
			h.Rollback()
			return nil, ErrBusy
		}
		if time.Since(start) < 50*time.Millisecond {
			kickThreads() // a thread just entering its read
		}
	}
	if err := v.FlushAll(ctx); err != nil {
		h.Rollback()
		return nil, fmt.Errorf("fusefs: committing pending writes: %w", err)
	}
	h.State = s.fs.state()
	h.State.Init = initBytes(s.srv.KernelSettings())
	h.State.Session = v.Meta().SessionID()
	return h, nil
}

// forward copies the replies written to the socket pair to the
// connection, until the pair is shut down.
func (h *Handover) forward(last *atomic.Int64) {
	defer close(h.fwd)
	buf := make([]byte, 16<<20)
	for {
		n, err := unix.Read(h.sp[1], buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n == 0 {
			return
		}
		last.Store(time.Now().UnixNano())
		for {
			if _, err := unix.Write(h.FD, buf[:n]); !errors.Is(err, unix.EINTR) {
				break
			}
		}
	}
}

// Commit ends this process's part: its readers stop (Wait returns; the
// connection stays, for the process that took it) and the descriptors it
// kept are closed.
func (h *Handover) Commit() {
	unix.Shutdown(h.sp[1], unix.SHUT_RDWR)
	<-h.fwd
	unix.Close(h.sp[1])
	unix.Close(h.FD)
}

// Rollback puts the connection back and serves on.
func (h *Handover) Rollback() {
	if h.moved {
		unix.Dup3(h.FD, h.n, unix.O_CLOEXEC)
		for range 3 {
			kickThreads()
			time.Sleep(10 * time.Millisecond)
		}
	}
	// Threads may still wait on the socket pair until they are
	// interrupted: it stays open (they read nothing from it).
	unix.Close(h.FD)
}

func (h *Handover) closeAll() {
	unix.Close(h.FD)
	unix.Close(h.sp[0])
	unix.Close(h.sp[1])
}

// state lists the mount's open files and directories.
func (f *rawFS) state() State {
	st := State{Handles: f.v.Handles(), Kernel: KernelOptions(f.opts), Locked: map[string]int{}}
	f.mu.Lock()
	defer f.mu.Unlock()
	for fh, h := range f.files {
		st.Files = append(st.Files, FileState{FH: fh, Ino: h.ino, Flags: h.flags, UID: h.uid, Privs: h.privs.Load(), CapsGone: h.capsGone.Load()})
	}
	for dh, d := range f.dirs {
		st.Dirs = append(st.Dirs, DirState{DH: dh, Ino: d.ino, Parent: d.parent})
	}
	st.NextDh = f.nextDh
	for ino, n := range f.locked {
		st.Locked[strconv.FormatUint(uint64(ino), 10)] = n
	}
	return st
}

// restore takes the open files and directories of st.
func (f *rawFS) restore(st *State) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range st.Files {
		h := &fileHandle{ino: s.Ino, flags: s.Flags, uid: s.UID, ctx: f.ctx}
		if h.writable() {
			h.ctx = f.asCaller(s.UID)
		}
		h.privs.Store(s.Privs)
		h.capsGone.Store(s.CapsGone)
		f.files[s.FH] = h
	}
	for _, s := range st.Dirs {
		f.dirs[s.DH] = &dirHandle{ino: s.Ino, parent: s.Parent}
	}
	f.nextDh = max(f.nextDh, st.NextDh)
	for k, n := range st.Locked {
		if ino, err := strconv.ParseUint(k, 10, 64); err == nil {
			f.locked[posix.Ino(ino)] = n
		}
	}
}

// Resume serves the mount at mountpoint whose connection fd and state st
// another process handed over, with v (whose session and handles are
// st's, resumed by the caller).
func Resume(mountpoint string, fd int, st *State, v *vfs.FS, opts Options) (*Server, error) {
	if err := CheckTakeover(st.Kernel, KernelOptions(opts)); err != nil {
		return nil, err
	}
	fs := newRawFS(v, opts)
	fs.restore(st)
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(sp[1])
	if _, err := unix.Write(sp[1], st.Init); err != nil {
		unix.Close(sp[0])
		return nil, err
	}
	srv, err := fuse.NewServer(counted{fs}, "/dev/fd/"+strconv.Itoa(sp[0]), mountOptions(v, opts))
	if err != nil {
		unix.Close(sp[0])
		return nil, fmt.Errorf("fusefs: taking over %s: %w", mountpoint, err)
	}
	// go-fuse's answer to the INIT it was given: the kernel has its own.
	buf := make([]byte, 4096)
	if _, err := unix.Read(sp[1], buf); err != nil {
		return nil, fmt.Errorf("fusefs: taking over %s: %w", mountpoint, err)
	}
	if err := unix.Dup3(fd, sp[0], unix.O_CLOEXEC); err != nil {
		return nil, err
	}
	unix.Close(fd)
	go srv.Serve()
	s := &Server{srv: srv, fs: fs, mountpoint: mountpoint, resumed: true}
	s.setReadAhead()
	s.startFollowing()
	return s, nil
}

// initBytes is the INIT request of settings as the kernel sends it.
func initBytes(in *fuse.InitIn) []byte {
	c := *in
	c.Length = uint32(binary.Size(c))
	c.Opcode = 26 // FUSE_INIT
	c.Unique = 1
	var b bytes.Buffer
	binary.Write(&b, binary.NativeEndian, &c)
	return b.Bytes()
}

// fuseFDs lists this process's descriptors of /dev/fuse.
func fuseFDs() []int {
	ents, _ := os.ReadDir("/proc/self/fd")
	var out []int
	for _, e := range ents {
		if t, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && t == "/dev/fuse" {
			if n, err := strconv.Atoi(e.Name()); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// kickThreads interrupts every thread of the process with SIGURG (Go's
// preemption signal, harmless when spurious): a system call it is blocked
// in restarts, resolving its descriptor number again.
func kickThreads() {
	pid := os.Getpid()
	ents, _ := os.ReadDir("/proc/self/task")
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			unix.Tgkill(pid, tid, unix.SIGURG)
		}
	}
}
