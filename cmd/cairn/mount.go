package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"cairn/internal/fusefs"
	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// mountFlags are the settings of a mount, as flags of `cairn mount` and as
// -o options (`-o allow_other,attr_timeout=5s`: each option is the flag
// of the same name, underscores for dashes).
type mountFlags struct {
	readOnly        bool
	allowOther      bool
	rootSquash      string
	allSquash       string
	userspaceChecks bool
	enableCap       bool
	enableSELinux   bool
	attrTimeout     time.Duration
	entryTimeout    time.Duration
	negativeTimeout time.Duration
	followInterval  time.Duration
	maxWrite        sizeValue
	maxReadAhead    sizeValue
	writebackCache  bool
	fuseDebug       bool
}

func (m *mountFlags) register(fl *pflag.FlagSet) {
	fl.BoolVar(&m.readOnly, "read-only", false, "mount read-only (-o ro)")
	fl.BoolVar(&m.allowOther, "allow-other", false, "let users other than the one mounting use the mount (needs root, or user_allow_other in /etc/fuse.conf)")
	fl.StringVar(&m.rootSquash, "root-squash", "", "map root (uid 0) to UID:GID and check permissions in cairn rather than in the kernel")
	fl.StringVar(&m.allSquash, "all-squash", "", "map every caller to UID:GID and check permissions in cairn rather than in the kernel")
	fl.BoolVar(&m.userspaceChecks, "userspace-checks", false, "check permissions in cairn rather than in the kernel, without squashing")
	fl.BoolVar(&m.enableCap, "enable-cap", false, "store file capabilities (security.capability, setcap); cleared on write and chown")
	fl.BoolVar(&m.enableSELinux, "enable-selinux", false, "store SELinux labels (security.selinux)")
	fl.DurationVar(&m.attrTimeout, "attr-timeout", time.Second, "how long the kernel caches attributes (0: not at all)")
	fl.DurationVar(&m.entryTimeout, "entry-timeout", time.Second, "how long the kernel caches names (0: not at all)")
	fl.DurationVar(&m.negativeTimeout, "negative-timeout", 0, "how long the kernel caches names found missing")
	fl.DurationVar(&m.followInterval, "follow-interval", 200*time.Millisecond, "how often to read other clients' changes and drop what they made stale from the kernel's caches (0: never; the caches then last their timeouts)")
	m.maxWrite = sizeValue(1 << 20)
	fl.Var(&m.maxWrite, "max-write", "largest read or write request the kernel sends (up to 1M)")
	m.maxReadAhead = sizeValue(4 << 20)
	fl.Var(&m.maxReadAhead, "max-readahead", "the kernel's read-ahead window for the mount's files (a window over the kernel's 128K is set through sysfs, which needs root)")
	fl.BoolVar(&m.writebackCache, "writeback-cache", false, "let the kernel keep writes in its page cache and send them in larger requests (kernel permission checks only)")
	fl.BoolVar(&m.fuseDebug, "fuse-debug", false, "print every FUSE request and reply to stderr")
}

// ignoredMountOptions are mount(8)'s and fstab's generic options, which
// mean nothing to cairn (mount(8) acts on some of them itself).
var ignoredMountOptions = []string{
	"defaults", "auto", "noauto", "nofail", "user", "nouser", "users", "owner", "group",
	"_netdev", "netdev", "exec", "noexec", "suid", "nosuid", "dev", "nodev",
	"atime", "noatime", "relatime", "norelatime", "strictatime", "nodiratime", "diratime",
	"lazytime", "nolazytime", "sync", "async", "default_permissions", "silent", "loud",
}

// applyMountOptions sets the flags that -o options name: ro and rw, the
// FUSE names (allow_other, …) and every flag of fl by its name with
// underscores (attr_timeout=5s, root_squash=1000:1000). mount(8)'s generic
// options, x-* and comment= are ignored.
func applyMountOptions(fl *pflag.FlagSet, opts []string) error {
	for _, list := range opts {
		for opt := range strings.SplitSeq(list, ",") {
			opt = strings.TrimSpace(opt)
			name, value, hasValue := strings.Cut(opt, "=")
			switch {
			case opt == "" || slices.Contains(ignoredMountOptions, name) ||
				strings.HasPrefix(name, "x-") || name == "comment" || name == "fsname" || name == "subtype":
				continue
			case name == "ro" && !hasValue:
				name, value = "read-only", "true"
			case name == "rw" && !hasValue:
				name, value = "read-only", "false"
			case name == "debug" && !hasValue:
				name, value = "fuse-debug", "true"
			}
			flagName := strings.ReplaceAll(name, "_", "-")
			f := fl.Lookup(flagName)
			if f == nil || flagName == "options" || flagName == "help" {
				return fmt.Errorf("unknown mount option %q", opt)
			}
			if !hasValue && value == "" {
				if f.Value.Type() != "bool" {
					return fmt.Errorf("mount option %q needs a value (%s=…)", name, name)
				}
				value = "true"
			}
			if err := fl.Set(flagName, value); err != nil {
				return fmt.Errorf("mount option %q: %w", opt, err)
			}
		}
	}
	return nil
}

