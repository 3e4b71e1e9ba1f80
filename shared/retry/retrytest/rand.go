package retrytest

import "sync"

// Sequence returns a random source for retry.Policy.Rand that returns vals
// in order and then repeats the last one. It is safe for concurrent use.
// With no values it always returns 0.
func Sequence(vals ...float64) func() float64 {
	var (
		mu sync.Mutex
		i  int
	)
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		if len(vals) == 0 {
			return 0
		}
		v := vals[min(i, len(vals)-1)]
		i++
		return v
	}
}
