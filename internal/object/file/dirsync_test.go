package file

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Every caller returns after a sync that started after it called, and
// concurrent callers share syncs.
func TestDirSyncsCoalesce(t *testing.T) {
	var d dirSyncs
	var started atomic.Int64 // rounds started so far
	var calls atomic.Int64
	d.fsync = func(string) error {
		calls.Add(1)
		started.Add(1)
		time.Sleep(2 * time.Millisecond)
		return nil
	}
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			before := started.Load()
			if err := d.sync([]string{"a", "b"}[i%2]); err != nil {
				t.Error(err)
			}
			// At least one round began after this call started
			// (the one running then does not count).
			if started.Load() < before+1 {
				t.Errorf("returned without a sync that started after the call")
			}
		}()
	}
	wg.Wait()
	if n := calls.Load(); n >= 64 || n < 2 {
		t.Fatalf("%d syncs for 64 concurrent callers over 2 directories", n)
	}
	t.Logf("%d syncs for 64 callers", calls.Load())
}
