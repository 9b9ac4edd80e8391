package sqlkv

// Groups is the number of group commits of two or more closures s has made.
func (s *DB) Groups() int64 { return s.groups.Load() }