// fuseTimeout converts a flag's timeout (0: none) to fusefs's (0: default,
// negative: none).
func fuseTimeout(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}

func (m *mountFlags) options(log *slog.Logger, fsName string) (fusefs.Options, error) {
	o := fusefs.Options{
		ReadOnly:        m.readOnly,
		AllowOther:      m.allowOther,
		UserspaceChecks: m.userspaceChecks,
		EnableCap:       m.enableCap,
		EnableSELinux:   m.enableSELinux,
		AttrTimeout:     fuseTimeout(m.attrTimeout),
		EntryTimeout:    fuseTimeout(m.entryTimeout),
		NegativeTimeout: fuseTimeout(m.negativeTimeout),
		FollowInterval:  fuseTimeout(m.followInterval),
		MaxWrite:        int(m.maxWrite),
		MaxReadAhead:    int(m.maxReadAhead),
		WritebackCache:  m.writebackCache,
		FsName:          fsName,
		Logger:          log,
		Debug:           m.fuseDebug,
	}
	if m.maxWrite < 4096 || m.maxWrite > 1<<20 {
		return o, fmt.Errorf("--max-write %d: want 4K to 1M", m.maxWrite)
	}
	if m.rootSquash != "" && m.allSquash != "" {
		return o, errors.New("--root-squash and --all-squash exclude each other (all squash maps root too)")
	}
	if m.writebackCache && (m.rootSquash != "" || m.allSquash != "" || m.userspaceChecks) {
		return o, errors.New("--writeback-cache needs the kernel's permission checks: not with --root-squash, --all-squash or --userspace-checks")
	}
	for _, s := range []struct {
		flag, v string
		to      **posix.Ident
	}{{"--root-squash", m.rootSquash, &o.Squash.Root}, {"--all-squash", m.allSquash, &o.Squash.All}} {
		if s.v == "" {
			continue
		}
		id, err := posix.ParseIdent(s.v)
		if err != nil {
			return o, fmt.Errorf("%s %q: want UID:GID (numbers)", s.flag, s.v)
		}
		*s.to = &id
	}
	return o, nil
}

