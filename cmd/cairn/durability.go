package main

import "fmt"

// durability is the --durability setting: what an acknowledged write
// survives.
//
//   - full (the default): every acknowledged write is on stable storage
//     first, and survives a power cut.
//   - relaxed: the metadata engine commits without waiting for the disk
//     (SQLite synchronous=NORMAL). A crash of the process loses nothing,
//     but a power cut may lose the last acknowledged writes: the volume
//     comes back as it was a moment before, consistent, never corrupt
//     (blocks are still synced before the metadata that references
//     them, so what remains reads back whole).
type durability string

const (
	durabilityFull    durability = "full"
	durabilityRelaxed durability = "relaxed"
)

func (d *durability) String() string {
	if *d == "" {
		return string(durabilityFull)
	}
	return string(*d)
}

func (d *durability) Set(s string) error {
	switch durability(s) {
	case durabilityFull, durabilityRelaxed:
		*d = durability(s)
		return nil
	}
	return fmt.Errorf("%q is not a durability: use full (survives power loss) or relaxed (may lose the last writes on power loss)", s)
}

func (d *durability) Type() string { return "full|relaxed" }

func (d durability) relaxed() bool { return d == durabilityRelaxed }

const durabilityUsage = "full: every acknowledged write survives a power cut; relaxed: faster small writes, the last ones may be lost on power loss (never corrupting)"
