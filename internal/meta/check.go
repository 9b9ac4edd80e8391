package meta

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"cairn/internal/meta/kv"
	"cairn/internal/posix"
)

// CheckReport is the result of Check: problems found in the metadata and
// the slices it references.
type CheckReport struct {
	Inodes  int
	Entries int
	// Problems describes each inconsistency; empty when the volume is sound.
	Problems []string
	// Slices maps each slice id referenced by a chunk or waiting in the
	// delete queue to its stored size (inline slices, which have no
	// blocks, are checked by Check itself and not listed).
	Slices map[uint64]uint32
	// Counters found and their right values: the volume's used space
	// (bytes, each file rounded up to 4 KiB) and inode count. They differ
	// only when the volume is damaged; RepairCounters sets them right.
	UsedSpace, WantUsedSpace int64
	InodeCount, WantInodes   int64
	// Live holds the slice id ranges reserved by live sessions: blocks of
	// those ids that nothing references yet may be writes in flight.
	Live []SliceRange
	// Names are the inodes with one link whose name record (InodePath)
	// is missing or stale — inodes made before names were kept — with
	// the name they should have. Not a problem (nothing is lost: their
	// changes on a mount just make no bucket events); RepairNames writes
	// them.
	Names map[posix.Ino]string
	// LinkSets are the files whose link record is not their entries —
	// several links made before link sets were kept, or one link whose
	// parent is not recorded — with the links they have. Not a problem
	// either; RepairNames writes them.
	LinkSets map[posix.Ino][]Link
}

// CountersWrong reports whether a counter differs from what it should be.
func (r *CheckReport) CountersWrong() bool {
	return r.UsedSpace != r.WantUsedSpace || r.InodeCount != r.WantInodes
}

// InFlight reports whether slice id may belong to a write still running
// (a live session reserved it).
func (r *CheckReport) InFlight(id uint64) bool {
	return InRanges(r.Live, id)
}

// checkState is what Check gathers in its scan.
type checkState struct {
	links    map[posix.Ino]uint32 // entries naming each inode
	subdirs  map[posix.Ino]uint32 // subdirectories of each directory
	parentOf map[posix.Ino]posix.Ino
	children map[posix.Ino][]posix.Ino // directory -> inodes its entries name
	attrs    map[posix.Ino]posix.Attr
	inline   map[uint64]uint32 // inline slices referenced, with their size
	unlinked map[posix.Ino]bool
	quotas   map[posix.Ino]quotaState
	names    map[posix.Ino]string // name records
	entry    map[posix.Ino]Link   // the first entry naming each inode
	more     map[posix.Ino][]Link // the other entries naming it
	sets     map[posix.Ino][]Link // link sets
}

