package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newServerCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "server [DIR]",
		Short: "Serve an embedded volume in DIR over S3 (formats it on first start)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fmt.Errorf("cairn server is not built yet")
		},
	}
}

func newGatewayCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "gateway META-URL ADDRESS",
		Short: "Serve an existing volume over S3",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fmt.Errorf("cairn gateway is not built yet")
		},
	}
}
