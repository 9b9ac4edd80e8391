package meta

import (
	"context"
	"errors"

	"cairn/internal/meta/kv"
)

// StatFS is the volume's capacity and usage, for statfs(2) and status.
type StatFS struct {
	// Capacity is the volume's size limit in bytes, or 1 PiB when unlimited.
	Capacity uint64 `json:"capacity"`
	Used     uint64 `json:"used"`
	// Inodes is the inode limit, or 2^40 when unlimited.
	Inodes     uint64 `json:"inodes"`
	UsedInodes uint64 `json:"used_inodes"`
}

const (
	defaultCapacity = 1 << 50
	defaultInodes   = 1 << 40
)

// StatFS returns capacity and usage.
func (m *FS) StatFS(ctx context.Context) (StatFS, error) {
	st := StatFS{Capacity: m.fmt.Capacity, Inodes: m.fmt.Inodes}
	if st.Capacity == 0 {
		st.Capacity = defaultCapacity
	}
	if st.Inodes == 0 {
		st.Inodes = defaultInodes
	}
	err := m.store.View(ctx, func(tx kv.Tx) error {
		used, err := counterTotal(tx, cfgUsedSpace)
		if err != nil {
			return err
		}
		inodes, err := counterTotal(tx, cfgInodes)
		if err != nil {
			return err
		}
		st.Used, st.UsedInodes = uint64(max(used, 0)), uint64(max(inodes, 0))
		return nil
	})
	if errors.Is(err, kv.ErrNotFound) {
		err = nil
	}
	return st, err
}
