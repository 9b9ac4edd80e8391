package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"cairn/internal/acl"
	"cairn/internal/meta"
	"cairn/internal/posix"
	"cairn/internal/vfs"
)

// metaOps lists the measured operations in the order they run.
var metaOps = []string{"mkdir", "create", "stat", "open_close", "chmod", "setxattr", "link", "symlink", "readdir", "rename", "unlink", "rmdir"}

type benchMetaOptions struct {
	entries   int
	threads   int
	rounds    int
	jsonOut   bool
	uid       uint32
	durable   durability
	ops       []string
	perDir    int
	aclUsers  int
	aclGroups int
	keep      bool
	slices    int
}

// metaOpNeeds names, for each operation, the one that must run before it
// in the same round (the entries it works on).
var metaOpNeeds = map[string]string{
	"stat": "create", "open_close": "create", "chmod": "create", "setxattr": "create",
	"link": "create", "symlink": "create", "rename": "create", "unlink": "rename", "rmdir": "mkdir",
}

// check validates the options and puts --ops in the order they run.
func (o *benchMetaOptions) check() error {
	if o.entries < o.threads || o.threads < 1 || o.rounds < 1 {
		return fmt.Errorf("--entries must be at least --threads, and --threads and --rounds at least 1")
	}
	if o.perDir < 0 || o.aclUsers < 0 || o.aclGroups < 0 || o.slices < 1 {
		return fmt.Errorf("--files-per-dir, --acl-users and --acl-groups cannot be negative, and --slices must be at least 1")
	}
	if len(o.ops) == 0 {
		o.ops = metaOps
		return nil
	}
	want := map[string]bool{}
	for _, op := range o.ops {
		if !slices.Contains(metaOps, op) {
			return fmt.Errorf("--ops: unknown operation %q (one of %s)", op, strings.Join(metaOps, ", "))
		}
		want[op] = true
	}
	for op := range want {
		if need := metaOpNeeds[op]; need != "" && !want[need] {
			return fmt.Errorf("--ops: %s works on the entries %s makes; add %s", op, need, need)
		}
	}
	o.ops = slices.DeleteFunc(slices.Clone(metaOps), func(op string) bool { return !want[op] })
	return nil
}

