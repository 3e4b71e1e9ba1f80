package action

import (
	"maps"
	"sync"

	"github.com/isolated-workers/isolated-workers-go/shared/faults"
)

// Counters counts the failures WithErrorHandling sees, by faults class. The
// zero value is ready to use; a Counters is safe for concurrent use and may
// be shared by many wrappers.
type Counters struct {
	mu     sync.Mutex
	errors map[faults.Class]uint64
	panics uint64
}

// CountersSnapshot is a copy of a Counters at one moment.
type CountersSnapshot struct {
	// Errors counts failures by class, panics included (as System). A class
	// never seen is absent.
	Errors map[faults.Class]uint64
	// Panics counts recovered panics.
	Panics uint64
}

// Total returns the number of failures of every class.
func (s CountersSnapshot) Total() uint64 {
	var n uint64
	for _, v := range s.Errors {
		n += v
	}
	return n
}

func (c *Counters) add(class faults.Class, panicked bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.errors == nil {
		c.errors = make(map[faults.Class]uint64)
	}
	c.errors[class]++
	if panicked {
		c.panics++
	}
}

// Snapshot returns the current counts. A nil Counters has none.
func (c *Counters) Snapshot() CountersSnapshot {
	if c == nil {
		return CountersSnapshot{Errors: map[faults.Class]uint64{}}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	errs := maps.Clone(c.errors)
	if errs == nil {
		errs = map[faults.Class]uint64{}
	}
	return CountersSnapshot{Errors: errs, Panics: c.panics}
}