// mountState is where a mount keeps its pid file (and, run in the
// background, its log): /run/cairn and /var/log/cairn for root,
// ~/.cairn for others, named after the mountpoint.
func mountState(mountpoint string) (pidFile, logFile string) {
	name := strings.ReplaceAll(strings.Trim(mountpoint, "/"), "/", "-")
	if name == "" {
		name = "root"
	}
	name = "mount-" + name
	if os.Geteuid() == 0 {
		return filepath.Join("/run/cairn", name+".pid"), filepath.Join("/var/log/cairn", name+".log")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	dir := filepath.Join(home, ".cairn")
	return filepath.Join(dir, name+".pid"), filepath.Join(dir, name+".log")
}

// checkMountpoint refuses a mountpoint that is not an empty-able
// directory, and explains what to do about a dead mount there.
func checkMountpoint(mp string) error {
	fi, err := os.Stat(mp)
	switch {
	case errors.Is(err, unix.ENOTCONN):
		return fmt.Errorf("%s is a mount whose process has gone; clear it with: cairn umount --force %s", mp, mp)
	case err != nil:
		return fmt.Errorf("mountpoint: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("mountpoint %s is not a directory", mp)
	}
	return nil
}

type mountCmdOptions struct {
	runOptions
	mountFlags
	logJSON   bool
	cacheSize sizeValue
	directIO  bool
	durable   durability
	options   []string
	pprof     string
}

func newMountCmd() *cobra.Command {
	var o mountCmdOptions
	cmd := &cobra.Command{
		Use:   "mount META-URL MOUNTPOINT",
		Short: "Mount a volume as a POSIX file system (FUSE)",
		Long: `Mounts the volume at META-URL on MOUNTPOINT and serves it until the file
system is unmounted (cairn umount, umount, fusermount3 -u) or the process
gets SIGTERM or SIGINT. With -d it runs in the background and returns once
the mount is ready.

By default the kernel checks permissions (mode bits and POSIX ACLs, with
setfacl/getfacl). --root-squash or --all-squash map callers to UID:GID and
check in cairn instead; --userspace-checks does that without mapping.

Every flag is also a mount option: -o allow_other,ro,attr_timeout=5s, as
mount(8) and /etc/fstab pass them (see cairn install-mount-helper).`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyMountOptions(cmd.Flags(), o.options); err != nil {
				return err
			}
			mp, err := filepath.Abs(args[1])
			if err != nil {
				return err
			}
			if _, err := o.mountFlags.options(nil, ""); err != nil {
				return err
			}
			if err := checkMountpoint(mp); err != nil {
				return err
			}
			defPid, defLog := mountState(mp)
			if _, err := os.Stat(takeoverSocket(mp)); err == nil {
				o.takeover = true // a live mount there, unless the socket is stale
			}
			if o.daemon && os.Getenv(daemonChildEnv) == "" {
				return daemonize(cmd, &o.runOptions, defLog, defPid)
			}
			if o.pidFile == "" {
				o.pidFile = defPid
			}
			return runMount(cmd.Context(), args[0], mp, &o)
		},
	}
	o.runOptions.flags(cmd)
	o.mountFlags.register(cmd.Flags())
	fl := cmd.Flags()
	fl.StringSliceVarP(&o.options, "options", "o", nil, "mount options, comma-separated (allow_other, ro, and every flag by its name: attr_timeout=5s, root_squash=1000:1000)")
	fl.BoolVar(&o.logJSON, "log-json", false, "write logs as JSON")
	o.cacheSize = sizeValue(256 << 20)
	fl.Var(&o.cacheSize, "cache-size", "memory block cache size")
	fl.BoolVar(&o.directIO, "direct-io", true, "write blocks of a file block store with O_DIRECT (false: through the page cache)")
	fl.Var(&o.durable, "durability", durabilityUsage)
	fl.StringVar(&o.pprof, "pprof", "", "serve Go's profiles (/debug/pprof/) on this address, for example 127.0.0.1:6060; never expose it")
	return cmd
}

func newLogger(o *runOptions, json bool) (*slog.Logger, error) {
	level, err := o.level()
	if err != nil {
		return nil, err
	}
	w, err := o.output()
	if err != nil {
		return nil, err
	}
	ho := &slog.HandlerOptions{Level: level}
	if json {
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	}
	return slog.New(slog.NewTextHandler(w, ho)), nil
}

func runMount(ctx context.Context, metaURL, mp string, o *mountCmdOptions) error {
	log, err := newLogger(&o.runOptions, o.logJSON)
	if err != nil {
		return err
	}
	fo, err := o.mountFlags.options(log, kv.RedactURL(metaURL))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(o.pidFile), 0o755); err != nil {
		return err
	}
	// A live cairn mount there: take it over (smooth remount).
	if err := checkPidFile(o.pidFile); err != nil {
		if _, serr := os.Stat(takeoverSocket(mp)); serr != nil {
			return fmt.Errorf("%s is already mounted by cairn: %w", mp, err)
		}
		own := ownPidFile(o.pidFile)
		oldPid, _ := readPid(o.pidFile)
		return runTakeover(ctx, metaURL, mp, o, log, fo, oldPid, own)
	}
	v, err := openVolume(ctx, metaURL, volumeOptions{logger: log, session: "mount " + mp, mountpoint: mp,
		cache: int64(o.cacheSize), directIO: o.directIO, durable: o.durable, sessionTimeout: o.sessionTimeout})
	if err != nil {
		return err
	}
	defer v.close(context.WithoutCancel(ctx))
	srv, err := fusefs.Mount(mp, v.vfs, fo)
	if err != nil {
		return err
	}
	return serveMount(ctx, metaURL, mp, o, log, fo, v, srv)
}

