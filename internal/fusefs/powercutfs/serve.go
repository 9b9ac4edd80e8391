//go:build linux

package powercutfs

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
)

// A server process is this program's executable started again with
// serveEnv set to its config as JSON. The package's init sees the
// variable, serves the mount, and exits without running the program (for a
// test binary: without running any test). It reads requests on fd 3 and
// writes replies on fd 4, one JSON value per line; its log goes, as JSON
// lines, to stderr, which the controller forwards to its Logger.
const serveEnv = "POWERCUTFS_SERVE"

func init() {
	if cfg, ok := os.LookupEnv(serveEnv); ok {
		os.Exit(serve(cfg))
	}
}

type request struct{ Op string } // "stats", "cut" or "unmount"

type reply struct {
	Ready bool   `json:",omitempty"` // first reply: mounted
	Err   string `json:",omitempty"`
	Errno int    `json:",omitempty"` // the errno at the bottom of Err, if any
	Stats Stats
}

func replyOf(err error, st Stats) reply {
	r := reply{Stats: st}
	if err != nil {
		r.Err = err.Error()
		var e syscall.Errno
		if errors.As(err, &e) {
			r.Errno = int(e)
		}
	}
	return r
}

// remoteError is an error of the server process; it unwraps to its errno,
// so errors.Is(err, fs.ErrPermission) works across the process boundary.
type remoteError struct {
	msg   string
	errno syscall.Errno
}

func (e *remoteError) Error() string { return e.msg }

func (e *remoteError) Unwrap() error {
	if e.errno == 0 {
		return nil
	}
	return e.errno
}

func (r reply) err() error {
	if r.Err == "" {
		return nil
	}
	return &remoteError{msg: r.Err, errno: syscall.Errno(r.Errno)}
}

// serve is the server process: mount, answer requests until a cut or an
// unmount, exit. If the controller goes away (its end of fd 3 closes), it
// unmounts, keeping lower as it is.
func serve(cfgJSON string) int {
	var cfg config
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "powercutfs: bad %s: %v\n", serveEnv, err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.Level}))
	requests := json.NewDecoder(os.NewFile(3, "requests"))
	replies := json.NewEncoder(os.NewFile(4, "replies"))
	e, err := mountEngine(cfg, log)
	if err != nil {
		replies.Encode(replyOf(err, Stats{}))
		return 1
	}
	replies.Encode(reply{Ready: true})
	for {
		var req request
		if err := requests.Decode(&req); err != nil {
			log.Warn("powercutfs: controller gone; unmounting", "err", err)
			e.unmount()
			return 1
		}
		switch req.Op {
		case "cut", "unmount":
			end := e.cut
			if req.Op == "unmount" {
				end = e.unmount
			}
			err := end()
			replies.Encode(replyOf(err, e.statsNow()))
			return 0
		default:
			replies.Encode(reply{Stats: e.statsNow()})
		}
	}
}

// process is the controller's side of a server process.
type process struct {
	cmd      *exec.Cmd
	requests *os.File // our end of its fd 3
	enc      *json.Encoder
	dec      *json.Decoder
	logDone  chan struct{}
	ended    atomic.Bool // a cut or unmount was sent: no more requests

	mu   sync.Mutex // one request at a time; guards last
	last Stats
}

// startServer starts a server process for cfg and waits until it has
// mounted (or failed to). rawStderr sends its non-JSON output (a crash)
// to our stderr rather than to log.
func startServer(cfg config, log *slog.Logger, rawStderr bool) (*process, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("powercutfs: server process: %w", err)
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		repR.Close()
		repW.Close()
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), serveEnv+"="+string(cfgJSON))
	cmd.ExtraFiles = []*os.File{reqR, repW}
	cmd.Stdout, cmd.Stderr = outW, outW
	err = cmd.Start()
	reqR.Close()
	repW.Close()
	outW.Close()
	if err != nil {
		reqW.Close()
		repR.Close()
		outR.Close()
		return nil, fmt.Errorf("powercutfs: server process: %w", err)
	}
	p := &process{cmd: cmd, requests: reqW, enc: json.NewEncoder(reqW), dec: json.NewDecoder(repR), logDone: make(chan struct{})}
	go forwardLog(outR, log, rawStderr, p.logDone)
	var first reply
	if err := p.dec.Decode(&first); err != nil || !first.Ready {
		reqW.Close()
		werr := p.wait()
		if err == nil {
			err = first.err()
		}
		return nil, errors.Join(fmt.Errorf("powercutfs: server process: %w", err), werr)
	}
	return p, nil
}

// call sends op and returns the reply; it keeps the stats it carries.
func (p *process) call(op string) (reply, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.enc.Encode(request{Op: op}); err != nil {
		return reply{}, fmt.Errorf("powercutfs: server process gone: %w", err)
	}
	var r reply
	if err := p.dec.Decode(&r); err != nil {
		return reply{}, fmt.Errorf("powercutfs: server process gone: %w", err)
	}
	p.last = r.Stats
	return r, nil
}

func (p *process) cut() error     { return p.end("cut") }
func (p *process) unmount() error { return p.end("unmount") }

// end asks the server to cut or unmount and waits for it to exit.
func (p *process) end(op string) error {
	p.ended.Store(true)
	r, err := p.call(op)
	if err == nil {
		err = r.err()
	}
	p.requests.Close()
	return errors.Join(err, p.wait())
}

// wait waits for the process and its output; a failed exit (a crash, or a
// race report under -race, exit status 66) is an error.
func (p *process) wait() error {
	err := p.cmd.Wait()
	<-p.logDone
	if err != nil {
		return fmt.Errorf("powercutfs: server process: %w", err)
	}
	return nil
}

func (p *process) statsNow() Stats {
	if !p.ended.Load() {
		if r, err := p.call("stats"); err == nil {
			return r.Stats
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// forwardLog re-logs the server's JSON log lines to log with their level,
// message and attributes; other lines (a panic, a race report) go to log
// at Error, or to our stderr when raw.
func forwardLog(r io.ReadCloser, log *slog.Logger, raw bool, done chan<- struct{}) {
	defer close(done)
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var rec map[string]any
		if json.Unmarshal(line, &rec) != nil {
			if raw {
				fmt.Fprintf(os.Stderr, "powercutfs server: %s\n", line)
			} else {
				log.Error("powercutfs server: " + string(line))
			}
			continue
		}
		var level slog.Level
		if s, ok := rec[slog.LevelKey].(string); ok {
			level.UnmarshalText([]byte(s))
		}
		msg, _ := rec[slog.MessageKey].(string)
		delete(rec, slog.TimeKey)
		delete(rec, slog.LevelKey)
		delete(rec, slog.MessageKey)
		attrs := make([]slog.Attr, 0, len(rec))
		for _, k := range slices.Sorted(maps.Keys(rec)) {
			attrs = append(attrs, slog.Any(k, rec[k]))
		}
		log.LogAttrs(context.Background(), level, msg, attrs...)
	}
}
