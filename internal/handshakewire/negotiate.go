package handshakewire

import (
	"slices"

	"github.com/isolated-workers/isolated-workers-go/handshake"
)

// Negotiate returns the highest version in both lists.
func Negotiate(host, worker []int) (int, error) {
	best := 0
	for _, h := range host {
		if h > best && slices.Contains(worker, h) {
			best = h
		}
	}
	if best == 0 {
		return 0, &handshake.VersionMismatchError{Host: slices.Sorted(slices.Values(host)), Worker: slices.Sorted(slices.Values(worker))}
	}
	return best, nil
}
