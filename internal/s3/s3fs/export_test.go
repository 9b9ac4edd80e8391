package s3fs

// LargeMD5s exposes the count of large-body hashers for tests.
func LargeMD5s() int32 { return largeMD5s.Load() }

// AheadHits is how many listing pages were served from read-ahead.
func (f *FS) AheadHits() uint64 { return f.aheadHits.Load() }