// Check reads the whole metadata in one snapshot and reports: entries
// naming missing inodes, link counts that disagree with the entries,
// directories whose parent pointer or size is wrong, inodes that no path
// reaches (other than files unlinked while open), unreadable records,
// inline slices missing, unreferenced or of the wrong size, counters that
// disagree with the inodes, and the set of referenced slices — the object
// store's blocks of any other slice are leftovers that can be deleted.
func (m *FS) Check(ctx context.Context) (CheckReport, error) {
	var rep CheckReport
	var st checkState
	err := m.store.View(ctx, func(tx kv.Tx) error {
		rep = CheckReport{Slices: map[uint64]uint32{}}
		st = checkState{links: map[posix.Ino]uint32{}, subdirs: map[posix.Ino]uint32{}, parentOf: map[posix.Ino]posix.Ino{},
			children: map[posix.Ino][]posix.Ino{}, attrs: map[posix.Ino]posix.Attr{}, inline: map[uint64]uint32{}, unlinked: map[posix.Ino]bool{},
			names: map[posix.Ino]string{}, entry: map[posix.Ino]Link{}, more: map[posix.Ino][]Link{}, sets: map[posix.Ino][]Link{}}
		if err := tx.Scan([]byte{famInode}, []byte{famInode + 1}, kv.ScanOptions{}, func(k, v []byte) bool {
			m.checkInodeKey(&rep, &st, k, v)
			return true
		}); err != nil {
			return err
		}
		if err := tx.Scan([]byte{famDelSlice}, []byte{famDelSlice + 1}, kv.ScanOptions{KeysOnly: true}, func(k, _ []byte) bool {
			if len(k) == 21 {
				rep.Slices[u64(k[9:17])] = uint32(k[17])<<24 | uint32(k[18])<<16 | uint32(k[19])<<8 | uint32(k[20])
			}
			return true
		}); err != nil {
			return err
		}
		if err := tx.Scan([]byte{famInline}, []byte{famInline + 1}, kv.ScanOptions{}, func(k, v []byte) bool {
			checkInlineKey(&rep, &st, k, v)
			return true
		}); err != nil {
			return err
		}
		if err := tx.Scan([]byte{famUnlinked}, []byte{famUnlinked + 1}, kv.ScanOptions{KeysOnly: true}, func(k, _ []byte) bool {
			if len(k) == 9 {
				st.unlinked[posix.Ino(u64(k[1:]))] = true
			}
			return true
		}); err != nil {
			return err
		}
		var err error
		if rep.UsedSpace, err = counterTotal(tx, cfgUsedSpace); err != nil {
			return err
		}
		if rep.InodeCount, err = counterTotal(tx, cfgInodes); err != nil {
			return err
		}
		st.quotas, err = scanQuotas(tx)
		return err
	})
	if err != nil {
		return rep, err
	}
	for id := range st.inline {
		rep.Problems = append(rep.Problems, fmt.Sprintf("inline slice %x is missing", id))
	}
	rep.Inodes = len(st.attrs)
	checkLinks(&rep, &st)
	checkNames(&rep, &st)
	checkReach(&rep, &st)
	checkCounters(&rep, &st)
	checkQuotas(&rep, &st)
	if rep.Live, err = m.SliceRanges(ctx, false); err != nil {
		return rep, err
	}
	sort.Slice(rep.Live, func(i, j int) bool { return rep.Live[i].Start < rep.Live[j].Start })
	return rep, nil
}

// counterValue reads a kv.Tx.Incr counter (absent: 0).
func counterValue(b []byte) int64 {
	if len(b) != 8 {
		return 0
	}
	return int64(u64(b))
}

func (m *FS) checkInodeKey(rep *CheckReport, st *checkState, k, v []byte) {
	if len(k) < 10 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("short inode key %x", k))
		return
	}
	ino := posix.Ino(u64(k[1:9]))
	switch k[9] {
	case subAttr:
		a, err := decodeAttr(v)
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("inode %d: %v", ino, err))
			return
		}
		st.attrs[ino] = a
	case subDentry:
		typ, child, err := decodeDentry(v)
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("entry %q of %d: %v", k[10:], ino, err))
			return
		}
		rep.Entries++
		if st.links[child] == 0 {
			st.entry[child] = Link{ino, string(k[10:])}
		} else {
			st.more[child] = append(st.more[child], Link{ino, string(k[10:])})
		}
		st.links[child]++
		st.children[ino] = append(st.children[ino], child)
		if typ == posix.TypeDir {
			st.subdirs[ino]++
			st.parentOf[child] = ino
		}
	case subName:
		st.names[ino] = string(v)
	case subLink:
		l, ok := decodeLinkKey(k)
		if !ok {
			rep.Problems = append(rep.Problems, fmt.Sprintf("short link key %x", k))
			return
		}
		st.sets[ino] = append(st.sets[ino], l)
	case subChunk:
		ss, err := decodeSlices(v)
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("chunk of %d: %v", ino, err))
			return
		}
		for _, s := range ss {
			switch {
			case IsInline(s.ID):
				st.inline[s.ID] = s.Size
			case s.ID != 0:
				rep.Slices[s.ID] = s.Size
			}
		}
	}
}

func checkInlineKey(rep *CheckReport, st *checkState, k, v []byte) {
	if len(k) != 9 || !IsInline(u64(k[1:])) {
		rep.Problems = append(rep.Problems, fmt.Sprintf("bad inline data key %x", k))
		return
	}
	id := u64(k[1:])
	size, ok := st.inline[id]
	switch {
	case !ok:
		rep.Problems = append(rep.Problems, fmt.Sprintf("inline slice %x is not referenced", id))
	case uint32(len(v)) != size:
		rep.Problems = append(rep.Problems, fmt.Sprintf("inline slice %x holds %d bytes, not %d", id, len(v), size))
	}
	delete(st.inline, id)
}

