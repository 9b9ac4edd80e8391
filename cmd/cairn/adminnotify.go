package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"cairn/internal/adminapi"
	"cairn/internal/s3/notify"
)

// adminNotifyTargetCmds are `cairn admin notify add|ls|rm|rules`: targets
// and volume-wide rules defined at run time, kept in the volume.
func adminNotifyTargetCmds(o *adminOptions) []*cobra.Command {
	add := &cobra.Command{Use: "add TYPE ID [SETTING=VALUE]…",
		Short: "Add or replace a target (TYPE webhook|redis|postgres|mysql|nats; settings as MinIO's, e.g. endpoint=URL)",
		Long: "Add or replace a notification target kept in the volume: every gateway on the volume delivers to it.\n" +
			"Its ARN is arn:minio:sqs::ID:TYPE. Settings are those of MinIO's variables, in lower case:\n" + targetSettingsHelp(),
		Args: cobra.MinimumNArgs(2),
		RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
			params := map[string]string{}
			for _, kv := range a[2:] {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return nil, nil, fmt.Errorf("%q: settings are SETTING=VALUE", kv)
				}
				params[k] = v
			}
			if err := c.SetNotifyTarget(cmd.Context(), a[0], a[1], params); err != nil {
				return nil, nil, err
			}
			arn := notify.ARN{ID: a[1], Type: a[0]}.String()
			return map[string]string{"arn": arn}, func(w io.Writer) { fmt.Fprintf(w, "target %s added\n", arn) }, nil
		})}
	ls := &cobra.Command{Use: "ls", Short: "List the targets (secrets hidden)", Args: cobra.NoArgs,
		RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
			ts, err := c.NotifyTargets(cmd.Context())
			if err != nil {
				return nil, nil, err
			}
			return ts, func(w io.Writer) {
				if len(ts) == 0 {
					fmt.Fprintln(w, "no notification targets")
					return
				}
				fmt.Fprintln(w, "TARGET	FROM	SETTINGS")
				for _, t := range ts {
					from := "volume"
					if t.FromEnv {
						from = "environment"
					}
					var kv []string
					for k, v := range t.Params {
						kv = append(kv, k+"="+v)
					}
					slices.Sort(kv)
					fmt.Fprintf(w, "%s	%s	%s\n", t.ARN, from, strings.Join(kv, " "))
				}
			}, nil
		})}
	rm := &cobra.Command{Use: "rm ARN", Short: "Remove a target defined at run time", Args: cobra.ExactArgs(1),
		RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
			return nil, nil, c.RemoveNotifyTarget(cmd.Context(), a[0])
		})}
	rules := &cobra.Command{Use: "rules", Short: "Volume-wide rules: route every bucket's events (s3:BucketCreated and s3:BucketRemoved too)"}
	rules.AddCommand(&cobra.Command{Use: "get", Short: "Print the volume-wide rules (NotificationConfiguration XML)", Args: cobra.NoArgs,
		RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
			doc, err := c.NotifyRules(cmd.Context())
			if err != nil {
				return nil, nil, err
			}
			return map[string]string{"xml": string(doc)}, func(w io.Writer) {
				if len(doc) > 0 {
					fmt.Fprintf(w, "%s\n", doc)
				}
			}, nil
		})},
		&cobra.Command{Use: "set FILE", Short: "Replace the volume-wide rules with a NotificationConfiguration document (- reads stdin)", Args: cobra.ExactArgs(1),
			RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
				var doc []byte
				var err error
				if a[0] == "-" {
					doc, err = io.ReadAll(cmd.InOrStdin())
				} else {
					doc, err = os.ReadFile(a[0])
				}
				if err != nil {
					return nil, nil, err
				}
				return nil, nil, c.SetNotifyRules(cmd.Context(), doc)
			})},
		&cobra.Command{Use: "clear", Short: "Remove the volume-wide rules", Args: cobra.NoArgs,
			RunE: o.run(func(c *adminapi.Client, cmd *cobra.Command, a []string) (any, func(io.Writer), error) {
				return nil, nil, c.SetNotifyRules(cmd.Context(), []byte("<NotificationConfiguration/>"))
			})})
	return []*cobra.Command{add, ls, rm, rules}
}

// targetSettingsHelp lists each deliverable target type's settings.
func targetSettingsHelp() string {
	var b strings.Builder
	for _, t := range []string{"webhook", "redis", "postgres", "mysql", "nats"} {
		fmt.Fprintf(&b, "  %-9s %s\n", t, strings.Join(notify.TargetParams(t), " "))
	}
	return b.String()
}
