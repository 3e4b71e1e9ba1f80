package retry

import (
	"time"

	"github.com/isolated-workers/isolated-workers-go/shared/faults"
)

// The defaults a zero Policy field stands for.
const (
	// DefaultMaxAttempts is the total number of calls, including the first.
	DefaultMaxAttempts = 3
	// DefaultBaseDelay is the backoff window before the first retry.
	DefaultBaseDelay = time.Second
	// DefaultMaxDelay caps every delay, including retry-after hints.
	DefaultMaxDelay = 30 * time.Second
)

// DefaultRetryableClasses returns the classes retried when
// Policy.RetryableClasses is empty: transient, system and unknown.
func DefaultRetryableClasses() []faults.Class {
	return []faults.Class{faults.Transient, faults.System, faults.Unknown}
}
