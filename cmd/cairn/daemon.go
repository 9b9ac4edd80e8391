package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"cairn/internal/meta"

	"github.com/spf13/cobra"
)

// daemonChildEnv marks the background process `-d` starts.
const daemonChildEnv = "CAIRN_DAEMON_CHILD"

// runOptions are how a server runs as a service.
type runOptions struct {
	daemon      bool
	logFile     string
	pidFile     string
	logLevel    string
	logMaxSize  sizeValue
	logMaxFiles int
	// takeover: the background process will take over a live mount (its
	// pid file names the process serving it now).
	takeover bool
	// sessionTimeout: how long this process's session may miss
	// heartbeats before the others end it (meta.Options.SessionTimeout).
	sessionTimeout time.Duration
}

func (o *runOptions) flags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVarP(&o.daemon, "daemon", "d", false, "run in the background, logging to --log-file, with a --pid-file")
	fl.StringVar(&o.logFile, "log-file", "", "write logs to this file (rotated by size) instead of stderr")
	fl.StringVar(&o.pidFile, "pid-file", "", "write the process id to this file while running")
	fl.StringVar(&o.logLevel, "log-level", "info", "least severe level logged: debug, info, warn or error")
	o.logMaxSize = sizeValue(100 << 20)
	fl.Var(&o.logMaxSize, "log-max-size", "rotate --log-file when it reaches this size")
	fl.IntVar(&o.logMaxFiles, "log-max-files", 5, "rotated log files kept (FILE.1 is the newest)")
	fl.DurationVar(&o.sessionTimeout, "session-timeout", meta.DefaultSessionTimeout,
		"how long this process may miss heartbeats (one every fifth of it, at most every 12s) before the other clients of the volume end its session, freeing its locks (at least 5s)")
}

func (o *runOptions) level() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(o.logLevel)); err != nil {
		return l, fmt.Errorf("--log-level %q: want debug, info, warn or error", o.logLevel)
	}
	return l, nil
}

// output is where logs go: the rotating --log-file, or stderr.
func (o *runOptions) output() (io.Writer, error) {
	if o.logFile == "" {
		return os.Stderr, nil
	}
	return openRotating(o.logFile, int64(o.logMaxSize), o.logMaxFiles, os.Getenv(daemonChildEnv) != "")
}

