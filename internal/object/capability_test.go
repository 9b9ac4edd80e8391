package object_test

import (
	"testing"

	"cairn/internal/object"
	"cairn/internal/object/file"
	"cairn/internal/object/mem"
)

// A wrapper never claims a capability its inner store lacks, and passes
// on those it has.
func TestCapabilitiesThroughRetry(t *testing.T) {
	fs, err := file.New(t.TempDir(), file.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		s    object.Store
		has  bool
	}{
		{"mem", mem.New(), false},
		{"retry over mem", object.WithRetry(mem.New(), object.RetryOptions{}), false},
		{"file", fs, true},
		{"retry over file", object.WithRetry(fs, object.RetryOptions{}), true},
		{"retry over retry over file", object.WithRetry(object.WithRetry(fs, object.RetryOptions{}), object.RetryOptions{}), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]bool{
				"BatchSyncer": object.BatchSyncerOf(tc.s) != nil,
				"FullReader":  object.FullReaderOf(tc.s) != nil,
				"Appender":    object.AppenderOf(tc.s) != nil,
				"LocalFiles":  object.LocalFilesOf(tc.s) != nil,
				"TempSweeper": object.TempSweeperOf(tc.s) != nil,
			}
			for c, ok := range got {
				if ok != tc.has {
					t.Errorf("%s: has %s = %v, want %v", tc.name, c, ok, tc.has)
				}
			}
		})
	}
	// Through WithRetry, batch syncs are retried: the capability is an
	// adapter over the file store, not the file store itself.
	if _, direct := object.BatchSyncerOf(object.WithRetry(fs, object.RetryOptions{})).(*file.Store); direct {
		t.Error("BatchSyncerOf(WithRetry(file)) skips the retries")
	}
}
