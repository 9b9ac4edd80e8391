package vfs

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"cairn/internal/chunk"
	"cairn/internal/meta"
)

// FsckOptions configure Fsck.
type FsckOptions struct {
	// Repair removes leftover blocks (those nothing references and no
	// live writer can still commit) and sets wrong counters right.
	Repair bool
	// SkipChecksums only checks that referenced blocks exist, without
	// reading them.
	SkipChecksums bool
	// Progress, when set, is called as each stage advances: stage names
	// what is done, done of total items (total 0: not known yet).
	Progress func(stage string, done, total int)
}

// FsckReport is what Fsck found (and, with Repair, fixed).
type FsckReport struct {
	Inodes   int `json:"inodes"`
	Entries  int `json:"entries"`
	Slices   int `json:"slices"`
	Blocks   int `json:"blocks"`   // blocks in the object store
	Checked  int `json:"checked"`  // referenced blocks whose checksum was checked
	Missing  int `json:"missing"`  // referenced blocks absent
	Corrupt  int `json:"corrupt"`  // referenced blocks of the wrong length or checksum
	InFlight int `json:"inflight"` // unreferenced blocks of writes a live client may still commit
	// Leftovers are blocks nothing references and no live writer owns.
	Leftovers     int   `json:"leftovers"`
	LeftoverBytes int64 `json:"leftover_bytes"`
	// Problems lists every inconsistency (leftovers are not one: they
	// waste space, lose nothing).
	Problems []string `json:"problems"`
	// Repaired counts what Repair fixed.
	RemovedBlocks int  `json:"removed_blocks,omitempty"`
	FixedCounters bool `json:"fixed_counters,omitempty"`
	// MissingNames counts inodes without the name record or link set
	// that gives them their paths (made before those were kept: their
	// changes on a mount make no bucket events); Repair writes them
	// (FixedNames).
	MissingNames   int      `json:"missing_names,omitempty"`
	FixedNames     int      `json:"fixed_names,omitempty"`
	LeftoverSample []string `json:"leftover_sample,omitempty"` // up to 20 keys
}

// Consistent reports whether Fsck found no problem (leftovers aside).
func (r *FsckReport) Consistent() bool { return len(r.Problems) == 0 }

// Fsck checks the whole volume: the metadata (meta.FS.Check: links,
// reachability, counters, inline data), that every block a slice needs
// exists in the object store with its length and checksum, and which
// stored blocks nothing references. Run on a volume in use, blocks being
// written by live clients are told apart (InFlight) and never removed.
func (fs *FS) Fsck(ctx context.Context, opt FsckOptions) (FsckReport, error) {
	progress := opt.Progress
	if progress == nil {
		progress = func(string, int, int) {}
	}
	var rep FsckReport
	progress("metadata", 0, 0)
	mrep, err := fs.meta.Check(ctx)
	if err != nil {
		return rep, err
	}
	rep.Inodes, rep.Entries, rep.Slices = mrep.Inodes, mrep.Entries, len(mrep.Slices)
	rep.MissingNames = len(mrep.Names) + len(mrep.LinkSets)
	rep.Problems = append(rep.Problems, mrep.Problems...)
	stored := map[string]bool{}
	var unref []chunk.Block
	err = fs.chunks.ListBlocks(ctx, func(b chunk.Block) error {
		rep.Blocks++
		if rep.Blocks%1000 == 0 {
			progress("listing blocks", rep.Blocks, 0)
		}
		if size, ok := mrep.Slices[b.Slice]; ok && b.Index*fs.chunks.BlockSize() < int(size) {
			stored[b.Key] = true
			return nil
		}
		unref = append(unref, b)
		return nil
	})
	if err != nil {
		return rep, err
	}
	fs.checkBlocks(ctx, mrep, stored, opt, progress, &rep)
	sort.Slice(unref, func(i, j int) bool { return unref[i].Key < unref[j].Key })
	var leftovers []chunk.Block
	for _, b := range unref {
		if mrep.InFlight(b.Slice) {
			rep.InFlight++
			continue
		}
		leftovers = append(leftovers, b)
		rep.Leftovers++
		rep.LeftoverBytes += int64(b.Size)
		if len(rep.LeftoverSample) < 20 {
			rep.LeftoverSample = append(rep.LeftoverSample, b.Key)
		}
	}
	if !opt.Repair {
		return rep, nil
	}
	for i, b := range leftovers {
		progress("removing leftovers", i, len(leftovers))
		if err := fs.chunks.RemoveBlock(ctx, b); err != nil {
			return rep, err
		}
		rep.RemovedBlocks++
	}
	if mrep.CountersWrong() {
		if err := fs.meta.RepairCounters(ctx, mrep); err != nil {
			return rep, err
		}
		rep.FixedCounters = true
	}
	if len(mrep.Names)+len(mrep.LinkSets) > 0 {
		n, err := fs.meta.RepairNames(ctx, mrep)
		if err != nil {
			return rep, err
		}
		rep.FixedNames = n
	}
	return rep, nil
}

// checkBlocks checks that each block of each referenced slice is stored
// (stored holds the keys listed) and, unless told otherwise, reads it.
func (fs *FS) checkBlocks(ctx context.Context, mrep meta.CheckReport, stored map[string]bool, opt FsckOptions, progress func(string, int, int), rep *FsckReport) {
	ids := make([]uint64, 0, len(mrep.Slices))
	for id := range mrep.Slices {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for n, id := range ids {
		if n%100 == 0 {
			progress("checking blocks", n, len(ids))
		}
		for _, b := range fs.chunks.Blocks(id, mrep.Slices[id]) {
			if !stored[b.Key] {
				rep.Missing++
				rep.Problems = append(rep.Problems, fmt.Sprintf("block %s of slice %d is missing", b.Key, id))
				continue
			}
			if opt.SkipChecksums {
				continue
			}
			rep.Checked++
			if err := fs.chunks.VerifyBlock(ctx, b); err != nil {
				if errors.Is(err, chunk.ErrCorrupt) {
					rep.Corrupt++
				} else {
					rep.Missing++ // gone meanwhile, or unreadable
				}
				rep.Problems = append(rep.Problems, fmt.Sprintf("block %s of slice %d: %v", b.Key, id, err))
			}
		}
	}
}
