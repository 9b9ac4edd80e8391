package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"cairn/internal/vfs"
)

type fsckOptions struct {
	repair        bool
	jsonOut       bool
	skipChecksums bool
}

// errInconsistent makes `cairn fsck` exit non-zero after its report.
var errInconsistent = fmt.Errorf("the volume has problems (see above)")

func newFsckCmd() *cobra.Command {
	var o fsckOptions
	cmd := &cobra.Command{
		Use:   "fsck META-URL",
		Short: "Check a volume's metadata and blocks; --repair removes leftovers",
		Long: `Checks the volume at META-URL: every inode is reachable from the root (or
unlinked while open), link counts, directory sizes, the used-space and
inode counters, inline data, and that every block a file needs is in the
object store with the right length and checksum (--skip-checksums only
checks that it exists). It lists leftovers: blocks that nothing
references and that no live client can still commit (blocks of writes in
flight in a live client are counted apart and never touched). It runs
safely beside live clients.

--repair first cleans up sessions of clients that died, then removes the
leftovers and sets wrong counters right. Exit status 0 when the volume is
consistent, 1 when problems remain.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			v, err := openVolume(ctx, args[0], volumeOptions{session: "fsck", noSweeper: true})
			if err != nil {
				return err
			}
			defer v.close(context.WithoutCancel(ctx))
			if o.repair {
				if _, err := v.meta.CleanDeadSessions(ctx); err != nil {
					return err
				}
			}
			fo := vfs.FsckOptions{Repair: o.repair, SkipChecksums: o.skipChecksums}
			if !o.jsonOut && isTerminal(os.Stderr) {
				fo.Progress = progressBar(os.Stderr)
			}
			rep, err := v.vfs.Fsck(ctx, fo)
			if fo.Progress != nil {
				fmt.Fprint(os.Stderr, "\r\033[K")
			}
			if err != nil {
				return err
			}
			if rep.Problems == nil {
				rep.Problems = []string{}
			}
			if o.jsonOut {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				printFsck(cmd.OutOrStdout(), rep, o.repair)
			}
			if !rep.Consistent() {
				cmd.SilenceUsage = true
				return errInconsistent
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.repair, "repair", false, "remove leftover blocks and fix counters")
	fl.BoolVar(&o.jsonOut, "json", false, "print the report as JSON")
	fl.BoolVar(&o.skipChecksums, "skip-checksums", false, "check that blocks exist without reading them")
	return cmd
}

func printFsck(w io.Writer, r vfs.FsckReport, repair bool) {
	fmt.Fprintf(w, "inodes %d, entries %d, slices %d, blocks stored %d (checksums checked: %d)\n", r.Inodes, r.Entries, r.Slices, r.Blocks, r.Checked)
	for _, p := range r.Problems {
		fmt.Fprintf(w, "problem: %s\n", p)
	}
	if r.InFlight > 0 {
		fmt.Fprintf(w, "%d unreferenced blocks belong to writes live clients may still commit (left alone)\n", r.InFlight)
	}
	if r.Leftovers > 0 {
		verb := "can be removed with --repair"
		if repair {
			verb = fmt.Sprintf("%d removed", r.RemovedBlocks)
		}
		fmt.Fprintf(w, "leftovers: %d blocks, %d bytes nothing references (%s)\n", r.Leftovers, r.LeftoverBytes, verb)
		for _, k := range r.LeftoverSample {
			fmt.Fprintf(w, "  %s\n", k)
		}
	}
	if r.FixedCounters {
		fmt.Fprintln(w, "counters set right")
	}
	if r.MissingNames > 0 {
		verb := "--repair writes them"
		if repair {
			verb = fmt.Sprintf("%d written", r.FixedNames)
		}
		fmt.Fprintf(w, "%d inodes have no name record or link set, so a mount's writes to them make no bucket events (%s)\n", r.MissingNames, verb)
	}
	if r.Consistent() {
		fmt.Fprintln(w, "the volume is consistent")
	}
}

// progressBar returns an FsckOptions.Progress that redraws one line on w
// at most ten times a second.
func progressBar(w io.Writer) func(stage string, done, total int) {
	var last time.Time
	return func(stage string, done, total int) {
		if time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		if total <= 0 {
			fmt.Fprintf(w, "\r\033[K%s: %d", stage, done)
			return
		}
		const width = 30
		fill := done * width / total
		bar := make([]byte, width)
		for i := range bar {
			bar[i] = ' '
			if i < fill {
				bar[i] = '#'
			}
		}
		fmt.Fprintf(w, "\r\033[K%s [%s] %d/%d", stage, bar, done, total)
	}
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
