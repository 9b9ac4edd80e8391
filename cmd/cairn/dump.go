package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"cairn/internal/meta"
	"cairn/internal/meta/kv"
)

// progressLine redraws one status line on stderr when it is a terminal, at
// most ten times a second; done ends it, and writes the last one (what was
// done) on stderr when it is not a terminal and all went well.
type progressLine struct {
	on   bool
	last time.Time
	text string
}

func newProgress() *progressLine { return &progressLine{on: isTerminal(os.Stderr)} }

func (p *progressLine) show(text string) {
	p.text = text
	if !p.on || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(os.Stderr, "\r%s\033[K", text)
}

func (p *progressLine) done(err error) {
	switch {
	case p.text == "":
	case p.on:
		fmt.Fprintf(os.Stderr, "\r%s\033[K\n", p.text)
	case err == nil:
		fmt.Fprintln(os.Stderr, p.text)
	}
}

// bar draws a progress bar of done out of total.
func bar(done, total int64) string {
	if total <= 0 {
		return ""
	}
	const width = 30
	f := min(float64(done)/float64(total), 1)
	n := int(f * width)
	return fmt.Sprintf("[%s%s] %3.0f%% ", strings.Repeat("#", n), strings.Repeat(".", width-n), f*100)
}

func newDumpCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "dump META-URL [FILE]",
		Short: "Write a volume's metadata as JSON (to FILE, or standard output), to load into another engine",
		Long: `Writes every key of the volume's metadata (namespace, ACLs, users and
policies, bucket settings, notification targets, the change feed and its
positions) as JSON, in key order, so that cairn load can put the volume on
another metadata engine: for example from the SQLite default to PostgreSQL
or Redis. Blocks stay where they are. Live state (sessions, locks) is left
out; stop every mount and gateway first (a volume with live sessions is
refused unless --force), or the dump may miss their latest changes.`,
		Example: `  cairn dump sqlite3://data/meta.db meta.json
  cairn load "postgres://cairn@db.example.com/cairn" meta.json`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			store, err := openStore(ctx, args[0], durabilityRelaxed) // reads only
			if err != nil {
				return err
			}
			defer store.Close()
			m, err := meta.Open(ctx, store, meta.Options{})
			if err != nil {
				return err
			}
			sessions, err := m.ListSessions(ctx)
			m.Close()
			if err != nil {
				return err
			}
			if len(sessions) > 0 && !force {
				return fmt.Errorf("the volume has %d live sessions (the first: %s pid %d); stop its mounts and gateways, or pass --force to dump it while it changes", len(sessions), sessions[0].Host, sessions[0].PID)
			}
			out := os.Stdout
			if len(args) == 2 {
				if out, err = os.OpenFile(args[1], os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
					return err
				}
			}
			p := newProgress()
			err = meta.Dump(ctx, store, out, func(n int) { p.show(fmt.Sprintf("dumped %d keys", n)) })
			p.done(err)
			if len(args) == 2 {
				if err == nil {
					err = out.Sync()
				}
				if cerr := out.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					os.Remove(args[1])
				}
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "dump even while mounts or gateways use the volume")
	return cmd
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func newLoadCmd() *cobra.Command {
	var durable durability
	cmd := &cobra.Command{
		Use:   "load META-URL [FILE]",
		Short: "Load a volume's metadata from a cairn dump (FILE, or standard input) into an empty engine",
		Long: `Reads a dump written by cairn dump into META-URL, which must hold no
volume (a new database, schema, Redis database or prefix). The volume's
settings are written last: a load that fails leaves no usable volume, and
can be run again on an emptied store.`,
		Example: `  cairn load "postgres://cairn@db.example.com/cairn" meta.json
  cairn dump sqlite3://data/meta.db | cairn load redis://127.0.0.1:6379/1`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			in := os.Stdin
			var total int64
			if len(args) == 2 {
				f, err := os.Open(args[1])
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
				if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
					total = st.Size()
				}
			}
			store, err := openStore(ctx, args[0], durable)
			if err != nil {
				return err
			}
			defer store.Close()
			cr := &countingReader{r: in}
			p := newProgress()
			err = meta.Load(ctx, store, cr, func(n int) {
				p.show(fmt.Sprintf("%sloaded %d keys", bar(cr.n.Load(), total), n))
			})
			p.done(err)
			if errors.Is(err, meta.ErrFormatted) {
				return fmt.Errorf("%s already holds a volume", kv.RedactURL(args[0]))
			}
			return err
		},
	}
	cmd.Flags().Var(&durable, "durability", durabilityUsage+" (checked against a Redis server's settings)")
	return cmd
}
