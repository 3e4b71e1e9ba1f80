package plugin

import (
	"github.com/isolated-workers/isolated-workers-go/shared"
	"github.com/isolated-workers/isolated-workers-go/shared/faults"
)

// classify fills the fault class, code and retry hint of re from err, so
// they survive the trip to the host.
func classify(err error, re *shared.RemoteError) {
	re.Class = string(faults.ClassOf(err))
	if code := faults.CodeOf(err); code != "" {
		re.Code = code
	}
	if d, ok := faults.RetryAfter(err); ok {
		re.RetryAfterMillis = d.Milliseconds()
	}
}
