package shared_test

import (
	"regexp"
	"testing"

	"github.com/isolated-workers/isolated-workers-go/shared"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestUUIDv4Format(t *testing.T) {
	for range 1000 {
		if id := shared.UUIDv4(nil); !uuidV4.MatchString(id) {
			t.Fatalf("UUIDv4(nil) = %q, want a lower-case version 4, variant 10 UUID", id)
		}
	}
}

func TestUUIDv4Unique(t *testing.T) {
	const n = 100000
	seen := make(map[string]bool, n)
	msg := &shared.AnyMessage{Type: "m"}
	for range n {
		id := shared.UUIDv4(msg)
		if seen[id] {
			t.Fatalf("UUIDv4 returned %q twice in %d calls", id, n)
		}
		seen[id] = true
	}
}

// The generator type accepts UUIDv4 and user functions alike.
var _ shared.TxIDGenerator = shared.UUIDv4
