// Command cairn serves one volume (metadata engine + object store) as a
// POSIX file system, an S3-compatible service and a web console.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// defaultGCPercent replaces Go's default of 100 unless GOGC is set. A
// server's live heap is small (buffers are pooled), so GOGC=100 collects
// after every few MiB allocated: with it, a 1,000,000-key listing spent a
// fifth more server CPU than with 200 (9.3 vs 11.3 s on a 2-core VM; peak
// RSS 95 MiB). 300 or 400 gained nothing more.
const defaultGCPercent = 200

func main() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
	if slices.Contains(mountHelperNames, filepath.Base(os.Args[0])) {
		args, err := helperArgs(os.Args[1:])
		if err != nil {
			fmt.Fprintln(os.Stderr, filepath.Base(os.Args[0])+":", err)
			os.Exit(1)
		}
		os.Args = append([]string{os.Args[0]}, args...)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cairn:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "cairn",
		Short:         "One volume served as a POSIX file system, an S3 service and a web console",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return flagsFromEnv(cmd)
		},
	}
	root.AddCommand(newFormatCmd(), newStatusCmd(), newQuotaCmd(), newBenchCmd(), newServerCmd(), newGatewayCmd(), newFsckCmd(), newAdminCmd(),
		newMountCmd(), newUmountCmd(), newInstallHelperCmd(), newDumpCmd(), newLoadCmd())
	return root
}

// envName is the environment variable of a flag: CAIRN_ and the flag's
// name in upper case with dashes as underscores (--block-size:
// CAIRN_BLOCK_SIZE).
func envName(flag string) string {
	return "CAIRN_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// flagsFromEnv sets every flag not given on the command line from its
// environment variable, so each flag can be configured either way.
func flagsFromEnv(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if serr := cmd.Flags().Set(f.Name, v); serr != nil {
				err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, serr)
			}
		}
	})
	return err
}