func checkLinks(rep *CheckReport, st *checkState) {
	for child := range st.links {
		if _, ok := st.attrs[child]; !ok {
			rep.Problems = append(rep.Problems, fmt.Sprintf("an entry names missing inode %d", child))
		}
	}
	for ino, a := range st.attrs {
		want := st.links[ino]
		if a.Type == posix.TypeDir {
			want = 2 + st.subdirs[ino]
			if ino != posix.RootIno && st.links[ino] == 0 {
				rep.Problems = append(rep.Problems, fmt.Sprintf("directory %d has no entry", ino))
				continue
			}
			if p, ok := st.parentOf[ino]; ok && p != a.Parent {
				rep.Problems = append(rep.Problems, fmt.Sprintf("directory %d: parent %d, but its entry is in %d", ino, a.Parent, p))
			}
			if a.Length != 4096 {
				rep.Problems = append(rep.Problems, fmt.Sprintf("directory %d: size %d, want 4096", ino, a.Length))
			}
		}
		if a.Nlink != want && !(a.Nlink == 0 && st.links[ino] == 0) {
			rep.Problems = append(rep.Problems, fmt.Sprintf("inode %d: nlink %d, %d found", ino, a.Nlink, want))
		}
	}
}

// checkReach reports inodes that no path from the root reaches, other
// than those unlinked while open (kept for their handles).
func checkReach(rep *CheckReport, st *checkState) {
	seen := map[posix.Ino]bool{posix.RootIno: true}
	stack := []posix.Ino{posix.RootIno}
	for len(stack) > 0 {
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, c := range st.children[d] {
			if !seen[c] {
				seen[c] = true
				stack = append(stack, c)
			}
		}
	}
	var lost []posix.Ino
	for ino := range st.attrs {
		if !seen[ino] && !st.unlinked[ino] {
			lost = append(lost, ino)
		}
	}
	sort.Slice(lost, func(i, j int) bool { return lost[i] < lost[j] })
	for _, ino := range lost {
		rep.Problems = append(rep.Problems, fmt.Sprintf("inode %d is not reachable from the root", ino))
	}
}

func checkCounters(rep *CheckReport, st *checkState) {
	var used int64
	for _, a := range st.attrs {
		if a.Type == posix.TypeFile {
			used += int64(align4k(a.Length))
		}
	}
	rep.WantUsedSpace, rep.WantInodes = used, int64(len(st.attrs))
	if rep.UsedSpace != used {
		rep.Problems = append(rep.Problems, fmt.Sprintf("used space counter %d, files hold %d", rep.UsedSpace, used))
	}
	if rep.InodeCount != rep.WantInodes {
		rep.Problems = append(rep.Problems, fmt.Sprintf("inode counter %d, %d inodes found", rep.InodeCount, rep.WantInodes))
	}
}

// checkNames lists the inodes with one link (and a parent) whose name
// record is missing or names another entry, and the files whose link
// record is not their entries.
func checkNames(rep *CheckReport, st *checkState) {
	for ino, set := range st.sets {
		if _, ok := st.attrs[ino]; !ok {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%d link records of missing inode %d", len(set), ino))
		}
	}
	for ino, a := range st.attrs {
		e, ok := st.entry[ino]
		if ino == posix.RootIno || !ok {
			continue
		}
		if a.Type != posix.TypeDir && a.Nlink == st.links[ino] && !linksRecorded(a, e, st.more[ino], st.sets[ino]) {
			if rep.LinkSets == nil {
				rep.LinkSets = map[posix.Ino][]Link{}
			}
			rep.LinkSets[ino] = append([]Link{e}, st.more[ino]...)
			continue
		}
		if a.Parent == 0 || (a.Type != posix.TypeDir && st.links[ino] != 1) {
			continue
		}
		if e.Parent != a.Parent || st.names[ino] == e.Name {
			continue
		}
		if rep.Names == nil {
			rep.Names = map[posix.Ino]string{}
		}
		rep.Names[ino] = e.Name
	}
}

// linksRecorded reports whether a file's links are recorded as its
// entries (first, then more) are: one link in its Attr.Parent (its name
// is checkNames' other test), several in its link set.
func linksRecorded(a posix.Attr, first Link, more, set []Link) bool {
	if len(more) == 0 {
		return a.Parent == first.Parent && len(set) == 0
	}
	if a.Parent != 0 || len(set) != 1+len(more) {
		return false
	}
	have := map[Link]bool{}
	for _, l := range set {
		have[l] = true
	}
	return have[first] && !slices.ContainsFunc(more, func(l Link) bool { return !have[l] })
}