func newBenchMetaCmd() *cobra.Command {
	var o benchMetaOptions
	cmd := &cobra.Command{
		Use:   "meta META-URL",
		Short: "mdtest-style metadata benchmark, with ACLs off and on",
		Long: `Runs create, mkdir, stat, open/close, chmod, setxattr, link, symlink,
readdir, rename, unlink and rmdir over --entries entries in a scratch
directory of the volume, as a non-root user so that every permission check
runs. It runs twice per round: in a plain directory (acl_off) and in a
directory with an access and a default ACL naming several users and groups
(acl_on, needs a volume formatted with --enable-acl), and reports ops/s of
each and the overhead of ACLs. Each round runs every operation in both
configurations back to back (alternating which goes first); ops/s are the
best of the rounds and the overhead is the median of the per-round ratios.
Read-only operations repeat for at least a second so they are timed as
reliably as the others.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			ctx := cmd.Context()
			v, err := openVolume(ctx, args[0], volumeOptions{session: "bench meta", durable: o.durable})
			if err != nil {
				return err
			}
			defer v.close(context.WithoutCancel(ctx))
			return runBenchMeta(ctx, v.vfs, o, cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&o.entries, "entries", 20000, "entries per operation")
	fl.IntVar(&o.threads, "threads", 4, "concurrent workers, each in its own directory")
	fl.IntVar(&o.rounds, "rounds", 1, "rounds; the best figure of each operation is kept")
	fl.BoolVar(&o.jsonOut, "json", false, `print {"acl_off": {op: ops_per_s}, "acl_on": {...}, "overhead_pct": {...}}`)
	fl.Uint32Var(&o.uid, "uid", 1000, "uid (and gid) the benchmark runs as")
	fl.Var(&o.durable, "durability", durabilityUsage)
	fl.StringSliceVar(&o.ops, "ops", nil, "operations to run, comma-separated (default all: "+strings.Join(metaOps, ",")+")")
	fl.IntVar(&o.perDir, "files-per-dir", 0, "spread each worker's entries over directories of this many (0: one directory per worker)")
	fl.IntVar(&o.aclUsers, "acl-users", 3, "named users in the acl_on directories' access and default ACLs")
	fl.IntVar(&o.aclGroups, "acl-groups", 2, "named groups in the acl_on directories' access and default ACLs")
	fl.IntVar(&o.slices, "slices", 1, "run each operation in this many slices, acl_off and acl_on taking turns slice by slice (for long runs, so that drift falls on both)")
	fl.BoolVar(&o.keep, "keep", false, "leave the scratch directories in place (for a volume thrown away afterwards: removing millions of entries takes as long as making them)")
	return cmd
}

type metaResult map[string]float64

type benchMetaReport struct {
	Entries  int        `json:"entries"`
	Threads  int        `json:"threads"`
	PerDir   int        `json:"files_per_dir,omitempty"`
	ACLUsers int        `json:"acl_users"`
	ACLGroup int        `json:"acl_groups"`
	ACLOff   metaResult `json:"acl_off"`
	ACLOn    metaResult `json:"acl_on,omitempty"`
	Overhead metaResult `json:"overhead_pct,omitempty"`
	// OverheadLow and OverheadHigh are the quartiles of the per-slice
	// overheads whose median Overhead is.
	OverheadLow  metaResult `json:"overhead_p25_pct,omitempty"`
	OverheadHigh metaResult `json:"overhead_p75_pct,omitempty"`
	Note         string     `json:"note,omitempty"`
}

func runBenchMeta(ctx context.Context, fs *vfs.FS, o benchMetaOptions, out io.Writer) error {
	rep := benchMetaReport{Entries: o.entries, Threads: o.threads, PerDir: o.perDir, ACLUsers: o.aclUsers, ACLGroup: o.aclGroups, ACLOff: metaResult{}}
	withACL := fs.Meta().Format().EnableACL
	if withACL {
		rep.ACLOn = metaResult{}
	} else {
		rep.Note = "the volume was formatted without --enable-acl: only acl_off was measured"
	}
	ratios := map[string][]float64{}
	for r := 0; r < o.rounds; r++ {
		// Both configurations run each operation back to back, the order
		// alternating by round, so that neither meets a database grown or
		// checkpointed by the other more often.
		configs := []bool{false}
		if withACL {
			configs = []bool{false, true}
			if r%2 == 1 {
				configs = []bool{true, false}
			}
		}
		res, rr, err := benchMetaRound(ctx, fs, o, configs, r)
		if err != nil {
			return err
		}
		for op, v := range rr {
			ratios[op] = append(ratios[op], v...)
		}
		for on, rr := range res {
			dst := rep.ACLOff
			if on {
				dst = rep.ACLOn
			}
			for op, v := range rr {
				dst[op] = max(dst[op], v)
			}
		}
	}
	if withACL {
		rep.Overhead, rep.OverheadLow, rep.OverheadHigh = metaResult{}, metaResult{}, metaResult{}
		// The overhead is the median, over every slice of every round, of
		// the ratio between the two configurations measured back to back:
		// drift of the machine or the database cancels out within a pair,
		// and a hiccup (a GC, an fsync) in one slice moves the median
		// little. The quartiles say how much the pairs scatter.
		for _, op := range o.ops {
			rs := ratios[op]
			if len(rs) == 0 {
				continue
			}
			sort.Float64s(rs)
			rep.Overhead[op] = (quantile(rs, 0.5) - 1) * 100
			rep.OverheadLow[op] = (quantile(rs, 0.25) - 1) * 100
			rep.OverheadHigh[op] = (quantile(rs, 0.75) - 1) * 100
		}
	}
	if o.jsonOut {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	layout := "one directory per thread"
	if o.perDir > 0 {
		layout = fmt.Sprintf("%d per directory", o.perDir)
	}
	fmt.Fprintf(out, "%d entries, %d threads, %s; acl_on: %d named users and %d named groups\n%-12s %14s %14s %10s %18s\n",
		o.entries, o.threads, layout, o.aclUsers, o.aclGroups, "operation", "acl_off ops/s", "acl_on ops/s", "overhead", "quartiles")
	for _, op := range o.ops {
		if withACL {
			fmt.Fprintf(out, "%-12s %14.0f %14.0f %9.1f%% %8.1f%% … %5.1f%%\n", op, rep.ACLOff[op], rep.ACLOn[op], rep.Overhead[op],
				rep.OverheadLow[op], rep.OverheadHigh[op])
		} else {
			fmt.Fprintf(out, "%-12s %14.0f %14s %10s\n", op, rep.ACLOff[op], "-", "-")
		}
	}
	if rep.Note != "" {
		fmt.Fprintln(out, rep.Note)
	}
	return nil
}

// benchACL is the ACL the acl_on run puts on its directories: named users
// (uids from 2001) and groups (gids from 3001), as a shared project
// directory would have, alternating rwx and r-x.
func benchACL(users, groups int) (*acl.Rule, error) {
	perm := func(i int) string {
		if i%2 == 0 {
			return "rwx"
		}
		return "r-x"
	}
	text := []string{"u::rwx", "g::r-x", "m::rwx", "o::r-x"}
	for i := 0; i < users; i++ {
		text = append(text, fmt.Sprintf("u:%d:%s", 2001+i, perm(i)))
	}
	for i := 0; i < groups; i++ {
		text = append(text, fmt.Sprintf("g:%d:%s", 3001+i, perm(i)))
	}
	return acl.Parse(strings.Join(text, ","), nil)
}

// scratch is one configuration's working tree: a directory per worker
// (dirs), each holding its entries or, with --files-per-dir, the
// directories that do (subs).
type scratch struct {
	name   string
	dirs   []posix.Ino
	subs   [][]posix.Ino
	perDir int
	inos   [][]posix.Ino
}

// dir is the directory of worker w's entry i.
func (sc *scratch) dir(w, i int) posix.Ino {
	if sc.perDir == 0 {
		return sc.dirs[w]
	}
	return sc.subs[w][i/sc.perDir]
}

// leaves are the directories that hold entries.
func (sc *scratch) leaves() []posix.Ino {
	if sc.perDir == 0 {
		return sc.dirs
	}
	var all []posix.Ino
	for _, s := range sc.subs {
		all = append(all, s...)
	}
	return all
}

func newScratch(ctx context.Context, fs *vfs.FS, o benchMetaOptions, user posix.Cred, withACL bool, round int) (*scratch, error) {
	name := fmt.Sprintf(".bench-meta-%d-%d-%v", os.Getpid(), round, withACL)
	top, err := fs.Mkdir(ctx, posix.Root, posix.RootIno, name, 0o755)
	if err != nil {
		return nil, fmt.Errorf("scratch directory: %w", err)
	}
	sc := &scratch{name: name, perDir: o.perDir}
	if _, err := fs.SetAttr(ctx, posix.Root, top.Ino, meta.SetAttrRequest{Valid: meta.SetUID | meta.SetGID, UID: o.uid, GID: o.uid}); err != nil {
		return sc, err
	}
	if withACL {
		rule, err := benchACL(o.aclUsers, o.aclGroups)
		if err != nil {
			return sc, err
		}
		for _, typ := range []meta.ACLType{meta.ACLAccess, meta.ACLDefault} {
			if err := fs.SetACL(ctx, user, top.Ino, typ, rule); err != nil {
				return sc, fmt.Errorf("setting the benchmark ACL: %w", err)
			}
		}
	}
	per := o.entries / o.threads
	for i := 0; i < o.threads; i++ {
		e, err := fs.Mkdir(ctx, user, top.Ino, fmt.Sprintf("w%d", i), 0o755)
		if err != nil {
			return sc, err
		}
		sc.dirs = append(sc.dirs, e.Ino)
		sc.inos = append(sc.inos, make([]posix.Ino, per))
		var subs []posix.Ino
		for j := 0; o.perDir > 0 && j*o.perDir < per; j++ {
			s, err := fs.Mkdir(ctx, user, e.Ino, fmt.Sprintf("s%06d", j), 0o755)
			if err != nil {
				return sc, err
			}
			subs = append(subs, s.Ino)
		}
		sc.subs = append(sc.subs, subs)
	}
	return sc, nil
}

// benchMetaRound runs one round and returns each configuration's ops/s
// and, when both configurations ran, each operation's ratios of acl_off
// to acl_on speed, one per slice (the two ran the same slice back to
// back, so what drifts between slices cancels within each ratio).
func benchMetaRound(ctx context.Context, fs *vfs.FS, o benchMetaOptions, configs []bool, round int) (map[bool]metaResult, map[string][]float64, error) {
	user := posix.Cred{UID: o.uid, GID: o.uid, Umask: 0o022}
	scs := map[bool]*scratch{}
	for _, on := range configs {
		sc, err := newScratch(ctx, fs, o, user, on, round)
		if sc != nil && !o.keep {
			defer removeTree(context.WithoutCancel(ctx), fs, posix.RootIno, sc.name)
		}
		if err != nil {
			return nil, nil, err
		}
		scs[on] = sc
	}
	per := o.entries / o.threads
	res := map[bool]metaResult{}
	ratios := map[string][]float64{}
	for _, on := range configs {
		res[on] = metaResult{}
	}
	file := func(i int) string { return fmt.Sprintf("f%07d", i) }
	type stepFn func(sc *scratch, w, i int) error
	steps := []struct {
		op string
		fn stepFn
	}{
		{"mkdir", func(sc *scratch, w, i int) error {
			_, err := fs.Mkdir(ctx, user, sc.dir(w, i), fmt.Sprintf("d%07d", i), 0o755)
			return err
		}},
		{"create", func(sc *scratch, w, i int) error {
			fh, e, err := fs.Create(ctx, user, sc.dir(w, i), file(i), 0o644, syscall.O_WRONLY|syscall.O_EXCL)
			if err != nil {
				return err
			}
			sc.inos[w][i] = e.Ino
			return fs.Release(ctx, fh)
		}},
		{"stat", func(sc *scratch, w, i int) error {
			_, err := fs.Lookup(ctx, user, sc.dir(w, i), file(i))
			return err
		}},
		{"open_close", func(sc *scratch, w, i int) error {
			fh, _, err := fs.Open(ctx, user, sc.inos[w][i], syscall.O_RDONLY)
			if err != nil {
				return err
			}
			return fs.Release(ctx, fh)
		}},
		{"chmod", func(sc *scratch, w, i int) error {
			_, err := fs.SetAttr(ctx, user, sc.inos[w][i], meta.SetAttrRequest{Valid: meta.SetMode, Mode: 0o640})
			return err
		}},
		{"setxattr", func(sc *scratch, w, i int) error {
			return fs.SetXattr(ctx, user, sc.inos[w][i], "user.bench", []byte("value"), 0)
		}},
		{"link", func(sc *scratch, w, i int) error {
			_, err := fs.Link(ctx, user, sc.inos[w][i], sc.dir(w, i), "l"+file(i))
			return err
		}},
		{"symlink", func(sc *scratch, w, i int) error {
			_, err := fs.Symlink(ctx, user, sc.dir(w, i), "s"+file(i), file(i))
			return err
		}},
		{"readdir", nil},
		{"rename", func(sc *scratch, w, i int) error {
			return fs.Rename(ctx, user, sc.dir(w, i), file(i), sc.dir(w, i), "r"+file(i), 0)
		}},
		{"unlink", func(sc *scratch, w, i int) error {
			return fs.Unlink(ctx, user, sc.dir(w, i), "r"+file(i))
		}},
		{"rmdir", func(sc *scratch, w, i int) error {
			return fs.Rmdir(ctx, user, sc.dir(w, i), fmt.Sprintf("d%07d", i))
		}},
	}
	// Each operation runs over its entries in o.slices slices, the
	// configurations taking turns slice by slice (the first alternating),
	// so that what drifts during a long run (the database growing, a
	// background rewrite on the server) falls on both alike.
	nslices := max(1, min(o.slices, per))
	for _, st := range steps {
		if !slices.Contains(o.ops, st.op) {
			continue
		}
		elapsed := map[bool]time.Duration{}
		done := map[bool]int{}
		for c := 0; c < nslices; c++ {
			sliceRate := map[bool]float64{}
			lo, hi := c*per/nslices, (c+1)*per/nslices
			order := configs
			if c%2 == 1 {
				order = slices.Clone(configs)
				slices.Reverse(order)
			}
			for _, on := range order {
				sc := scs[on]
				if st.op == "readdir" {
					leaves := sc.leaves()
					n, d, err := benchReaddir(ctx, fs, user, leaves[c*len(leaves)/nslices:(c+1)*len(leaves)/nslices], nslices == 1)
					if err != nil {
						return nil, nil, err
					}
					done[on] += n
					elapsed[on] += d
					sliceRate[on] = float64(n) / d.Seconds()
					continue
				}
				start, before := time.Now(), done[on]
				for passes := 0; ; {
					var wg sync.WaitGroup
					errs := make([]error, o.threads)
					for w := 0; w < o.threads; w++ {
						wg.Add(1)
						go func(w int) {
							defer wg.Done()
							for i := lo; i < hi; i++ {
								if err := st.fn(sc, w, i); err != nil {
									errs[w] = fmt.Errorf("%s #%d: %w", st.op, i, err)
									return
								}
							}
						}(w)
					}
					wg.Wait()
					for _, err := range errs {
						if err != nil {
							return nil, nil, err
						}
					}
					passes++
					done[on] += (hi - lo) * o.threads
					// A single slice of a read-only operation repeats
					// until it has run for a second.
					if nslices > 1 || !readOnlyOps[st.op] || time.Since(start) >= time.Second {
						break
					}
				}
				d := time.Since(start)
				elapsed[on] += d
				sliceRate[on] = float64(done[on]-before) / d.Seconds()
			}
			if len(configs) == 2 && sliceRate[true] > 0 {
				ratios[st.op] = append(ratios[st.op], sliceRate[false]/sliceRate[true])
			}
		}
		for _, on := range configs {
			res[on][st.op] = float64(done[on]) / elapsed[on].Seconds()
		}
	}
	return res, ratios, nil
}

// readOnlyOps may be repeated to time them over at least a second.
var readOnlyOps = map[string]bool{"stat": true, "open_close": true}

// benchReaddir lists dirs with attributes, in pages of 1,000 as a
// readdir(3) loop would, and returns the entries listed and the time it
// took; with repeat, it lists them again until a second has passed.
func benchReaddir(ctx context.Context, fs *vfs.FS, user posix.Cred, dirs []posix.Ino, repeat bool) (int, time.Duration, error) {
	start := time.Now()
	total := 0
	for pass := 0; pass == 0 || repeat && time.Since(start) < time.Second; pass++ {
		n, err := readdirPass(ctx, fs, user, dirs)
		if err != nil {
			return 0, 0, err
		}
		total += n
	}
	return total, time.Since(start), nil
}

func readdirPass(ctx context.Context, fs *vfs.FS, user posix.Cred, dirs []posix.Ino) (int, error) {
	total := 0
	for _, d := range dirs {
		after := ""
		for {
			ents, err := fs.ReadDir(ctx, user, d, meta.ReadDirOptions{After: after, Limit: 1000, WithAttr: true})
			if err != nil {
				return 0, fmt.Errorf("readdir: %w", err)
			}
			total += len(ents)
			if len(ents) < 1000 {
				break
			}
			after = ents[len(ents)-1].Name
		}
	}
	return total, nil
}

// removeTree deletes a scratch directory and everything under it, as root.
func removeTree(ctx context.Context, fs *vfs.FS, parent posix.Ino, name string) error {
	e, err := fs.Lookup(ctx, posix.Root, parent, name)
	if err != nil {
		return err
	}
	if !e.Attr.IsDir() {
		return fs.Unlink(ctx, posix.Root, parent, name)
	}
	for {
		ents, err := fs.ReadDir(ctx, posix.Root, e.Ino, meta.ReadDirOptions{Limit: 1000})
		if err != nil {
			return err
		}
		names := make([]string, 0, len(ents))
		for _, d := range ents {
			if d.Name != "." && d.Name != ".." {
				names = append(names, d.Name)
			}
		}
		if len(names) == 0 {
			break
		}
		sort.Strings(names)
		for _, n := range names {
			if err := removeTree(ctx, fs, e.Ino, n); err != nil && !strings.Contains(err.Error(), "no such") {
				return err
			}
		}
	}
	return fs.Rmdir(ctx, posix.Root, parent, name)
}

// quantile returns the q-quantile of sorted values (linear between the
// two nearest).
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (sorted[i+1]-sorted[i])*(pos-float64(i))
}
