package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"cairn/internal/acl"
)

// fsOps are the operations `cairn bench fs` times, in the order they run.
var fsOps = []string{"create", "stat", "readdir", "rename", "unlink", "small_write", "small_read", "small_stat"}

type benchFSOptions struct {
	files     int
	threads   int
	smallN    int
	smallSize sizeValue
	withACL   bool
	jsonOut   bool
}

type benchFSReport struct {
	Dir     string             `json:"dir"`
	Files   int                `json:"files"`
	Threads int                `json:"threads"`
	ACL     bool               `json:"acl"`
	OpsPerS map[string]float64 `json:"ops_per_s"`
	MiBPerS map[string]float64 `json:"mib_per_s,omitempty"`
}

func newBenchFSCmd() *cobra.Command {
	var o benchFSOptions
	cmd := &cobra.Command{
		Use:   "fs DIR",
		Short: "mdtest-style metadata and small-file benchmark on any directory (a mount, a local disk)",
		Long: `Times, through the operating system, create, stat, readdir, rename and
unlink of --files empty files, and writing, reading and stat of
--small-files files of --small-size, over --threads workers each in its
own directory under DIR. It measures whatever file system DIR is on: a
cairn mount, another FUSE file system, a local disk, so the figures
compare. --acl gives the scratch directories an access and a default ACL
naming several users and groups, so every new file inherits one.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.files < o.threads || o.threads < 1 || o.smallN < 0 {
				return fmt.Errorf("--files must be at least --threads, --threads at least 1")
			}
			rep, err := runBenchFS(args[0], o)
			if err != nil {
				return err
			}
			return printBenchFS(cmd.OutOrStdout(), rep, o.jsonOut)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&o.files, "files", 20000, "empty files for the metadata operations (split over the threads)")
	fl.IntVar(&o.threads, "threads", 4, "concurrent workers")
	fl.IntVar(&o.smallN, "small-files", 1000, "small files written, read and stat'ed (0: none)")
	o.smallSize = sizeValue(128 << 10)
	fl.Var(&o.smallSize, "small-size", "size of each small file")
	fl.BoolVar(&o.withACL, "acl", false, "give the scratch directories an access and a default ACL")
	fl.BoolVar(&o.jsonOut, "json", false, "print the report as JSON")
	return cmd
}

func runBenchFS(dir string, o benchFSOptions) (*benchFSReport, error) {
	scratch, err := os.MkdirTemp(dir, "cairn-bench-fs-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	dirs := make([]string, o.threads)
	var access, def []byte
	if o.withACL {
		r, err := acl.Parse("u::rwx,u:2001:rwx,u:2002:r-x,u:2003:rwx,g::r-x,g:3001:rwx,g:3002:r-x,m::rwx,o::r-x", nil)
		if err != nil {
			return nil, err
		}
		access, def = r.MarshalXattr(), r.MarshalXattr()
	}
	for i := range dirs {
		dirs[i] = filepath.Join(scratch, fmt.Sprintf("t%d", i))
		if err := os.Mkdir(dirs[i], 0o755); err != nil {
			return nil, err
		}
		if o.withACL {
			if err := unix.Setxattr(dirs[i], "system.posix_acl_access", access, 0); err != nil {
				return nil, fmt.Errorf("--acl: %s: %w", dirs[i], err)
			}
			if err := unix.Setxattr(dirs[i], "system.posix_acl_default", def, 0); err != nil {
				return nil, fmt.Errorf("--acl: %s: %w", dirs[i], err)
			}
		}
	}
	rep := &benchFSReport{Dir: dir, Files: o.files, Threads: o.threads, ACL: o.withACL, OpsPerS: map[string]float64{}, MiBPerS: map[string]float64{}}
	per := o.files / o.threads
	name := func(t, i int) string { return filepath.Join(dirs[t], fmt.Sprintf("f%07d", i)) }
	small := func(t, i int) string { return filepath.Join(dirs[t], fmt.Sprintf("s%07d", i)) }
	buf := make([]byte, int(o.smallSize))
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	// timed runs fn(thread, i) for i < n on every thread, and records
	// total/elapsed under op.
	timed := func(op string, n int, fn func(t, i int) error) error {
		var wg sync.WaitGroup
		errs := make([]error, o.threads)
		start := time.Now()
		for t := range o.threads {
			wg.Go(func() {
				for i := range n {
					if err := fn(t, i); err != nil {
						errs[t] = fmt.Errorf("%s: %w", op, err)
						return
					}
				}
			})
		}
		wg.Wait()
		el := time.Since(start).Seconds()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		rep.OpsPerS[op] = float64(n*o.threads) / el
		return nil
	}
	steps := []struct {
		op string
		n  int
		fn func(t, i int) error
	}{
		{"create", per, func(t, i int) error {
			fd, err := unix.Open(name(t, i), unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
			if err == nil {
				err = unix.Close(fd)
			}
			return err
		}},
		{"stat", per, func(t, i int) error {
			var st unix.Stat_t
			return unix.Stat(name(t, i), &st)
		}},
		{"readdir", 1, func(t, _ int) error {
			ents, err := os.ReadDir(dirs[t])
			if err == nil && len(ents) != per {
				err = fmt.Errorf("%s lists %d entries, not %d", dirs[t], len(ents), per)
			}
			return err
		}},
		{"rename", per, func(t, i int) error { return unix.Rename(name(t, i), name(t, i)+"r") }},
		{"unlink", per, func(t, i int) error { return unix.Unlink(name(t, i) + "r") }},
		{"small_write", o.smallN / o.threads, func(t, i int) error { return os.WriteFile(small(t, i), buf, 0o644) }},
		{"small_read", o.smallN / o.threads, func(t, i int) error {
			b, err := os.ReadFile(small(t, i))
			if err == nil && len(b) != len(buf) {
				err = fmt.Errorf("%s: read %d bytes of %d", small(t, i), len(b), len(buf))
			}
			return err
		}},
		{"small_stat", o.smallN / o.threads, func(t, i int) error {
			var st unix.Stat_t
			return unix.Stat(small(t, i), &st)
		}},
	}
	for _, s := range steps {
		if s.n == 0 {
			continue
		}
		if err := timed(s.op, s.n, s.fn); err != nil {
			return nil, err
		}
		if s.op == "readdir" {
			// entries listed per second
			rep.OpsPerS[s.op] *= float64(per)
		}
	}
	for _, op := range []string{"small_write", "small_read"} {
		if v, ok := rep.OpsPerS[op]; ok {
			rep.MiBPerS[op] = v * float64(o.smallSize) / (1 << 20)
		}
	}
	return rep, nil
}

func printBenchFS(w io.Writer, rep *benchFSReport, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(w, "%s: %d files, %d threads, ACLs %v\n", rep.Dir, rep.Files, rep.Threads, rep.ACL)
	for _, op := range fsOps {
		v, ok := rep.OpsPerS[op]
		if !ok {
			continue
		}
		unit := "ops/s"
		if op == "readdir" {
			unit = "entries/s"
		}
		fmt.Fprintf(w, "  %-12s %12.0f %s", op, v, unit)
		if m, ok := rep.MiBPerS[op]; ok {
			fmt.Fprintf(w, "  (%.1f MiB/s)", m)
		}
		fmt.Fprintln(w)
	}
	return nil
}
