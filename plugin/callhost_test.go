package plugin

import (
	"context"
	"errors"
	"testing"
)

// CallHost with no host to call fails at once with ErrNoHost: in a process
// that serves no worker, and in a worker that no host connected to.
func TestCallHostWithoutHost(t *testing.T) {
	if _, err := CallHost(context.Background(), Double, 1); !errors.Is(err, ErrNoHost) {
		t.Errorf("CallHost(Double) serving nothing = %v, want ErrNoHost", err)
	}
	servePeer(t, Config{})
	if _, err := CallHost(context.Background(), Double, 1); !errors.Is(err, ErrNoHost) {
		t.Errorf("CallHost(Double) with no host connected = %v, want ErrNoHost", err)
	}
}
