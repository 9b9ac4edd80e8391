package posix

import (
	"fmt"
	"strconv"
	"strings"
)

// Ident is a uid:gid pair that callers are mapped to by squashing.
type Ident struct {
	UID uint32
	GID uint32
}

// ParseIdent reads "UID:GID" (or a lone "UID", taken as UID:UID).
func ParseIdent(s string) (Ident, error) {
	us, gs, found := strings.Cut(s, ":")
	u, err := strconv.ParseUint(us, 10, 32)
	if err != nil {
		return Ident{}, fmt.Errorf("posix: bad uid in %q, want UID:GID", s)
	}
	g := u
	if found {
		if g, err = strconv.ParseUint(gs, 10, 32); err != nil {
			return Ident{}, fmt.Errorf("posix: bad gid in %q, want UID:GID", s)
		}
	}
	return Ident{UID: uint32(u), GID: uint32(g)}, nil
}

// String prints the identity as UID:GID.
func (i Ident) String() string { return fmt.Sprintf("%d:%d", i.UID, i.GID) }

// Squash maps callers before any permission check, as NFS's root_squash
// and all_squash do. A nil field disables that mapping.
type Squash struct {
	// Root, when set, replaces uid 0 (with its groups) by this identity.
	Root *Ident
	// All, when set, replaces every caller by this identity.
	All *Ident
}

// Apply returns the credential c is mapped to. A squashed caller keeps its
// pid and umask but loses its supplementary groups.
func (s Squash) Apply(c Cred) Cred {
	switch {
	case s.All != nil:
		c.UID, c.GID, c.Groups = s.All.UID, s.All.GID, nil
	case s.Root != nil && c.UID == 0:
		c.UID, c.GID, c.Groups = s.Root.UID, s.Root.GID, nil
	}
	return c
}
