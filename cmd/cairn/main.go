// Command cairn serves one volume (metadata engine + object store) as a
// POSIX file system, an S3-compatible service and a web console.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := newRootCmd().Execute(); err != nil {
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
	}
	return root
}
