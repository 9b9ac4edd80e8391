package s3fs

// LargeMD5s exposes the count of large-body hashers for tests.
func LargeMD5s() int32 { return largeMD5s.Load() }
