package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"cairn/internal/fusefs"
)

// Smooth remount. `cairn mount` on a mountpoint that a cairn mount process
// serves takes the mount over: it asks that process, on its control
// socket, to stop taking requests and hand over its FUSE connection and
// open files (fusefs.Handover), serves them itself, and the old process
// exits. Programs using the mount — a `tail -f`, an open writer, a shell
// whose working directory is inside — see no error.

// takeoverSocket is where the mount process of mp listens for a process
// taking its mount over: beside its pid file.
func takeoverSocket(mp string) string {
	pid, _ := mountState(mp)
	p := strings.TrimSuffix(pid, ".pid") + ".sock"
	if len(p) >= 100 { // a socket's path is at most 107 bytes
		h := sha256.Sum256([]byte(mp))
		p = filepath.Join(filepath.Dir(pid), "mount-"+hex.EncodeToString(h[:8])+".sock")
	}
	return p
}

// takeoverRequest and takeoverReply are the control socket's messages.
type takeoverRequest struct {
	Op      string `json:"op"` // "takeover"
	PID     int    `json:"pid"`
	Version string `json:"version"`
	// Kernel: the new process's options that the kernel fixes at mount
	// time; they must be the mount's.
	Kernel fusefs.KernelMountOptions `json:"kernel"`
}

type takeoverReply struct {
	Error string        `json:"error,omitempty"`
	State *fusefs.State `json:"state,omitempty"`
	OK    bool          `json:"ok,omitempty"` // the taking process's answer
}

// serveTakeover listens on mp's control socket and hands the mount over
// to a process that asks; handedOver is closed once it did (srv's Wait
// returns then: the caller ends without unmounting or ending its session).
func serveTakeover(mp string, srv *fusefs.Server, v *volume, log *slog.Logger) (stop func(), handedOver <-chan struct{}, err error) {
	path := takeoverSocket(mp)
	os.Remove(path)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, nil, fmt.Errorf("control socket: %w", err)
	}
	os.Chmod(path, 0o600)
	done := make(chan struct{})
	go func() {
		for {
			c, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			if handOver(c, srv, v, log, done) {
				ln.Close()
				return
			}
		}
	}()
	return func() { ln.Close(); os.Remove(path) }, done, nil
}

// handOver answers one takeover request on c: true once the mount is the
// other process's (done is closed then, before srv stops).
func handOver(c *net.UnixConn, srv *fusefs.Server, v *volume, log *slog.Logger, done chan struct{}) bool {
	defer c.Close()
	if cred, err := peerUID(c); err != nil || cred != uint32(os.Geteuid()) {
		return false // only the mount's own user may take it over
	}
	dec, enc := json.NewDecoder(c), json.NewEncoder(c)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var req takeoverRequest
	if err := dec.Decode(&req); err != nil || req.Op != "takeover" {
		return false
	}
	if err := fusefs.CheckTakeover(srv.KernelOptions(), req.Kernel); err != nil {
		log.Warn("takeover refused", "from_pid", req.PID, "err", err)
		enc.Encode(takeoverReply{Error: err.Error()})
		return false
	}
	log.Info("handing the mount over", "to_pid", req.PID, "to_version", req.Version)
	h, err := srv.Handover(context.Background(), 10*time.Second)
	if err != nil {
		log.Warn("handover refused; serving on", "err", err)
		enc.Encode(takeoverReply{Error: err.Error()})
		return false
	}
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	_, _, err = c.WriteMsgUnix([]byte{0}, unix.UnixRights(h.FD), nil)
	if err == nil {
		err = enc.Encode(takeoverReply{State: &h.State})
	}
	var ans takeoverReply
	if err == nil {
		err = dec.Decode(&ans)
	}
	if err == nil && !ans.OK {
		err = errors.New(ans.Error)
	}
	if err != nil {
		h.Rollback()
		log.Warn("the new process did not take the mount; serving on", "err", err)
		return false
	}
	// The new process has resumed the session: this one lets it go
	// without ending it, and stops reading.
	v.meta.DetachSession()
	close(done)
	h.Commit()
	log.Info("mount handed over", "to_pid", req.PID)
	return true
}

// peerUID is the user of the process at the other end of c.
func peerUID(c *net.UnixConn) (uint32, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Ucred
	var cerr error
	raw.Control(func(fd uintptr) { cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) })
	if cerr != nil {
		return 0, cerr
	}
	return cred.Uid, nil
}

// takeoverOffer is a live mount's state and connection, taken from its
// process, not yet answered.
type takeoverOffer struct {
	c     *net.UnixConn
	dec   *json.Decoder
	fd    int
	state *fusefs.State
}

// askTakeover asks the process serving mp for its mount. nil, nil: no
// cairn process serves mp.
func askTakeover(mp string, kernel fusefs.KernelMountOptions) (*takeoverOffer, error) {
	path := takeoverSocket(mp)
	if _, err := os.Stat(path); err != nil {
		return nil, nil
	}
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, nil // a socket left by a process that is gone
	}
	conn.SetDeadline(time.Now().Add(time.Minute))
	if err := json.NewEncoder(conn).Encode(takeoverRequest{Op: "takeover", PID: os.Getpid(), Version: version, Kernel: kernel}); err != nil {
		conn.Close()
		return nil, err
	}
	// First the descriptor (one byte with it), or an error message.
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil || n == 0 {
		conn.Close()
		return nil, fmt.Errorf("the mount's process did not answer: %v", err)
	}
	if oobn == 0 { // the first byte of an error reply
		var rep takeoverReply
		err := json.NewDecoder(ioPrefix(buf[:n], conn)).Decode(&rep)
		conn.Close()
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("the mount's process refused: %s", rep.Error)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		conn.Close()
		return nil, fmt.Errorf("the mount's process sent no descriptor: %v", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		conn.Close()
		return nil, fmt.Errorf("the mount's process sent no descriptor: %v", err)
	}
	o := &takeoverOffer{c: conn, dec: json.NewDecoder(conn), fd: fds[0]}
	var rep takeoverReply
	if err := o.dec.Decode(&rep); err != nil || rep.State == nil {
		o.answer(errors.New("no state received"))
		return nil, fmt.Errorf("the mount's process sent no state: %v", err)
	}
	o.state = rep.State
	return o, nil
}

// answer tells the old process whether this one serves the mount now
// (nil) or could not (it serves on).
func (o *takeoverOffer) answer(err error) {
	rep := takeoverReply{OK: err == nil}
	if err != nil {
		rep.Error = err.Error()
		unix.Close(o.fd)
	}
	json.NewEncoder(o.c).Encode(rep)
	o.c.Close()
}

// ioPrefix reads b, then r.
func ioPrefix(b []byte, r *net.UnixConn) *prefixReader { return &prefixReader{b: b, r: r} }

type prefixReader struct {
	b []byte
	r *net.UnixConn
}

func (p *prefixReader) Read(out []byte) (int, error) {
	if len(p.b) > 0 {
		n := copy(out, p.b)
		p.b = p.b[n:]
		return n, nil
	}
	return p.r.Read(out)
}
