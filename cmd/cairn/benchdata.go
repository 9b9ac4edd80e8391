package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"cairn/internal/meta"
	"cairn/internal/posix"
	"cairn/internal/vfs"
)

type benchDataOptions struct {
	size    sizeValue
	io      sizeValue
	jsonOut bool
	noDD    bool
}

type benchDataReport struct {
	Size        uint64  `json:"size_bytes"`
	IOSize      uint64  `json:"io_size_bytes"`
	WriteMiBs   float64 `json:"write_mib_s"`
	ReadMiBs    float64 `json:"read_mib_s"`
	ReReadMiBs  float64 `json:"reread_mib_s"`
	DDMiBs      float64 `json:"dd_equivalent_mib_s,omitempty"`
	WriteVsDD   float64 `json:"write_vs_dd,omitempty"`
	PeakRSSMiB  float64 `json:"peak_rss_mib"`
	WriteRSSMiB float64 `json:"write_peak_rss_mib"`
	Target      string  `json:"target"`
}

func newBenchDataCmd() *cobra.Command {
	o := benchDataOptions{size: 1 << 30, io: 1 << 20}
	cmd := &cobra.Command{
		Use:   "data PATH-OR-META-URL",
		Short: "Sequential write (with fsync) and read throughput through vfs",
		Long: `Writes --size bytes sequentially in --io-size writes through the file
system API, fsyncs, then reads the file twice (cold and again). Given a
directory PATH, it formats a scratch volume there (SQLite + blocks under
PATH) and removes it afterwards; given a META-URL it uses that volume.
For reference it also writes the same bytes to a plain file in the same
directory with write(2) and fdatasync, as dd conv=fdatasync does, and
reports the ratio.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBenchData(cmd.Context(), args[0], o, cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.Var(&o.size, "size", "bytes to write, e.g. 1G")
	fl.Var(&o.io, "io-size", "bytes per write and read call")
	fl.BoolVar(&o.jsonOut, "json", false, "print the report as JSON")
	fl.BoolVar(&o.noDD, "no-dd", false, "skip the plain-file reference run")
	return cmd
}

func runBenchData(ctx context.Context, target string, o benchDataOptions, out io.Writer) error {
	if o.size == 0 || o.io == 0 || o.io > 64<<20 {
		return fmt.Errorf("--size must be positive and --io-size between 1 and 64M")
	}
	metaURL := target
	ddDir := ""
	if !strings.Contains(target, "://") {
		dir, err := os.MkdirTemp(target, "cairn-bench-data-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		ddDir = dir
		metaURL = "sqlite3://" + filepath.Join(dir, "meta.db")
		store, err := openStore(ctx, metaURL, durabilityFull)
		if err != nil {
			return err
		}
		_, err = meta.FormatVolume(ctx, store, meta.Format{Name: "bench", Storage: "file", Bucket: filepath.Join(dir, "blocks"), BlockSize: 4 << 20})
		store.Close()
		if err != nil {
			return err
		}
	}
	v, err := openVolume(ctx, metaURL, volumeOptions{session: "bench data"})
	if err != nil {
		return err
	}
	defer v.close(context.WithoutCancel(ctx))
	rep := benchDataReport{Size: uint64(o.size), IOSize: uint64(o.io), Target: metaURL}
	stopRSS := watchRSS()
	name := fmt.Sprintf(".bench-data-%d", os.Getpid())
	fh, e, err := v.vfs.Create(ctx, posix.Root, posix.RootIno, name, 0o644, syscall.O_RDWR|syscall.O_EXCL)
	if err != nil {
		return err
	}
	defer v.vfs.Unlink(context.WithoutCancel(ctx), posix.Root, posix.RootIno, name)
	buf := make([]byte, o.io)
	fillRandom(buf)
	start := time.Now()
	for off := uint64(0); off < uint64(o.size); off += uint64(o.io) {
		n := min(uint64(o.io), uint64(o.size)-off)
		if _, err := v.vfs.Write(ctx, fh, buf[:n], int64(off)); err != nil {
			return fmt.Errorf("write at %d: %w", off, err)
		}
	}
	if err := v.vfs.Fsync(ctx, fh); err != nil {
		return err
	}
	rep.WriteMiBs = mibs(uint64(o.size), time.Since(start))
	rep.WriteRSSMiB = stopRSS()
	if err := v.vfs.Release(ctx, fh); err != nil {
		return err
	}
	for pass := 0; pass < 2; pass++ {
		rh, _, err := v.vfs.Open(ctx, posix.Root, e.Ino, syscall.O_RDONLY)
		if err != nil {
			return err
		}
		start = time.Now()
		var total uint64
		for off := int64(0); ; off += int64(o.io) {
			n, err := v.vfs.Read(ctx, rh, buf, off)
			if err != nil {
				return fmt.Errorf("read at %d: %w", off, err)
			}
			total += uint64(n)
			if n == 0 {
				break
			}
		}
		d := time.Since(start)
		v.vfs.Release(ctx, rh)
		if total != uint64(o.size) {
			return fmt.Errorf("read %d bytes back, wrote %d", total, o.size)
		}
		if pass == 0 {
			rep.ReadMiBs = mibs(total, d)
		} else {
			rep.ReReadMiBs = mibs(total, d)
		}
	}
	rep.PeakRSSMiB = peakRSS()
	if !o.noDD {
		dir := ddDir
		if dir == "" {
			dir = os.TempDir()
		}
		if rep.DDMiBs, err = ddEquivalent(dir, buf, uint64(o.size)); err != nil {
			return err
		}
		rep.WriteVsDD = rep.WriteMiBs / rep.DDMiBs
	}
	if o.jsonOut {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(out, "%s: %d MiB in %d KiB calls\n", metaURL, o.size>>20, o.io>>10)
	fmt.Fprintf(out, "write+fsync  %8.0f MiB/s\n", rep.WriteMiBs)
	if rep.DDMiBs > 0 {
		fmt.Fprintf(out, "plain file   %8.0f MiB/s (write+fdatasync)  ratio %.2f\n", rep.DDMiBs, rep.WriteVsDD)
	}
	fmt.Fprintf(out, "read         %8.0f MiB/s\nre-read      %8.0f MiB/s\npeak RSS     %8.0f MiB (while writing %.0f MiB)\n",
		rep.ReadMiBs, rep.ReReadMiBs, rep.PeakRSSMiB, rep.WriteRSSMiB)
	return nil
}

func fillRandom(b []byte) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i+8 <= len(b); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
}

// ddEquivalent writes size bytes to a plain file in dir with write(2) and
// one fdatasync, as dd bs=... conv=fdatasync does, and returns MiB/s.
func ddEquivalent(dir string, buf []byte, size uint64) (float64, error) {
	f, err := os.CreateTemp(dir, "dd-")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	start := time.Now()
	for off := uint64(0); off < size; off += uint64(len(buf)) {
		n := min(uint64(len(buf)), size-off)
		if _, err := f.Write(buf[:n]); err != nil {
			return 0, err
		}
	}
	if err := syscall.Fdatasync(int(f.Fd())); err != nil {
		return 0, err
	}
	return mibs(size, time.Since(start)), nil
}

func mibs(n uint64, d time.Duration) float64 { return float64(n) / (1 << 20) / d.Seconds() }

// peakRSS reads the process's peak resident set (VmHWM) in MiB.
func peakRSS() float64 {
	return procStatusKiB("VmHWM:") / 1024
}

func procStatusKiB(field string) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			v, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return v
		}
	}
	return 0
}

// watchRSS samples the current RSS until the returned function is called,
// which reports the highest sample in MiB.
func watchRSS() func() float64 {
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if v := uint64(procStatusKiB("VmRSS:")); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() float64 {
		close(stop)
		<-done
		return float64(peak.Load()) / 1024
	}
}

var _ = vfs.Handle(0)
