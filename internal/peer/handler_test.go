package peer

import (
	"context"
	"testing"

	"github.com/isolated-workers/isolated-workers-go/shared"
)

var double = shared.NewMessage[int, int]("double")

func TestHandleCall(t *testing.T) {
	h := Handle(double, func(_ context.Context, n int) (int, error) { return 2 * n, nil })
	if h.Name() != "double" {
		t.Errorf("Handle(double).Name() = %q, want %q", h.Name(), "double")
	}
	got, err := h.call(context.Background(), 21)
	if got != 42 || err != nil {
		t.Errorf("call(21) = %v, %v, want 42, nil", got, err)
	}
	// A middleware that swapped the request for another type.
	_, err = h.call(context.Background(), "21")
	const want = "middleware replaced the request with a string, handler takes int"
	if err == nil || err.Error() != want {
		t.Errorf("call(%q) = %v, want %q", "21", err, want)
	}
}