// runTakeover takes over the mount at mp that process oldPid serves (a
// pid of this PID namespace if own), and serves it. The volume is opened first, so that the mount pauses only
// for the handover itself.
func runTakeover(ctx context.Context, metaURL, mp string, o *mountCmdOptions, log *slog.Logger, fo fusefs.Options, oldPid int, own bool) error {
	v, err := openVolume(ctx, metaURL, volumeOptions{logger: log, mountpoint: mp,
		cache: int64(o.cacheSize), directIO: o.directIO, durable: o.durable, sessionTimeout: o.sessionTimeout})
	if err != nil {
		return err
	}
	defer v.close(context.WithoutCancel(ctx))
	offer, err := askTakeover(mp, fusefs.KernelOptions(fo))
	if err != nil || offer == nil {
		if err == nil {
			err = errors.New("its process does not answer on " + takeoverSocket(mp))
		}
		return fmt.Errorf("taking over the mount at %s: %w", mp, err)
	}
	if err := v.meta.ResumeSession(ctx, offer.state.Session, sessionInfo("mount "+mp, mp)); err != nil {
		offer.answer(err)
		return fmt.Errorf("taking over the mount at %s: %w", mp, err)
	}
	fail := func(err error) error {
		offer.answer(err)
		v.meta.DetachSession() // the old process keeps it
		return fmt.Errorf("taking over the mount at %s: %w", mp, err)
	}
	if err := v.vfs.RestoreHandles(ctx, offer.state.Handles); err != nil {
		return fail(err)
	}
	srv, err := fusefs.Resume(mp, offer.fd, offer.state, v.vfs, fo)
	if err != nil {
		return fail(err)
	}
	offer.answer(nil)
	waitPidFile(o.pidFile, oldPid, own, 30*time.Second)
	log.Info("took the mount over", "mountpoint", mp, "from_pid", oldPid, "open_files", len(offer.state.Files), "open_dirs", len(offer.state.Dirs))
	return serveMount(ctx, metaURL, mp, o, log, fo, v, srv)
}

// serveMount serves srv (v mounted at mp) until it is unmounted or taken
// over by another process.
func serveMount(ctx context.Context, metaURL, mp string, o *mountCmdOptions, log *slog.Logger, fo fusefs.Options, v *volume, srv *fusefs.Server) error {
	removePid, err := writePidFile(o.pidFile)
	if err != nil {
		srv.Unmount()
		return err
	}
	defer removePid()
	if cwd, err := os.Getwd(); err == nil && (cwd == mp || strings.HasPrefix(cwd, mp+"/")) {
		// Started from inside the mount (as a remount may be): a working
		// directory there would keep it busy for good.
		os.Chdir("/")
	}
	stopTakeover, handedOver, err := serveTakeover(mp, srv, v, log)
	if err != nil {
		log.Warn("no smooth remount for this mount", "err", err)
	} else {
		defer stopTakeover()
	}
	if o.pprof != "" {
		_, stop, err := startProfiling(o.pprof, log)
		if err != nil {
			srv.Unmount()
			return err
		}
		defer stop()
	}
	log.Info("cairn mounted", "mountpoint", mp, "volume", v.meta.Format().Name, "meta", kv.RedactURL(metaURL), "version", version,
		"kernel_checks", !fo.UserspaceChecks && fo.Squash.Root == nil && fo.Squash.All == nil, "read_only", fo.ReadOnly)
	serveUntilUnmounted(ctx, srv, log)
	select {
	case <-handedOver:
		log.Info("the mount is another process's now; exiting", "mountpoint", mp)
	default:
		log.Info("unmounted", "mountpoint", mp)
	}
	return nil
}