// RepairNames writes the name records and link sets a Check found missing
// or stale, each after checking, in its transaction, that the inode still
// has those links (so it is safe on a volume in use). It returns how many
// inodes it mended.
func (m *FS) RepairNames(ctx context.Context, rep CheckReport) (int, error) {
	inos := make([]posix.Ino, 0, len(rep.Names)+len(rep.LinkSets))
	for ino := range rep.Names {
		inos = append(inos, ino)
	}
	for ino := range rep.LinkSets {
		if _, ok := rep.Names[ino]; !ok {
			inos = append(inos, ino)
		}
	}
	sort.Slice(inos, func(i, j int) bool { return inos[i] < inos[j] })
	// Batches of about repairBatch keys read and written, so that each
	// stays within an engine's bounds on a transaction (etcd's operations
	// per transaction); a file with more links than that has one of its
	// own.
	const repairBatch = 2000
	var batches [][]posix.Ino
	cost := repairBatch
	for _, ino := range inos {
		c := 2 + 2*len(rep.LinkSets[ino])
		if cost+c > repairBatch {
			batches, cost = append(batches, nil), 0
		}
		batches[len(batches)-1] = append(batches[len(batches)-1], ino)
		cost += c
	}
	fixed := 0
	for _, batch := range batches {
		n := 0
		err := m.store.Update(ctx, func(tx kv.Tx) error {
			n = 0
			for _, ino := range batch {
				var done bool
				var err error
				if ls, ok := rep.LinkSets[ino]; ok {
					done, err = repairLinks(tx, ino, ls)
				} else {
					done, err = repairName(tx, ino, rep.Names[ino])
				}
				if err != nil {
					return err
				}
				if done {
					n++
				}
			}
			return nil
		})
		if err != nil {
			return fixed, err
		}
		fixed += n
	}
	return fixed, nil
}

// linkNames reports whether each of ls is an entry naming ino.
func linkNames(tx kv.Tx, ino posix.Ino, ls []Link) (bool, error) {
	for _, l := range ls {
		b, err := tx.Get(dentryKey(l.Parent, l.Name))
		if errors.Is(err, kv.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if _, child, err := decodeDentry(b); err != nil || child != ino {
			return false, nil
		}
	}
	return true, nil
}

// repairName writes ino's name record, if it still has that one link.
func repairName(tx kv.Tx, ino posix.Ino, name string) (bool, error) {
	a, err := getAttr(tx, ino)
	if err != nil {
		return false, nil // gone meanwhile
	}
	if ok, err := linkNames(tx, ino, []Link{{a.Parent, name}}); !ok || err != nil {
		return false, err // moved meanwhile: its move wrote its name
	}
	return true, setName(tx, ino, name)
}

// repairLinks records ls as the links of file ino, if they still are.
func repairLinks(tx kv.Tx, ino posix.Ino, ls []Link) (bool, error) {
	a, err := getAttr(tx, ino)
	if err != nil || len(ls) == 0 || int(a.Nlink) != len(ls) {
		return false, nil // changed meanwhile
	}
	if ok, err := linkNames(tx, ino, ls); !ok || err != nil {
		return false, err
	}
	if err := deletePrefix(tx, linkPrefix(ino)); err != nil {
		return false, err
	}
	if len(ls) == 1 {
		a.Parent = ls[0].Parent
		if err := setName(tx, ino, ls[0].Name); err != nil {
			return false, err
		}
	} else {
		a.Parent = 0
		if err := tx.Delete(nameKey(ino)); err != nil {
			return false, err
		}
		for _, l := range ls {
			if err := tx.Put(linkKey(ino, l.Parent, l.Name), nil); err != nil {
				return false, err
			}
		}
	}
	return true, putAttr(tx, ino, &a)
}

// RepairCounters sets the used-space and inode counters to the values a
// Check found right, moved by whatever changed them since (so it is safe
// on a volume in use).
func (m *FS) RepairCounters(ctx context.Context, rep CheckReport) error {
	return m.store.Update(ctx, func(tx kv.Tx) error {
		if d := rep.WantUsedSpace - rep.UsedSpace; d != 0 {
			if _, err := tx.Incr(configKey(cfgUsedSpace), d); err != nil {
				return err
			}
		}
		if d := rep.WantInodes - rep.InodeCount; d != 0 {
			if _, err := tx.Incr(configKey(cfgInodes), d); err != nil {
				return err
			}
		}
		return nil
	})
}
