package shared_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/isolated-workers/isolated-workers-go/shared"
)

func TestFrameTooLargeError(t *testing.T) {
	tests := []struct {
		err  shared.FrameTooLargeError
		want string
	}{
		{shared.FrameTooLargeError{Size: 6, Limit: 5}, "frame exceeds the maximum frame size: frame of 6 bytes, limit 5"},
		{shared.FrameTooLargeError{What: "raw result", Size: 6, AtLeast: true, Limit: 5}, "frame exceeds the maximum frame size: raw result of 6 bytes or more, limit 5"},
		{shared.FrameTooLargeError{What: "request", Size: 8213, Limit: 4096, LimitName: "MaxFrameSize", Owner: "worker"}, "request of 8213 bytes exceeds the worker's MaxFrameSize 4096"},
		{shared.FrameTooLargeError{What: "raw result", Size: 9, Limit: 8, LimitName: "MaxRawSize", Owner: "host"}, "raw result of 9 bytes exceeds the host's MaxRawSize 8"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("(%+v).Error() = %q, want %q", tt.err, got, tt.want)
		}
		err := fmt.Errorf("call %q: %w", "m", &tt.err)
		var tl *shared.FrameTooLargeError
		if !errors.Is(err, shared.ErrFrameTooLarge) || !errors.As(err, &tl) || tl.Size != tt.err.Size {
			t.Errorf("errors.Is/As(%v) = false, want the FrameTooLargeError matching ErrFrameTooLarge", err)
		}
	}
	// A worker's refusal arrives as a RemoteError and matches too.
	re := fmt.Errorf("call: %w", &shared.RemoteError{Code: shared.CodeFrameTooLarge, Message: "request of 9 bytes exceeds the worker's MaxFrameSize 8"})
	if !errors.Is(re, shared.ErrFrameTooLarge) {
		t.Errorf("errors.Is(RemoteError code %s, ErrFrameTooLarge) = false, want true", shared.CodeFrameTooLarge)
	}
	if errors.Is(fmt.Errorf("call: %w", &shared.RemoteError{Code: shared.CodeEncode}), shared.ErrFrameTooLarge) {
		t.Errorf("errors.Is(RemoteError code %s, ErrFrameTooLarge) = true, want false", shared.CodeEncode)
	}
}