// serveUntilUnmounted serves until the file system is unmounted. A
// canceled ctx (SIGTERM, SIGINT) unmounts it; if it is busy it is
// detached lazily and served until its last open file closes. A second
// signal then ends the process at once.
func serveUntilUnmounted(ctx context.Context, srv *fusefs.Server, log *slog.Logger) {
	done := make(chan struct{})
	go func() { srv.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	signal.Reset(os.Interrupt, syscall.SIGTERM)
	log.Info("unmounting", "mountpoint", srv.Mountpoint())
	if err := srv.Unmount(); err != nil {
		if !fusefs.Busy(err) {
			log.Error("unmount failed; detaching", "err", err)
		} else {
			log.Warn("the mount is busy: detached, serving open files until they close (signal again to stop now)", "mountpoint", srv.Mountpoint())
		}
		if err := srv.Detach(); err != nil {
			log.Error("detaching failed", "err", err)
		}
	}
	<-done
}

func newUmountCmd() *cobra.Command {
	var force bool
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "umount MOUNTPOINT",
		Short: "Unmount a cairn mount and wait for its process to finish",
		Long: `Unmounts MOUNTPOINT and waits (up to --wait) for the cairn process that
served it to write back what it holds and exit. It fails while the file
system is in use; --force detaches it lazily instead (it goes away when
the last open file closes) and also clears a mount whose process died.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mp, err := filepath.Abs(args[0])
			if err != nil {
				return err
			}
			if !isMountpoint(mp) {
				return fmt.Errorf("%s is not mounted", mp)
			}
			pidFile, _ := mountState(mp)
			// The namespace first: a process writes it before its pid
			// and removes it after.
			own := ownPidFile(pidFile)
			pid, _ := readPid(pidFile)
			if err := fusefs.Unmount(mp, false); err != nil {
				if !force {
					if fusefs.Busy(err) {
						return fmt.Errorf("%s is busy (open files or a working directory inside; `fuser -vm %s` lists them); --force detaches it lazily", mp, mp)
					}
					return err
				}
				if err := fusefs.Unmount(mp, true); err != nil {
					return err
				}
			}
			if pid <= 0 || (force && !own) {
				// Forced, a mount of another PID namespace may be one whose
				// process died, which nothing here can tell: not waited for.
				return nil
			}
			if !waitPidFile(pidFile, pid, own, wait) {
				return fmt.Errorf("unmounted, but the mount process (pid %d) has not exited after %s", pid, wait)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "detach a busy mount lazily; clear a mount whose process died")
	cmd.Flags().DurationVar(&wait, "wait", time.Minute, "how long to wait for the mount process to exit")
	return cmd
}

// isMountpoint reports whether mp is the root of a mount (a live one, or
// one whose process died).
func isMountpoint(mp string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return true // let the unmount itself answer
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && unescapeMountinfo(f[4]) == mp {
			return true
		}
	}
	return false
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) of
// /proc/self/mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mountHelperNames are the names mount(8) runs for `-t cairn` and
// `-t fuse.cairn` (and so for fstab lines of those types).
var mountHelperNames = []string{"mount.cairn", "mount.fuse.cairn"}

// helperArgs turns a mount(8) helper call — SOURCE DIR [-sfnv] [-o OPTS]
// [-t TYPE] — into cairn's: mount SOURCE DIR -d -o OPTS. mount(8) waits
// for its helper, so the mount runs in the background.
func helperArgs(args []string) ([]string, error) {
	var pos, opts []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-o" || a == "-t":
			if i+1 == len(args) {
				return nil, fmt.Errorf("%s needs a value", a)
			}
			if a == "-o" {
				opts = append(opts, args[i+1])
			}
			i++
		case strings.HasPrefix(a, "-o"):
			opts = append(opts, a[2:])
		case strings.HasPrefix(a, "-t"):
		case strings.HasPrefix(a, "-") && strings.Trim(a[1:], "sfnvwN") == "":
			// sloppy, fake, no-mtab, verbose: nothing to do
		case strings.HasPrefix(a, "-"):
			return nil, fmt.Errorf("unknown option %q", a)
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) != 2 {
		return nil, errors.New("usage: mount.cairn META-URL MOUNTPOINT [-o OPTIONS]")
	}
	out := []string{"mount", pos[0], pos[1], "-d"}
	for _, o := range opts {
		out = append(out, "-o", o)
	}
	return out, nil
}

func newInstallHelperCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "install-mount-helper",
		Short: "Let mount(8) and /etc/fstab mount cairn volumes (-t cairn, -t fuse.cairn)",
		Long: `Links DIR/mount.cairn and DIR/mount.fuse.cairn to this binary, so that
"mount -t fuse.cairn META-URL MOUNTPOINT -o OPTIONS" and an fstab line such as

  sqlite3:///var/lib/cairn/meta.db  /mnt/cairn  fuse.cairn  _netdev,allow_other  0 0

run "cairn mount -d META-URL MOUNTPOINT -o OPTIONS".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			if exe, err = filepath.EvalSymlinks(exe); err != nil {
				return err
			}
			for _, n := range mountHelperNames {
				p := filepath.Join(dir, n)
				tmp := p + ".tmp"
				os.Remove(tmp)
				if err := os.Symlink(exe, tmp); err != nil {
					return err
				}
				if err := os.Rename(tmp, p); err != nil {
					os.Remove(tmp)
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s -> %s\n", p, exe)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "/sbin", "where mount(8) looks for helpers")
	return cmd
}
