package main

import (
	"encoding/json"
	"os"

	"github.com/spf13/cobra"

	"cairn/internal/meta"
)

type statusReport struct {
	Setting  meta.Format        `json:"setting"`
	Usage    meta.StatFS        `json:"usage"`
	Sessions []meta.SessionInfo `json:"sessions"`
}

func newStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status META-URL",
		Short: "Print a volume's settings, usage and live sessions as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			store, err := openStore(ctx, args[0], durabilityRelaxed) // reads only: no promise to check
			if err != nil {
				return err
			}
			defer store.Close()
			m, err := meta.Open(ctx, store, meta.Options{})
			if err != nil {
				return err
			}
			defer m.Close()
			r := statusReport{Setting: m.Format().Redacted()}
			if r.Usage, err = m.StatFS(ctx); err != nil {
				return err
			}
			if r.Sessions, err = m.ListSessions(ctx); err != nil {
				return err
			}
			if r.Sessions == nil {
				r.Sessions = []meta.SessionInfo{}
			}
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(r)
		},
	}
}
