package metatest

import (
	"sync"
	"testing"
)

// parallel runs op(w, i) for i = 0 … rounds-1 on each of workers
// goroutines, a goroutine stopping at its first error, and fails t with
// the first error once all have ended. (kvtest has the same for the kv
// suite; the package table keeps metatest off kvtest.)
func parallel(t *testing.T, workers, rounds int, op func(w, i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				if err := op(w, i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}