// daemonize starts this command again in the background (a new session,
// no terminal, output to the log file) and returns once it has written
// its pid file, or with its log's last lines if it exits first.
func daemonize(cmd *cobra.Command, o *runOptions, defaultLog, defaultPid string) error {
	if o.logFile == "" {
		o.logFile = defaultLog
	}
	if o.pidFile == "" {
		o.pidFile = defaultPid
	}
	for _, p := range []*string{&o.logFile, &o.pidFile} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	if err := checkPidFile(o.pidFile); err != nil && !o.takeover {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var args []string
	for _, a := range os.Args[1:] {
		if a == "-d" || a == "--daemon" || a == "--daemon=true" {
			continue
		}
		args = append(args, a)
	}
	args = append(args, "--log-file", o.logFile, "--pid-file", o.pidFile)
	if err := os.MkdirAll(filepath.Dir(o.logFile), 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(o.logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	start, _ := logf.Seek(0, io.SeekEnd)
	child := exec.Command(exe, args...)
	child.Env = append(os.Environ(), daemonChildEnv+"=1")
	child.Stdout, child.Stderr = logf, logf
	child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := child.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("the background server exited (%v); its log %s says:\n%s", err, o.logFile, logTail(o.logFile, start))
		case <-deadline:
			return fmt.Errorf("the background server (pid %d) did not start within 2 minutes; see %s", child.Process.Pid, o.logFile)
		case <-time.After(50 * time.Millisecond):
		}
		if pid, err := readPid(o.pidFile); err == nil && pid == child.Process.Pid {
			fmt.Fprintf(cmd.OutOrStdout(), "cairn %s running in the background: pid %d, log %s, pid file %s\n", cmd.Name(), pid, o.logFile, o.pidFile)
			return nil
		}
	}
}

func logTail(path string, from int64) string {
	b, _ := os.ReadFile(path)
	if from < int64(len(b)) {
		b = b[from:]
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

func readPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// The PID namespace of a pid file's writer is in a file beside it
// (PIDFILE.ns; pidSpace): a process of another namespace (a container
// sharing /run) has another meaning for the same number. A pid file
// without one is of this namespace.
func pidFileSpace(path string) string {
	b, _ := os.ReadFile(path + ".ns")
	return strings.TrimSpace(string(b))
}

// ownPidFile reports whether the pid in the pid file at path is a number
// of this PID namespace.
func ownPidFile(path string) bool {
	s := pidFileSpace(path)
	return s == "" || s == pidSpace()
}

// checkPidFile refuses a pid file whose process still runs, or whose
// process is of another PID namespace; a stale one is fine (it is
// replaced).
func checkPidFile(path string) error {
	pid, err := readPid(path)
	if err != nil || pid <= 0 {
		return nil
	}
	if !ownPidFile(path) {
		return fmt.Errorf("already running: %s names pid %d of another PID namespace (a container); stop it there, or remove the file if it is not running", path, pid)
	}
	if syscall.Kill(pid, 0) == nil || errors.Is(syscall.Kill(pid, 0), syscall.EPERM) {
		return fmt.Errorf("already running: %s names pid %d (stop it, or remove the file if that is not cairn)", path, pid)
	}
	return nil
}

// waitPidFile waits up to d for the process that the pid file at path
// named as pid to end, and reports whether it did: the pid gone, or, for
// a process of another PID namespace (own false, as ownPidFile said when
// pid was read: the process removes both files as it ends), its pid file
// removed or naming another.
func waitPidFile(path string, pid int, own bool, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if own && syscall.Kill(pid, 0) != nil {
			return true
		}
		if p, err := readPid(path); !own && (err != nil || p != pid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writePidFile writes this process's pid to path; the returned function
// removes it.
func writePidFile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	if err := checkPidFile(path); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path+".ns", []byte(pidSpace()+"\n"), 0o644); err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, err
	}
	return func() {
		if pid, err := readPid(path); err == nil && pid == os.Getpid() && ownPidFile(path) {
			os.Remove(path)
			os.Remove(path + ".ns") // after: readers read it first
		}
	}, nil
}

// rotating is a log file rotated by size: FILE is renamed FILE.1 (and
// FILE.1 FILE.2, up to keep files) when a write would take it past max.
// In the background process, stderr follows the current file, so that a
// crash's output lands next to the last log lines.
type rotating struct {
	mu        sync.Mutex
	path      string
	max       int64
	keep      int
	f         *os.File
	size      int64
	ownStderr bool
}

func openRotating(path string, max int64, keep int, ownStderr bool) (*rotating, error) {
	r := &rotating{path: path, max: max, keep: keep, ownStderr: ownStderr}
	return r, r.open()
}

func (r *rotating) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if r.f != nil {
		r.f.Close()
	}
	r.f, r.size = f, fi.Size()
	if r.ownStderr {
		syscall.Dup3(int(f.Fd()), 2, 0)
	}
	return nil
}

func (r *rotating) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.max > 0 && r.size > 0 && r.size+int64(len(p)) > r.max {
		r.rotate()
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

func (r *rotating) rotate() {
	for i := r.keep - 1; i >= 1; i-- {
		os.Rename(fmt.Sprintf("%s.%d", r.path, i), fmt.Sprintf("%s.%d", r.path, i+1))
	}
	if r.keep > 0 {
		os.Rename(r.path, r.path+".1")
	} else {
		os.Truncate(r.path, 0)
	}
	if err := r.open(); err != nil {
		fmt.Fprintf(os.Stderr, "cairn: reopening the log file: %v\n", err)
	}
}
