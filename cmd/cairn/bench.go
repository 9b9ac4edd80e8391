package main

import (
	"github.com/spf13/cobra"
)

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure metadata, data and S3 performance",
	}
	cmd.AddCommand(newBenchMetaCmd(), newBenchDataCmd(), newBenchS3Cmd(), newBenchFSCmd(), newBenchSinkCmd())
	return cmd
}
