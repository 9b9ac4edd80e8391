package meta

import (
	"context"
	"fmt"

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
}

// Check walks the whole metadata (in several read transactions; run it on
// a quiet volume for an exact answer) and reports: entries naming missing
// inodes, link counts that disagree with the entries, directories whose
// parent pointer disagrees, unreadable records, inline slices missing,
// unreferenced or of the wrong size, and the set of referenced slices — the object store's blocks of any other slice are leftovers that
// can be deleted.
func (m *FS) Check(ctx context.Context) (CheckReport, error) {
	rep := CheckReport{Slices: map[uint64]uint32{}}
	links := map[posix.Ino]uint32{}   // entries naming each inode
	subdirs := map[posix.Ino]uint32{} // subdirectories of each directory
	parentOf := map[posix.Ino]posix.Ino{}
	attrs := map[posix.Ino]posix.Attr{}
	inline := map[uint64]uint32{} // inline slices referenced, with their size
	err := m.store.View(ctx, func(tx kv.Tx) error {
		return tx.Scan([]byte{famInode}, []byte{famInode + 1}, kv.ScanOptions{}, func(k, v []byte) bool {
			if len(k) < 10 {
				rep.Problems = append(rep.Problems, fmt.Sprintf("short inode key %x", k))
				return true
			}
			ino := posix.Ino(u64(k[1:9]))
			switch k[9] {
			case subAttr:
				a, err := decodeAttr(v)
				if err != nil {
					rep.Problems = append(rep.Problems, fmt.Sprintf("inode %d: %v", ino, err))
					return true
				}
				attrs[ino] = a
			case subDentry:
				typ, child, err := decodeDentry(v)
				if err != nil {
					rep.Problems = append(rep.Problems, fmt.Sprintf("entry %q of %d: %v", k[10:], ino, err))
					return true
				}
				rep.Entries++
				links[child]++
				if typ == posix.TypeDir {
					subdirs[ino]++
					parentOf[child] = ino
				}
			case subChunk:
				ss, err := decodeSlices(v)
				if err != nil {
					rep.Problems = append(rep.Problems, fmt.Sprintf("chunk of %d: %v", ino, err))
					return true
				}
				for _, s := range ss {
					switch {
					case IsInline(s.ID):
						inline[s.ID] = s.Size
					case s.ID != 0:
						rep.Slices[s.ID] = s.Size
					}
				}
			}
			return true
		})
	})
	if err != nil {
		return rep, err
	}
	err = m.store.View(ctx, func(tx kv.Tx) error {
		return tx.Scan([]byte{famDelSlice}, []byte{famDelSlice + 1}, kv.ScanOptions{KeysOnly: true}, func(k, _ []byte) bool {
			if len(k) == 21 {
				rep.Slices[u64(k[9:17])] = uint32(k[17])<<24 | uint32(k[18])<<16 | uint32(k[19])<<8 | uint32(k[20])
			}
			return true
		})
	})
	if err != nil {
		return rep, err
	}
	err = m.store.View(ctx, func(tx kv.Tx) error {
		return tx.Scan([]byte{famInline}, []byte{famInline + 1}, kv.ScanOptions{}, func(k, v []byte) bool {
			if len(k) != 9 || !IsInline(u64(k[1:])) {
				rep.Problems = append(rep.Problems, fmt.Sprintf("bad inline data key %x", k))
				return true
			}
			id := u64(k[1:])
			size, ok := inline[id]
			switch {
			case !ok:
				rep.Problems = append(rep.Problems, fmt.Sprintf("inline slice %x is not referenced", id))
			case uint32(len(v)) != size:
				rep.Problems = append(rep.Problems, fmt.Sprintf("inline slice %x holds %d bytes, not %d", id, len(v), size))
			}
			delete(inline, id)
			return true
		})
	})
	if err != nil {
		return rep, err
	}
	for id := range inline {
		rep.Problems = append(rep.Problems, fmt.Sprintf("inline slice %x is missing", id))
	}
	rep.Inodes = len(attrs)
	checkLinks(&rep, attrs, links, subdirs, parentOf)
	return rep, nil
}

func checkLinks(rep *CheckReport, attrs map[posix.Ino]posix.Attr, links, subdirs map[posix.Ino]uint32, parentOf map[posix.Ino]posix.Ino) {
	for child := range links {
		if _, ok := attrs[child]; !ok {
			rep.Problems = append(rep.Problems, fmt.Sprintf("an entry names missing inode %d", child))
		}
	}
	for ino, a := range attrs {
		want := links[ino]
		if a.Type == posix.TypeDir {
			want = 2 + subdirs[ino]
			if ino != posix.RootIno && links[ino] == 0 {
				rep.Problems = append(rep.Problems, fmt.Sprintf("directory %d has no entry", ino))
				continue
			}
			if p, ok := parentOf[ino]; ok && p != a.Parent {
				rep.Problems = append(rep.Problems, fmt.Sprintf("directory %d: parent %d, but its entry is in %d", ino, a.Parent, p))
			}
		}
		if a.Nlink != want && !(a.Nlink == 0 && links[ino] == 0) {
			rep.Problems = append(rep.Problems, fmt.Sprintf("inode %d: nlink %d, %d found", ino, a.Nlink, want))
		}
	}
}
