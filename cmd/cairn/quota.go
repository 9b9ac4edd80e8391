package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"cairn/internal/meta"
	"cairn/internal/posix"
)

// cairn quota: directory quotas on a volume, as JuiceFS's quota command
// has them (the quota of a bucket is the quota of its directory; a
// running server's are also managed with cairn admin quota or mc quota).

func newQuotaCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "quota", Short: "Directory quotas: most bytes and inodes under a directory, counted exactly and enforced everywhere (EDQUOT)"}
	var capacity sizeValue
	var inodes uint64
	set := &cobra.Command{Use: "set META-URL PATH", Short: "Set (or change) a directory's quota: --capacity, --inodes or both", Args: cobra.ExactArgs(2),
		RunE: withMeta(func(ctx context.Context, m *meta.FS, args []string, out *json.Encoder) error {
			if capacity == 0 && inodes == 0 {
				return errors.New("give --capacity, --inodes or both (cairn quota delete removes a quota)")
			}
			ino, err := resolvePath(ctx, m, args[1])
			if err != nil {
				return err
			}
			if err := m.SetQuota(ctx, posix.Root, ino, uint64(capacity), inodes); err != nil {
				return fmt.Errorf("%s: %w", args[1], err)
			}
			return printQuota(ctx, m, args[1], ino, out)
		})}
	set.Flags().Var(&capacity, "capacity", "most bytes of file data under the directory (e.g. 10G)")
	set.Flags().Uint64Var(&inodes, "inodes", 0, "most files and directories under it (itself included)")
	get := &cobra.Command{Use: "get META-URL PATH", Short: "Show a directory's quota and usage (JSON)", Args: cobra.ExactArgs(2),
		RunE: withMeta(func(ctx context.Context, m *meta.FS, args []string, out *json.Encoder) error {
			ino, err := resolvePath(ctx, m, args[1])
			if err != nil {
				return err
			}
			return printQuota(ctx, m, args[1], ino, out)
		})}
	del := &cobra.Command{Use: "delete META-URL PATH", Short: "Remove a directory's quota", Args: cobra.ExactArgs(2),
		RunE: withMeta(func(ctx context.Context, m *meta.FS, args []string, out *json.Encoder) error {
			ino, err := resolvePath(ctx, m, args[1])
			if err != nil {
				return err
			}
			if err := m.RemoveQuota(ctx, posix.Root, ino); errors.Is(err, syscall.ENOENT) {
				return fmt.Errorf("%s has no quota", args[1])
			} else if err != nil {
				return err
			}
			return nil
		})}
	ls := &cobra.Command{Use: "ls META-URL", Short: "List the volume's quotas (JSON, by directory inode)", Args: cobra.ExactArgs(1),
		RunE: withMeta(func(ctx context.Context, m *meta.FS, args []string, out *json.Encoder) error {
			qs, err := m.ListQuotas(ctx)
			if err != nil {
				return err
			}
			type row struct {
				Inode posix.Ino `json:"inode"`
				meta.Quota
			}
			rows := []row{}
			for ino, q := range qs {
				rows = append(rows, row{ino, q})
			}
			sort.Slice(rows, func(i, j int) bool { return rows[i].Inode < rows[j].Inode })
			return out.Encode(rows)
		})}
	cmd.AddCommand(set, get, del, ls)
	return cmd
}

// withMeta runs fn on the volume at args[0].
func withMeta(fn func(ctx context.Context, m *meta.FS, args []string, out *json.Encoder) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		store, err := openStore(ctx, args[0], durabilityFull)
		if err != nil {
			return err
		}
		defer store.Close()
		m, err := meta.Open(ctx, store, meta.Options{})
		if errors.Is(err, meta.ErrNotFormatted) {
			return fmt.Errorf("%s holds no volume; create one with: cairn format %s NAME", args[0], args[0])
		}
		if err != nil {
			return err
		}
		defer m.Close()
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return fn(ctx, m, args, enc)
	}
}

// resolvePath finds the directory at path (from the volume's root).
func resolvePath(ctx context.Context, m *meta.FS, path string) (posix.Ino, error) {
	ino := posix.RootIno
	for _, name := range strings.Split(path, "/") {
		if name == "" || name == "." {
			continue
		}
		e, err := m.Lookup(ctx, posix.Root, ino, name)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		ino = e.Ino
	}
	a, err := m.GetAttr(ctx, ino)
	if err != nil {
		return 0, err
	}
	if !a.IsDir() {
		return 0, fmt.Errorf("%s is not a directory", path)
	}
	return ino, nil
}

func printQuota(ctx context.Context, m *meta.FS, path string, ino posix.Ino, out *json.Encoder) error {
	q, err := m.GetQuota(ctx, ino)
	if errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("%s has no quota", path)
	}
	if err != nil {
		return err
	}
	return out.Encode(struct {
		Path  string    `json:"path"`
		Inode posix.Ino `json:"inode"`
		meta.Quota
	}{path, ino, q})
}
