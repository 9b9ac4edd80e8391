//go:build !linux

package file

import "os"

func writeDirect(path string, b []byte, sync bool) (bool, error) { return false, nil }

func readWhole(path string, p []byte, each func(int, []byte)) (int, bool, error) {
	return 0, false, nil
}

func startWriteback(f *os.File, off, n int64) {}

func adviseWillNeed(f *os.File, n int) {}

func datasync(f *os.File) error { return f.Sync() }

func processGone(pid int) bool { return false }

func pidSpace() string { return "" }
